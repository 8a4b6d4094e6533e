//! Facet counting: collectors that run in the same pass as the top hits.
//!
//! [`FacetCounts`] counts the facet paths of every matching document and then credits each
//! path's ancestors, so one collector answers category counts at every level, brand counts
//! and attribute counts. [`PriceRanges`] buckets the price fast field into ranges.

use std::sync::Arc;

use super::snapshot::Memo;
use crate::cache::CacheStats;

use serde::Serialize;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::fastfield::FacetReader;
use tantivy::index::SegmentId;
use tantivy::schema::Facet;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

/// Counts of full facet paths (`["Home", "Kitchen"]` → n), ancestors included.
/// Counts by facet path, each path once (shared with the segment's [`FacetTree`], not copied).
pub type PathCounts = Vec<(Arc<[String]>, u64)>;

/// The paths of a segment's facet ordinals, decoded once per segment and field.
type SegmentPaths = Arc<Vec<Vec<String>>>;

/// Facet ordinals by a string derived from their path (a lowercased brand, an attribute's
/// `name=value`): several ordinals can share one.
pub type OrdsByKey = rustc_hash::FxHashMap<String, Vec<u32>>;

/// What personalization reads of every document, read once per segment and packed so a
/// match costs one cache line: its first category and first brand ordinals and where its
/// attribute value ordinals are. Looking them up here is an array read, where the fast fields
/// decode a column index and values per field (and three arrays per field, read for every
/// match a taste can lift, were three cache misses where one will do).
#[derive(Debug, Default)]
pub struct DocFacts {
    facts: Vec<Facts>,
    attr_ords: Vec<u32>,
    /// Whether some document has more than one category, or more than one brand: then the
    /// first is not all of them, and facet counts read the fast field instead.
    several_categories: bool,
    several_brands: bool,
}

/// One document's facts: `NONE` for a missing category or brand.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    category: u32,
    brand: u32,
    attr_start: u32,
    attr_end: u32,
}

const NONE: u32 = u32::MAX;

impl DocFacts {
    fn load(segment: &SegmentReader) -> tantivy::Result<DocFacts> {
        let category = segment.facet_reader("category")?;
        let brand = segment.facet_reader("brand")?;
        let attr = segment.facet_reader("attr")?;
        // A document's first ordinal, and whether it has another, from one read of its ordinals.
        let first = |reader: &FacetReader, doc| {
            let mut ords = reader.facet_ords(doc);
            let first = (ords.next())
                .and_then(|ord| u32::try_from(ord).ok())
                .unwrap_or(NONE);
            (first, ords.next().is_some())
        };
        let mut out = DocFacts {
            facts: Vec::with_capacity(segment.max_doc() as usize),
            attr_ords: Vec::new(),
            ..DocFacts::default()
        };
        for doc in 0..segment.max_doc() {
            let (first_category, several_categories) = first(&category, doc);
            let (first_brand, several_brands) = first(&brand, doc);
            out.several_categories |= several_categories;
            out.several_brands |= several_brands;
            let attr_start = out.attr_ords.len() as u32;
            out.attr_ords.extend(
                attr.facet_ords(doc)
                    .filter_map(|ord| u32::try_from(ord).ok()),
            );
            out.facts.push(Facts {
                category: first_category,
                brand: first_brand,
                attr_start,
                attr_end: out.attr_ords.len() as u32,
            });
        }
        Ok(out)
    }

    /// A document's facts (none for a document out of range), to read with [`DocFacts::of`]:
    /// reading them is a cache miss per match, which a caller can start early.
    pub fn read(&self, doc: DocId) -> Facts {
        self.facts.get(doc as usize).copied().unwrap_or(Facts {
            category: NONE,
            brand: NONE,
            attr_start: 0,
            attr_end: 0,
        })
    }

