//! The stages after text relevance and the priors, in the agreed order (text →
//! personalization → rules → pins): the price intent read from the query, then the visitor's
//! personalization.
//!
//! They apply to every match, in the collector, with the same lazy bound as the priors: a
//! document whose score times the largest possible factor cannot reach the page is skipped.
//! So a well-matching product on page 5 can rise, and the set of matches never changes, only
//! its order. (Re-ranking the top 500 candidates instead cost 120 % more time per search
//! at 46k products; this costs a few per cent.) Each stage multiplies the score by a factor
//! and says so, so `explain` adds up.

use std::sync::Arc;

use tantivy::{DocId, SegmentReader};

use super::ords::TasteOrds;
use super::personalize::{self, CategoryTaste, PersonalExplain, Signals, Taste};
use super::rank::Stage;
use super::tiers::{NO_TIER, SnapshotTiers};
use crate::search::facets::{DocFacts, FacetPaths, Facts};
use crate::settings::PersonalizationConfig;

/// The stages after the priors for one request: price intent and personalization, applied
/// to every match in the collector (a document that cannot reach the current top page even
/// with the largest factor is skipped, as for the priors).
#[derive(Clone)]
pub struct PersonalStage {
    /// The visitor's taste and the strength to apply it with (None: unpersonalized).
    pub taste: Option<(Arc<Taste>, u8)>,
    /// The tier the query asks for ("cheap": 0), if any.
    pub intent: Option<u8>,
    /// Settings.
    pub config: PersonalizationConfig,
    /// The snapshot's tiers.
    pub tiers: Arc<SnapshotTiers>,
    /// Decoded facet dictionaries.
    pub paths: Arc<FacetPaths>,
    /// The comparably relevant matches of the query, where the visitor's fit decides (None:
    /// no band, as without a taste or in another order than relevance).
    pub band: Option<Band>,
}

/// The matches of one query comparably relevant to its best: those whose text score is at
/// least `floor`, and every product of a category the query's words name as a whole (the
/// shopper asked for the category: any of its products answers).
#[derive(Debug, Clone, Default)]
pub struct Band {
    /// The text score from which a match is in the band (−∞: every match).
    pub floor: f64,
    /// Category paths the query names; their products (and their subcategories') are in the
    /// band whatever their text score.
    pub categories: Vec<Vec<String>>,
}

impl PersonalStage {
    /// The stage for one query whose best text score among its matches is `best_text` (None:
    /// a request without words, where every match is in the band) and whose words name the
    /// `categories`. The band reaches `band` (a share of the best text score) below it.
    pub fn banded(&self, best_text: Option<f32>, categories: Vec<Vec<String>>) -> PersonalStage {
        let floor = best_text.map_or(f64::NEG_INFINITY, |best| {
            f64::from(best) * (1.0 - f64::from(self.config.band))
        });
        PersonalStage {
            band: Some(Band { floor, categories }),
            ..self.clone()
        }
    }

    /// The lowest text score a match in the band can have (∞ without a band, −∞ when the
    /// query names categories, whose products are in it whatever their text).
    pub fn band_text_floor(&self) -> f64 {
        match &self.band {
            None => f64::INFINITY,
            Some(band) if !band.categories.is_empty() => f64::NEG_INFINITY,
            Some(band) => band.floor,
        }
    }

    /// Whether the stage would change anything.
    pub fn is_active(&self) -> bool {
        self.intent.is_some() || self.applies_taste()
    }

    /// Whether the visitor's taste applies (a non-empty taste at a strength above 0).
    pub fn applies_taste(&self) -> bool {
        applied(&self.taste).is_some()
    }

