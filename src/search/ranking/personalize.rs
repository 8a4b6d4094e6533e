//! Personalized re-ranking: the visitor's affinities, read from their profile once per
//! request ([`Taste`]), scored against each matching product (its category, brand, attribute
//! values and tier).
//!
//! The blend, for a candidate with base score `s` (text × priors) and text score `t`, among
//! matches whose best text score is `best`:
//!
//! ```text
//! boost  = Σ weight_k × signal_k            signal_k in [-1, 1]
//! outside the band:
//!   factor = 1 + strength/100 × max_boost × tanh(boost / max_boost)
//! in the band (t ≥ (1 − band) × best, or in a category the query names):
//!   factor = max(exp(strength/100 × band_boost × boost), the factor outside)
//! score  = s × factor
//! ```
//!
//! **The band** holds the matches comparably relevant to the query: at least `1 − band` (40 %
//! by default) of the best text score, and every product of a category that the query's
//! words, all of them, name (the shopper asked for the category: its products answer whatever
//! their titles say); without words every match. Among them the visitor's fit decides: a product the
//! visitor's taste lifts is multiplied by `exp(band_boost × boost)` (×7.4 for a department
//! affinity of 1 alone, more when its category, brand or tier fit too), beyond the text and
//! prior differences inside the band. A match outside the band is a
//! clearly weaker text match: it keeps the bounded factor, so it can never overtake the
//! best match, whatever the visitor likes. Strength scales the exponent (0: today's plain
//! order; 100: decisive within the band), and a boost of 0 (a neutral profile) changes
//! nothing anywhere.
//!
//! Signals: `category` (the strongest affinity among the levels of the product's path,
//! a level `i` of `n` counting `i/n`, so "Shoes > Running" also informs "Shoes"), `brand`,
//! `attribute` (the strongest of its attribute values), `tier` (fit of the product's price tier
//! to the tiers the visitor buys in that category, or overall when the category is new to
//! them: 1 on the tier, 0 at the far end), and the current session's `session_category` and
//! `session_brand`, weighted above the long-term ones by default. Affinities are relative to
//! the visitor's strongest of their kind; stated preferences count 1. Because the factor is
//! bounded, a product can gain at most `max_boost` of its own score: personalization reorders
//! close candidates and never lifts a clearly weaker match above a clearly better one. The
//! bound is smooth (`tanh`) rather than a clamp: a clamp made every product of a liked
//! category hit the ceiling, so brand and tier no longer told them apart; `tanh` is close to
//! the boost itself for small boosts and keeps the order of large ones.

/// Fast hashing of short strings: taste lookups run for every facet value a search meets,
/// and SipHash was a visible share of a personalized search.
type HashMap<K, V> = rustc_hash::FxHashMap<K, V>;

use std::sync::{Arc, OnceLock};

use serde::Serialize;
use tantivy::index::SegmentId;

use super::ords::TasteOrds;
use crate::search::snapshot::Memo;

use super::tiers::{NO_TIER, TierTable};
use crate::profiles::profile::{Profile, Secs};
use crate::profiles::symbols::{Names, Sym, Symbols};
use crate::settings::PersonalizationWeights;

/// Separator of category levels in profile keys.
const PATH_SEP: &str = " > ";

/// A category path (or one of its prefixes), shared by every taste that files an affinity
/// under it.
type Path = Arc<[String]>;

/// The keys a taste files a symbol's affinity under: a category path's levels (every prefix,
/// for the tiers), a brand's or an attribute value's lowercased name. Derived once per symbol
/// and kept: a taste is derived anew after each of the visitor's events, and splitting and
/// lowercasing the same few thousand catalog values every time was a large part of that.
#[derive(Default)]
pub struct TasteKeys {
    by_sym: std::sync::RwLock<HashMap<Sym, Arc<SymKeys>>>,
}

struct SymKeys {
    /// The path's prefixes, shortest first (the last is the whole path).
    prefixes: Vec<Path>,
    lower: Arc<str>,
}

impl SymKeys {
    fn path(&self) -> Path {
        self.prefixes
            .last()
            .cloned()
            .unwrap_or_else(|| Arc::from([]))
    }
}

