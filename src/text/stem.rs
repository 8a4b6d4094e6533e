//! A tantivy token filter that stems with `rust-stemmers` (Snowball), in the store's
//! languages. The index and the query side share it, so their terms always agree.

use std::borrow::Cow;

use rust_stemmers::{Algorithm, Stemmer};
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
        }
    }
}

/// The tokenizer a [`Snowball`] filter wraps.
#[derive(Clone)]
pub struct SnowballTokenizer<T> {
    algorithm: Algorithm,
    inner: T,
}

impl<T: Tokenizer> Tokenizer for SnowballTokenizer<T> {
    type TokenStream<'a> = SnowballStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        SnowballStream {
            tail: self.inner.token_stream(text),
            stemmer: Stemmer::create(self.algorithm),
        }
    }
}

/// The token stream of a [`SnowballTokenizer`].
pub struct SnowballStream<T> {
    tail: T,
    stemmer: Stemmer,
}

impl<T: TokenStream> TokenStream for SnowballStream<T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        // Most tokens come back borrowed and unchanged: only a different stem is written.
        let stem = match self.stemmer.stem(&token.text) {
            Cow::Owned(stem) => stem,
            Cow::Borrowed(stem) if stem != token.text => stem.to_owned(),
            Cow::Borrowed(_) => return true,
        };
        token.text = stem;
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}
