//! The profile as ranking uses it, decayed to "now": what `GET /v1/visitors/{id}` returns.
//!
//! Affinities are reported with their decayed score and a weight in [-1, 1] (the score divided
//! by the strongest of its kind). Stated preferences take precedence: a stated category or
//! brand gets weight 1 (the maximum) whatever was inferred, and is marked `stated`.

use serde::Serialize;

use super::ProfileStore;
use super::profile::{Affinities, NO_SYM, Preferences, Profile, Recent, secs};
use super::symbols::{Sym, Symbols};

/// Where the visitor is in their relationship with the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// One session, no order.
    New,
    /// Several sessions, no order.
    Returning,
    /// At least one order, active.
    Customer,
    /// No activity for `profiles.lapsed_after_days`.
    Lapsed,
}

impl Lifecycle {
    /// The stage of a profile at `now_ms` (what the visitor endpoint and rule segments read).
    pub fn of(profile: &Profile, now_ms: i64, config: &crate::settings::ProfilesConfig) -> Self {
        let c = &profile.counters;
        if now_ms - c.last_seen > config.lapsed_after_ms {
            Lifecycle::Lapsed
        } else if c.orders > 0 {
            Lifecycle::Customer
        } else if c.sessions > 1 {
            Lifecycle::Returning
        } else {
            Lifecycle::New
        }
    }
}

/// One affinity.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AffinityView {
    /// Category path, brand, or `name=value`.
    pub value: String,
    /// Decayed score now.
    pub score: f32,
    /// Score relative to the strongest of its kind, in [-1, 1]; 1 when stated.
    pub weight: f32,
    /// Whether the shopper stated it.
    pub stated: bool,
}

/// A profile decayed to one moment.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProfileView {
    /// The canonical profile id.
    pub profile_id: String,
    /// Other ids merged into it.
    pub aliases: Vec<String>,
    /// Whether results are personalized for this visitor.
    pub personalize: bool,
    /// Lifecycle stage.
    pub lifecycle: Lifecycle,
    /// First acquisition source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Category affinities, strongest first.
    pub categories: Vec<AffinityView>,
    /// Brand affinities.
    pub brands: Vec<AffinityView>,
    /// Attribute value affinities.
    pub attributes: Vec<AffinityView>,
    /// The current session's intent (undecayed category and brand weights), or None when
    /// the last event is older than the session timeout.
    pub session: Option<SessionView>,
    /// Prices engaged with (category, price, weight), newest last.
    pub prices: Vec<(String, f32, f32)>,
    /// Recently viewed products, newest first.
    pub recently_viewed: Vec<String>,
    /// Cart, newest first.
    pub cart: Vec<String>,
    /// Bought products, newest first.
    pub bought: Vec<String>,
    /// Recent searches, newest first.
    pub recent_queries: Vec<String>,
    /// Counters.
    pub counters: super::profile::Counters,
    /// Stated preferences.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferences: Option<Preferences>,
    /// Events waiting for their product to reach the catalog.
    pub pending_events: usize,
    /// The price tiers the visitor buys in, as personalization reads them (filled by the
    /// engine, which knows the catalog's tiers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_tiers: Option<PriceTiersView>,
}

/// The price tiers a visitor engages with: the `tier` signal's targets.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PriceTiersView {
    /// Over every category (used for categories new to the visitor).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overall: Option<TierPreference>,
    /// Per category path (`Shoes > Running`), every level of the paths engaged with.
    pub categories: Vec<(String, TierPreference)>,
}

/// A tier preference: the nearest tier's name and the weighted mean tier (0 = cheapest).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TierPreference {
    /// Name of the nearest tier.
    pub tier: String,
    /// Weighted mean of the tiers engaged with.
    pub mean: f32,
}

/// The current session.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    /// Events in the session.
    pub events: u32,
    /// Category weights, strongest first.
    pub categories: Vec<(String, f32)>,
    /// Brand weights, strongest first.
    pub brands: Vec<(String, f32)>,
}

