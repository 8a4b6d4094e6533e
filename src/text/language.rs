//! Languages: the ones attune can stem, their ISO 639-1 codes, and detection with `whatlang`.
//!
//! A product's language is its `lang` or is detected from its title and description among
//! the store's languages; a query's is detected the same way but kept only when `whatlang`'s
//! confidence reaches [`MIN_QUERY_CONFIDENCE`] (short queries rarely reach its own "reliable"
//! mark: on `fixtures/lang_queries.tsv` that accepted 24 of 100 guesses, the 0.2 threshold 68,
//! none of them wrong), else the store's default language is used. The test at the end
//! measures that rule.

use rust_stemmers::Algorithm;

/// A language attune analyses text in: one per `rust-stemmers` algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lang(usize);

/// (ISO 639-1 code, stemmer, whatlang language) of every supported language, in code order.
const TABLE: &[(&str, Algorithm, whatlang::Lang)] = &[
    ("ar", Algorithm::Arabic, whatlang::Lang::Ara),
    ("da", Algorithm::Danish, whatlang::Lang::Dan),
    ("de", Algorithm::German, whatlang::Lang::Deu),
    ("el", Algorithm::Greek, whatlang::Lang::Ell),
    ("en", Algorithm::English, whatlang::Lang::Eng),
    ("es", Algorithm::Spanish, whatlang::Lang::Spa),
    ("fi", Algorithm::Finnish, whatlang::Lang::Fin),
    ("fr", Algorithm::French, whatlang::Lang::Fra),
    ("hu", Algorithm::Hungarian, whatlang::Lang::Hun),
    ("it", Algorithm::Italian, whatlang::Lang::Ita),
    ("nl", Algorithm::Dutch, whatlang::Lang::Nld),
    ("no", Algorithm::Norwegian, whatlang::Lang::Nob),
    ("pt", Algorithm::Portuguese, whatlang::Lang::Por),
    ("ro", Algorithm::Romanian, whatlang::Lang::Ron),
    ("ru", Algorithm::Russian, whatlang::Lang::Rus),
    ("sv", Algorithm::Swedish, whatlang::Lang::Swe),
    ("ta", Algorithm::Tamil, whatlang::Lang::Tam),
    ("tr", Algorithm::Turkish, whatlang::Lang::Tur),
];

impl Lang {
    /// English, the default store language.
    pub const ENGLISH: Lang = Lang(4);

    /// The language of an ISO 639-1 code (case-insensitive), when attune can stem it.
    pub fn from_code(code: &str) -> Option<Lang> {
        let code = code.to_ascii_lowercase();
        TABLE.iter().position(|(c, _, _)| *c == code).map(Lang)
    }

    /// Every supported language.
    pub fn all() -> impl Iterator<Item = Lang> {
        (0..TABLE.len()).map(Lang)
    }

    /// The ISO 639-1 code.
    pub fn code(self) -> &'static str {
        TABLE[self.0].0
    }

    /// The Snowball stemmer of the language.
    pub fn algorithm(self) -> Algorithm {
        TABLE[self.0].1
    }

    /// The stem of one lowercased, folded word (for a word or two; an [`super::Analyzer`]
    /// keeps its stemmer for whole texts).
    pub fn stem(self, folded: &str) -> String {
        rust_stemmers::Stemmer::create(self.algorithm())
            .stem(folded)
            .into_owned()
    }

    fn whatlang(self) -> whatlang::Lang {
        TABLE[self.0].2
    }

    fn from_whatlang(lang: whatlang::Lang) -> Option<Lang> {
        TABLE.iter().position(|(_, _, w)| *w == lang).map(Lang)
    }
}

impl serde::Serialize for Lang {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// The store's languages: the first is the default, the others are what detection may pick.
#[derive(Debug, Clone)]
pub struct Languages {
    langs: Vec<Lang>,
    detector: Option<whatlang::Detector>,
}

/// The confidence from which a query's detected language is used.
pub const MIN_QUERY_CONFIDENCE: f64 = 0.2;

/// A detection guess.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guess {
    /// The language guessed.
    pub lang: Lang,
    /// whatlang's confidence, 0 to 1.
    pub confidence: f64,
}