impl TasteKeys {
    fn of(&self, sym: Sym, names: &Names) -> Arc<SymKeys> {
        let read = self.by_sym.read().unwrap_or_else(|p| p.into_inner());
        if let Some(keys) = read.get(&sym) {
            return keys.clone();
        }
        drop(read);
        let name = names.of(sym);
        let levels: Vec<String> = name.split(PATH_SEP).map(String::from).collect();
        let keys = Arc::new(SymKeys {
            prefixes: (1..=levels.len())
                .map(|depth| Path::from(&levels[..depth]))
                .collect(),
            lower: Arc::from(name.to_lowercase()),
        });
        let mut write = self.by_sym.write().unwrap_or_else(|p| p.into_inner());
        write.entry(sym).or_insert(keys).clone()
    }
}

/// What a profile says a visitor likes, ready to score products with.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Taste {
    categories: HashMap<Path, f32>,
    brands: HashMap<Arc<str>, f32>,
    attributes: HashMap<Arc<str>, f32>,
    session_categories: HashMap<Path, f32>,
    session_brands: HashMap<Arc<str>, f32>,
    /// The strongest long-term category affinity within each department (top-level
    /// category), and the same of the session.
    departments: HashMap<Arc<str>, f32>,
    session_departments: HashMap<Arc<str>, f32>,
    tier_by_category: HashMap<Path, f32>,
    tier_overall: Option<f32>,
    /// The price range the visitor stated (lowest, highest).
    price_range: Option<(f64, f64)>,
    /// What searches derive from the taste and reuse while it lasts.
    derived: Derived,
}

/// What is derived from a taste once and reused by every search it serves (a taste lasts
/// until its profile changes; the next search after a click derives them anew). Not part of
/// what the taste says: tastes compare equal whatever either has derived, and a clone starts
/// without.
#[derive(Default)]
struct Derived {
    /// The taste's brands and attribute values as each segment's ordinals.
    segments: Memo<SegmentId, Arc<TasteOrds>, 64>,
    /// The largest value of each signal.
    maxima: OnceLock<Signals>,
}

impl Clone for Derived {
    fn clone(&self) -> Self {
        Derived::default()
    }
}

impl PartialEq for Derived {
    fn eq(&self, _: &Derived) -> bool {
        true
    }
}

impl std::fmt::Debug for Derived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Derived")
    }
}

impl Taste {
    /// The taste's ordinals in a segment, built by `build` the first time.
    pub fn ords_in(
        &self,
        segment: SegmentId,
        build: impl FnOnce() -> tantivy::Result<TasteOrds>,
    ) -> tantivy::Result<Arc<TasteOrds>> {
        (self.derived.segments).get_or_try(segment, || build().map(Arc::new))
    }

    /// The taste of a profile at `now`, tiers read from `tiers`.
    pub fn of(
        profile: &Profile,
        symbols: &Symbols,
        keys: &TasteKeys,
        half_life_s: f64,
        now: Secs,
        tiers: &TierTable,
    ) -> Taste {
        let names = symbols.names();
        let key = |sym| keys.of(sym, &names);
        let path = |s: &str| s.split(PATH_SEP).map(String::from).collect::<Path>();
        let mut taste = Taste {
            categories: relative(
                profile
                    .categories
                    .0
                    .iter()
                    .map(|(k, d)| (key(*k).path(), d.at(now, half_life_s))),
            ),
            brands: relative(
                profile
                    .brands
                    .0
                    .iter()
                    .map(|(k, d)| (key(*k).lower.clone(), d.at(now, half_life_s))),
            ),
            attributes: relative(
                profile
                    .attributes
                    .0
                    .iter()
                    .map(|(k, d)| (key(*k).lower.clone(), d.at(now, half_life_s))),
            ),
            session_categories: relative(
                profile
                    .session
                    .categories
                    .iter()
                    .map(|(k, w)| (key(*k).path(), *w)),
            ),
            session_brands: relative(
                profile
                    .session
                    .brands
                    .iter()
                    .map(|(k, w)| (key(*k).lower.clone(), *w)),
            ),
            ..Taste::default()
        };
        if let Some(stated) = &profile.preferences {
            for c in &stated.categories {
                taste.categories.insert(path(c), 1.0);
            }
            for b in &stated.brands {
                taste.brands.insert(b.to_lowercase().into(), 1.0);
            }
            for c in &stated.colors {
                taste
                    .attributes
                    .insert(format!("color={}", c.to_lowercase()).into(), 1.0);
            }
            for s in &stated.sizes {
                taste
                    .attributes
                    .insert(format!("size={}", s.to_lowercase()).into(), 1.0);
            }
            if stated.price_min.is_some() || stated.price_max.is_some() {
                let lowest = stated.price_min.unwrap_or(0.0);
                taste.price_range = Some((lowest, stated.price_max.unwrap_or(f64::INFINITY)));
            }
        }
        taste.departments = departments(&taste.categories);
        taste.session_departments = departments(&taste.session_categories);
        taste.learn_tiers(profile, key, tiers);
        taste
    }

