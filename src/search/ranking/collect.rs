//! The top-k collector: counts every match and keeps the best `k` by [`RankKey`].
//!
//! It runs the ranking stages lazily: once `k` hits are held, a document whose text score
//! times the stages' largest possible factor cannot beat the k-th best is skipped without
//! reading a fast field. Broad queries match thousands of documents, so this bound, not the
//! stages themselves, decides what ranking costs.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use tantivy::collector::{Collector, MultiCollector, SegmentCollector};
use tantivy::query::Weight;
use tantivy::{DocAddress, DocId, DocSet, Score, SegmentOrdinal, SegmentReader, TERMINATED};

use super::rank::{PrimaryBound, RankColumns, RankKey, Ranker};
use super::rerank::{PersonalStage, SegmentStage};
use super::tiers;
use crate::error::Result;
use crate::search::facets::{self, FacetCounts, FacetPaths, PathCounts, PriceRanges};
#[cfg(test)]
use crate::search::query::request::Sort;
use crate::search::query::request::{FacetRequest, SearchRequest};
use crate::settings::SearchConfig;

/// What the collector returns: the page of hits and the number of matches.
#[derive(Debug, Default)]
pub struct TopRanked {
    /// Hits of the requested page, best first.
    pub hits: Vec<(RankKey, DocAddress)>,
    /// Matching documents in all.
    pub total: u64,
}

/// Collects the top `offset + limit` hits and returns the page `offset..offset + limit`.
pub struct TopRankedCollector {
    ranker: Ranker,
    offset: usize,
    limit: usize,
    stage: Option<Arc<PersonalStage>>,
}

impl TopRankedCollector {
    /// A collector for one page.
    pub fn new(ranker: Ranker, offset: usize, limit: usize) -> Self {
        TopRankedCollector {
            ranker,
            offset,
            limit,
            stage: None,
        }
    }

    /// Applies price intent and personalization to every match too.
    pub fn with_stage(mut self, stage: Option<Arc<PersonalStage>>) -> Self {
        self.stage = stage.filter(|s| s.is_active());
        self
    }
}

/// Per-segment state.
pub struct TopRankedSegment {
    ranker: Ranker,
    columns: RankColumns,
    segment: SegmentOrdinal,
    k: usize,
    heap: BinaryHeap<Reverse<(RankKey, DocId)>>,
    total: u64,
    stage: Option<SegmentStage>,
    /// The largest factor the stage can apply outside the band and in it (1 without one).
    stage_max: (f64, f64),
    /// The lowest text score a match in the band can have (∞ without one).
    band_floor: f64,
    /// The bound of a document's primary sort value from its text score, if the sort has one.
    bound: Option<PrimaryBound>,
    /// The text score a match needs to have a chance at the page, from the bound, the stage's
    /// largest factor and the page's worst hit (−∞ until the page is full): one comparison
    /// turns most matches of a broad query away.
    text_floor: f64,
}

impl Collector for TopRankedCollector {
    type Fruit = TopRanked;
    type Child = TopRankedSegment;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<TopRankedSegment> {
        let k = self.offset + self.limit;
        Ok(TopRankedSegment {
            ranker: self.ranker.clone(),
            columns: self.ranker.columns(reader)?,
            segment,
            k,
            heap: BinaryHeap::with_capacity(k + 1),
            total: 0,
            stage: self
                .stage
                .as_ref()
                .map(|s| s.for_segment(reader))
                .transpose()?,
            stage_max: self.stage.as_ref().map_or((1.0, 1.0), |s| s.max_factors()),
            band_floor: (self.stage.as_ref()).map_or(f64::INFINITY, |s| s.band_text_floor()),
            bound: self.ranker.primary_bound(),
            text_floor: if k == 0 {
                f64::INFINITY
            } else {
                f64::NEG_INFINITY
            },
        })
    }

    fn requires_scoring(&self) -> bool {
        self.ranker.has_text
    }

    /// Walks the matches itself rather than through tantivy's per-match callback: every
    /// match is counted and most are turned away by one comparison, so the call per match
    /// cost more than the work.
    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<TopRanked> {
        let mut child = self.for_segment(segment, reader)?;
        let alive = reader.alive_bitset();
        let is_alive = |doc| alive.is_none_or(|a| a.is_alive(doc));
        if self.requires_scoring() {
            let mut scorer = weight.scorer(reader, 1.0)?;
            let mut doc = scorer.doc();
            while doc != TERMINATED {
                if is_alive(doc) {
                    child.collect(doc, scorer.score());
                }
                doc = scorer.advance();
            }
        } else {
            weight.for_each_no_score(reader, &mut |docs| {
                for &doc in docs.iter().filter(|&&doc| is_alive(doc)) {
                    child.collect(doc, 0.0);
                }
            })?;
        }
        Ok(child.harvest())
    }

