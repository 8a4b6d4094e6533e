//! Text analysis shared by indexing and querying.
//!
//! Every language goes through the same pipeline: Unicode word splitting, very long tokens
//! dropped, lowercasing, accent folding, then the language's Snowball stemmer
//! (`rust-stemmers`). Products are analysed in their own language (see [`language`]) and
//! indexed pre-tokenized; queries in the language detected for them. Both sides build their
//! terms through [`Analyzer`], so they always agree.

pub mod language;
mod stem;

use std::collections::HashSet;

use tantivy::Index;
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, PreTokenizedString, RemoveLongFilter, SimpleTokenizer,
    TextAnalyzer, Token, TokenStream,
};

pub use language::{Lang, Languages};
pub use stem::Snowball;

/// Name under which the store's default-language analyzer is registered on the index: the
/// text fields' tokenizer, used for products in the default language and by tantivy's own
/// query parser (the plain-BM25 yardstick). The name is stored in the index's schema, so it
/// stays `attune_en` whatever the default language is.
pub const ANALYZER: &str = "attune_en";

/// Tokens longer than this many bytes are dropped (base64 blobs, URLs glued together).
const MAX_TOKEN_BYTES: usize = 48;

/// Splitting, lowercasing and folding: the part of the pipeline before stemming.
fn plain() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The analyzer of one language.
pub struct Analyzer {
    plain: TextAnalyzer,
    stemmer: rust_stemmers::Stemmer,
    lang: Lang,
}

impl Analyzer {
    /// The analyzer of `lang`.
    pub fn new(lang: Lang) -> Analyzer {
        Analyzer {
            plain: plain(),
            stemmer: rust_stemmers::Stemmer::create(lang.algorithm()),
            lang,
        }
    }

    /// Its language.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The stem of a lowercased, folded word.
    pub fn stem(&self, folded: &str) -> String {
        self.stemmer.stem(folded).into_owned()
    }

    /// Splits, lowercases and folds `text`, without stemming.
    pub fn folded(&mut self, text: &str) -> Vec<String> {
        let mut stream = self.plain.token_stream(text);
        let mut out = Vec::new();
        while let Some(token) = stream.next() {
            out.push(token.text.clone());
        }
        out
    }

    /// Each word of `text`: where it lies (byte offsets) and its folded form.
    pub fn word_offsets(&mut self, text: &str) -> Vec<(usize, usize, String)> {
        let mut stream = self.plain.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            let token = stream.token();
            out.push((token.offset_from, token.offset_to, token.text.clone()));
        }
        out
    }

    /// The analysed terms of `text`, in order, duplicates kept.
    pub fn terms(&mut self, text: &str) -> Vec<String> {
        let mut words = self.folded(text);
        for word in &mut words {
            *word = self.stem(word);
        }
        words
    }

    /// `text` as tokens with positions and offsets, ready to index.
    pub fn pre_tokenized(&mut self, text: &str) -> PreTokenizedString {
        let mut tokens: Vec<Token> = Vec::new();
        let mut stream = self.plain.token_stream(text);
        while stream.advance() {
            let mut token = stream.token().clone();
            token.text = self.stemmer.stem(&token.text).into_owned();
            tokens.push(token);
        }
        PreTokenizedString {
            text: String::new(),
            tokens,
        }
    }

    /// Splits a query into words to match, stop words, and negated words. `extra_stop` are
    /// the store's own stop words (lowercased), on top of the language's.
    pub fn query_words(&mut self, q: &str, extra_stop: &HashSet<String>) -> QueryWords {
        let mut words = QueryWords::default();
        let mut negate_next = false;
        let stop = stop_words(self.lang);
        for raw in q.split_whitespace() {
            let minus = raw.starts_with('-') && raw.len() > 1;
            for folded in self.folded(raw) {
                let term = self.stem(&folded);
                words.sequence.push(term.clone());
                if NEGATIONS.contains(&folded.as_str()) {
                    negate_next = true;
                } else if negate_next || minus {
                    negate_next = false;
                    if !words.negated.contains(&term) {
                        words.negated.push(term);
                    }
                } else if !stop.contains(&folded.as_str())
                    && !extra_stop.contains(&folded)
                    && !words.terms.contains(&term)
                {
                    words.terms.push(term);
                    words.folded.push(folded);
                }
            }
        }
        words
    }
}

/// One analyzer per language met so far, with the store's languages to pick from: what the
/// index writer uses to analyse each product in its own language.
pub struct Analyzers {
    languages: Languages,
    by_lang: std::collections::HashMap<Lang, Analyzer>,
}