impl ProfileView {
    /// The view of `profile` at `now`.
    pub fn of(
        profile: &Profile,
        aliases: Vec<String>,
        now_ms: i64,
        store: &ProfileStore,
    ) -> ProfileView {
        let config = store.config();
        let symbols = store.symbols();
        let now = secs(now_ms);
        let hl = config.half_life_ms / 1000.0;
        let prefs = profile.preferences.as_ref();
        let stated_categories = prefs.map(|p| p.categories.as_slice()).unwrap_or_default();
        let stated_brands = prefs.map(|p| p.brands.as_slice()).unwrap_or_default();
        let lifecycle = Lifecycle::of(profile, now_ms, config);
        let idle_ms = i64::from(now.saturating_sub(profile.session.last)) * 1000;
        let session =
            (idle_ms <= config.session_timeout_ms && profile.session.events > 0).then(|| {
                SessionView {
                    events: profile.session.events,
                    categories: sorted(&profile.session.categories, symbols),
                    brands: sorted(&profile.session.brands, symbols),
                }
            });
        ProfileView {
            profile_id: profile.id.clone(),
            aliases,
            personalize: !profile.opted_out(),
            lifecycle,
            source: profile.source.as_deref().map(str::to_string),
            categories: affinities(&profile.categories, stated_categories, now, hl, symbols),
            brands: affinities(&profile.brands, stated_brands, now, hl, symbols),
            attributes: affinities(&profile.attributes, &[], now, hl, symbols),
            session,
            prices: profile
                .prices
                .iter()
                .map(|p| {
                    let category =
                        (p.category != NO_SYM).then(|| symbols.name(p.category).to_string());
                    (category.unwrap_or_default(), p.price, p.weight)
                })
                .collect(),
            recently_viewed: newest_first(&profile.viewed, symbols),
            cart: newest_first(&profile.carted, symbols),
            bought: newest_first(&profile.bought, symbols),
            recent_queries: profile
                .queries
                .iter()
                .rev()
                .map(|q| q.0.to_string())
                .collect(),
            counters: profile.counters.clone(),
            preferences: profile.preferences.as_deref().cloned(),
            pending_events: profile.pending.len(),
            price_tiers: None,
        }
    }
}

fn affinities(
    map: &Affinities,
    stated: &[String],
    now: u32,
    hl: f64,
    symbols: &Symbols,
) -> Vec<AffinityView> {
    let mut out: Vec<AffinityView> = map
        .0
        .iter()
        .map(|(k, v)| AffinityView {
            value: symbols.name(*k).to_string(),
            score: v.at(now, hl),
            weight: 0.0,
            stated: false,
        })
        .collect();
    let strongest = out.iter().map(|a| a.score.abs()).fold(0.0f32, f32::max);
    for a in &mut out {
        a.weight = if strongest > 0.0 {
            a.score / strongest
        } else {
            0.0
        };
    }
    for s in stated {
        match out.iter_mut().find(|a| a.value.eq_ignore_ascii_case(s)) {
            Some(a) => {
                a.weight = 1.0;
                a.stated = true;
            }
            None => out.push(AffinityView {
                value: s.clone(),
                score: 0.0,
                weight: 1.0,
                stated: true,
            }),
        }
    }
    out.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.value.cmp(&b.value)));
    out
}

fn sorted(items: &[(Sym, f32)], symbols: &Symbols) -> Vec<(String, f32)> {
    let mut v: Vec<(String, f32)> = items
        .iter()
        .map(|(k, w)| (symbols.name(*k).to_string(), *w))
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

fn newest_first(list: &std::collections::VecDeque<Recent>, symbols: &Symbols) -> Vec<String> {
    list.iter()
        .rev()
        .map(|r| symbols.name(r.product).to_string())
        .collect()
}
