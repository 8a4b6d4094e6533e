//! Ranking stages after retrieval: the text score, then the popularity and stock prior, then
//! the merchandising rules' boosts and buries, then the requested order with a deterministic
//! tie-break.
//!
//! Each stage is a small function of fast-field values (or, for rules, of per-segment bit
//! sets of the documents each rule's expression holds for) that reports what it did, so
//! `explain=true` shows the same numbers the order was computed from. Personalization joins
//! this chain between the prior and the rules.

use std::cmp::Ordering;
use std::sync::Arc;

use serde::Serialize;
use tantivy::columnar::Column;
use tantivy::index::SegmentId;
use tantivy::query::Weight;
use tantivy::{BitSet, DocId, Score, SegmentReader};

use crate::search::query::request::Sort;
use crate::search::snapshot::Memo;
use crate::settings::Weights;

/// The order of a hit: compared on `primary`, then `secondary`, then the id hash (lower first),
/// so equal scores always come out in the same order whatever the segment layout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankKey {
    /// The sort's main value (higher first).
    pub primary: f64,
    /// The relevance score, to order equal primaries (higher first).
    pub secondary: f64,
    /// Stable hash of the id.
    pub tiebreak: u64,
    /// The text score the collector saw (not compared): `explain` starts from it instead of
    /// asking tantivy to explain the query again.
    pub text: Score,
}

impl Eq for RankKey {}

impl Ord for RankKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.primary
            .total_cmp(&other.primary)
            .then(self.secondary.total_cmp(&other.secondary))
            .then(other.tiebreak.cmp(&self.tiebreak))
    }
}

impl PartialOrd for RankKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Fast-field columns one segment needs for ranking, and which documents the request's rule
/// boosts hold for.
pub struct RankColumns {
    columns: Arc<PriorColumns>,
    /// Per rule boost of the ranker, the segment's documents it holds for.
    rule_docs: Vec<BitSet>,
}

impl std::ops::Deref for RankColumns {
    type Target = PriorColumns;

    fn deref(&self) -> &PriorColumns {
        &self.columns
    }
}

/// The fast-field columns of a segment that every ranking reads, and what every search reads
/// of them per document laid out flat: the tie-break, the popularity mapped to [0, 1) and
/// whether the product is in stock (a column read, and the popularity's logarithm, cost more
/// than the rest of ranking a match).
pub struct PriorColumns {
    price: Column<f64>,
    popularity: Column<f64>,
    rating: Column<f64>,
    created_at: Column<i64>,
    tiebreak: Vec<u64>,
    saturated: Vec<f64>,
    in_stock: Vec<bool>,
}

impl PriorColumns {
    fn open(segment: &SegmentReader) -> tantivy::Result<PriorColumns> {
        let ff = segment.fast_fields();
        let tiebreak = ff.u64("tiebreak")?;
        let popularity = ff.f64("popularity")?;
        let in_stock = ff.bool("in_stock")?;
        let docs = 0..segment.max_doc();
        Ok(PriorColumns {
            tiebreak: docs
                .clone()
                .map(|d| tiebreak.first(d).unwrap_or(0))
                .collect(),
            saturated: docs
                .clone()
                .map(|d| saturate(popularity.first(d)))
                .collect(),
            in_stock: docs.map(|d| in_stock.first(d).unwrap_or(true)).collect(),
            price: ff.f64("price")?,
            popularity,
            rating: ff.f64("rating")?,
            created_at: ff.i64("created_at")?,
        })
    }
}

/// Each segment's [`PriorColumns`], opened when a commit brings the segment in (or by the
/// first search to rank in it) and kept while the segment lives: opening six columns by name
/// in every segment was a twentieth of a search's time.
#[derive(Default)]
pub struct ColumnCache(Memo<SegmentId, Arc<PriorColumns>, 256>);

impl ColumnCache {
    /// What the memo holds and how often it answered.
    pub fn stats(&self) -> crate::cache::CacheStats {
        self.0.stats("rank_columns")
    }

    fn of(&self, segment: &SegmentReader) -> tantivy::Result<Arc<PriorColumns>> {
        (self.0).get_or_try(segment.segment_id(), || {
            PriorColumns::open(segment).map(Arc::new)
        })
    }
}