    /// The weighted mean tier of the prices the visitor engaged with, per category (every
    /// level of the path) and overall.
    fn learn_tiers(
        &mut self,
        profile: &Profile,
        key: impl Fn(Sym) -> Arc<SymKeys>,
        tiers: &TierTable,
    ) {
        let mut sums: HashMap<Path, (f32, f32)> = HashMap::default();
        let mut overall = (0.0f32, 0.0f32);
        for point in &profile.prices {
            if point.weight <= 0.0 {
                continue;
            }
            let keys =
                (point.category != crate::profiles::profile::NO_SYM).then(|| key(point.category));
            let prefixes = keys.as_ref().map_or(&[][..], |k| &k.prefixes[..]);
            let category = prefixes.last().map_or(&[][..], |p| &p[..]);
            let tier = tiers.tier(category, Some(f64::from(point.price)));
            if tier == NO_TIER {
                continue;
            }
            let t = f32::from(tier);
            for prefix in prefixes {
                let entry = sums.entry(prefix.clone()).or_default();
                entry.0 += t * point.weight;
                entry.1 += point.weight;
            }
            overall.0 += t * point.weight;
            overall.1 += point.weight;
        }
        self.tier_by_category = sums.into_iter().map(|(k, (s, w))| (k, s / w)).collect();
        self.tier_overall = (overall.1 > 0.0).then(|| overall.0 / overall.1);
    }

    /// The tiers the visitor buys in: overall, and per category path (mean tier, 0 =
    /// cheapest), sorted by path.
    pub fn tier_preferences(&self) -> (Option<f32>, Vec<(Vec<String>, f32)>) {
        let mut by_category: Vec<(Vec<String>, f32)> = self
            .tier_by_category
            .iter()
            .map(|(path, mean)| (path.to_vec(), *mean))
            .collect();
        by_category.sort_by(|a, b| a.0.cmp(&b.0));
        (self.tier_overall, by_category)
    }

    /// Whether the taste says nothing (a new or empty profile): ranking is then left alone.
    pub fn is_empty(&self) -> bool {
        self.categories.is_empty()
            && self.brands.is_empty()
            && self.attributes.is_empty()
            && self.session_categories.is_empty()
            && self.session_brands.is_empty()
            && self.tier_overall.is_none()
            && self.price_range.is_none()
    }

    /// Whether the visitor stated a price range (search then reads each match's price).
    pub fn has_price_range(&self) -> bool {
        self.price_range.is_some()
    }

    /// How a price fits the stated range: 1 within it, -1 outside (a range the shopper stated
    /// is meant), 0 without a range or a price.
    pub fn price_fit(&self, price: Option<f64>) -> f32 {
        match (self.price_range, price) {
            (Some((lowest, highest)), Some(p)) if (lowest..=highest).contains(&p) => 1.0,
            (Some(_), Some(_)) => -1.0,
            _ => 0.0,
        }
    }

    /// Whether any category says something (an affinity or a tier of its own): else every
    /// category reads the same and a product's need not be read.
    pub fn knows_categories(&self) -> bool {
        !(self.categories.is_empty()
            && self.session_categories.is_empty()
            && self.tier_by_category.is_empty())
    }

