//! Term queries whose BM25 statistics are kept for the lifetime of an index snapshot.
//!
//! Every word of a search is looked for in five fields, and tantivy's term query works out
//! each one's statistics anew for every search: the word's document frequency from the term
//! dictionary of every segment, then a table of 256 length norms; for a field no product of
//! a segment has (a catalog without attributes), it also opens an empty index of the field
//! each time. They change only with the snapshot (a commit, a merge, a deletion), so
//! [`TermWeights`] keeps each term's weight for the snapshot it was made in, and
//! [`SnapshotTerm`] takes it from there. The scores are tantivy's own: only the work is not
//! repeated.

use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;
use tantivy::index::SegmentId;
use tantivy::query::{
    Bm25StatisticsProvider, EmptyScorer, EnableScoring, Explanation, Query, Scorer, TermQuery,
    Weight,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, Term};

/// Kept weights of one snapshot, by term: with term frequencies (scored in a field) and
/// without (matched only).
#[derive(Default)]
struct Kept {
    generation: u64,
    with_freqs: FxHashMap<Term, Arc<KeptWeight>>,
    basic: FxHashMap<Term, Arc<KeptWeight>>,
}

/// Above this many kept terms, the snapshot's terms are forgotten and kept anew.
const MAX_TERMS: usize = 50_000;

/// The term weights of the latest snapshot searched.
#[derive(Default)]
pub struct TermWeights {
    kept: Mutex<Kept>,
}

impl std::fmt::Debug for TermWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TermWeights")
    }
}

impl TermWeights {
    /// The weight of `query` in the snapshot `generation`, made by `make` the first time.
    fn get(
        &self,
        generation: u64,
        query: &TermQuery,
        freqs: bool,
        make: impl FnOnce() -> tantivy::Result<KeptWeight>,
    ) -> tantivy::Result<Arc<KeptWeight>> {
        {
            let mut kept = self.lock();
            if kept.generation != generation {
                *kept = Kept {
                    generation,
                    ..Kept::default()
                };
            }
            let map = if freqs { &kept.with_freqs } else { &kept.basic };
            if let Some(weight) = map.get(query.term()) {
                return Ok(weight.clone());
            }
        }
        // Made outside the lock: two searches may make the same weight, neither waits.
        let weight = Arc::new(make()?);
        let mut kept = self.lock();
        if kept.generation == generation {
            if kept.with_freqs.len() + kept.basic.len() >= MAX_TERMS {
                kept.with_freqs.clear();
                kept.basic.clear();
            }
            let map = if freqs {
                &mut kept.with_freqs
            } else {
                &mut kept.basic
            };
            map.insert(query.term().clone(), weight.clone());
        }
        Ok(weight)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A term query whose weight comes from the snapshot's [`TermWeights`] when it is scored
/// against a searcher's own statistics.
#[derive(Clone, Debug)]
pub struct SnapshotTerm {
    query: TermQuery,
    freqs: bool,
    kept: Arc<TermWeights>,
}

impl SnapshotTerm {
    /// `term`, read with `option`, its weight kept in `kept`.
    pub fn new(term: Term, option: IndexRecordOption, kept: Arc<TermWeights>) -> Self {
        SnapshotTerm {
            query: TermQuery::new(term, option),
            freqs: option != IndexRecordOption::Basic,
            kept,
        }
    }
}

impl Query for SnapshotTerm {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        // Only the searcher's own statistics describe its snapshot.
        let EnableScoring::Enabled {
            searcher,
            statistics_provider,
        } = scoring
        else {
            return self.query.weight(scoring);
        };
        let own = std::ptr::addr_eq(
            statistics_provider as *const dyn Bm25StatisticsProvider,
            searcher as *const tantivy::Searcher,
        );
        if !own {
            return self.query.weight(scoring);
        }
        let generation = searcher.generation().generation_id();
        let weight = self.kept.get(generation, &self.query, self.freqs, || {
            Ok(KeptWeight {
                weight: self.query.weight(scoring)?,
                absent: Mutex::default(),
            })
        })?;
        Ok(Box::new(Shared(weight)))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.query.query_terms(visitor);
    }
}

/// A kept weight, and the segments where its term is absent (found out once: looking for a
/// term in a field no product of the segment has opens an empty index of the field).
struct KeptWeight {
    weight: Box<dyn Weight>,
    absent: Mutex<Vec<SegmentId>>,
}

impl KeptWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let segment = reader.segment_id();
        let lock = || self.absent.lock().unwrap_or_else(|p| p.into_inner());
        if lock().contains(&segment) {
            return Ok(Box::new(EmptyScorer));
        }
        let scorer = self.weight.scorer(reader, boost)?;
        if scorer.doc() == TERMINATED {
            lock().push(segment);
        }
        Ok(scorer)
    }
}

/// A kept weight in a search of its snapshot.
struct Shared(Arc<KeptWeight>);

impl Weight for Shared {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        self.0.scorer(reader, boost)
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.0.weight.explain(reader, doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Product;
    use crate::index::ProductIndex;
    use crate::index::writer::WriterConfig;
    use tantivy::collector::TopDocs;
    use tantivy::query::BoostQuery;

    fn add(index: &ProductIndex, products: &[(&str, &str, Option<&str>)]) {
        let products = products
            .iter()
            .map(|(id, title, color)| {
                let mut json = serde_json::json!({"id": id, "title": title});
                if let Some(color) = color {
                    json["attributes"] = serde_json::json!({"color": color});
                }
                Product::from_json(json).unwrap()
            })
            .collect();
        index.commit_now(products);
    }

    /// Every match's score under `query`, best first.
    fn scores(index: &ProductIndex, query: &dyn Query) -> Vec<Score> {
        let top = TopDocs::with_limit(100).order_by_score();
        let found = index.searcher().search(query, &top).unwrap();
        found.into_iter().map(|(score, _)| score).collect()
    }

    /// A kept term scores what tantivy's term query scores, in each snapshot: the statistics
    /// a commit changes are not kept past it, nor is a field found empty before products
    /// had it.
    #[test]
    fn a_kept_term_scores_as_tantivy_s_term_query_in_every_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let index = ProductIndex::open(dir.path(), WriterConfig::default()).unwrap();
        let kept = Arc::new(TermWeights::default());
        let fields = index.fields();
        let both = |field, word: &str| {
            let term = Term::from_field_text(field, word);
            let stock = TermQuery::new(term.clone(), IndexRecordOption::WithFreqs);
            let ours = SnapshotTerm::new(term, IndexRecordOption::WithFreqs, kept.clone());
            (
                BoostQuery::new(Box::new(stock), 2.0),
                BoostQuery::new(Box::new(ours), 2.0),
            )
        };
        add(&index, &[("a", "red lamp", None), ("b", "blue lamp", None)]);
        let (stock, ours) = both(fields.title, "lamp");
        let first = scores(&index, &ours);
        assert_eq!(first.len(), 2);
        assert_eq!(first, scores(&index, &stock));
        let (stock_red, ours_red) = both(fields.attrs_text, "red");
        assert!(scores(&index, &ours_red).is_empty());

        add(
            &index,
            &[("c", "lamp lamp shade", Some("red")), ("d", "mug", None)],
        );
        let second = scores(&index, &ours);
        assert_eq!(second, scores(&index, &stock));
        assert_ne!(
            second[..2],
            first[..],
            "the new products change the statistics"
        );
        assert_eq!(scores(&index, &ours_red), scores(&index, &stock_red));
        assert_eq!(scores(&index, &ours_red).len(), 1);
    }
}