/// Opens the columns of new segments when a commit reloads the reader, and forgets those of
/// segments no live searcher holds.
impl tantivy::Warmer for ColumnCache {
    fn warm(&self, searcher: &tantivy::Searcher) -> tantivy::Result<()> {
        crate::search::snapshot::warm_segments(searcher, "ranking columns", |segment| {
            self.of(segment)
        });
        Ok(())
    }

    fn garbage_collect(&self, live: &[&tantivy::SearcherGeneration]) {
        self.0.retain_live(live);
    }
}

impl std::fmt::Debug for ColumnCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ColumnCache")
    }
}

/// A boost or bury of a fired rule, compiled for one snapshot of the index.
#[derive(Clone)]
pub struct RuleBoost {
    /// The stage it shows as in `explain`: `rule`, or `negation` for products that have a
    /// word the query negates.
    pub stage: &'static str,
    /// The rule's id (for a negation, the negated words).
    pub rule: Arc<str>,
    /// The factor applied to the products the expression holds for.
    pub factor: f64,
    /// The expression, compiled.
    pub weight: Arc<dyn Weight>,
}

/// The rule boosts of one search, in rule order (cheap to clone into every segment).
#[derive(Clone, Default)]
pub struct RuleBoosts(Arc<[RuleBoost]>);

impl RuleBoosts {
    /// Boosts in rule order.
    pub fn new(boosts: Vec<RuleBoost>) -> RuleBoosts {
        RuleBoosts(boosts.into())
    }

    /// These boosts and one more.
    pub fn with(&self, extra: RuleBoost) -> RuleBoosts {
        let mut all: Vec<RuleBoost> = self.0.to_vec();
        all.push(extra);
        RuleBoosts::new(all)
    }

    /// The largest factor the boosts can apply together (buries lower nothing's bound).
    fn max_factor(&self) -> f64 {
        self.0.iter().map(|b| b.factor.max(1.0)).product()
    }
}

impl std::fmt::Debug for RuleBoosts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = self.0.iter().map(|b| (&*b.rule, b.factor));
        f.debug_list().entries(list).finish()
    }
}

/// An upper bound of a document's primary sort value from its text score: the text times
/// the largest factor the priors and rule boosts can give.
#[derive(Debug, Clone, Copy)]
pub struct PrimaryBound {
    has_text: bool,
    max_factor: f64,
}

impl PrimaryBound {
    /// The text score under which a document's bound (its text value times the largest
    /// factor) is below `primary`, so it cannot reach a page whose worst hit has that
    /// primary value; kept a hair low, so rounding never rules out a document the bound
    /// itself would let through. Without text every document has the same bound: all or
    /// none are ruled out.
    pub fn text_floor(&self, primary: f64) -> f64 {
        let margin = |x: f64| x - x.abs() * 1e-9;
        if !self.has_text {
            return if self.max_factor < margin(primary) {
                f64::INFINITY
            } else {
                f64::NEG_INFINITY
            };
        }
        margin(primary / self.max_factor)
    }
}

/// The text part of a score: the text score, or 1 when there is no text to score (browsing).
fn text_value(has_text: bool, text_score: Score) -> f64 {
    if has_text { f64::from(text_score) } else { 1.0 }
}

/// What each stage did to one hit.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Explain {
    /// Weighted BM25 text score (1 when browsing without words).
    pub text: f64,
    /// The stages applied after the text score, in order.
    pub stages: Vec<Stage>,
    /// Personalization, when it was applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub personalization: Option<super::personalize::PersonalExplain>,
    /// The relevance score after every stage.
    pub score: f64,
}

/// One ranking stage's effect on a hit.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Stage {
    /// Stage name (`popularity`, `stock`, `rule`, `pin`).
    pub stage: &'static str,
    /// The merchandising rule behind a `rule` or `pin` stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub rule: Option<Arc<str>>,
    /// The input value the stage read, when it read one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The factor the score was multiplied by.
    pub factor: f64,
}

/// The text-then-prior ranking of one request.
#[derive(Debug, Clone)]
pub struct Ranker {
    /// Weights of the priors.
    pub weights: Weights,
    /// Whether the request has words (otherwise every text score is 1).
    pub has_text: bool,
    /// The order asked for.
    pub sort: Sort,
    /// The priors of a category page, when it is one (None: a search).
    pub recency: Option<Recency>,
    /// Boosts and buries of the rules that fired.
    pub rules: RuleBoosts,
    /// The index's ranking columns per segment.
    pub columns: Arc<ColumnCache>,
}