    /// A taste of brand affinities alone (lowercased brand, long-term, session), for tests.
    #[cfg(test)]
    pub fn of_brands(brands: &[(&str, f32, f32)]) -> Taste {
        let mut taste = Taste::default();
        for (brand, long_term, session) in brands {
            taste.brands.insert((*brand).into(), *long_term);
            taste.session_brands.insert((*brand).into(), *session);
        }
        taste
    }

    /// The lowercased brands with an affinity, long-term or in the session (a brand in
    /// both comes twice).
    pub fn brands(&self) -> impl Iterator<Item = &str> {
        self.brands
            .keys()
            .chain(self.session_brands.keys())
            .map(|b| &**b)
    }

    /// The attribute values (`name=value`) with an affinity.
    pub fn attributes(&self) -> impl Iterator<Item = &str> {
        self.attributes.keys().map(|a| &**a)
    }

    /// Every signal of a product described by value, in [-1, 1]: the specification the tests
    /// hold. Search reads the same parts from ordinals kept per segment (`rerank`), through
    /// the same [`combine`].
    #[cfg(test)]
    pub fn signals(&self, product: &Features<'_>, tiers: u8) -> Signals {
        let brand = product.brand.map_or((0.0, 0.0), |b| self.of_brand(b));
        let attribute = product
            .attributes
            .iter()
            .map(|a| self.of_attribute(a))
            .fold(0.0, strongest);
        let mut signals = combine(
            self.of_category(product.category),
            brand,
            attribute,
            product.tier,
            tiers,
        );
        signals.price = self.price_fit(product.price);
        signals
    }

    /// The largest boost any product can get from this taste: each signal at its largest
    /// value here (the personalization factor grows with the boost, so this bounds it).
    pub fn ceiling(&self, w: &PersonalizationWeights) -> f32 {
        self.maxima().boost(w)
    }

    /// The largest value of each signal (derived once per taste).
    pub fn maxima(&self) -> &Signals {
        self.derived.maxima.get_or_init(|| {
            fn max<K>(values: &HashMap<K, f32>) -> f32 {
                values.values().fold(0.0f32, |m, v| m.max(*v))
            }
            let tier = self.tier_overall.is_some() || !self.tier_by_category.is_empty();
            Signals {
                department: max(&self.departments).max(max(&self.session_departments)),
                category: max(&self.categories),
                brand: max(&self.brands),
                attribute: max(&self.attributes),
                tier: if tier { 1.0 } else { 0.0 },
                session_category: max(&self.session_categories),
                session_brand: max(&self.session_brands),
                price: if self.price_range.is_some() { 1.0 } else { 0.0 },
            }
        })
    }

    /// What the taste says of a category path.
    pub fn of_category(&self, path: &[String]) -> CategoryTaste {
        let department = |of: &HashMap<Arc<str>, f32>| {
            (path.first()).map_or(0.0, |d| of.get(d.as_str()).copied().unwrap_or(0.0))
        };
        CategoryTaste {
            long_term: path_affinity(&self.categories, path),
            session: path_affinity(&self.session_categories, path),
            department: strongest(
                department(&self.departments),
                department(&self.session_departments),
            ),
            tier: (1..=path.len())
                .rev()
                .find_map(|depth| self.tier_by_category.get(&path[..depth]).copied())
                .or(self.tier_overall),
        }
    }

    /// The long-term and session affinities of a brand (any case), for the by-value signals.
    #[cfg(test)]
    pub fn of_brand(&self, brand: &str) -> (f32, f32) {
        self.of_lower_brand(&brand.to_lowercase())
    }

    /// The long-term and session affinities of a lowercased brand.
    pub fn of_lower_brand(&self, brand: &str) -> (f32, f32) {
        (
            self.brands.get(brand).copied().unwrap_or(0.0),
            self.session_brands.get(brand).copied().unwrap_or(0.0),
        )
    }

    /// The affinity of an attribute value `name=value` (lowercased).
    pub fn of_attribute(&self, key: &str) -> f32 {
        self.attributes.get(key).copied().unwrap_or(0.0)
    }
}

