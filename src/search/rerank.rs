//! Re-ranking of the top candidates: the stages after text relevance and the priors, in the
//! agreed order (text → personalization → rules → pins): the price intent read from the
//! query, then the visitor's personalization.
//!
//! Only the top `personalization.candidates` (500 by default) by relevance are re-ranked, so a
//! well-matching product on page 5 can still rise; the set of matches never changes, only
//! its order. Each stage multiplies the score by a factor and says so, so `explain` adds up.

use std::sync::Arc;

use serde::Serialize;
use tantivy::fastfield::FacetReader;
use tantivy::{DocAddress, Searcher};

use super::facets::FacetPaths;
use super::personalize::{self, Features, Signal, Taste};
use super::rank::{RankKey, Stage};
use super::tiers::{NO_TIER, SnapshotTiers};
use crate::config::PersonalizationConfig;
use crate::error::Result;

/// What re-ranks a request's candidates.
pub struct Reranker<'a> {
    /// The visitor's taste and the strength to apply it with (None: unpersonalized).
    pub taste: Option<(&'a Taste, u8)>,
    /// The tier the query asks for ("cheap": 0), if any.
    pub intent: Option<u8>,
    /// Settings.
    pub config: &'a PersonalizationConfig,
    /// The snapshot's tiers.
    pub tiers: &'a SnapshotTiers,
}

/// How personalization moved one hit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonalExplain {
    /// Every signal with its weight.
    pub signals: [Signal; 6],
    /// The weighted sum of the signals.
    pub boost: f32,
    /// The request's strength (0–100).
    pub strength: u8,
    /// The factor applied: `1 + strength/100 × max_boost × tanh(boost / max_boost)`.
    pub factor: f64,
}

/// A re-ranked candidate.
#[derive(Debug, Clone)]
pub struct Reranked {
    /// Its new key (the primary is the final score).
    pub key: RankKey,
    /// Where it is.
    pub address: DocAddress,
    /// The price intent stage, when the query had one.
    pub intent: Option<Stage>,
    /// Personalization, when applied.
    pub personal: Option<PersonalExplain>,
}

impl Reranker<'_> {
    /// Whether re-ranking would change anything.
    pub fn is_active(&self) -> bool {
        self.intent.is_some() || self.taste.is_some_and(|(t, s)| s > 0 && !t.is_empty())
    }

    /// Re-ranks candidates (best first by base key) and returns them best first.
    pub fn rerank(
        &self,
        searcher: &Searcher,
        paths: &FacetPaths,
        candidates: Vec<(RankKey, DocAddress)>,
    ) -> Result<Vec<Reranked>> {
        let mut readers = SegmentFeatures::new(searcher, paths);
        let tiers = self.tiers.table.tiers();
        let mut out = Vec::with_capacity(candidates.len());
        let mut attributes = Vec::new();
        for (key, address) in candidates {
            let segment = readers.get(address.segment_ord)?;
            let doc = address.doc_id;
            segment.attributes(doc, &mut attributes);
            let features = Features {
                category: segment.category(doc),
                brand: segment.brand(doc),
                attributes: &attributes,
                tier: self.tiers.of(segment.id, doc),
            };
            let intent = self.intent.map(|target| {
                let fit = if features.tier == NO_TIER || tiers < 2 {
                    0.0
                } else {
                    personalize::fit(f32::from(features.tier), f32::from(target), tiers)
                };
                Stage {
                    stage: "price_intent",
                    value: Some(f64::from(fit)),
                    factor: 1.0 + f64::from(self.config.price_intent) * f64::from(fit),
                }
            });
            let personal = self.taste.map(|(taste, strength)| {
                let signals = taste.signals(&features, tiers);
                let boost = signals.boost(&self.config.weights);
                PersonalExplain {
                    signals: signals.weighted(&self.config.weights),
                    boost,
                    strength,
                    factor: personalize::factor(boost, strength, self.config.max_boost),
                }
            });
            let factor =
                intent.map_or(1.0, |s| s.factor) * personal.as_ref().map_or(1.0, |p| p.factor);
            let score = key.secondary * factor;
            out.push(Reranked {
                key: RankKey {
                    primary: score,
                    secondary: score,
                    tiebreak: key.tiebreak,
                },
                address,
                intent,
                personal,
            });
        }
        out.sort_by(|a, b| b.key.cmp(&a.key).then(a.address.cmp(&b.address)));
        Ok(out)
    }
}

/// The facet readers and decoded dictionaries of one segment.
struct Segment {
    id: tantivy::index::SegmentId,
    category: FacetReader,
    category_paths: Arc<Vec<Vec<String>>>,
    brand: FacetReader,
    brand_paths: Arc<Vec<Vec<String>>>,
    attr: FacetReader,
    attr_paths: Arc<Vec<Vec<String>>>,
}

impl Segment {
    fn category(&self, doc: tantivy::DocId) -> &[String] {
        first_path(&self.category, &self.category_paths, doc)
    }

    fn brand(&self, doc: tantivy::DocId) -> Option<&str> {
        first_path(&self.brand, &self.brand_paths, doc)
            .first()
            .map(String::as_str)
    }

    fn attributes(&self, doc: tantivy::DocId, out: &mut Vec<String>) {
        out.clear();
        for ord in self.attr.facet_ords(doc) {
            if let Some([name, value]) = self.attr_paths.get(ord as usize).map(Vec::as_slice) {
                out.push(format!("{}={}", name.to_lowercase(), value.to_lowercase()));
            }
        }
    }
}

fn first_path<'a>(
    reader: &FacetReader,
    paths: &'a [Vec<String>],
    doc: tantivy::DocId,
) -> &'a [String] {
    reader
        .facet_ords(doc)
        .next()
        .and_then(|ord| paths.get(ord as usize))
        .map_or(&[], Vec::as_slice)
}

/// Segments opened on first use.
struct SegmentFeatures<'a> {
    searcher: &'a Searcher,
    paths: &'a FacetPaths,
    open: Vec<Option<Segment>>,
}

impl<'a> SegmentFeatures<'a> {
    fn new(searcher: &'a Searcher, paths: &'a FacetPaths) -> Self {
        let open = (0..searcher.segment_readers().len())
            .map(|_| None)
            .collect();
        SegmentFeatures {
            searcher,
            paths,
            open,
        }
    }

    fn get(&mut self, ord: u32) -> Result<&Segment> {
        let slot = &mut self.open[ord as usize];
        if slot.is_none() {
            let reader = self.searcher.segment_reader(ord);
            *slot = Some(Segment {
                id: reader.segment_id(),
                category: reader.facet_reader("category")?,
                category_paths: self.paths.of(reader, "category")?,
                brand: reader.facet_reader("brand")?,
                brand_paths: self.paths.of(reader, "brand")?,
                attr: reader.facet_reader("attr")?,
                attr_paths: self.paths.of(reader, "attr")?,
            });
        }
        Ok(slot.as_ref().expect("opened above"))
    }
}
