//! The words of an index snapshot as the query planner asks for them.

use std::sync::Arc;

use super::{surface, typo};
use crate::search::{SearchIndex, hits, query};

/// The words of a snapshot of the index, as the query planner sees them. Each word's
/// document frequency is read once per plan (the planner asks whether a word is known, how
/// informative it is, and whether to correct it).
pub struct IndexVocabulary<'a> {
    searcher: &'a tantivy::Searcher,
    fields: &'a crate::index::Fields,
    hits: &'a hits::HitTables,
    budget: typo::Budget,
    doc_freqs: std::cell::RefCell<std::collections::HashMap<String, u64>>,
    words: Arc<typo::WordMemo>,
}

impl<'a> IndexVocabulary<'a> {
    /// The vocabulary of a snapshot, correcting words within `budget`, with the snapshot's
    /// remembered corrections and completions.
    pub fn new(
        searcher: &'a tantivy::Searcher,
        index: &'a SearchIndex,
        budget: typo::Budget,
        words: Arc<typo::WordMemo>,
    ) -> Self {
        IndexVocabulary {
            searcher,
            fields: index.fields(),
            hits: index.hit_tables(),
            budget,
            doc_freqs: Default::default(),
            words,
        }
    }

    /// The hit tables of the snapshot's segments (where the words of product names are).
    fn hit_tables(&self) -> Vec<Arc<hits::HitTable>> {
        (self.searcher.segment_readers().iter())
            .filter_map(|segment| self.hits.of(segment).ok())
            .collect()
    }

    /// How many products have the analysed word.
    pub(in crate::search) fn doc_freq(&self, term: &str) -> u64 {
        if let Some(&n) = self.doc_freqs.borrow().get(term) {
            return n;
        }
        let key = tantivy::Term::from_field_text(self.fields.all_text, term);
        let n = self.searcher.doc_freq(&key).unwrap_or(0);
        self.doc_freqs.borrow_mut().insert(term.to_string(), n);
        n
    }
}

impl query::Vocabulary for IndexVocabulary<'_> {
    fn has(&self, term: &str) -> bool {
        self.doc_freq(term) > 0
    }

    fn correct(&self, term: &str) -> Option<String> {
        if self.has(term) {
            return None;
        }
        let f = self.fields;
        let candidates = [f.title, f.brand_text, f.category_text, f.attrs_text];
        self.words.correction(term, self.budget, || {
            typo::correct(self.searcher, &candidates, term, self.budget)
        })
    }

    fn complete(&self, prefix: &str, limit: usize) -> Vec<String> {
        // Not kept itself, like `complete_written`: the completion it serves is.
        typo::complete(self.searcher, self.fields.all_text, prefix, limit)
    }

    fn complete_written(&self, prefix: &str, limit: usize, lang: crate::text::Lang) -> Vec<String> {
        // Not kept itself: it serves only the last word's completion, which is kept whole
        // for the snapshot (`remembered_completion`).
        let tables = self.hit_tables();
        let words = surface::complete(tables.iter().map(|t| t.surface()), prefix, limit);
        let mut stems: Vec<String> = Vec::with_capacity(words.len());
        for word in words {
            let stem = lang.stem(&word);
            if !stems.contains(&stem) && self.doc_freq(&stem) > 0 {
                stems.push(stem);
            }
        }
        stems
    }

    fn remembered_completion(
        &self,
        term: &str,
        folded: &str,
        lang: crate::text::Lang,
        compute: &mut dyn FnMut() -> Option<query::Completion>,
    ) -> Option<query::Completion> {
        // A search ending with the same word plans it the same way until the next commit:
        // the check against the catalog's words and their counts is made once.
        self.words.last_word(term, folded, lang, compute)
    }

    fn is_written(&self, folded: &str) -> bool {
        (self.hit_tables().iter()).any(|table| table.surface().contains(folded))
    }

    fn frequency(&self, term: &str) -> Option<u64> {
        Some(self.doc_freq(term))
    }

    fn idf(&self, term: &str) -> Option<f32> {
        let df = self.doc_freq(term) as f32;
        let n = self.searcher.num_docs() as f32;
        Some((1.0 + (n - df + 0.5) / (df + 0.5)).ln())
    }
}