/// How personalization moved one hit.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PersonalExplain {
    /// Every signal with its weight.
    pub signals: [Signal; 8],
    /// The weighted sum of the signals.
    pub boost: f32,
    /// The request's strength (0–100).
    pub strength: u8,
    /// Whether the hit is among the comparably relevant matches (its text score within the
    /// band of the best), where the visitor's fit decides.
    pub in_band: bool,
    /// The factor applied: in the band `max(exp(strength/100 × band_boost × boost), the
    /// factor outside)`, outside it `1 + strength/100 × max_boost × tanh(boost / max_boost)`.
    pub factor: f64,
}

/// What a taste says of one category path: affinities and the tier the visitor buys in it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CategoryTaste {
    /// Long-term affinity.
    pub long_term: f32,
    /// The current session's affinity.
    pub session: f32,
    /// The visitor's mean tier there (or overall when the category is new to them).
    pub tier: Option<f32>,
    /// The affinity to its department, long-term or in the session (the stronger).
    pub department: f32,
}

/// The signals of a product from what the taste says of its parts.
pub fn combine(
    category: CategoryTaste,
    brand: (f32, f32),
    attribute: f32,
    tier: u8,
    tiers: u8,
) -> Signals {
    let tier_fit = match category.tier {
        Some(p) if tier != NO_TIER && tiers >= 2 => fit(f32::from(tier), p, tiers),
        _ => 0.0,
    };
    Signals {
        category: category.long_term,
        brand: brand.0,
        attribute,
        tier: tier_fit,
        session_category: category.session,
        session_brand: brand.1,
        price: 0.0,
        department: category.department,
    }
}

/// The stronger of two affinities by magnitude (a strong dislike beats a mild like).
pub fn strongest(best: f32, x: f32) -> f32 {
    if x.abs() > best.abs() { x } else { best }
}

/// 1 on the target tier, falling linearly to 0 at the farthest one.
pub fn fit(tier: f32, target: f32, tiers: u8) -> f32 {
    1.0 - (tier - target).abs() / f32::from(tiers - 1)
}

/// Scores relative to the strongest (by magnitude), in [-1, 1].
fn relative<K: std::hash::Hash + Eq>(scores: impl Iterator<Item = (K, f32)>) -> HashMap<K, f32> {
    let scores: Vec<(K, f32)> = scores.filter(|(_, v)| *v != 0.0).collect();
    let max = scores.iter().map(|(_, v)| v.abs()).fold(0.0f32, f32::max);
    if max == 0.0 {
        return HashMap::default();
    }
    scores.into_iter().map(|(k, v)| (k, v / max)).collect()
}

/// The strongest affinity of each department among the category paths under it.
fn departments(categories: &HashMap<Path, f32>) -> HashMap<Arc<str>, f32> {
    let mut by_department: HashMap<Arc<str>, f32> = HashMap::default();
    for (path, affinity) in categories {
        if let Some(department) = path.first() {
            let entry = by_department
                .entry(department.as_str().into())
                .or_insert(0.0);
            *entry = strongest(*entry, *affinity);
        }
    }
    by_department
}

/// The strongest affinity among a path's levels, level `i` of `n` counting `i/n`.
fn path_affinity(affinities: &HashMap<Path, f32>, path: &[String]) -> f32 {
    let n = path.len() as f32;
    (1..=path.len())
        .filter_map(|depth| affinities.get(&path[..depth]).map(|a| a * depth as f32 / n))
        .fold(0.0, strongest)
}

/// A product described by value, for [`Taste::signals`].
#[cfg(test)]
#[derive(Debug, Clone, Copy)]
pub struct Features<'a> {
    /// Category path.
    pub category: &'a [String],
    /// Brand, as the catalog spells it.
    pub brand: Option<&'a str>,
    /// Attribute values as `name=value`, lowercased.
    pub attributes: &'a [String],
    /// Price tier ([`NO_TIER`] without a price).
    pub tier: u8,
    /// Price.
    pub price: Option<f64>,
}

/// The personalization signals of one product.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Signals {
    /// Category affinity.
    pub category: f32,
    /// Brand affinity.
    pub brand: f32,
    /// Attribute value affinity.
    pub attribute: f32,
    /// Price tier fit.
    pub tier: f32,
    /// The current session's category affinity.
    pub session_category: f32,
    /// The current session's brand affinity.
    pub session_brand: f32,
    /// Fit of the price to the range the visitor stated.
    pub price: f32,
    /// The affinity to the product's department.
    pub department: f32,
}

