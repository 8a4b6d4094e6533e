//! Price constraints read from the words of a query, deterministically: "under $50",
//! "between 20 and 40", "20-40", "around 100", "moins de 30 €", "unter 50", "menos de 20".
//!
//! The words that make a constraint are taken out of the text to match, and the bounds filter
//! the results (explicit `price_min` / `price_max` parameters win over words).

use serde::Serialize;

/// A price range read from a query.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PriceConstraint {
    /// Lowest price, inclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Highest price, inclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The words it was read from, as typed.
    pub words: String,
}

/// A price tier the shopper asks for with words ("cheap", "luxury"): a preference, not a
/// filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// The cheaper products of their category.
    Budget,
    /// The dearer products of their category.
    Premium,
}

/// Price intent read from a query.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PriceIntent {
    /// The tier asked for.
    pub tier: Tier,
    /// The words it was read from, as typed.
    pub words: String,
}

/// Words (lowercased, as typed or without accents) that ask for the cheaper products.
const BUDGET: &[&str] = &[
    "cheap",
    "cheapest",
    "budget",
    "affordable",
    "inexpensive",
    "low-cost",
    "bargain",
    "pas cher",
    "bon marché",
    "bon marche",
    "économique",
    "economique",
    "günstig",
    "gunstig",
    "billig",
    "preiswert",
    "barato",
    "barata",
    "baratos",
    "baratas",
    "económico",
    "economico",
    "económica",
    "economica",
    "economici",
];
/// Words that ask for the dearer products.
const PREMIUM: &[&str] = &[
    "premium",
    "luxury",
    "luxurious",
    "high-end",
    "high end",
    "top of the range",
    "luxe",
    "luxueux",
    "haut de gamme",
    "hochwertig",
    "luxus",
    "edel",
    "lujo",
    "lujoso",
    "gama alta",
    "lusso",
];

/// Reads price intent from a query; returns the query without its words.
pub fn intent(q: &str) -> (String, Option<PriceIntent>) {
    let tokens: Vec<String> = q.split_whitespace().map(|t| t.to_lowercase()).collect();
    let raw: Vec<&str> = q.split_whitespace().collect();
    for start in 0..tokens.len() {
        for (list, tier) in [(BUDGET, Tier::Budget), (PREMIUM, Tier::Premium)] {
            if let Some(end) = phrase(&tokens, start, list) {
                let found = PriceIntent {
                    tier,
                    words: raw[start..end].join(" "),
                };
                let rest: Vec<&str> = raw[..start].iter().chain(&raw[end..]).copied().collect();
                return (rest.join(" "), Some(found));
            }
        }
    }
    (q.to_string(), None)
}

/// Phrases that put an upper bound on the price that follows them.
const AT_MOST: &[&str] = &[
    "under",
    "below",
    "less than",
    "cheaper than",
    "max",
    "maximum",
    "up to",
    "at most",
    "<",
    "moins de",
    "moins que",
    "sous",
    "jusqu'à",
    "jusqu'a",
    "max.",
    "unter",
    "bis",
    "höchstens",
    "hochstens",
    "weniger als",
    "menos de",
    "hasta",
    "por debajo de",
    "sotto",
    "meno di",
];
/// Phrases that put a lower bound on the price that follows them.
const AT_LEAST: &[&str] = &[
    "over",
    "above",
    "more than",
    "at least",
    "min",
    "minimum",
    "from",
    ">",
    "plus de",
    "au moins",
    "à partir de",
    "a partir de",
    "über",
    "uber",
    "ab",
    "mindestens",
    "mehr als",
    "más de",
    "mas de",
    "desde",
    "oltre",
    "più di",
];
/// Phrases that mean "about" the price that follows them.
const AROUND: &[&str] = &[
    "around",
    "about",
    "approximately",
    "approx",
    "~",
    "environ",
    "vers",
    "etwa",
    "ca.",
    "ca",
    "circa",
    "alrededor de",
    "aproximadamente",
    "intorno a",
];
/// Words joining the two bounds of a range ("between 20 and 40").
const RANGE_START: &[&str] = &["between", "entre", "zwischen", "tra", "from", "de", "von"];
const RANGE_JOIN: &[&str] = &["and", "to", "et", "à", "a", "und", "bis", "y", "e", "-"];
/// Currency words and signs that may stand next to a number.
const CURRENCY: &[&str] = &[
    "$", "€", "£", "usd", "eur", "euro", "euros", "dollar", "dollars", "bucks", "gbp", "pounds",
    "dólares", "dolares",
];
/// Share above and below the amount that "around" covers.
const AROUND_SHARE: f64 = 0.2;