/// The priors of category pages, where no words rank: popularity weighs more than in a
/// search, and a product created now gains `weight` of its score, one created a half-life
/// ago half that.
#[derive(Debug, Clone, Copy)]
pub struct Recency {
    /// Now, in epoch seconds.
    pub now_s: i64,
    /// Largest gain.
    pub weight: f32,
    /// Half-life, in seconds.
    pub half_life_s: f64,
    /// Weight of the popularity prior on category pages.
    pub popularity: f32,
}

impl Recency {
    fn factor(&self, created_at: Option<i64>) -> f64 {
        let Some(created) = created_at else {
            return 1.0;
        };
        let age = (self.now_s - created).max(0) as f64;
        1.0 + f64::from(self.weight) * 0.5f64.powf(age / self.half_life_s)
    }
}

impl Ranker {
    /// The stages after the text score, for one document, as [`Ranker::explain`] reports
    /// them: the factors ranking applies ([`Ranker::factors`]) and the values they come from.
    fn stages(&self, cols: &RankColumns, doc: DocId) -> [Stage; 3] {
        let [popularity, stock, recency] = self.factors(cols, doc);
        [
            Stage {
                stage: "popularity",
                rule: None,
                value: cols.popularity.first(doc),
                factor: popularity,
            },
            Stage {
                stage: "stock",
                rule: None,
                value: None,
                factor: stock,
            },
            Stage {
                stage: "recency",
                rule: None,
                value: self
                    .recency
                    .and_then(|_| cols.created_at.first(doc))
                    .map(|t| t as f64),
                factor: recency,
            },
        ]
    }

    /// The factors of the stages, in order: popularity, stock, recency.
    fn factors(&self, cols: &RankColumns, doc: DocId) -> [f64; 3] {
        let doc = doc as usize;
        let popularity = 1.0 + f64::from(self.popularity_weight()) * cols.saturated[doc];
        let stock = if cols.in_stock[doc] {
            1.0
        } else {
            f64::from(self.weights.out_of_stock)
        };
        // Only category pages rank by recency: searches skip the read.
        let recency = self
            .recency
            .map_or(1.0, |r| r.factor(cols.created_at.first(doc as DocId)));
        [popularity, stock, recency]
    }

    fn popularity_weight(&self) -> f32 {
        self.recency
            .map_or(self.weights.popularity, |r| r.popularity)
    }

    fn text(&self, text_score: Score) -> f64 {
        text_value(self.has_text, text_score)
    }

    /// Opens a segment's columns and reads which of its documents each rule boost holds for.
    pub fn columns(&self, segment: &SegmentReader) -> tantivy::Result<RankColumns> {
        let mut cols = RankColumns {
            columns: self.columns.of(segment)?,
            rule_docs: Vec::with_capacity(self.rules.0.len()),
        };
        for boost in self.rules.0.iter() {
            let mut docs = BitSet::with_max_value(segment.max_doc());
            boost.weight.for_each_no_score(segment, &mut |matched| {
                for doc in matched {
                    docs.insert(*doc);
                }
            })?;
            cols.rule_docs.push(docs);
        }
        Ok(cols)
    }

