//! One visitor's profile: decayed affinities, the current session, recent items, counters.
//!
//! Scores decay lazily: each holds its value and the time it was last brought up to date, and
//! is decayed to "now" only when it is read or changed, so no sweep ever runs over all
//! profiles. Every list and map is capped, so a profile stays small however active it is.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::event::{Event, EventType};
use crate::config::ProfilesConfig;

/// What attune knows of a product when an event about it arrives.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductFacts {
    /// Category path.
    pub category: Vec<String>,
    /// Brand.
    pub brand: Option<String>,
    /// Attribute `name=value` pairs, lowercased.
    pub attributes: Vec<String>,
    /// Catalog price.
    pub price: Option<f64>,
}

/// A score that halves every half-life; stored with the time it was last updated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Decayed {
    /// Value at `at`.
    pub value: f32,
    /// Epoch milliseconds.
    pub at: i64,
}

impl Decayed {
    /// The value at `now`.
    pub fn at(&self, now: i64, half_life_ms: f64) -> f32 {
        self.value * decay(now - self.at, half_life_ms)
    }

    /// Adds `weight` happening at `when` (which may be older than the last update).
    pub fn add(&mut self, weight: f32, when: i64, half_life_ms: f64) {
        if when >= self.at {
            self.value = self.at(when, half_life_ms) + weight;
            self.at = when;
        } else {
            self.value += weight * decay(self.at - when, half_life_ms);
        }
    }

    /// Adds another decayed score (profile merges).
    pub fn merge(&mut self, other: Decayed, half_life_ms: f64) {
        let when = self.at.max(other.at);
        self.value = self.at(when, half_life_ms) + other.at(when, half_life_ms);
        self.at = when;
    }
}

fn decay(elapsed_ms: i64, half_life_ms: f64) -> f32 {
    if elapsed_ms <= 0 {
        1.0
    } else {
        0.5f64.powf(elapsed_ms as f64 / half_life_ms) as f32
    }
}

/// Capped map of decayed affinities; when full, the weakest entry makes room.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Affinities(pub HashMap<String, Decayed>);

impl Affinities {
    fn add(&mut self, key: &str, weight: f32, when: i64, half_life_ms: f64, cap: usize) {
        if let Some(score) = self.0.get_mut(key) {
            score.add(weight, when, half_life_ms);
            return;
        }
        if self.0.len() >= cap {
            let weakest = self
                .0
                .iter()
                .min_by(|a, b| {
                    a.1.at(when, half_life_ms)
                        .total_cmp(&b.1.at(when, half_life_ms))
                })
                .map(|(k, _)| k.clone());
            if let Some(k) = weakest {
                self.0.remove(&k);
            }
        }
        let mut score = Decayed {
            value: 0.0,
            at: when,
        };
        score.add(weight, when, half_life_ms);
        self.0.insert(key.to_string(), score);
    }

    fn merge(&mut self, other: Affinities, half_life_ms: f64, cap: usize) {
        for (k, v) in other.0 {
            self.0.entry(k).or_default().merge(v, half_life_ms);
        }
        while self.0.len() > cap {
            let weakest = self
                .0
                .iter()
                .min_by(|a, b| a.1.value.total_cmp(&b.1.value))
                .map(|(k, _)| k.clone());
            match weakest {
                Some(k) => self.0.remove(&k),
                None => break,
            };
        }
    }
}

/// The price of something the visitor engaged with (tiers are derived from these later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PricePoint {
    /// Category path joined with ` > ` (empty when the product has none).
    pub category: String,
    /// Price.
    pub price: f64,
    /// The event's weight.
    pub weight: f32,
    /// When, epoch ms.
    pub at: i64,
}

/// A product with the time of the event that listed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recent {
    /// Product id.
    pub product_id: String,
    /// Epoch ms.
    pub at: i64,
}

/// Activity of the current session (events less than the session timeout apart).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Start, epoch ms.
    pub started: i64,
    /// Last event, epoch ms.
    pub last: i64,
    /// Events in the session.
    pub events: u32,
    /// Category weights of the session (undecayed).
    pub categories: HashMap<String, f32>,
    /// Brand weights of the session.
    pub brands: HashMap<String, f32>,
}