/// One signal as explained: its value and weight.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Signal {
    /// Signal name.
    pub signal: &'static str,
    /// Value, in [-1, 1].
    pub value: f32,
    /// Configured weight.
    pub weight: f32,
}

impl Signals {
    /// Each signal with its weight.
    pub fn weighted(&self, w: &PersonalizationWeights) -> [Signal; 8] {
        let s = |signal, value, weight| Signal {
            signal,
            value,
            weight,
        };
        [
            s("category", self.category, w.category),
            s("brand", self.brand, w.brand),
            s("attribute", self.attribute, w.attribute),
            s("tier", self.tier, w.tier),
            s(
                "session_category",
                self.session_category,
                w.session_category,
            ),
            s("session_brand", self.session_brand, w.session_brand),
            s("price", self.price, w.price),
            s("department", self.department, w.department),
        ]
    }

    /// The weighted sum of the signals (the sum of [`Signals::weighted`], in its order,
    /// without building it: this runs for every match).
    pub fn boost(&self, w: &PersonalizationWeights) -> f32 {
        self.category * w.category
            + self.brand * w.brand
            + self.attribute * w.attribute
            + self.tier * w.tier
            + self.session_category * w.session_category
            + self.session_brand * w.session_brand
            + self.price * w.price
            + self.department * w.department
    }
}

/// The score factor of a boost among the comparably relevant matches (the band): decisive,
/// `exp(strength/100 × band_boost × boost)`, and never below [`factor`] (a dislike demotes no
/// more inside the band than outside, so the band only ever lifts).
pub fn band_factor(boost: f32, strength: u8, max_boost: f32, band_boost: f32) -> f64 {
    let outside = factor(boost, strength, max_boost);
    let exponent = f64::from(strength) / 100.0 * f64::from(band_boost) * f64::from(boost);
    outside.max(exponent.exp())
}

