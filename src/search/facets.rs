//! Facet counting: collectors that run in the same pass as the top hits.
//!
//! [`FacetCounts`] counts the facet paths of every matching document and then credits each
//! path's ancestors, so one collector answers category counts at every level, brand counts
//! and attribute counts. [`PriceRanges`] buckets the price fast field into ranges.

use std::collections::HashMap;

use serde::Serialize;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::fastfield::FacetReader;
use tantivy::schema::Facet;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

/// Counts of full facet paths (`["Home", "Kitchen"]` → n), ancestors included.
pub type PathCounts = HashMap<Vec<String>, u64>;

/// Counts the values of one facet field over the matching documents.
pub struct FacetCounts {
    field: &'static str,
}

impl FacetCounts {
    /// Counts the facet field named `field`.
    pub fn new(field: &'static str) -> Self {
        FacetCounts { field }
    }
}

/// Per-segment state of [`FacetCounts`].
pub struct FacetSegment {
    reader: FacetReader,
    /// Count per facet ordinal of the segment (dense: ordinals are 0..num_facets).
    counts: Vec<u64>,
}

impl Collector for FacetCounts {
    type Fruit = PathCounts;
    type Child = FacetSegment;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<FacetSegment> {
        let reader = segment.facet_reader(self.field)?;
        Ok(FacetSegment {
            counts: vec![0; reader.num_facets()],
            reader,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<PathCounts>) -> tantivy::Result<PathCounts> {
        let mut total = PathCounts::new();
        for fruit in fruits {
            for (path, n) in fruit {
                *total.entry(path).or_default() += n;
            }
        }
        Ok(total)
    }
}

impl SegmentCollector for FacetSegment {
    type Fruit = PathCounts;

    fn collect(&mut self, doc: DocId, _: Score) {
        for ord in self.reader.facet_ords(doc) {
            if let Some(n) = self.counts.get_mut(ord as usize) {
                *n += 1;
            }
        }
    }

    fn harvest(self) -> PathCounts {
        let mut out = PathCounts::new();
        let mut facet = Facet::root();
        for (ord, &n) in self.counts.iter().enumerate().filter(|(_, n)| **n > 0) {
            if self.reader.facet_from_ord(ord as u64, &mut facet).is_err() {
                continue;
            }
            let path: Vec<String> = facet.to_path().into_iter().map(str::to_string).collect();
            for depth in 1..=path.len() {
                *out.entry(path[..depth].to_vec()).or_default() += n;
            }
        }
        out
    }
}

/// One price range and how many hits fall in it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PriceBucket {
    /// Lower bound, inclusive.
    pub min: f64,
    /// Upper bound, exclusive; absent for the last range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Matching products in the range.
    pub count: u64,
}

/// Buckets the matching documents' prices into ranges.
pub struct PriceRanges {
    bounds: Vec<f64>,
}

impl PriceRanges {
    /// Ranges `[0, b0)`, `[b0, b1)`, …, `[bn, ∞)`.
    pub fn new(bounds: Vec<f64>) -> Self {
        PriceRanges { bounds }
    }
}

/// Per-segment state of [`PriceRanges`].
pub struct PriceSegment {
    column: Column<f64>,
    bounds: Vec<f64>,
    counts: Vec<u64>,
}

impl Collector for PriceRanges {
    type Fruit = Vec<PriceBucket>;
    type Child = PriceSegment;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<PriceSegment> {
        Ok(PriceSegment {
            column: segment.fast_fields().f64("price")?,
            bounds: self.bounds.clone(),
            counts: vec![0; self.bounds.len() + 1],
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<PriceBucket>>) -> tantivy::Result<Vec<PriceBucket>> {
        let mut total = buckets(&self.bounds, &vec![0; self.bounds.len() + 1]);
        for fruit in fruits {
            for (t, f) in total.iter_mut().zip(fruit) {
                t.count += f.count;
            }
        }
        total.retain(|b| b.count > 0);
        Ok(total)
    }
}

impl SegmentCollector for PriceSegment {
    type Fruit = Vec<PriceBucket>;

    fn collect(&mut self, doc: DocId, _: Score) {
        if let Some(price) = self.column.first(doc) {
            let slot = self.bounds.partition_point(|b| *b <= price);
            self.counts[slot] += 1;
        }
    }

    fn harvest(self) -> Vec<PriceBucket> {
        buckets(&self.bounds, &self.counts)
    }
}

fn buckets(bounds: &[f64], counts: &[u64]) -> Vec<PriceBucket> {
    counts
        .iter()
        .enumerate()
        .map(|(i, &count)| PriceBucket {
            min: if i == 0 { 0.0 } else { bounds[i - 1] },
            max: bounds.get(i).copied(),
            count,
        })
        .collect()
}