    /// The largest factor the stage can apply to a match outside the band and to one in it
    /// (the same without a taste).
    pub fn max_factors(&self) -> (f64, f64) {
        let intent = if self.intent.is_some() {
            1.0 + f64::from(self.config.price_intent)
        } else {
            1.0
        };
        // The largest boost this visitor's taste can give any product: a tight bound lets the
        // collector skip more documents.
        let Some((taste, strength)) = &self.taste else {
            return (intent, intent);
        };
        let ceiling = taste.ceiling(&self.config.weights);
        let largest = |in_band| personal_factor(&self.config, ceiling, *strength, in_band);
        (intent * largest(false), intent * largest(true))
    }

    /// The per-segment state.
    pub fn for_segment(&self, reader: &SegmentReader) -> tantivy::Result<SegmentStage> {
        Ok(SegmentStage {
            features: Segment::open(
                reader,
                &self.paths,
                self.taste.as_ref().map(|(t, _)| t.as_ref()),
            )?,
            doc_tiers: self.tiers.segment(reader.segment_id()),
            prices: match &self.taste {
                Some((taste, _)) if taste.has_price_range() => {
                    Some(reader.fast_fields().f64("price")?)
                }
                _ => None,
            },
            tier_count: self.tiers.table.tiers(),
            taste: self.taste.clone(),
            intent: self.intent,
            config: self.config.clone(),
            factors: Factors::new(),
            band_factors: Factors::new(),
            band: self
                .band
                .as_ref()
                .map(|band| SegmentBand::new(band, reader, &self.paths))
                .transpose()?,
        })
    }
}

/// What the stage reads of one document.
#[derive(Debug, Clone, Copy)]
pub struct DocRead {
    facts: Facts,
    tier: u8,
    /// The price, read only for a visitor who stated a price range.
    price: Option<f64>,
}

/// The stage over one segment.
pub struct SegmentStage {
    features: Segment,
    /// The segment's tier per document (read per document: no map lookup).
    doc_tiers: Arc<[u8]>,
    /// Prices, for a taste with a stated price range.
    prices: Option<tantivy::columnar::Column<f64>>,
    tier_count: u8,
    taste: Option<(Arc<Taste>, u8)>,
    intent: Option<u8>,
    config: PersonalizationConfig,
    factors: Factors,
    band_factors: Factors,
    band: Option<SegmentBand>,
}

/// The band over one segment: its floor, and which category ordinals the query names.
struct SegmentBand {
    floor: f64,
    named: Vec<bool>,
}

impl SegmentBand {
    fn new(
        band: &Band,
        reader: &SegmentReader,
        paths: &FacetPaths,
    ) -> tantivy::Result<SegmentBand> {
        let named = if band.categories.is_empty() {
            Vec::new()
        } else {
            let within = |path: &Vec<String>| band.categories.iter().any(|c| path.starts_with(c));
            paths.of(reader, "category")?.iter().map(within).collect()
        };
        Ok(SegmentBand {
            floor: band.floor,
            named,
        })
    }
}

impl SegmentStage {
    /// What the stage reads of a document. The reads are cache misses on a broad match: the
    /// collector starts them before it reads the document's priors, so the two overlap.
    pub fn read(&self, doc: DocId) -> DocRead {
        DocRead {
            facts: self.features.facts.read(doc),
            tier: self.tier(doc),
            price: self.prices.as_ref().and_then(|c| c.first(doc)),
        }
    }

    /// The factor of one document, in the band of comparably relevant matches or not: what
    /// [`SegmentStage::explain`] reports, computed without building the report (this runs for
    /// every match that can reach the page).
    pub fn factor(&mut self, read: DocRead, in_band: bool) -> f64 {
        let intent = self.intent_stage(read.tier).map_or(1.0, |s| s.factor);
        let personal = match self.personal(read) {
            Some((_, boost, strength)) => {
                let config = &self.config;
                let factors = match in_band {
                    true => &mut self.band_factors,
                    false => &mut self.factors,
                };
                factors.get(boost, || personal_factor(config, boost, strength, in_band))
            }
            None => 1.0,
        };
        intent * personal
    }