    /// How these facts give every ordinal of `field` ("category", "brand" or "attr") of a
    /// document, if they do: not when some document has several categories (or brands), as
    /// they keep the first only.
    fn hold(&self, field: &str) -> Option<Held> {
        match field {
            "category" if !self.several_categories => Some(Held::Category),
            "brand" if !self.several_brands => Some(Held::Brand),
            "attr" => Some(Held::Attr),
            _ => None,
        }
    }

    /// A document's first category ordinal, first brand ordinal and attribute ordinals.
    pub fn of(&self, f: Facts) -> (Option<u32>, Option<u32>, &[u32]) {
        let known = |ord: u32| (ord != NONE).then_some(ord);
        let attrs = (self.attr_ords)
            .get(f.attr_start as usize..f.attr_end as usize)
            .unwrap_or(&[]);
        (known(f.category), known(f.brand), attrs)
    }
}

/// Decoded facet dictionaries. Turning an ordinal back into its path decompresses a block of
/// the dictionary; doing that for every distinct facet of every search made faceted searches
/// over broad matches 30 times slower than unfaceted ones. Segments are immutable, so each
/// dictionary is decoded once, in one sequential pass, and kept while its segment lives;
/// so are each document's facts and the ordinals of derived keys, which personalization
/// reads for every match, and each field's tree of paths and ancestors, which facet counts
/// credit.
#[derive(Default)]
pub struct FacetPaths {
    paths: PerSegment<Vec<Vec<String>>>,
    trees: PerSegment<FacetTree>,
    facts: PerSegment<DocFacts>,
    by_key: PerSegment<OrdsByKey>,
}

impl FacetPaths {
    /// What each of the per-segment memos holds and how often it answered.
    pub fn stats(&self) -> [CacheStats; 4] {
        [
            self.paths.stats("facet_paths"),
            self.trees.stats("facet_trees"),
            self.facts.stats("doc_facts"),
            self.by_key.stats("facet_ords_by_key"),
        ]
    }
}