/// Splits a query into its text and the price constraint it states, if any.
pub fn extract(q: &str) -> (String, Option<PriceConstraint>) {
    let tokens: Vec<String> = q.split_whitespace().map(|t| t.to_lowercase()).collect();
    let raw: Vec<&str> = q.split_whitespace().collect();
    for start in 0..tokens.len() {
        if let Some((min, max, end)) = read_at(&tokens, start) {
            let constraint = PriceConstraint {
                min,
                max,
                words: raw[start..end].join(" "),
            };
            let rest: Vec<&str> = raw[..start].iter().chain(&raw[end..]).copied().collect();
            return (rest.join(" "), Some(constraint));
        }
    }
    (q.to_string(), None)
}

/// Reads a constraint starting at token `i`: (min, max, index after its last token).
fn read_at(t: &[String], i: usize) -> Option<(Option<f64>, Option<f64>, usize)> {
    // "20-40", "$20-$40"
    if let Some((lo, hi)) = t[i]
        .split_once('-')
        .and_then(|(a, b)| Some((amount(a)?, amount(b)?)))
    {
        if lo <= hi && has_currency_or_context(t, i) {
            return Some((Some(lo), Some(hi), skip_currency(t, i + 1)));
        }
    }
    if let Some(after) = phrase(t, i, RANGE_START) {
        let (lo, j) = number(t, after)?;
        let join = phrase(t, j, RANGE_JOIN)?;
        let (hi, k) = number(t, join)?;
        return (lo <= hi).then_some((Some(lo), Some(hi), k));
    }
    if let Some(after) = phrase(t, i, AT_MOST) {
        let (n, j) = number(t, after)?;
        return Some((None, Some(n), j));
    }
    if let Some(after) = phrase(t, i, AT_LEAST) {
        let (n, j) = number(t, after)?;
        return Some((Some(n), None, j));
    }
    if let Some(after) = phrase(t, i, AROUND) {
        let (n, j) = number(t, after)?;
        return Some((
            Some(n * (1.0 - AROUND_SHARE)),
            Some(n * (1.0 + AROUND_SHARE)),
            j,
        ));
    }
    None
}

/// A range written `20-40` only counts as a price with a currency sign or word next to it,
/// so model names like "2-pack" or sizes like "10-12" are left alone.
fn has_currency_or_context(t: &[String], i: usize) -> bool {
    t[i].contains(['$', '€', '£']) || t.get(i + 1).is_some_and(|n| CURRENCY.contains(&n.as_str()))
}

/// The index after a phrase of `list` starting at `i`, longest phrase first.
fn phrase(t: &[String], i: usize, list: &[&str]) -> Option<usize> {
    // Most words of most queries start no phrase of any list: one set lookup turns them away
    // (this runs at every position of every query, for every list).
    const LISTS: [&[&str]; 7] = [
        BUDGET,
        PREMIUM,
        AT_MOST,
        AT_LEAST,
        AROUND,
        RANGE_START,
        RANGE_JOIN,
    ];
    debug_assert!(
        LISTS.contains(&list),
        "a list of phrases missing from the first words"
    );
    static FIRST_WORDS: std::sync::LazyLock<rustc_hash::FxHashSet<&'static str>> =
        std::sync::LazyLock::new(|| {
            LISTS
                .iter()
                .flat_map(|list| list.iter())
                .filter_map(|p| p.split(' ').next())
                .collect()
        });
    if !t.get(i).is_some_and(|w| FIRST_WORDS.contains(w.as_str())) {
        return None;
    }
    let mut best = None;
    for p in list {
        // Word by word, stopping at the first that differs (most phrases differ at their
        // first): this runs at every position of every query.
        let mut end = i;
        let matched = p.split(' ').all(|word| {
            end += 1;
            t.get(end - 1).is_some_and(|token| token == word)
        });
        if matched {
            best = best.max(Some(end));
        }
    }
    best
}