    /// Whether a match of this text score is among the comparably relevant ones.
    pub fn in_band(&self, read: DocRead, text: f32) -> bool {
        let Some(band) = &self.band else {
            return false;
        };
        f64::from(text) >= band.floor
            || (!band.named.is_empty()
                && (self.features.facts.of(read.facts).0)
                    .is_some_and(|ord| band.named.get(ord as usize) == Some(&true)))
    }

    /// What each part of the stage does to one document of this text score.
    pub fn explain(&mut self, doc: DocId, text: f32) -> (Option<Stage>, Option<PersonalExplain>) {
        let read = self.read(doc);
        let in_band = self.in_band(read, text);
        let intent = self.intent_stage(read.tier);
        let personal = self
            .personal(read)
            .map(|(signals, boost, strength)| PersonalExplain {
                signals: signals.weighted(&self.config.weights),
                boost,
                strength,
                in_band,
                factor: personal_factor(&self.config, boost, strength, in_band),
            });
        (intent, personal)
    }

    fn tier(&self, doc: DocId) -> u8 {
        self.doc_tiers.get(doc as usize).copied().unwrap_or(NO_TIER)
    }

    /// The price intent stage of a product of this tier, when the query has an intent.
    fn intent_stage(&self, tier: u8) -> Option<Stage> {
        self.intent.map(|target| {
            let fit = intent_fit(tier, target, self.tier_count);
            Stage {
                stage: "price_intent",
                rule: None,
                value: Some(fit),
                factor: 1.0 + f64::from(self.config.price_intent) * fit,
            }
        })
    }

    /// A document's signals, their weighted sum and the strength, when the taste applies.
    fn personal(&mut self, read: DocRead) -> Option<(Signals, f32, u8)> {
        let (taste, strength) = applied(&self.taste)?;
        let mut signals = (self.features).signals(taste, read.facts, read.tier, self.tier_count);
        signals.price = taste.price_fit(read.price);
        Some((signals, signals.boost(&self.config.weights), strength))
    }
}

/// The personalization factors of the boosts met so far, in a small direct-mapped table. A
/// boost is a weighted sum of the few values a taste gives (its categories, brands, attribute
/// values, tier fits), so one request meets few distinct boosts, and the tanh of the factor
/// was the costliest step per match. The strength is fixed for the request.
struct Factors {
    slots: Vec<(u32, f64)>,
}

impl Factors {
    const SLOTS: usize = 256;

    fn new() -> Factors {
        // A boost of 0 has the factor 1 at every strength: a true entry to start from.
        Factors {
            slots: vec![(0f32.to_bits(), 1.0); Self::SLOTS],
        }
    }

    fn get(&mut self, boost: f32, compute: impl FnOnce() -> f64) -> f64 {
        let bits = boost.to_bits();
        let slot = bits.wrapping_mul(0x9E37_79B9) >> 24;
        match self.slots.get_mut(slot as usize) {
            Some(entry) if entry.0 == bits => entry.1,
            Some(entry) => {
                *entry = (bits, compute());
                entry.1
            }
            None => compute(),
        }
    }
}

/// The personalization factor of a boost, in the band or outside it.
fn personal_factor(config: &PersonalizationConfig, boost: f32, strength: u8, in_band: bool) -> f64 {
    if in_band {
        personalize::band_factor(boost, strength, config.max_boost, config.band_boost)
    } else {
        personalize::factor(boost, strength, config.max_boost)
    }
}

/// The taste and its strength when they apply: a non-empty taste at a strength above 0.
fn applied(taste: &Option<(Arc<Taste>, u8)>) -> Option<(&Taste, u8)> {
    taste
        .as_ref()
        .filter(|(t, s)| *s > 0 && !t.is_empty())
        .map(|(t, s)| (t.as_ref(), *s))
}

/// How well a product's tier fits the tier the query asks for (0 without a tier).
fn intent_fit(tier: u8, target: u8, tiers: u8) -> f64 {
    if tier == NO_TIER || tiers < 2 {
        0.0
    } else {
        f64::from(personalize::fit(f32::from(tier), f32::from(target), tiers))
    }
}