    fn merge_fruits(&self, fruits: Vec<TopRanked>) -> tantivy::Result<TopRanked> {
        let total = fruits.iter().map(|f| f.total).sum();
        let mut hits: Vec<(RankKey, DocAddress)> =
            fruits.into_iter().flat_map(|f| f.hits).collect();
        // Best first; equal keys (same id hash) are impossible for distinct products, but
        // order by address too so the result never depends on the merge order.
        hits.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let hits = hits
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        Ok(TopRanked { hits, total })
    }
}

impl SegmentCollector for TopRankedSegment {
    type Fruit = TopRanked;

    #[inline]
    fn collect(&mut self, doc: DocId, score: Score) {
        self.total += 1;
        // The bound from the text score alone (relevance only).
        if f64::from(score) < self.text_floor || self.k == 0 {
            return;
        }
        let relevance = self.ranker.sort == crate::search::query::request::Sort::Relevance;
        // Whether a primary value cannot beat the page's worst hit while the page is full.
        let full = self.heap.len() >= self.k;
        let beaten = |heap: &BinaryHeap<Reverse<(RankKey, DocId)>>, primary: f64| {
            full && matches!(heap.peek(), Some(Reverse((worst, _))) if primary < worst.primary)
        };
        // The priors come first: a document whose text and priors times the stage's largest
        // factor cannot reach the page is not worth the stage's reads (a broad taste can lift
        // most matches, so the stage's own factor rarely rules a document out sooner).
        // The stage's reads start before the priors', so their cache misses overlap.
        let read = self.stage.as_ref().map(|stage| stage.read(doc));
        let mut key = self.ranker.key(&self.columns, doc, score);
        if let (Some(stage), Some(read)) = (&mut self.stage, read) {
            let in_band = stage.in_band(read, score);
            let max = if in_band {
                self.stage_max.1
            } else {
                self.stage_max.0
            };
            if relevance && beaten(&self.heap, key.primary * max) {
                return;
            }
            let factor = stage.factor(read, in_band);
            if relevance {
                key.primary *= factor;
            }
            key.secondary *= factor;
        }
        if self.heap.len() < self.k {
            self.heap.push(Reverse((key, doc)));
        } else if let Some(mut worst) = self.heap.peek_mut()
            && key > worst.0.0
        {
            *worst = Reverse((key, doc));
        } else {
            return;
        }
        if self.heap.len() >= self.k
            && let (Some(bound), Some(Reverse((worst, _)))) = (self.bound, self.heap.peek())
        {
            // Below the band a match can gain the outside factor at most; from the band's
            // floor up, the band's.
            let (outside, inside) = self.stage_max;
            let below_band = bound.text_floor(worst.primary / outside);
            let in_band = bound
                .text_floor(worst.primary / inside)
                .max(self.band_floor);
            self.text_floor = below_band.min(in_band);
        }
    }

    fn harvest(self) -> TopRanked {
        let segment = self.segment;
        TopRanked {
            hits: self
                .heap
                .into_iter()
                .map(|Reverse((key, doc))| (key, DocAddress::new(segment, doc)))
                .collect(),
            total: self.total,
        }
    }
}

/// The best text score among a query's matches (0 without any): where the band of
/// comparably relevant matches is measured from. A pass of its own before the ranking one,
/// which needs the band from its first match on; it reads no fast field, and tantivy's
/// pruning skips what cannot beat the best so far where the query allows it.
pub(in crate::search) fn best_text(
    searcher: &tantivy::Searcher,
    query: &dyn tantivy::query::Query,
) -> Result<f32> {
    Ok(searcher.search(query, &BestText)?)
}

struct BestText;

struct BestTextSegment(Score);

impl Collector for BestText {
    type Fruit = Score;
    type Child = BestTextSegment;

    fn for_segment(&self, _: SegmentOrdinal, _: &SegmentReader) -> tantivy::Result<Self::Child> {
        Ok(BestTextSegment(0.0))
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Score> {
        let alive = reader.alive_bitset();
        let mut best: Score = 0.0;
        weight.for_each_pruning(best, reader, &mut |doc, score| {
            if alive.is_none_or(|a| a.is_alive(doc)) {
                best = best.max(score);
            }
            best
        })?;
        Ok(best)
    }

    fn merge_fruits(&self, fruits: Vec<Score>) -> tantivy::Result<Score> {
        Ok(fruits.into_iter().fold(0.0, Score::max))
    }
}

impl SegmentCollector for BestTextSegment {
    type Fruit = Score;