/// The score factor of a boost at a strength (0–100), smoothly bounded by `max_boost`.
pub fn factor(boost: f32, strength: u8, max_boost: f32) -> f64 {
    if max_boost <= 0.0 {
        return 1.0;
    }
    // tanh in f32: it runs for every match, and f64's costs twice as much.
    let bounded = max_boost * (boost / max_boost).tanh();
    1.0 + f64::from(strength) / 100.0 * f64::from(bounded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Vec<String> {
        p.split('/').map(String::from).collect()
    }

    #[test]
    fn a_symbol_s_keys_are_its_path_prefixes_and_lowercased_name_derived_once() {
        let symbols = Symbols::default();
        let running = symbols.intern("Shoes > Running");
        let keys = TasteKeys::default();
        let first = keys.of(running, &symbols.names());
        let prefixes: Vec<Vec<String>> = first.prefixes.iter().map(|p| p.to_vec()).collect();
        assert_eq!(prefixes, [path("Shoes"), path("Shoes/Running")]);
        assert_eq!(&*first.lower, "shoes > running");
        assert!(Arc::ptr_eq(&first, &keys.of(running, &symbols.names())));
    }

    #[test]
    fn a_taste_derives_its_ordinals_once_per_segment_and_a_clone_starts_over() {
        let taste = taste();
        let builds = std::cell::Cell::new(0);
        let build = || {
            builds.set(builds.get() + 1);
            Ok(TasteOrds::none())
        };
        let (one, two) = (SegmentId::generate_random(), SegmentId::generate_random());
        taste.ords_in(one, build).unwrap();
        taste.ords_in(one, build).unwrap();
        assert_eq!(builds.get(), 1);
        taste.ords_in(two, build).unwrap();
        assert_eq!(builds.get(), 2);
        let clone = taste.clone();
        clone.ords_in(one, build).unwrap();
        assert_eq!(builds.get(), 3);
        assert_eq!(clone, taste, "what is derived is not part of the taste");
    }

    fn taste() -> Taste {
        let mut t = Taste::default();
        t.categories.insert(path("Shoes").into(), 0.5);
        t.categories.insert(path("Shoes/Running").into(), 1.0);
        t.brands.insert("acme".into(), 1.0);
        t.attributes.insert("color=red".into(), -0.5);
        t.tier_by_category.insert(path("Shoes/Running").into(), 3.0);
        t.tier_overall = Some(0.0);
        t
    }

    #[test]
    fn a_deeper_category_match_counts_more_and_a_parent_informs_its_children() {
        let t = taste();
        let running = path("Shoes/Running");
        let dress = path("Shoes/Dress");
        let features = |category| Features {
            category,
            brand: None,
            attributes: &[],
            tier: NO_TIER,
            price: None,
        };
        assert_eq!(t.signals(&features(&running), 4).category, 1.0);
        // Only the "Shoes" level is known: it counts half (level 1 of 2) of its 0.5.
        assert_eq!(t.signals(&features(&dress), 4).category, 0.25);
    }

    #[test]
    fn tier_fit_uses_the_category_then_the_overall_tiers() {
        let t = taste();
        let running = path("Shoes/Running");
        let garden = path("Garden");
        let f = |category, tier| Features {
            category,
            brand: Some("ACME"),
            attributes: &[],
            tier,
            price: None,
        };
        // A luxury buyer of running shoes: a luxury running shoe fits, a budget one does not.
        assert_eq!(t.signals(&f(&running, 3), 4).tier, 1.0);
        assert_eq!(t.signals(&f(&running, 0), 4).tier, 0.0);
        // New category: the overall (budget) tier decides.
        assert_eq!(t.signals(&f(&garden, 0), 4).tier, 1.0);
        // Brands match case-insensitively.
        assert_eq!(t.signals(&f(&garden, 0), 4).brand, 1.0);
    }

    #[test]
    fn no_product_gets_more_than_the_ceiling() {
        let t = taste();
        let w = PersonalizationWeights::default();
        let ceiling = t.ceiling(&w);
        let running = path("Shoes/Running");
        let attrs = vec!["color=red".to_string()];
        for tier in [0, 1, 2, 3, NO_TIER] {
            for brand in [Some("Acme"), Some("Other"), None] {
                let f = Features {
                    category: &running,
                    brand,
                    attributes: &attrs,
                    tier,
                    price: None,
                };
                assert!(t.signals(&f, 4).boost(&w) <= ceiling + 1e-6);
            }
        }
        assert_eq!(Taste::default().ceiling(&w), 0.0);
    }

    #[test]
    fn negative_affinities_demote_and_the_factor_is_bounded() {
        let t = taste();
        let attrs = vec!["color=red".to_string()];
        let f = Features {
            category: &[],
            brand: None,
            attributes: &attrs,
            tier: NO_TIER,
            price: None,
        };
        assert_eq!(t.signals(&f, 4).attribute, -0.5);
        // Never beyond the bound, either way; larger boosts still rank higher.
        assert!(factor(2.0, 100, 0.5) < 1.5 && factor(2.0, 100, 0.5) > factor(1.0, 100, 0.5));
        assert!(factor(-2.0, 100, 0.5) > 0.5 && factor(-2.0, 100, 0.5) < 1.0);
        // Small boosts apply nearly as they are; strength scales them; 0 changes nothing.
        assert!((factor(0.05, 100, 0.5) - 1.05).abs() < 1e-3);
        assert!((factor(0.4, 50, 0.5) - 1.0 - (factor(0.4, 100, 0.5) - 1.0) / 2.0).abs() < 1e-9);
        assert_eq!(factor(0.4, 0, 0.5), 1.0);
        assert_eq!(factor(0.0, 100, 0.5), 1.0);
    }

    #[test]
    fn relative_scores_are_scaled_by_the_strongest() {
        let r = relative(vec![("a", 4.0), ("b", -2.0), ("c", 0.0)].into_iter());
        assert_eq!(r.get("a"), Some(&1.0));
        assert_eq!(r.get("b"), Some(&-0.5));
        assert_eq!(r.get("c"), None);
        assert!(relative(Vec::<(&str, f32)>::new().into_iter()).is_empty());
    }
}