/// Derives ahead of the searches a taste will serve what they would derive from it on first
/// use: its signals' maxima, and its brands and attribute values as each segment's ordinals.
pub fn prepare(
    taste: &Taste,
    searcher: &tantivy::Searcher,
    paths: &FacetPaths,
) -> tantivy::Result<()> {
    taste.maxima();
    for reader in searcher.segment_readers() {
        ords_of(taste, reader, paths)?;
    }
    Ok(())
}

/// A taste's brands and attribute values as the ordinals of a segment: kept with the taste,
/// built the first time.
fn ords_of(
    taste: &Taste,
    reader: &SegmentReader,
    paths: &FacetPaths,
) -> tantivy::Result<Arc<TasteOrds>> {
    taste.ords_in(reader.segment_id(), || {
        let brands = taste.brands().map(|b| (b, taste.of_lower_brand(b)));
        let attributes = taste.attributes().map(|a| (a, taste.of_attribute(a)));
        TasteOrds::build(reader, paths, brands, attributes)
    })
}

/// What the taste says of the facet values of one segment. Each document's ordinals are read
/// from one array kept per segment ([`DocFacts`]), not from the fast fields: this runs for
/// every match that can reach the page. Categories are looked up once per ordinal met (a
/// parent informs its children, so a category's value needs its path).
struct Segment {
    facts: Arc<DocFacts>,
    category_paths: Arc<Vec<Vec<String>>>,
    /// The taste of each category ordinal met so far (empty when no category says anything).
    categories: Vec<Option<CategoryTaste>>,
    /// What every category says when the taste knows none: the overall tier only.
    any_category: CategoryTaste,
    /// The taste's brands and attribute values here (none without a taste).
    ords: Option<Arc<TasteOrds>>,
}

impl Segment {
    fn open(
        reader: &SegmentReader,
        paths: &FacetPaths,
        taste: Option<&Taste>,
    ) -> tantivy::Result<Segment> {
        let knows_categories = taste.is_some_and(Taste::knows_categories);
        let category_paths = paths.of(reader, "category")?;
        let ords = taste.map(|t| ords_of(t, reader, paths)).transpose()?;
        Ok(Segment {
            facts: paths.doc_facts(reader)?,
            categories: if knows_categories {
                vec![None; category_paths.len()]
            } else {
                Vec::new()
            },
            any_category: taste.map_or_else(CategoryTaste::default, |t| t.of_category(&[])),
            category_paths,
            ords,
        })
    }

    /// A document's signals.
    fn signals(&mut self, taste: &Taste, facts: Facts, tier: u8, tiers: u8) -> Signals {
        let (category, brand, attrs) = self.facts.of(facts);
        let category = match category {
            Some(ord) if !self.categories.is_empty() => {
                let paths = &self.category_paths;
                memo(&mut self.categories, ord, || {
                    taste.of_category(paths.get(ord as usize).map_or(&[], Vec::as_slice))
                })
            }
            _ => self.any_category,
        };
        let (brand, attribute) = match &self.ords {
            Some(ords) => (
                brand.and_then(|ord| ords.brand(ord)).unwrap_or((0.0, 0.0)),
                // Without attribute values in the taste, a match's are not even read.
                if ords.has_attributes() {
                    (attrs.iter())
                        .filter_map(|&ord| ords.attribute(ord))
                        .fold(0.0, personalize::strongest)
                } else {
                    0.0
                },
            ),
            None => ((0.0, 0.0), 0.0),
        };
        personalize::combine(category, brand, attribute, tier, tiers)
    }
}

/// The memoised value of a facet ordinal, computed on first use.
fn memo<T: Copy>(slots: &mut [Option<T>], ord: u32, compute: impl FnOnce() -> T) -> T {
    match slots.get_mut(ord as usize) {
        Some(Some(value)) => *value,
        Some(slot) => *slot.insert(compute()),
        None => compute(),
    }
}