    /// The rule boosts that hold for a document, with their factors.
    fn rule_stages<'a>(
        &'a self,
        cols: &'a RankColumns,
        doc: DocId,
    ) -> impl Iterator<Item = &'a RuleBoost> + 'a {
        self.rules
            .0
            .iter()
            .zip(&cols.rule_docs)
            .filter(move |(_, docs)| docs.contains(doc))
            .map(|(boost, _)| boost)
    }

    /// Runs every stage on one document and explains it.
    pub fn explain(&self, cols: &RankColumns, doc: DocId, text_score: Score) -> Explain {
        let mut stages = self.stages(cols, doc).to_vec();
        stages.extend(self.rule_stages(cols, doc).map(|b| Stage {
            stage: b.stage,
            rule: Some(b.rule.clone()),
            value: None,
            factor: b.factor,
        }));
        Explain {
            text: self.text(text_score),
            score: self.score(cols, doc, text_score),
            // Recency is a stage of category pages only: searches do not show it.
            stages: stages
                .into_iter()
                .filter(|s| s.stage != "recency" || self.recency.is_some())
                .collect(),
            personalization: None,
        }
    }

    /// The relevance score of one document: the text score times every stage's factor.
    pub fn score(&self, cols: &RankColumns, doc: DocId, text_score: Score) -> f64 {
        let prior = self
            .factors(cols, doc)
            .iter()
            .fold(self.text(text_score), |score, factor| score * factor);
        self.rule_stages(cols, doc)
            .fold(prior, |score, boost| score * boost.factor)
    }

    /// The largest factor the stages can apply together: a document whose text score times
    /// this cannot beat the current k-th best needs no fast-field reads at all. A rule's
    /// boost raises it (a bound that ignored boosts would skip boosted documents).
    pub fn max_factor(&self) -> f64 {
        let recency = self.recency.map_or(1.0, |r| 1.0 + f64::from(r.weight));
        (1.0 + f64::from(self.popularity_weight())) * recency * self.rules.max_factor()
    }

    /// An upper bound of the primary sort value from the text score alone, when the sort
    /// is by relevance (other sorts cannot be bounded by text). Made once per segment: the
    /// collector applies it to every match.
    pub fn primary_bound(&self) -> Option<PrimaryBound> {
        (self.sort == Sort::Relevance).then(|| PrimaryBound {
            has_text: self.has_text,
            max_factor: self.max_factor(),
        })
    }

    /// The sort key of one document.
    pub fn key(&self, cols: &RankColumns, doc: DocId, text_score: Score) -> RankKey {
        let relevance = self.score(cols, doc, text_score);
        let missing_last = f64::NEG_INFINITY;
        let primary = match self.sort {
            Sort::Relevance => relevance,
            Sort::PriceAsc => cols.price.first(doc).map_or(missing_last, |p| -p),
            Sort::PriceDesc => cols.price.first(doc).unwrap_or(missing_last),
            Sort::Newest => cols
                .created_at
                .first(doc)
                .map_or(missing_last, |t| t as f64),
            Sort::Rating => cols.rating.first(doc).unwrap_or(missing_last),
            Sort::Popularity => cols.popularity.first(doc).unwrap_or(missing_last),
        };
        RankKey {
            primary,
            secondary: relevance,
            tiebreak: cols.tiebreak[doc as usize],
            text: text_score,
        }
    }
}

/// Maps a popularity on any scale to [0, 1): `ln(1+p) / (ln(1+p) + 3)`. Concave, so a
/// bestseller leads a niche product without drowning text relevance.
fn saturate(popularity: Option<f64>) -> f64 {
    let l = popularity.unwrap_or(0.0).max(0.0).ln_1p();
    l / (l + 3.0)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// A text score under the floor always has a bound under the primary value: the
        /// floor never rules out a document the bound would let through.
        #[test]
        fn a_score_under_the_text_floor_cannot_reach_the_primary(
            max_factor in 1.0f64..4.0,
            primary in 0.0f64..200.0,
            text in 0.0f32..100.0,
        ) {
            let bound = PrimaryBound { has_text: true, max_factor };
            if f64::from(text) < bound.text_floor(primary) {
                prop_assert!(f64::from(text) * max_factor < primary);
            }
            // At the primary's exact quotient the floor is still below it.
            let exact = (primary / max_factor) as f32;
            if f64::from(exact) * max_factor >= primary {
                prop_assert!(f64::from(exact) >= bound.text_floor(primary));
            }
        }
    }

    #[test]
    fn ties_break_on_the_lower_id_hash() {
        let a = RankKey {
            primary: 1.0,
            secondary: 1.0,
            tiebreak: 5,
            text: 0.0,
        };
        let b = RankKey {
            primary: 1.0,
            secondary: 1.0,
            tiebreak: 9,
            text: 0.0,
        };
        assert!(a > b);
        let c = RankKey {
            primary: 2.0,
            secondary: 0.0,
            tiebreak: 99,
            text: 0.0,
        };
        assert!(c > a);
    }

    #[test]
    fn popularity_saturates_below_one() {
        assert_eq!(saturate(None), 0.0);
        assert!(saturate(Some(10.0)) < saturate(Some(1000.0)));
        assert!(saturate(Some(1e12)) < 1.0);
    }
}