impl Languages {
    /// The store's languages, default first; an empty list means English.
    pub fn new(langs: Vec<Lang>) -> Languages {
        let mut langs = if langs.is_empty() {
            vec![Lang::ENGLISH]
        } else {
            langs
        };
        let mut seen = std::collections::HashSet::new();
        langs.retain(|l| seen.insert(*l));
        // One language needs no detection: it could only ever pick that one.
        let detector = (langs.len() > 1).then(|| {
            whatlang::Detector::with_allowlist(langs.iter().map(|l| l.whatlang()).collect())
        });
        Languages { langs, detector }
    }

    /// The default language.
    pub fn default_lang(&self) -> Lang {
        self.langs[0]
    }

    /// Every store language, default first.
    pub fn all(&self) -> &[Lang] {
        &self.langs
    }

    /// Whatlang's guess among the store's languages, if it makes one.
    pub fn guess(&self, text: &str) -> Option<Guess> {
        let detector = self.detector.as_ref()?;
        let info = detector.detect(text)?;
        Some(Guess {
            lang: Lang::from_whatlang(info.lang())?,
            confidence: info.confidence(),
        })
    }

    /// The language of a product: its own `lang` when attune can stem it, else the detected
    /// language of its text, else the default.
    pub fn of_product(&self, declared: Option<&str>, text: &str) -> Lang {
        if let Some(lang) = declared.and_then(Lang::from_code) {
            return lang;
        }
        self.guess(text).map_or(self.default_lang(), |g| g.lang)
    }

    /// The language to read a query in: the detected one when the guess is confident
    /// enough, else the default (a wrong stemmer costs more than the default one).
    pub fn of_query(&self, q: &str) -> Lang {
        match self.guess(q) {
            Some(g) if g.confidence >= MIN_QUERY_CONFIDENCE => g.lang,
            _ => self.default_lang(),
        }
    }
}

impl Default for Languages {
    fn default() -> Languages {
        Languages::new(vec![Lang::ENGLISH])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Languages {
        Languages::new(
            ["en", "de", "fr", "es"]
                .map(|c| Lang::from_code(c).unwrap())
                .to_vec(),
        )
    }

    #[test]
    fn codes_round_trip_for_every_stemmer_language() {
        for lang in Lang::all() {
            assert_eq!(Lang::from_code(lang.code()), Some(lang));
        }
        assert_eq!(Lang::from_code("EN"), Some(Lang::ENGLISH));
        assert_eq!(Lang::from_code("ja"), None);
    }

    #[test]
    fn products_use_their_declared_language_before_detection() {
        let langs = store();
        let german = "Laufschuhe für Damen mit atmungsaktivem Obermaterial und gedämpfter Sohle";
        assert_eq!(langs.of_product(None, german).code(), "de");
        assert_eq!(langs.of_product(Some("fr"), german).code(), "fr");
        // A code attune cannot stem falls back to detection.
        assert_eq!(langs.of_product(Some("ja"), german).code(), "de");
    }

    #[test]
    fn a_single_store_language_is_never_second_guessed() {
        let langs = Languages::default();
        assert_eq!(
            langs.of_query("zapatillas de running para mujer"),
            Lang::ENGLISH
        );
        assert_eq!(langs.guess("zapatillas de running para mujer"), None);
    }

    /// Measures the query rule on hand-written labelled queries: a guess it accepts must be
    /// right nearly always, since a wrong stemmer is worse than the default one.
    #[test]
    fn accepted_query_guesses_are_rarely_wrong() {
        let langs = store();
        let data = include_str!("../../fixtures/lang_queries.tsv");
        let (mut total, mut reliable, mut wrong, mut chosen_right) = (0, 0, 0, 0);
        for line in data
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (code, q) = line.split_once('\t').expect("code<TAB>query");
            let want = Lang::from_code(code).expect("known code");
            total += 1;
            if let Some(g) = langs
                .guess(q)
                .filter(|g| g.confidence >= MIN_QUERY_CONFIDENCE)
            {
                reliable += 1;
                wrong += usize::from(g.lang != want);
            }
            chosen_right += usize::from(langs.of_query(q) == want);
        }
        eprintln!(
            "lang_queries: {total} queries, {reliable} accepted guesses, {wrong} wrong, \
             rule right on {chosen_right}"
        );
        assert!(total >= 80, "the labelled set has {total} queries");
        assert!(
            wrong * 20 <= reliable,
            "{wrong} of {reliable} accepted guesses wrong"
        );
        // Always answering the default would be right on a quarter (the English queries).
        assert!(
            chosen_right * 4 >= total * 3,
            "rule right on {chosen_right} of {total}"
        );
    }
}
