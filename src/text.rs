//! Text analysis shared by indexing and querying.
//!
//! One analyzer today: Unicode word splitting, lowercasing, accent folding and English
//! stemming. Query understanding (per-language analyzers, synonyms) builds on this module; the
//! index and the query side must always go through [`analyzer`] so their terms agree.

use tantivy::Index;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    TextAnalyzer, TokenStream,
};

/// Name under which the product text analyzer is registered on the index.
pub const ANALYZER: &str = "attune_en";

/// Builds the product text analyzer.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(48))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// Registers the analyzers on an index (needed after every open).
pub fn register(index: &Index) {
    index.tokenizers().register(ANALYZER, analyzer());
}

/// The analysed terms of `text`, in order, duplicates kept.
pub fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while let Some(token) = stream.next() {
        out.push(token.text.clone());
    }
    out
}

/// Function words that carry no product meaning in a query (analysed forms). They still count
/// for the phrase bonus, which needs positions, but never as words to match.
const QUERY_STOP_WORDS: &[&str] = &[
    "a", "an", "and", "the", "of", "for", "with", "to", "in", "on", "by", "or", "at", "from",
];

/// Words that negate the next word ("without straw", "not leather", "no lid").
const NEGATIONS: &[&str] = &["without", "not", "no", "non"];

/// The words of a query, as the engine reads them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryWords {
    /// Every analysed token, in order (for the phrase bonus).
    pub sequence: Vec<String>,
    /// Distinct words to match and score, in order.
    pub terms: Vec<String>,
    /// Words negated by a preceding `without` / `not` / `no` / `non`, or a leading `-`.
    pub negated: Vec<String>,
}

/// Splits a query into words to match, stop words, and negated words.
pub fn query_words(analyzer: &mut TextAnalyzer, q: &str) -> QueryWords {
    let mut words = QueryWords::default();
    let mut negate_next = false;
    for raw in q.split_whitespace() {
        let minus = raw.starts_with('-') && raw.len() > 1;
        for token in terms(analyzer, raw) {
            words.sequence.push(token.clone());
            if NEGATIONS.contains(&token.as_str()) {
                negate_next = true;
            } else if negate_next || minus {
                negate_next = false;
                if !words.negated.contains(&token) {
                    words.negated.push(token);
                }
            } else if !QUERY_STOP_WORDS.contains(&token.as_str()) && !words.terms.contains(&token) {
                words.terms.push(token);
            }
        }
    }
    words
}

/// Lowercases and trims a keyword value (brand, attribute) for case-insensitive filters.
pub fn keyword(value: &str) -> String {
    value.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_words_drop_stop_words_and_set_negated_words_apart() {
        let mut a = analyzer();
        let w = query_words(
            &mut a,
            "Toddler water bottle without straw for kids -wireless",
        );
        assert_eq!(w.terms, vec!["toddler", "water", "bottl", "kid"]);
        assert_eq!(w.negated, vec!["straw", "wireless"]);
        assert_eq!(w.sequence.len(), 8);
        let w = query_words(&mut a, "not leather, no lid");
        assert_eq!(w.terms, Vec::<String>::new());
        assert_eq!(w.negated, vec!["leather", "lid"]);
    }

    #[test]
    fn terms_are_lowercased_folded_and_stemmed() {
        let mut a = analyzer();
        assert_eq!(
            terms(&mut a, "Running Shoes, Crème"),
            vec!["run", "shoe", "creme"]
        );
    }
}