/// Values computed once per segment and name, kept while the segment lives (up to 256:
/// segments come and go with merges).
type PerSegment<T> = Memo<(SegmentId, &'static str), Arc<T>, 256>;

/// Computes the value of `name` for `segment` the first time.
fn per_segment<T: ?Sized>(
    memo: &PerSegment<T>,
    segment: &SegmentReader,
    name: &'static str,
    build: impl FnOnce() -> tantivy::Result<Arc<T>>,
) -> tantivy::Result<Arc<T>> {
    memo.get_or_try((segment.segment_id(), name), build)
}

/// Forgets what was derived from segments no live searcher holds (built lazily: nothing to
/// warm).
impl tantivy::Warmer for FacetPaths {
    fn warm(&self, _: &tantivy::Searcher) -> tantivy::Result<()> {
        Ok(())
    }

    fn garbage_collect(&self, live: &[&tantivy::SearcherGeneration]) {
        let segment = |key: &(SegmentId, &'static str)| key.0;
        self.paths.retain_live_by(live, segment);
        self.trees.retain_live_by(live, segment);
        self.facts.retain_live_by(live, segment);
        self.by_key.retain_live_by(live, segment);
    }
}

impl FacetPaths {
    /// How many values are kept, of every kind.
    #[cfg(test)]
    pub fn kept(&self) -> usize {
        self.paths.kept() + self.trees.kept() + self.facts.kept() + self.by_key.kept()
    }

    /// The paths of the facet field `field` in `segment`, by ordinal.
    pub fn of(
        &self,
        segment: &SegmentReader,
        field: &'static str,
    ) -> tantivy::Result<SegmentPaths> {
        per_segment(&self.paths, segment, field, || {
            let reader = segment.facet_reader(field)?;
            let mut paths = Vec::with_capacity(reader.num_facets());
            let mut stream = reader.facet_dict().stream()?;
            while stream.advance() {
                let facet = Facet::from_encoded(stream.key().to_vec())
                    .map_err(|e| tantivy::TantivyError::InternalError(e.to_string()))?;
                paths.push(facet.to_path().into_iter().map(str::to_string).collect());
            }
            Ok(Arc::new(paths))
        })
    }

    /// The tree of the paths of `field` in `segment` and of their ancestors.
    fn tree(
        &self,
        segment: &SegmentReader,
        field: &'static str,
    ) -> tantivy::Result<Arc<FacetTree>> {
        per_segment(&self.trees, segment, field, || {
            Ok(Arc::new(FacetTree::new(&self.of(segment, field)?)))
        })
    }

    /// Every document's facts in `segment`.
    pub fn doc_facts(&self, segment: &SegmentReader) -> tantivy::Result<Arc<DocFacts>> {
        per_segment(&self.facts, segment, "facts", || {
            Ok(Arc::new(DocFacts::load(segment)?))
        })
    }

    /// The brand ordinals of a segment by lowercased brand.
    pub fn brands_lowered(&self, segment: &SegmentReader) -> tantivy::Result<Arc<OrdsByKey>> {
        self.by_key(segment, "brand", |path| {
            path.first().map(|b| b.to_lowercase()).unwrap_or_default()
        })
    }

    /// The attribute value ordinals of a segment by lowercased `name=value` (the attribute
    /// names' own ordinals are left out).
    pub fn attributes_keyed(&self, segment: &SegmentReader) -> tantivy::Result<Arc<OrdsByKey>> {
        self.by_key(segment, "attr", |path| match path {
            [name, value] => format!("{}={}", name.to_lowercase(), value.to_lowercase()),
            _ => String::new(),
        })
    }

    /// The ordinals of `field` by a key derived from their paths (an empty key is skipped).
    fn by_key(
        &self,
        segment: &SegmentReader,
        field: &'static str,
        derive: fn(&[String]) -> String,
    ) -> tantivy::Result<Arc<OrdsByKey>> {
        per_segment(&self.by_key, segment, field, || {
            let mut keyed = OrdsByKey::default();
            for (ord, path) in self.of(segment, field)?.iter().enumerate() {
                let key = derive(path);
                if let (false, Ok(ord)) = (key.is_empty(), u32::try_from(ord)) {
                    keyed.entry(key).or_default().push(ord);
                }
            }
            Ok(Arc::new(keyed))
        })
    }
}

/// Counts the values of one facet field over the matching documents.
pub struct FacetCounts {
    field: &'static str,
    paths: Arc<FacetPaths>,
}

impl FacetCounts {
    /// Counts the facet field named `field`, decoding paths through `paths`.
    pub fn new(field: &'static str, paths: Arc<FacetPaths>) -> Self {
        FacetCounts { field, paths }
    }
}

/// Per-segment state of [`FacetCounts`].
pub struct FacetSegment {
    ords: Ords,
    tree: Arc<FacetTree>,
    /// Count per facet ordinal of the segment (dense: ordinals are 0..num_facets).
    counts: Vec<u64>,
}

/// Where a segment's facet ordinals are read: from the documents' facts, an array read per
/// match, or else from the facet field's column, which decodes a column index and values.
enum Ords {
    Facts(Arc<DocFacts>, Held),
    Column(FacetReader),
}

/// The field whose ordinals a document's facts hold.
#[derive(Debug, Clone, Copy)]
enum Held {
    Category,
    Brand,
    Attr,
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
        let counts = vec![0; reader.num_facets()];
        let facts = self.paths.doc_facts(segment)?;
        let ords = match facts.hold(self.field) {
            Some(held) => Ords::Facts(facts, held),
            None => Ords::Column(reader),
        };
        Ok(FacetSegment {
            counts,
            tree: self.paths.tree(segment, self.field)?,
            ords,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, mut fruits: Vec<PathCounts>) -> tantivy::Result<PathCounts> {
        if fruits.len() == 1
            && let Some(only) = fruits.pop()
        {
            return Ok(only);
        }
        let mut total: rustc_hash::FxHashMap<Arc<[String]>, u64> = Default::default();
        for fruit in fruits {
            for (path, n) in fruit {
                *total.entry(path).or_default() += n;
            }
        }
        Ok(total.into_iter().collect())
    }
}

impl SegmentCollector for FacetSegment {
    type Fruit = PathCounts;

    fn collect(&mut self, doc: DocId, _: Score) {
        let counts = &mut self.counts;
        // `NONE`, past every ordinal, counts nothing.
        let mut count = |ord: u32| {
            if let Some(n) = counts.get_mut(ord as usize) {
                *n += 1;
            }
        };
        match &self.ords {
            Ords::Facts(facts, held) => {
                let f = facts.read(doc);
                match held {
                    Held::Category => count(f.category),
                    Held::Brand => count(f.brand),
                    Held::Attr => facts.of(f).2.iter().for_each(|&ord| count(ord)),
                }
            }
            Ords::Column(reader) => {
                (reader.facet_ords(doc)).for_each(|ord| count(u32::try_from(ord).unwrap_or(NONE)))
            }
        }
    }

    fn harvest(self) -> PathCounts {
        self.tree.count(&self.counts)
    }
}

/// The paths of a segment's facet ordinals and every ancestor of them (the facet dictionary
/// holds the paths only), as nodes numbered in path order, so a parent's number is below its
/// children's.
pub struct FacetTree {
    nodes: Vec<Arc<[String]>>,
    /// Each node's parent (`NONE` at the top level).
    parent: Vec<u32>,
    /// Each facet ordinal's node.
    node_of: Vec<u32>,
}

impl FacetTree {
    fn new(paths: &[Vec<String>]) -> FacetTree {
        let mut nodes: Vec<Vec<String>> = paths
            .iter()
            .flat_map(|path| (1..=path.len()).map(|depth| path[..depth].to_vec()))
            .collect();
        nodes.sort_unstable();
        nodes.dedup();
        let nodes: Vec<Arc<[String]>> = nodes.into_iter().map(Arc::from).collect();
        let number: rustc_hash::FxHashMap<&[String], u32> = (nodes.iter().enumerate())
            .map(|(n, path)| (&path[..], n as u32))
            .collect();
        let node = |path: &[String]| number.get(path).copied().unwrap_or(NONE);
        let parent = nodes
            .iter()
            .map(|path| match path.len() {
                0 | 1 => NONE,
                n => node(&path[..n - 1]),
            })
            .collect();
        let node_of = paths.iter().map(|path| node(path)).collect();
        FacetTree {
            parent,
            node_of,
            nodes,
        }
    }

    /// The count of every path with matches and of its ancestors, from counts by ordinal:
    /// from the last node up, each credits its count (its own and its descendants', all
    /// numbered above it) to its parent, so no path is built or hashed but the ones answered.
    fn count(&self, by_ord: &[u64]) -> PathCounts {
        let mut counts = vec![0u64; self.nodes.len()];
        for (ord, &n) in by_ord.iter().enumerate().filter(|(_, n)| **n > 0) {
            if let Some(count) =
                (self.node_of.get(ord)).and_then(|&node| counts.get_mut(node as usize))
            {
                *count += n;
            }
        }
        for node in (0..counts.len()).rev() {
            let n = counts[node];
            let parent = self.parent.get(node).copied().unwrap_or(NONE);
            if n > 0
                && let Some(count) = counts.get_mut(parent as usize)
            {
                *count += n;
            }
        }
        (counts.iter().zip(&self.nodes))
            .filter(|(n, _)| **n > 0)
            .map(|(n, path)| (path.clone(), *n))
            .collect()
    }
}

/// One price range and how many hits fall in it. (Fields in name order, as the answer has
/// always listed them.)
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct PriceBucket {
    /// Matching products in the range.
    pub count: u64,
    /// Upper bound, exclusive; absent for the last range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Lower bound, inclusive.
    pub min: f64,
}

/// The price facet: the matches' prices in ranges, and the lowest and highest (for a slider).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceFacet {
    /// The ranges that hold some match, cheapest first.
    pub buckets: Vec<PriceBucket>,
    /// The lowest and highest price among the matches (None without priced matches).
    pub range: Option<(f64, f64)>,
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
    range: Option<(f64, f64)>,
}

impl Collector for PriceRanges {
    type Fruit = PriceFacet;
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
            range: None,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<PriceFacet>) -> tantivy::Result<PriceFacet> {
        let mut total = buckets(&self.bounds, &vec![0; self.bounds.len() + 1]);
        let mut range = None;
        for fruit in fruits {
            for (t, f) in total.iter_mut().zip(fruit.buckets) {
                t.count += f.count;
            }
            range = widen(range, fruit.range);
        }
        total.retain(|b| b.count > 0);
        Ok(PriceFacet {
            buckets: total,
            range,
        })
    }
}

impl SegmentCollector for PriceSegment {
    type Fruit = PriceFacet;

    fn collect(&mut self, doc: DocId, _: Score) {
        if let Some(price) = self.column.first(doc) {
            let slot = self.bounds.partition_point(|b| *b <= price);
            self.counts[slot] += 1;
            self.range = widen(self.range, Some((price, price)));
        }
    }

    fn harvest(self) -> PriceFacet {
        PriceFacet {
            buckets: buckets(&self.bounds, &self.counts),
            range: self.range,
        }
    }
}

/// The smallest range holding both.
fn widen(a: Option<(f64, f64)>, b: Option<(f64, f64)>) -> Option<(f64, f64)> {
    match (a, b) {
        (Some((lo, hi)), Some((l, h))) => Some((lo.min(l), hi.max(h))),
        (a, None) => a,
        (None, b) => b,
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn facets_are_counted_from_the_documents_facts_unless_they_keep_only_a_first_value() {
        let single = DocFacts::default();
        for field in ["category", "brand", "attr"] {
            assert!(single.hold(field).is_some(), "{field}");
        }
        let several = DocFacts {
            several_categories: true,
            several_brands: true,
            ..DocFacts::default()
        };
        assert!(several.hold("category").is_none());
        assert!(several.hold("brand").is_none());
        // Every attribute value of a document is kept, however many.
        assert!(several.hold("attr").is_some());
        assert!(
            single.hold("colour").is_none(),
            "not a field the facts hold"
        );
    }

    proptest! {
        /// Counting through the tree gives what crediting every prefix of each counted path
        /// gives (the paths of a segment, distinct, in the dictionary's sorted order; an
        /// ancestor may be a path of its own).
        #[test]
        fn the_tree_counts_every_path_and_ancestor_like_crediting_each_prefix(
            paths in prop::collection::btree_set(
                prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 1..4), 1..12),
            counts in prop::collection::vec(0u64..4, 12),
        ) {
            let paths: Vec<Vec<String>> = paths
                .into_iter()
                .map(|p| p.into_iter().map(String::from).collect())
                .collect();
            let by_ord = &counts[..paths.len()];
            let mut expected = std::collections::BTreeMap::new();
            for (path, &n) in paths.iter().zip(by_ord).filter(|(_, n)| **n > 0) {
                for depth in 1..=path.len() {
                    *expected.entry(path[..depth].to_vec()).or_default() += n;
                }
            }
            let counts = FacetTree::new(&paths).count(by_ord);
            let paths_counted = counts.len();
            let counted: std::collections::BTreeMap<Vec<String>, u64> = counts
                .into_iter()
                .map(|(path, n)| (path.to_vec(), n))
                .collect();
            prop_assert_eq!(counted.len(), paths_counted, "a path twice");
            prop_assert_eq!(counted, expected);
        }
    }
}
