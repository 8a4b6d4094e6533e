//! Price tiers: where a product's price sits among the prices of its category.
//!
//! Each category path with enough priced products gets cut-offs at the quantiles of its
//! prices (with four tiers: the 25th, 50th and 75th percentiles); a product's tier is the
//! number of cut-offs at or below its price, read from its leaf category's cut-offs, or its
//! parent's when the leaf has too few priced products, up to the whole catalog. Products
//! without a price have no tier.
//!
//! Tiers follow the catalog: they are computed per index snapshot (when the segments change)
//! from fast fields, with every document's tier kept in one array per segment, so ranking,
//! filtering and counting by tier read a byte.

use std::collections::HashMap;
use std::sync::Arc;

use tantivy::BitSet;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::index::SegmentId;
use tantivy::query::{
    BitSetDocSet, ConstScorer, EnableScoring, Explanation, Query, Scorer, Weight,
};
use tantivy::{DocId, Score, Searcher, SegmentOrdinal, SegmentReader};

use crate::search::facets::FacetPaths;
use crate::settings::TierSettings;

/// "No tier": the product has no price.
pub const NO_TIER: u8 = u8::MAX;

/// The cut-offs of every category with enough priced products, and of the whole catalog.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TierTable {
    /// FxHash: a visitor's taste looks up the cut-offs of every category it has prices in.
    cutoffs: rustc_hash::FxHashMap<Vec<String>, Vec<f64>>,
    tiers: u8,
}

impl TierTable {
    /// Cut-offs from (category path, price) pairs.
    pub fn build<'a>(
        products: impl Iterator<Item = (&'a [String], f64)>,
        settings: &TierSettings,
    ) -> TierTable {
        let mut prices: HashMap<Vec<String>, Vec<f64>> = HashMap::new();
        for (path, price) in products {
            // Every level of the path, and the empty path (the whole catalog).
            for depth in 0..=path.len() {
                prices
                    .entry(path[..depth].to_vec())
                    .or_default()
                    .push(price);
            }
        }
        let tiers = settings.count();
        let cutoffs = prices
            .into_iter()
            .filter(|(path, p)| path.is_empty() || p.len() >= settings.min_products)
            .map(|(path, mut p)| {
                p.sort_by(f64::total_cmp);
                let cuts = (1..tiers)
                    .map(|i| quantile(&p, f64::from(i) / f64::from(tiers)))
                    .collect();
                (path, cuts)
            })
            .collect();
        TierTable { cutoffs, tiers }
    }

    /// The tier of a price in a category (its own cut-offs, else the nearest ancestor's).
    pub fn tier(&self, category: &[String], price: Option<f64>) -> u8 {
        let Some(price) = price.filter(|p| p.is_finite()) else {
            return NO_TIER;
        };
        let cuts = (0..=category.len())
            .rev()
            .find_map(|depth| self.cutoffs.get(&category[..depth]));
        match cuts {
            Some(cuts) => cuts.iter().filter(|c| **c <= price).count() as u8,
            None => NO_TIER,
        }
    }

    /// Number of tiers.
    pub fn tiers(&self) -> u8 {
        self.tiers
    }
}

/// The `q`-quantile of sorted values (nearest rank, interpolated between neighbours).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::INFINITY;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The tiers of one snapshot: the table and each segment's tier per document.
#[derive(Debug, Default)]
pub struct SnapshotTiers {
    /// The cut-offs.
    pub table: TierTable,
    by_segment: HashMap<SegmentId, Arc<[u8]>>,
}

impl SnapshotTiers {
    /// The tier of a document of a segment.
    pub fn of(&self, segment: SegmentId, doc: DocId) -> u8 {
        self.by_segment
            .get(&segment)
            .and_then(|t| t.get(doc as usize))
            .copied()
            .unwrap_or(NO_TIER)
    }

