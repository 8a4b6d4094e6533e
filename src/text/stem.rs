//! A tantivy token filter that stems with `rust-stemmers` (Snowball), in the store's
//! languages. The index and the query side share it, so their terms always agree.

use std::borrow::Cow;

use rust_stemmers::{Algorithm, Stemmer};
use rustc_hash::FxHashMap;
use tantivy::tokenizer::{Token, TokenFilter, TokenStream, Tokenizer};

/// Stems every token with a Snowball algorithm; tokens must be lowercased beforehand.
#[derive(Clone, Copy)]
pub struct Snowball(pub Algorithm);

impl TokenFilter for Snowball {
    type Tokenizer<T: Tokenizer> = SnowballTokenizer<T>;

    fn transform<T: Tokenizer>(self, inner: T) -> SnowballTokenizer<T> {
        SnowballTokenizer {
            algorithm: self.0,
            inner,
            stemmer: Stemmer::create(self.0),
            stems: FxHashMap::default(),
        }
    }
}

/// The tokenizer a [`Snowball`] filter wraps. It remembers the stems it computed: catalog
/// text repeats its words, and stemming was two fifths of the time spent indexing the Best
/// Buy catalog. Each indexing thread has its own tokenizers (tantivy clones them per segment
/// writer), so the memo needs no lock; a clone starts with an empty one.
pub struct SnowballTokenizer<T> {
    algorithm: Algorithm,
    inner: T,
    stemmer: Stemmer,
    /// Word → its stem, or None when the stem is the word itself.
    stems: FxHashMap<String, Option<String>>,
}

/// Words remembered per tokenizer before the memo starts over (a few MB at most). The one
/// cache that does not follow the bounded policy of [`crate::cache`]: it serves indexing, not
/// shoppers, so starting over costs a moment of stemming and no one's latency, and the bounded
/// cache's bookkeeping made every indexed word dearer (benches/README.md, "Import").
const MAX_REMEMBERED_STEMS: usize = 100_000;

impl<T: Clone> Clone for SnowballTokenizer<T> {
    fn clone(&self) -> Self {
        SnowballTokenizer {
            algorithm: self.algorithm,
            inner: self.inner.clone(),
            stemmer: Stemmer::create(self.algorithm),
            stems: FxHashMap::default(),
        }
    }
}

impl<T: Tokenizer> Tokenizer for SnowballTokenizer<T> {
    type TokenStream<'a> = SnowballStream<'a, T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        SnowballStream {
            tail: self.inner.token_stream(text),
            stemmer: &self.stemmer,
            stems: &mut self.stems,
        }
    }
}

/// The token stream of a [`SnowballTokenizer`].
pub struct SnowballStream<'a, T> {
    tail: T,
    stemmer: &'a Stemmer,
    stems: &'a mut FxHashMap<String, Option<String>>,
}

impl<T: TokenStream> TokenStream for SnowballStream<'_, T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        if let Some(known) = self.stems.get(&token.text) {
            if let Some(stem) = known {
                token.text.clone_from(stem);
            }
            return true;
        }
        // Most tokens come back borrowed and unchanged: only a different stem is written.
        let stem = match self.stemmer.stem(&token.text) {
            Cow::Owned(stem) => Some(stem),
            Cow::Borrowed(stem) if stem != token.text => Some(stem.to_owned()),
            Cow::Borrowed(_) => None,
        };
        if self.stems.len() >= MAX_REMEMBERED_STEMS {
            self.stems.clear();
        }
        self.stems.insert(token.text.clone(), stem.clone());
        if let Some(stem) = stem {
            token.text = stem;
        }
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::tokenizer::{LowerCaser, SimpleTokenizer, TextAnalyzer};

    fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    }

    /// The remembered stems are the stems: the same words give the same tokens the first
    /// time (stemmed), every later time (remembered), and through a clone (which starts over).
    #[test]
    fn remembered_stems_equal_computed_ones() {
        let mut analyzer = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(Snowball(Algorithm::English))
            .build();
        let text = "Running shoes run; the runner runs in running shoes";
        let want = [
            "run", "shoe", "run", "the", "runner", "run", "in", "run", "shoe",
        ];
        assert_eq!(tokens(&mut analyzer, text), want);
        assert_eq!(tokens(&mut analyzer, text), want);
        assert_eq!(tokens(&mut analyzer.clone(), text), want);
    }
}