/// Counters of a profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Events applied.
    pub events: u64,
    /// Sessions started.
    pub sessions: u32,
    /// Distinct orders.
    pub orders: u32,
    /// Revenue of purchases minus returns.
    pub revenue: f64,
    /// Returned items.
    pub returns: u32,
    /// First event, epoch ms.
    pub first_seen: i64,
    /// Last event, epoch ms.
    pub last_seen: i64,
    /// Last purchase, epoch ms.
    pub last_order_at: Option<i64>,
}

/// Zero-party data: what the shopper said they like.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    /// Preferred category paths (`Shoes > Running`).
    #[serde(default)]
    pub categories: Vec<String>,
    /// Preferred brands.
    #[serde(default)]
    pub brands: Vec<String>,
    /// Lowest price of interest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_min: Option<f64>,
    /// Highest price of interest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_max: Option<f64>,
    /// Sizes.
    #[serde(default)]
    pub sizes: Vec<String>,
    /// Colours.
    #[serde(default)]
    pub colors: Vec<String>,
    /// `false` opts the visitor out of personalization.
    #[serde(default = "yes")]
    pub personalize: bool,
}

fn yes() -> bool {
    true
}

/// An event whose product the catalog does not know yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingEvent {
    /// Product id.
    pub product_id: String,
    /// What happened.
    pub kind: EventType,
    /// Price paid, when given.
    pub price: Option<f64>,
    /// Epoch ms.
    pub at: i64,
}

/// A visitor profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The canonical id (the user id once identified).
    pub id: String,
    /// Category affinities, every level of each path (`Shoes`, `Shoes > Running`).
    pub categories: Affinities,
    /// Brand affinities.
    pub brands: Affinities,
    /// Attribute value affinities (`color=red`).
    pub attributes: Affinities,
    /// Prices engaged with, newest last.
    pub prices: VecDeque<PricePoint>,
    /// The current session.
    pub session: Session,
    /// Recently viewed products, newest last.
    pub viewed: VecDeque<Recent>,
    /// Products in the cart, newest last.
    pub carted: VecDeque<Recent>,
    /// Bought products, newest last.
    pub bought: VecDeque<Recent>,
    /// Recent searches, newest last.
    pub queries: VecDeque<Recent>,
    /// Counters.
    pub counters: Counters,
    /// First acquisition source seen.
    pub source: Option<String>,
    /// Stated preferences.
    pub preferences: Option<Preferences>,
    /// Events waiting for their product to arrive in the catalog.
    pub pending: Vec<PendingEvent>,
    /// Recent order ids, to count distinct orders.
    pub order_ids: VecDeque<String>,
    /// Journal sequence number of the last record applied (for recovery).
    pub last_seq: u64,
    /// Whether the profile belongs to a logged-in user (never evicted as anonymous).
    #[serde(default)]
    pub identified: bool,
}

/// Caps of a profile's lists and maps.
pub const MAX_RECENT: usize = 20;
const MAX_PRICES: usize = 32;
const MAX_PENDING: usize = 32;
const MAX_ORDER_IDS: usize = 16;
const MAX_SESSION_KEYS: usize = 12;

impl Profile {
    /// An empty profile.
    pub fn new(id: &str) -> Profile {
        Profile {
            id: id.to_string(),
            ..Profile::default()
        }
    }

    /// Whether the visitor opted out of personalization.
    pub fn opted_out(&self) -> bool {
        self.preferences.as_ref().is_some_and(|p| !p.personalize)
    }

    /// Applies one event. `facts` is what the catalog knows of its product (None: unknown
    /// yet, kept pending).
    pub fn apply(&mut self, event: &Event, facts: Option<&ProductFacts>, config: &ProfilesConfig) {
        let at = event.timestamp;
        self.touch(at, config);
        if self.source.is_none() {
            self.source.clone_from(&event.source);
        }
        match event.kind {
            EventType::Search => {
                if let Some(q) = &event.query {
                    push_capped(
                        &mut self.queries,
                        Recent {
                            product_id: q.clone(),
                            at,
                        },
                        MAX_RECENT,
                    );
                }
                return;
            }
            EventType::Purchase => self.count_purchase(event),
            EventType::Return => {
                self.counters.returns += event.units();
                self.counters.revenue -= event.price.unwrap_or(0.0) * f64::from(event.units());
            }
            _ => {}
        }
        let Some(product_id) = &event.product_id else {
            return;
        };
        self.list_item(event.kind, product_id, at);
        match facts {
            Some(facts) => self.learn(event.kind, facts, event.price, at, config),
            None => {
                if self.pending.len() >= MAX_PENDING {
                    self.pending.remove(0);
                }
                self.pending.push(PendingEvent {
                    product_id: product_id.clone(),
                    kind: event.kind,
                    price: event.price,
                    at,
                });
            }
        }
    }

