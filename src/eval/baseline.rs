//! Plain tantivy BM25: the yardstick that benchmarks and relevance evaluations compare against.
//!
//! Same index and analyzer, but tantivy's own query parser over the text fields (no field
//! weights, no phrase bonus, no priors, no filters), top hits by raw BM25, stored documents
//! loaded. Whatever attune adds on top is measured against this. Two matching modes:
//! [`Matching::AllWords`] (as attune's first pass, for speed comparisons) and
//! [`Matching::AnyWord`] (textbook BM25, the relevance yardstick).

use tantivy::collector::TopDocs;
use tantivy::query::{Query, QueryParser};
use tantivy::{DocAddress, Score};

use crate::error::Result;
use crate::index::ProductIndex;
use crate::index::schema::HitBytes;

/// Which documents a query matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matching {
    /// Every word must match.
    AllWords,
    /// Any word matches; more words score higher.
    AnyWord,
}

/// A reusable plain-BM25 searcher over a product index.
pub struct PlainBm25 {
    parser: QueryParser,
}

impl PlainBm25 {
    /// Builds the parser over the index's text fields.
    pub fn new(index: &ProductIndex, matching: Matching) -> PlainBm25 {
        let f = index.fields();
        let fields = vec![
            f.title,
            f.brand_text,
            f.category_text,
            f.attrs_text,
            f.description,
        ];
        let mut parser = QueryParser::for_index(index.tantivy(), fields);
        if matching == Matching::AllWords {
            parser.set_conjunction_by_default();
        }
        PlainBm25 { parser }
    }

    /// Top `limit` hits for `q` (query syntax errors are ignored leniently) with their ids,
    /// read from the stored hit fields the same way attune's hits are (so the comparison is like
    /// for like).
    pub fn top_ids(&self, index: &ProductIndex, q: &str, limit: usize) -> Result<Vec<String>> {
        let (query, _) = self.parser.parse_query_lenient(q);
        top_ids_of(index, query.as_ref(), limit)
    }
}

/// Top `limit` hits of a tantivy query by its own score, with their ids read from the stored
/// hit fields: tantivy alone, running whatever query it is given (plain BM25's, or the plan
/// attune made of a request, for the cost of everything attune adds around tantivy).
pub fn top_ids_of(index: &ProductIndex, query: &dyn Query, limit: usize) -> Result<Vec<String>> {
    let searcher = index.searcher();
    searcher
        .search(query, &TopDocs::with_limit(limit.max(1)).order_by_score())?
        .into_iter()
        .map(|(_, address): (Score, DocAddress)| {
            let doc: HitBytes = searcher.doc(address)?;
            Ok(doc.parse()?.id.into_owned())
        })
        .collect()
}