/// How much of a product's text language detection reads: enough for a reliable guess,
/// bounded so a long description costs no more than a short one.
const DETECT_BYTES: usize = 300;

impl Analyzers {
    /// The store's default language.
    pub fn default_lang(&self) -> Lang {
        self.languages.default_lang()
    }

    /// Analyzers for a store's languages.
    pub fn new(languages: Languages) -> Analyzers {
        Analyzers {
            languages,
            by_lang: std::collections::HashMap::new(),
        }
    }

    /// The analyzer for a product: its declared language, else the one detected from its
    /// title and the start of its description.
    pub fn for_product(
        &mut self,
        declared: Option<&str>,
        title: &str,
        description: Option<&str>,
    ) -> &mut Analyzer {
        let lang = if declared.is_none() && self.languages.all().len() > 1 {
            let mut sample = String::with_capacity(DETECT_BYTES + title.len());
            sample.push_str(title);
            if let Some(d) = description {
                sample.push(' ');
                sample.push_str(&d[..floor_char_boundary(d, DETECT_BYTES)]);
            }
            self.languages.of_product(None, &sample)
        } else {
            self.languages.of_product(declared, title)
        };
        self.by_lang
            .entry(lang)
            .or_insert_with(|| Analyzer::new(lang))
    }
}

/// The largest char boundary of `s` at or below `at`.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

/// The analyzer of `lang` as a tantivy [`TextAnalyzer`]: the same terms as [`Analyzer`].
pub fn tantivy_analyzer(lang: Lang) -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Snowball(lang.algorithm()))
        .build()
}

/// Registers the default language's analyzer on an index (needed after every open).
pub fn register(index: &Index, default_lang: Lang) {
    index
        .tokenizers()
        .register(ANALYZER, tantivy_analyzer(default_lang));
}

/// Lowercased, accent-folded form of a word or phrase, words joined by one space (for
/// comparing what a merchant wrote in the config with what a shopper typed).
pub fn fold(text: &str) -> String {
    Analyzer::new(Lang::ENGLISH).folded(text).join(" ")
}

/// Function words that carry no product meaning in a query, by language (folded forms).
/// They still count for the phrase bonus, which needs positions, but never as words to
/// match. Short on purpose: Snowball's long lists hold words shoppers mean ("over", "sein").
fn stop_words(lang: Lang) -> &'static [&'static str] {
    match lang.code() {
        "en" => &[
            "a", "an", "and", "the", "of", "for", "with", "to", "in", "on", "by", "or", "at",
            "from",
        ],
        "de" => &[
            "der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem", "einer",
            "und", "oder", "fur", "mit", "von", "zu", "zum", "zur", "im", "in", "am", "an", "auf",
            "aus", "bei",
        ],
        "fr" => &[
            "le", "la", "les", "l", "un", "une", "des", "de", "du", "d", "et", "ou", "pour",
            "avec", "en", "au", "aux", "a", "sur", "par",
        ],
        "es" => &[
            "el", "la", "los", "las", "un", "una", "unos", "unas", "de", "del", "y", "o", "para",
            "con", "en", "al", "a", "por",
        ],
        "it" => &[
            "il", "lo", "la", "i", "gli", "le", "un", "una", "di", "del", "della", "e", "o", "per",
            "con", "in", "al", "a", "da", "su",
        ],
        "pt" => &[
            "o", "a", "os", "as", "um", "uma", "de", "do", "da", "dos", "das", "e", "ou", "para",
            "com", "em", "no", "na", "ao", "por",
        ],
        "nl" => &[
            "de", "het", "een", "en", "of", "voor", "met", "van", "in", "op", "aan", "bij",
        ],
        _ => &[],
    }
}

/// Words that negate the next word ("without straw", "sans paille", "ohne Strohhalm"), in
/// every language at once: short queries are read in the default language, but a shopper
/// writing "sans" means it whatever the detector says. Words that also mean something else
/// in a product query ("pas cher") are left out.
const NEGATIONS: &[&str] = &[
    "without", "not", "no", "non", "sans", "ohne", "kein", "keine", "keinen", "nicht", "sin",
    "senza", "sem", "nao", "zonder", "geen",
];

/// The words of a query, as the engine reads them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryWords {
    /// Every analysed token, in order (for the phrase bonus).
    pub sequence: Vec<String>,
    /// Distinct words to match and score, in order.
    pub terms: Vec<String>,
    /// The lowercased, folded form of each of `terms` before stemming (to stem it in
    /// another language).
    pub folded: Vec<String>,
    /// Words negated by a preceding `without` / `not` / `no` / `non`, or a leading `-`.
    pub negated: Vec<String>,
}