    /// Applies pending events whose product the catalog now knows.
    pub fn resolve_pending(
        &mut self,
        lookup: &dyn Fn(&str) -> Option<ProductFacts>,
        config: &ProfilesConfig,
    ) {
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        for p in pending {
            match lookup(&p.product_id) {
                Some(facts) => self.learn(p.kind, &facts, p.price, p.at, config),
                None => self.pending.push(p),
            }
        }
    }

    fn touch(&mut self, at: i64, config: &ProfilesConfig) {
        if self.counters.events == 0 {
            self.counters.first_seen = at;
        }
        self.counters.events += 1;
        self.counters.first_seen = self.counters.first_seen.min(at);
        // A late event (older than the session) never opens a new session.
        let starts_session = self.counters.sessions == 0
            || (at - self.session.last > config.session_timeout_ms && at >= self.session.last);
        if starts_session {
            self.counters.sessions += 1;
            self.session = Session {
                started: at,
                last: at,
                ..Session::default()
            };
        }
        self.session.last = self.session.last.max(at);
        self.session.events += 1;
        self.counters.last_seen = self.counters.last_seen.max(at);
    }

    fn count_purchase(&mut self, event: &Event) {
        let new_order = match &event.order_id {
            Some(order) if self.order_ids.contains(order) => false,
            Some(order) => {
                push_capped(&mut self.order_ids, order.clone(), MAX_ORDER_IDS);
                true
            }
            None => true,
        };
        if new_order {
            self.counters.orders += 1;
        }
        self.counters.revenue += event.price.unwrap_or(0.0) * f64::from(event.units());
        let at = event.timestamp;
        self.counters.last_order_at = Some(self.counters.last_order_at.map_or(at, |t| t.max(at)));
    }

    fn list_item(&mut self, kind: EventType, product_id: &str, at: i64) {
        let item = || Recent {
            product_id: product_id.to_string(),
            at,
        };
        match kind {
            EventType::View | EventType::Click => replace_recent(&mut self.viewed, item()),
            EventType::AddToCart => replace_recent(&mut self.carted, item()),
            EventType::RemoveFromCart => self.carted.retain(|r| r.product_id != product_id),
            EventType::Purchase => {
                self.carted.retain(|r| r.product_id != product_id);
                replace_recent(&mut self.bought, item());
            }
            EventType::Return | EventType::Search => {}
        }
    }

    fn learn(
        &mut self,
        kind: EventType,
        facts: &ProductFacts,
        paid: Option<f64>,
        at: i64,
        config: &ProfilesConfig,
    ) {
        let weight = config.weight(kind);
        if weight == 0.0 {
            return;
        }
        let hl = config.half_life_ms;
        let caps = &config.caps;
        let mut path = String::new();
        for level in &facts.category {
            if !path.is_empty() {
                path.push_str(" > ");
            }
            path.push_str(level);
            self.categories.add(&path, weight, at, hl, caps.categories);
            session_add(&mut self.session.categories, &path, weight);
        }
        if let Some(brand) = &facts.brand {
            self.brands.add(brand, weight, at, hl, caps.brands);
            session_add(&mut self.session.brands, brand, weight);
        }
        for attr in &facts.attributes {
            self.attributes.add(attr, weight, at, hl, caps.attributes);
        }
        if weight > 0.0
            && let Some(price) = paid.or(facts.price)
        {
            push_capped(
                &mut self.prices,
                PricePoint {
                    category: path,
                    price,
                    weight,
                    at,
                },
                MAX_PRICES,
            );
        }
    }