    /// The tiers of a segment's documents, by doc id.
    pub fn segment(&self, segment: SegmentId) -> Arc<[u8]> {
        self.by_segment
            .get(&segment)
            .cloned()
            .unwrap_or_else(|| Arc::from(Vec::new()))
    }

    pub fn build(
        searcher: &Searcher,
        paths: &FacetPaths,
        settings: &TierSettings,
    ) -> tantivy::Result<SnapshotTiers> {
        // (segment, doc, category path, price) of every priced live document.
        let mut docs: Vec<(SegmentId, DocId, Vec<String>, f64)> = Vec::new();
        for segment in searcher.segment_readers() {
            let category = paths.of(segment, "category")?;
            let facets = segment.facet_reader("category")?;
            let price = segment.fast_fields().f64("price")?;
            for doc in alive(segment) {
                let Some(p) = price.first(doc) else {
                    continue;
                };
                let path = facets
                    .facet_ords(doc)
                    .next()
                    .and_then(|ord| category.get(ord as usize))
                    .cloned()
                    .unwrap_or_default();
                docs.push((segment.segment_id(), doc, path, p));
            }
        }
        let table = TierTable::build(
            docs.iter().map(|(_, _, path, p)| (path.as_slice(), *p)),
            settings,
        );
        let mut by_segment: HashMap<SegmentId, Vec<u8>> = HashMap::new();
        for segment in searcher.segment_readers() {
            by_segment.insert(
                segment.segment_id(),
                vec![NO_TIER; segment.max_doc() as usize],
            );
        }
        for (segment, doc, path, price) in &docs {
            if let Some(tiers) = by_segment.get_mut(segment) {
                tiers[*doc as usize] = table.tier(path, Some(*price));
            }
        }
        let by_segment = by_segment
            .into_iter()
            .map(|(id, tiers)| (id, Arc::from(tiers)))
            .collect();
        Ok(SnapshotTiers { table, by_segment })
    }
}

/// The live documents of a segment.
fn alive(segment: &SegmentReader) -> impl Iterator<Item = DocId> + '_ {
    (0..segment.max_doc()).filter(move |doc| !segment.is_deleted(*doc))
}

/// Tiers kept per snapshot and tier settings.
pub type TierCache = crate::search::snapshot::SnapshotCache<TierSettings, SnapshotTiers>;

/// Matches the documents in any of some tiers (a filter: every match scores the same).
#[derive(Debug, Clone)]
pub struct TierQuery {
    tiers: Arc<SnapshotTiers>,
    wanted: Vec<u8>,
}

impl TierQuery {
    /// Documents whose tier is one of `wanted`.
    pub fn new(tiers: Arc<SnapshotTiers>, wanted: Vec<u8>) -> TierQuery {
        TierQuery { tiers, wanted }
    }
}

