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

/// Lowercases and trims a keyword value (brand, attribute) for case-insensitive filters.
pub fn keyword(value: &str) -> String {
    value.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_lowercased_folded_and_stemmed() {
        let mut a = analyzer();
        assert_eq!(
            terms(&mut a, "Running Shoes, Crème"),
            vec!["run", "shoe", "creme"]
        );
    }
}
