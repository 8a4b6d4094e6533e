//! Suggestion keys: the form a suggestion is stored and looked up under, so that `Crème`,
//! `creme` and ` CREME ` find the same entries.

use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, RawTokenizer, TextAnalyzer, TokenStream};

/// Turns text into keys: lowercased, accent-folded, runs of white space made one space,
/// trimmed. Holds its analyzer so building many keys does not rebuild it.
pub struct Normalizer {
    analyzer: TextAnalyzer,
}

impl Default for Normalizer {
    fn default() -> Self {
        // The whole text as one token: keys keep their punctuation and word order.
        let analyzer = TextAnalyzer::builder(RawTokenizer::default())
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .build();
        Normalizer { analyzer }
    }
}

impl Normalizer {
    /// The key of `text` (empty when the text has no visible character).
    pub fn key(&mut self, text: &str) -> String {
        let mut stream = self.analyzer.token_stream(text);
        let mut key = String::with_capacity(text.len());
        while let Some(token) = stream.next() {
            for word in token.text.split_whitespace() {
                if !key.is_empty() {
                    key.push(' ');
                }
                key.push_str(word);
            }
        }
        key
    }
}

/// Byte offsets where the words of a key start (0 first).
pub fn word_starts(key: &str) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(0).chain(key.match_indices(' ').map(|(i, _)| i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_lowercased_accent_folded_and_single_spaced() {
        let mut n = Normalizer::default();
        assert_eq!(n.key("  Crème   BRÛLÉE\tDish "), "creme brulee dish");
        assert_eq!(n.key("Oxford & Co"), "oxford & co");
        assert_eq!(n.key(" \t "), "");
    }

    #[test]
    fn words_start_after_each_space() {
        let starts: Vec<usize> = word_starts("trail running shoe").collect();
        assert_eq!(starts, vec![0, 6, 14]);
    }
}