    /// Folds another profile (an anonymous one being identified) into this one.
    pub fn absorb(&mut self, other: Profile, config: &ProfilesConfig) {
        let hl = config.half_life_ms;
        let caps = &config.caps;
        self.categories.merge(other.categories, hl, caps.categories);
        self.brands.merge(other.brands, hl, caps.brands);
        self.attributes.merge(other.attributes, hl, caps.attributes);
        merge_by_time(&mut self.prices, other.prices, |p| p.at, MAX_PRICES);
        merge_by_time(&mut self.viewed, other.viewed, |r| r.at, MAX_RECENT);
        merge_by_time(&mut self.carted, other.carted, |r| r.at, MAX_RECENT);
        merge_by_time(&mut self.bought, other.bought, |r| r.at, MAX_RECENT);
        merge_by_time(&mut self.queries, other.queries, |r| r.at, MAX_RECENT);
        if other.session.last > self.session.last {
            self.session = other.session;
        }
        let (a, b) = (&mut self.counters, other.counters);
        if a.events == 0 {
            a.first_seen = b.first_seen;
        } else if b.events > 0 {
            a.first_seen = a.first_seen.min(b.first_seen);
        }
        a.events += b.events;
        a.sessions += b.sessions;
        a.orders += b.orders;
        a.revenue += b.revenue;
        a.returns += b.returns;
        a.last_seen = a.last_seen.max(b.last_seen);
        a.last_order_at = match (a.last_order_at, b.last_order_at) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        };
        if self.source.is_none() {
            self.source = other.source;
        }
        if self.preferences.is_none() {
            self.preferences = other.preferences;
        }
        for p in other.pending {
            if self.pending.len() < MAX_PENDING {
                self.pending.push(p);
            }
        }
        for order in other.order_ids {
            if !self.order_ids.contains(&order) {
                push_capped(&mut self.order_ids, order, MAX_ORDER_IDS);
            }
        }
        self.last_seq = self.last_seq.max(other.last_seq);
        self.identified |= other.identified;
    }
}

fn session_add(map: &mut HashMap<String, f32>, key: &str, weight: f32) {
    if let Some(v) = map.get_mut(key) {
        *v += weight;
    } else if map.len() < MAX_SESSION_KEYS {
        map.insert(key.to_string(), weight);
    }
}

fn push_capped<T>(list: &mut VecDeque<T>, item: T, cap: usize) {
    list.push_back(item);
    while list.len() > cap {
        list.pop_front();
    }
}

fn replace_recent(list: &mut VecDeque<Recent>, item: Recent) {
    list.retain(|r| r.product_id != item.product_id);
    push_capped(list, item, MAX_RECENT);
}

fn merge_by_time<T>(
    into: &mut VecDeque<T>,
    other: VecDeque<T>,
    at: impl Fn(&T) -> i64,
    cap: usize,
) {
    let mut all: Vec<T> = into.drain(..).chain(other).collect();
    all.sort_by_key(|x| at(x));
    let skip = all.len().saturating_sub(cap);
    into.extend(all.into_iter().skip(skip));
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn a_score_halves_every_half_life_and_late_events_count_decayed() {
        let hl = 14.0 * DAY as f64;
        let mut s = Decayed::default();
        s.add(8.0, 0, hl);
        assert!((s.at(14 * DAY, hl) - 4.0).abs() < 1e-4);
        assert!((s.at(28 * DAY, hl) - 2.0).abs() < 1e-4);
        // An event older than the last update adds its decayed weight.
        let mut t = Decayed::default();
        t.add(1.0, 14 * DAY, hl);
        t.add(2.0, 0, hl);
        assert!((t.at(14 * DAY, hl) - 2.0).abs() < 1e-4);
        // Merging equals having had both.
        let mut a = Decayed::default();
        a.add(8.0, 0, hl);
        let mut b = Decayed::default();
        b.add(4.0, 14 * DAY, hl);
        a.merge(b, hl);
        assert!((a.at(14 * DAY, hl) - 8.0).abs() < 1e-4);
    }

    #[test]
    fn affinity_maps_keep_the_strongest_entries_within_their_cap() {
        let hl = 14.0 * DAY as f64;
        let mut a = Affinities::default();
        for (i, w) in [5.0, 1.0, 3.0].iter().enumerate() {
            a.add(&format!("k{i}"), *w, 0, hl, 2);
        }
        let mut keys: Vec<&String> = a.0.keys().collect();
        keys.sort();
        assert_eq!(keys, vec!["k0", "k2"]);
    }
}