/// A price at `i` (with an optional currency before or after); returns it and the next index.
fn number(t: &[String], i: usize) -> Option<(f64, usize)> {
    let i = if t.get(i).is_some_and(|w| CURRENCY.contains(&w.as_str())) {
        i + 1
    } else {
        i
    };
    let value = amount(t.get(i)?)?;
    Some((value, skip_currency(t, i + 1)))
}

fn skip_currency(t: &[String], i: usize) -> usize {
    if t.get(i).is_some_and(|w| CURRENCY.contains(&w.as_str())) {
        i + 1
    } else {
        i
    }
}

/// "$50", "50€", "49.99", "1,299", "12,50" as a number.
fn amount(word: &str) -> Option<f64> {
    let core = word.trim_matches(|c: char| matches!(c, '$' | '€' | '£' | ',' | '.' | '!' | '?'));
    // A unit glued to the number must be a currency ("50eur"), not "80s" or "10kg".
    let unit_at = core.find(|c: char| c.is_alphabetic()).unwrap_or(core.len());
    let (core, unit) = core.split_at(unit_at);
    if !unit.is_empty() && !CURRENCY.contains(&unit) {
        return None;
    }
    let core = core.trim_end_matches(['$', '€', '£']);
    if core.is_empty() || !core.chars().next()?.is_ascii_digit() {
        return None;
    }
    let normalized = match core.rsplit_once(',') {
        // A comma before exactly three digits groups thousands; otherwise it is a decimal mark.
        Some((_, tail)) if tail.len() == 3 => core.replace(',', ""),
        Some(_) => core.replacen(',', ".", 1),
        None => core.to_string(),
    };
    normalized
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x >= 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(q: &str) -> (String, Option<f64>, Option<f64>) {
        let (rest, c) = extract(q);
        let c = c.unwrap_or_else(|| panic!("no constraint in {q:?}"));
        (rest, c.min, c.max)
    }

    #[test]
    fn upper_bounds_in_several_languages() {
        assert_eq!(
            read("running shoes under $50"),
            ("running shoes".into(), None, Some(50.0))
        );
        assert_eq!(
            read("headphones below 50"),
            ("headphones".into(), None, Some(50.0))
        );
        assert_eq!(
            read("less than 30 euros toaster"),
            ("toaster".into(), None, Some(30.0))
        );
        assert_eq!(read("max 50 lamp"), ("lamp".into(), None, Some(50.0)));
        assert_eq!(
            read("chaussures moins de 30 €"),
            ("chaussures".into(), None, Some(30.0))
        );
        assert_eq!(
            read("Kopfhörer unter 50"),
            ("Kopfhörer".into(), None, Some(50.0))
        );
        assert_eq!(
            read("zapatos menos de 20"),
            ("zapatos".into(), None, Some(20.0))
        );
    }

    #[test]
    fn lower_bounds_ranges_and_around() {
        assert_eq!(read("tv over 200"), ("tv".into(), Some(200.0), None));
        assert_eq!(
            read("Fernseher ab 300€"),
            ("Fernseher".into(), Some(300.0), None)
        );
        assert_eq!(
            read("desk between 20 and 40"),
            ("desk".into(), Some(20.0), Some(40.0))
        );
        assert_eq!(
            read("lampe entre 20 et 40 euros"),
            ("lampe".into(), Some(20.0), Some(40.0))
        );
        assert_eq!(read("rug $20-$40"), ("rug".into(), Some(20.0), Some(40.0)));
        assert_eq!(
            read("rug 20-40 dollars"),
            ("rug".into(), Some(20.0), Some(40.0))
        );
        let (rest, min, max) = read("blender around 100");
        assert_eq!(rest, "blender");
        assert!((min.unwrap() - 80.0).abs() < 1e-9 && (max.unwrap() - 120.0).abs() < 1e-9);
        assert_eq!(read("sofa under 1,299").2, Some(1299.0));
        assert_eq!(read("vin moins de 12,50").2, Some(12.5));
        assert_eq!(read("mug under 15usd").2, Some(15.0));
    }

    #[test]
    fn words_that_are_not_price_constraints_are_left_alone() {
        for q in [
            "2-pack batteries",
            "size 10-12 shoes",
            "under armour shirt",
            "over ear headphones",
            "from the 80s",
            "from 80s bands",
            "under 10kg",
        ] {
            let (rest, c) = extract(q);
            assert!(c.is_none(), "{q:?} read as {c:?}");
            assert_eq!(rest, q);
        }
    }
}