impl Query for TierQuery {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for TierQuery {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let tiers = self.tiers.segment(reader.segment_id());
        let mut set = BitSet::with_max_value(reader.max_doc());
        for (doc, tier) in tiers.iter().enumerate() {
            if self.wanted.contains(tier) && !reader.is_deleted(doc as DocId) {
                set.insert(doc as DocId);
            }
        }
        Ok(Box::new(ConstScorer::new(BitSetDocSet::from(set), boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let tier = self.tiers.of(reader.segment_id(), doc);
        if self.wanted.contains(&tier) {
            Ok(Explanation::new("tier filter", 1.0))
        } else {
            Err(tantivy::TantivyError::InvalidArgument(format!(
                "document {doc} is not in the filtered tiers"
            )))
        }
    }
}

/// Counts matching documents per tier.
pub struct TierCounts {
    tiers: Arc<SnapshotTiers>,
}

impl TierCounts {
    /// A collector over a snapshot's tiers.
    pub fn new(tiers: Arc<SnapshotTiers>) -> TierCounts {
        TierCounts { tiers }
    }
}

/// Per-segment state of [`TierCounts`].
pub struct TierSegmentCounts {
    /// The segment's tier per document (read per match: no map lookup).
    doc_tiers: Arc<[u8]>,
    counts: Vec<u64>,
}

impl Collector for TierCounts {
    type Fruit = Vec<u64>;
    type Child = TierSegmentCounts;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<TierSegmentCounts> {
        Ok(TierSegmentCounts {
            doc_tiers: self.tiers.segment(reader.segment_id()),
            counts: vec![0; usize::from(self.tiers.table.tiers())],
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<u64>>) -> tantivy::Result<Vec<u64>> {
        let mut total = vec![0; usize::from(self.tiers.table.tiers())];
        for fruit in fruits {
            for (t, n) in total.iter_mut().zip(fruit) {
                *t += n;
            }
        }
        Ok(total)
    }
}

impl SegmentCollector for TierSegmentCounts {
    type Fruit = Vec<u64>;

    fn collect(&mut self, doc: DocId, _: Score) {
        let tier = self.doc_tiers.get(doc as usize).copied().unwrap_or(NO_TIER);
        if let Some(n) = self.counts.get_mut(usize::from(tier)) {
            *n += 1;
        }
    }

    fn harvest(self) -> Vec<u64> {
        self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Vec<String> {
        p.split('/').map(String::from).collect()
    }

    fn table(items: &[(&str, f64)], min_products: usize) -> TierTable {
        let owned: Vec<(Vec<String>, f64)> = items.iter().map(|(c, p)| (path(c), *p)).collect();
        let settings = TierSettings {
            min_products,
            ..TierSettings::default()
        };
        TierTable::build(owned.iter().map(|(c, p)| (c.as_slice(), *p)), &settings)
    }

    #[test]
    fn tiers_are_quartiles_of_the_category_prices() {
        let items: Vec<(&str, f64)> = (1..=8)
            .map(|i| ("Shoes/Running", f64::from(i) * 10.0))
            .collect();
        let t = table(&items, 4);
        let running = path("Shoes/Running");
        assert_eq!(t.tier(&running, Some(10.0)), 0);
        assert_eq!(t.tier(&running, Some(30.0)), 1);
        assert_eq!(t.tier(&running, Some(50.0)), 2);
        assert_eq!(t.tier(&running, Some(80.0)), 3);
        assert_eq!(t.tier(&running, None), NO_TIER);
    }

    #[test]
    fn tiers_are_relative_to_the_category_not_the_catalog() {
        let mut items: Vec<(&str, f64)> = (1..=8).map(|i| ("Shoes", f64::from(i) * 10.0)).collect();
        items.extend((1..=8).map(|i| ("Watches", f64::from(i) * 1000.0)));
        let t = table(&items, 4);
        // 80 is a luxury shoe and a budget watch.
        assert_eq!(t.tier(&path("Shoes"), Some(80.0)), 3);
        assert_eq!(t.tier(&path("Watches"), Some(80.0)), 0);
    }

    #[test]
    fn a_leaf_with_too_few_prices_uses_its_parent() {
        let mut items: Vec<(&str, f64)> = (1..=8)
            .map(|i| ("Shoes/Running", f64::from(i) * 10.0))
            .collect();
        items.push(("Shoes/Dress", 300.0));
        let t = table(&items, 4);
        // "Shoes/Dress" has one price: the "Shoes" cut-offs (all nine prices) place 300 on top.
        assert_eq!(t.tier(&path("Shoes/Dress"), Some(300.0)), 3);
        assert_eq!(t.tier(&path("Shoes/Dress"), Some(10.0)), 0);
        // An unknown category falls back to the whole catalog.
        assert_eq!(t.tier(&path("Garden"), Some(300.0)), 3);
    }

    #[test]
    fn names_are_looked_up_case_insensitively() {
        let s = TierSettings::default();
        assert_eq!(s.by_name("Premium"), Some(2));
        assert_eq!(s.name(0), Some("budget"));
        assert_eq!(s.by_name("cheap"), None);
    }
}