/// Lowercases and trims a keyword value (brand, attribute) for case-insensitive filters.
pub fn keyword(value: &str) -> String {
    value.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(code: &str) -> Lang {
        Lang::from_code(code).unwrap()
    }

    #[test]
    fn query_words_drop_stop_words_and_set_negated_words_apart() {
        let mut a = Analyzer::new(Lang::ENGLISH);
        let none = HashSet::new();
        let w = a.query_words(
            "Toddler water bottle without straw for kids -wireless",
            &none,
        );
        assert_eq!(w.terms, vec!["toddler", "water", "bottl", "kid"]);
        assert_eq!(w.folded, vec!["toddler", "water", "bottle", "kids"]);
        assert_eq!(w.negated, vec!["straw", "wireless"]);
        assert_eq!(w.sequence.len(), 8);
        let w = a.query_words("not leather, no lid", &none);
        assert_eq!(w.terms, Vec::<String>::new());
        assert_eq!(w.negated, vec!["leather", "lid"]);
    }

    #[test]
    fn store_stop_words_are_not_matched() {
        let mut a = Analyzer::new(Lang::ENGLISH);
        let stop: HashSet<String> = ["buy".to_string()].into();
        assert_eq!(
            a.query_words("buy red shoes", &stop).terms,
            vec!["red", "shoe"]
        );
    }

    #[test]
    fn terms_are_lowercased_folded_and_stemmed() {
        let mut a = Analyzer::new(Lang::ENGLISH);
        assert_eq!(
            a.terms("Running Shoes, Crème"),
            vec!["run", "shoe", "creme"]
        );
    }

    #[test]
    fn each_language_stems_with_its_own_rules() {
        let cases = [
            (
                "de",
                "Laufschuhe Kinderwagen",
                vec!["laufschuh", "kinderwag"],
            ),
            ("fr", "chaussures imperméables", vec!["chaussur", "imperme"]),
            ("es", "zapatillas impermeables", vec!["zapatill", "imperm"]),
            ("it", "scarpe impermeabili", vec!["scarp", "imperm"]),
            ("en", "waterproof boots", vec!["waterproof", "boot"]),
        ];
        for (code, text, want) in cases {
            assert_eq!(
                Analyzer::new(lang(code)).terms(text),
                want,
                "{code}: {text}"
            );
        }
    }

    #[test]
    fn stop_words_and_negations_follow_the_query_language() {
        let none = HashSet::new();
        let w = Analyzer::new(lang("fr")).query_words("gourde pour enfant sans paille", &none);
        assert_eq!(w.terms, vec!["gourd", "enfant"]);
        assert_eq!(w.negated, vec!["paill"]);
        let w =
            Analyzer::new(lang("de")).query_words("Trinkflasche für Kinder ohne Strohhalm", &none);
        assert_eq!(w.terms, vec!["trinkflasch", "kind"]);
        assert_eq!(w.negated, vec!["strohhalm"]);
        let w = Analyzer::new(lang("es")).query_words("botella para niños sin pajita", &none);
        assert_eq!(w.terms, vec!["botell", "nin"]);
        assert_eq!(w.negated, vec!["pajit"]);
    }

    #[test]
    fn the_registered_analyzers_agree_with_the_query_analyzers() {
        let text = "Stainless Steel Water Bottles, crème brûlée; running Laufschuhe";
        for lang in Lang::all() {
            let mut tantivy = tantivy_analyzer(lang);
            let mut stream = tantivy.token_stream(text);
            let mut via_tantivy = Vec::new();
            while let Some(t) = stream.next() {
                via_tantivy.push(t.text.clone());
            }
            assert_eq!(via_tantivy, Analyzer::new(lang).terms(text), "{lang}");
            let pre: Vec<String> = Analyzer::new(lang)
                .pre_tokenized(text)
                .tokens
                .into_iter()
                .map(|t| t.text)
                .collect();
            assert_eq!(pre, via_tantivy, "{lang}");
        }
    }

    #[test]
    fn pre_tokenized_text_keeps_positions_and_offsets() {
        let pre = Analyzer::new(Lang::ENGLISH).pre_tokenized("Red running shoes");
        let texts: Vec<&str> = pre.tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, vec!["red", "run", "shoe"]);
        let positions: Vec<usize> = pre.tokens.iter().map(|t| t.position).collect();
        assert_eq!(positions, vec![0, 1, 2]);
        assert_eq!(pre.tokens[2].offset_from, 12);
    }
}