    fn collect(&mut self, _: DocId, score: Score) {
        self.0 = self.0.max(score);
    }

    fn harvest(self) -> Score {
        self.0
    }
}

/// Facet counts of one search, each present when requested.
#[derive(Default)]
pub(in crate::search) struct FacetFruits {
    pub(in crate::search) category: Option<PathCounts>,
    pub(in crate::search) brand: Option<PathCounts>,
    pub(in crate::search) attrs: Option<PathCounts>,
    pub(in crate::search) price: Option<facets::PriceFacet>,
    pub(in crate::search) tier: Option<Vec<u64>>,
    /// Counts of attributes whose own filter is set, counted without it.
    pub(in crate::search) attr_overrides: Vec<(String, PathCounts)>,
}

/// Runs the top-k collector and the requested facet collectors in one pass.
pub(in crate::search) fn collect_with_facets(
    searcher: &tantivy::Searcher,
    query: &dyn tantivy::query::Query,
    top: Option<TopRankedCollector>,
    req: &SearchRequest,
    config: &SearchConfig,
    paths: Arc<FacetPaths>,
    tiers: Arc<tiers::SnapshotTiers>,
) -> Result<(Option<TopRanked>, FacetFruits)> {
    let mut collectors = MultiCollector::new();
    let top = top.map(|top| collectors.add_collector(top));
    let wants = |f: &FacetRequest| req.facets.contains(f);
    let wants_attrs = req
        .facets
        .iter()
        .any(|f| matches!(f, FacetRequest::Attribute(_)));
    let category = wants(&FacetRequest::Category)
        .then(|| collectors.add_collector(FacetCounts::new("category", paths.clone())));
    let brand = wants(&FacetRequest::Brand)
        .then(|| collectors.add_collector(FacetCounts::new("brand", paths.clone())));
    let attrs =
        wants_attrs.then(|| collectors.add_collector(FacetCounts::new("attr", paths.clone())));
    let price = wants(&FacetRequest::Price)
        .then(|| collectors.add_collector(PriceRanges::new(config.price_ranges.clone())));
    let tier =
        wants(&FacetRequest::Tier).then(|| collectors.add_collector(tiers::TierCounts::new(tiers)));
    let mut fruits = searcher.search(query, &collectors)?;
    let ranked = top.map(|h| h.extract(&mut fruits));
    let counts = FacetFruits {
        category: category.map(|h| h.extract(&mut fruits)),
        brand: brand.map(|h| h.extract(&mut fruits)),
        attrs: attrs.map(|h| h.extract(&mut fruits)),
        price: price.map(|h| h.extract(&mut fruits)),
        tier: tier.map(|h| h.extract(&mut fruits)),
        attr_overrides: Vec::new(),
    };
    Ok((ranked, counts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Product;
    use crate::config::Config;
    use crate::index::writer::WriterConfig;
    use crate::rules::expr::Expr;
    use crate::rules::{FiredBoost, Outcome};
    use crate::search::SearchIndex;
    use crate::search::ranking::personalize::Taste;
    use crate::search::ranking::rank::RuleBoosts;
    use crate::search::{SearchRequest, query};
    use proptest::prelude::*;
    use tantivy::collector::TopDocs;

    const WORDS: &[&str] = &["red", "shoe", "lamp", "blue", "mug", "steel"];
    const BRANDS: &[&str] = &["Acme", "Zed", "Orb"];

    fn catalog() -> impl Strategy<Value = Vec<(Vec<usize>, u32, bool, usize)>> {
        prop::collection::vec(
            (
                prop::collection::vec(0..WORDS.len(), 1..5),
                0u32..5000,
                any::<bool>(),
                0..BRANDS.len(),
            ),
            1..120,
        )
    }

    /// A rule boost (factor > 1) or bury (< 1) of one brand, compiled for the snapshot.
    fn brand_rule(
        searcher: &tantivy::Searcher,
        index: &SearchIndex,
        rule: Option<(usize, f64)>,
    ) -> RuleBoosts {
        let Some((brand, factor)) = rule else {
            return RuleBoosts::default();
        };
        let expr = Expr::parse(&format!("brand = {:?}", BRANDS[brand])).unwrap();
        let outcome = Outcome {
            boosts: vec![FiredBoost {
                rule: "r".into(),
                expr: expr.into(),
                factor,
            }],
            ..Outcome::default()
        };
        crate::search::ranking::merchandise::boosts(&outcome, searcher, index.fields()).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// The lazily bounded collector returns exactly what ranking every match returns
        /// (tantivy's own top-k over the same keys, no bound), with or without a rule that
        /// boosts or buries a brand (a boost raises the bound), and with or without a
        /// visitor who likes one brand and dislikes another (the taste's largest factor
        /// widens the bound twice: on the text score, then on the priors), and with or
        /// without a band of comparably relevant matches (where the visitor's fit decides,
        /// with a larger factor than below the band).
        #[test]
        fn the_bounded_top_k_equals_ranking_every_match(
            docs in catalog(),
            word in 0..WORDS.len(),
            offset in 0usize..5,
            limit in 1usize..8,
            rule in prop::option::of((0..BRANDS.len(), prop_oneof![0.1f64..1.0, 1.0f64..20.0])),
            taste in prop::option::of((0..BRANDS.len(), 0..BRANDS.len(), 1u8..=100)),
            band in prop::option::of(0.0f32..=1.0),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let index = SearchIndex::open(dir.path(), WriterConfig::default(), &Default::default(), &Default::default()).unwrap();
            let products: Vec<Product> = docs.iter().enumerate().map(|(i, (words, pop, stock, brand))| {
                let title: Vec<&str> = words.iter().map(|w| WORDS[*w]).collect();
                Product::from_json(serde_json::json!({"id": format!("p{i}"), "title": title.join(" "),
                    "popularity": pop, "in_stock": stock, "brand": BRANDS[*brand]})).unwrap()
            }).collect();
            index.products().commit_now(products);
            let config = Config::default().search;
            let req = SearchRequest::from_pairs(vec![("q".into(), WORDS[word].into())], &config).unwrap();
            let plan = query::plan(&req, index.fields(), &config, &query::AsTyped, &query::Reading::default());
            let searcher = index.searcher();
            let rules = brand_rule(&searcher, &index, rule);
            let ranker = Ranker { weights: config.weights.clone(), has_text: true, sort: Sort::Relevance, recency: None, rules, columns: index.rank_columns() };

            let stage = taste.map(|(liked, disliked, strength)| {
                let lower = |b: usize| BRANDS[b].to_lowercase();
                let taste = Taste::of_brands(&[(&lower(liked), 1.0, 0.5), (&lower(disliked), -0.5, -1.0)]);
                let mut config = Config::default().personalization;
                config.band = band.unwrap_or(0.0);
                let stage = PersonalStage {
                    taste: Some((Arc::new(taste), strength)),
                    intent: None,
                    config,
                    tiers: index.tiers(&searcher, &Config::default().tiers).unwrap(),
                    paths: index.facet_paths(),
                    band: None,
                };
                match band {
                    Some(_) => Arc::new(stage.banded(Some(best_text(&searcher, plan.query.as_ref()).unwrap()), Vec::new())),
                    None => Arc::new(stage),
                }
            });

            let collector = TopRankedCollector::new(ranker.clone(), offset, limit).with_stage(stage.clone());
            let ours = searcher.search(plan.query.as_ref(), &collector).unwrap();
            let oracle_ranker = ranker.clone();
            let oracle = searcher.search(plan.query.as_ref(), &TopDocs::with_limit(offset + limit).tweak_score(
                move |segment: &SegmentReader| {
                    let ranker = oracle_ranker.clone();
                    let cols = ranker.columns(segment).unwrap();
                    let stage = stage.as_ref().map(|s| (s.clone(), std::cell::RefCell::new(s.for_segment(segment).unwrap())));
                    move |doc: DocId, score: Score| {
                        let mut key = ranker.key(&cols, doc, score);
                        if let Some((_, stage)) = &stage {
                            let mut stage = stage.borrow_mut();
                            let read = stage.read(doc);
                            let in_band = stage.in_band(read, score);
                            let factor = stage.factor(read, in_band);
                            key.primary *= factor;
                            key.secondary *= factor;
                        }
                        key
                    }
                })).unwrap();
            let expected: Vec<RankKey> = oracle.into_iter().skip(offset).map(|(k, _)| k).collect();
            let got: Vec<RankKey> = ours.hits.iter().map(|(k, _)| *k).collect();
            prop_assert_eq!(got, expected);
            let matching = docs.iter().filter(|(words, _, _, _)| words.contains(&word)).count() as u64;
            prop_assert_eq!(ours.total, matching);
        }
    }
}
