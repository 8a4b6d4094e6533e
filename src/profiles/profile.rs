//! One visitor's profile: decayed affinities, the current session, recent items, counters.
//!
//! Scores decay lazily: each holds its value and the time it was last brought up to date, and
//! is decayed to "now" only when it is read or changed, so no sweep ever runs over all
//! profiles. Every list and map is capped, so a profile stays small however active it is.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::event::{Event, EventType};
use super::symbols::{Sym, Symbols};
use crate::settings::ProfilesConfig;

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

/// Seconds since the Unix epoch: profiles keep times to the second (4 bytes, good to 2106).
pub type Secs = u32;

/// Converts epoch milliseconds to [`Secs`].
pub fn secs(ms: i64) -> Secs {
    (ms.max(0) / 1000).min(i64::from(u32::MAX)) as Secs
}

/// A score that halves every half-life; stored with the time it was last updated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Decayed {
    /// Value at `at`.
    pub value: f32,
    /// When the value was last brought up to date.
    pub at: Secs,
}

impl Decayed {
    /// The value at `now`.
    pub fn at(&self, now: Secs, half_life_s: f64) -> f32 {
        self.value * decay(i64::from(now) - i64::from(self.at), half_life_s)
    }

    /// Adds `weight` happening at `when` (which may be older than the last update).
    pub fn add(&mut self, weight: f32, when: Secs, half_life_s: f64) {
        if when >= self.at {
            self.value = self.at(when, half_life_s) + weight;
            self.at = when;
        } else {
            self.value += weight * decay(i64::from(self.at) - i64::from(when), half_life_s);
        }
    }

    /// Adds another decayed score (profile merges).
    pub fn merge(&mut self, other: Decayed, half_life_s: f64) {
        let when = self.at.max(other.at);
        self.value = self.at(when, half_life_s) + other.at(when, half_life_s);
        self.at = when;
    }
}

fn decay(elapsed_s: i64, half_life_s: f64) -> f32 {
    if elapsed_s <= 0 {
        1.0
    } else {
        0.5f64.powf(elapsed_s as f64 / half_life_s) as f32
    }
}

/// Capped list of decayed affinities keyed by symbol; when full, the weakest makes room.
/// A short vector scanned linearly: at most a few dozen entries, and a third of the memory of
/// a hash map.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Affinities(pub Vec<(Sym, Decayed)>);

impl Affinities {
    /// The decayed score of a key at `now` (0 when absent).
    pub fn score(&self, key: Sym, now: Secs, half_life_s: f64) -> f32 {
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(0.0, |(_, d)| d.at(now, half_life_s))
    }

    fn add(&mut self, key: Sym, weight: f32, when: Secs, half_life_s: f64, cap: usize) {
        if let Some((_, score)) = self.0.iter_mut().find(|(k, _)| *k == key) {
            score.add(weight, when, half_life_s);
            return;
        }
        if self.0.len() >= cap {
            self.drop_weakest(when, half_life_s);
        }
        let mut score = Decayed {
            value: 0.0,
            at: when,
        };
        score.add(weight, when, half_life_s);
        // Grow one slot at a time: a capped list never holds spare capacity.
        self.0.reserve_exact(1);
        self.0.push((key, score));
    }

    fn drop_weakest(&mut self, now: Secs, half_life_s: f64) {
        let weakest = self
            .0
            .iter()
            .enumerate()
            .min_by(|a, b| {
                a.1.1
                    .at(now, half_life_s)
                    .total_cmp(&b.1.1.at(now, half_life_s))
            })
            .map(|(i, _)| i);
        if let Some(i) = weakest {
            self.0.swap_remove(i);
        }
    }

    fn merge(&mut self, other: Affinities, half_life_s: f64, cap: usize) {
        let mut now = 0;
        for (k, v) in other.0 {
            now = now.max(v.at);
            match self.0.iter_mut().find(|(key, _)| *key == k) {
                Some((_, mine)) => mine.merge(v, half_life_s),
                None => self.0.push((k, v)),
            }
        }
        while self.0.len() > cap {
            self.drop_weakest(now, half_life_s);
        }
    }
}

/// The price of something the visitor engaged with (tiers are derived from these later).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PricePoint {
    /// The product's category path (as a symbol of `A > B > C`), or [`NO_SYM`].
    pub category: Sym,
    /// Price.
    pub price: f32,
    /// The event's weight.
    pub weight: f32,
    /// When.
    pub at: Secs,
}

/// A listed item with the time of the event that listed it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Recent {
    /// Product id symbol.
    pub product: Sym,
    /// When.
    pub at: Secs,
}

/// Activity of the current session (events less than the session timeout apart).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Start.
    pub started: Secs,
    /// Last event.
    pub last: Secs,
    /// Events in the session.
    pub events: u32,
    /// Category weights of the session (undecayed).
    pub categories: Vec<(Sym, f32)>,
    /// Brand weights of the session.
    pub brands: Vec<(Sym, f32)>,
}

/// Counters of a profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PendingEvent {
    /// Product id symbol.
    pub product: Sym,
    /// What happened.
    pub kind: EventType,
    /// Price paid, when given.
    pub price: Option<f32>,
    /// When.
    pub at: Secs,
}

/// A visitor profile, compact: strings are symbols, times are seconds, lists are capped.
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
    pub queries: VecDeque<(Box<str>, Secs)>,
    /// Counters.
    pub counters: Counters,
    /// First acquisition source seen.
    pub source: Option<Box<str>>,
    /// Stated preferences.
    pub preferences: Option<Box<Preferences>>,
    /// Events waiting for their product to arrive in the catalog.
    pub pending: Vec<PendingEvent>,
    /// Hashes of recent order ids, to count distinct orders.
    pub order_ids: VecDeque<u64>,
    /// Journal sequence number of the last record applied (for recovery).
    pub last_seq: u64,
    /// Sequence number of the last record that changed what a taste reads (affinities,
    /// lists, preferences, the session): a recorded search within a session does not, so a
    /// visitor's kept taste outlives their own searches.
    #[serde(default)]
    pub taste_seq: u64,
    /// Whether the profile belongs to a logged-in user (never evicted as anonymous).
    #[serde(default)]
    pub identified: bool,
}

/// "No symbol" (a product without a category path).
pub const NO_SYM: Sym = Sym::MAX;

// Caps of the lists. Powers of two, so a full list uses all the capacity it allocated.
/// Recently viewed (and bought) items kept.
pub const MAX_RECENT: usize = 16;
const MAX_CARTED: usize = 8;
const MAX_QUERIES: usize = 8;
const MAX_PRICES: usize = 16;
const MAX_PENDING: usize = 16;
const MAX_ORDER_IDS: usize = 4;
const MAX_SESSION_KEYS: usize = 8;

/// The symbols of a product's facts, as a profile stores them.
pub struct Known {
    /// One symbol per level of the category path (`A`, `A > B`, …).
    pub paths: Vec<Sym>,
    /// Brand.
    pub brand: Option<Sym>,
    /// Attribute values.
    pub attributes: Vec<Sym>,
    /// Catalog price.
    pub price: Option<f64>,
}

impl Known {
    /// Interns a product's facts.
    pub fn of(facts: &ProductFacts, symbols: &Symbols) -> Known {
        let mut path = String::new();
        let paths = facts
            .category
            .iter()
            .map(|level| {
                if !path.is_empty() {
                    path.push_str(" > ");
                }
                path.push_str(level);
                symbols.intern(&path)
            })
            .collect();
        Known {
            paths,
            brand: facts.brand.as_deref().map(|b| symbols.intern(b)),
            attributes: facts.attributes.iter().map(|a| symbols.intern(a)).collect(),
            price: facts.price,
        }
    }
}

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

    /// What an event on `product` goes together with, before it is applied: for a view or a
    /// click the products viewed earlier in the same session, for a purchase those bought
    /// earlier in it (an order's lines arrive together), newest first, at most `limit`. None
    /// when the event opens a new session or is of another kind.
    pub fn partners(
        &self,
        event: &Event,
        product: Sym,
        limit: usize,
        config: &ProfilesConfig,
    ) -> Option<(super::related::Relation, Vec<Sym>)> {
        use super::related::Relation;
        let (relation, list) = match event.kind {
            EventType::View | EventType::Click => (Relation::Viewed, &self.viewed),
            EventType::Purchase => (Relation::Bought, &self.bought),
            _ => return None,
        };
        let at = secs(event.timestamp);
        let timeout = (config.session_timeout_ms / 1000) as u32;
        let in_session =
            self.counters.sessions > 0 && at.saturating_sub(self.session.last) <= timeout;
        let partners = (list.iter().rev())
            .filter(|r| in_session && r.at >= self.session.started && r.product != product)
            .map(|r| r.product)
            .take(limit)
            .collect();
        Some((relation, partners))
    }

    /// Applies one event about `product` (a symbol of its id). `known` is what the catalog
    /// knows of it (None: unknown yet, kept pending). Returns whether it may change what a
    /// taste reads: every event does but a search within a session, which only adds a query
    /// (one that opens a session starts its affinities over).
    pub fn apply(
        &mut self,
        event: &Event,
        product: Option<Sym>,
        known: Option<&Known>,
        config: &ProfilesConfig,
    ) -> bool {
        let at = secs(event.timestamp);
        let opened_session = self.touch(event.timestamp, config);
        if self.source.is_none() {
            self.source = event.source.as_deref().map(Box::from);
        }
        match event.kind {
            EventType::Search => {
                if let Some(q) = &event.query {
                    push_capped(&mut self.queries, (Box::from(q.as_str()), at), MAX_QUERIES);
                }
                return opened_session;
            }
            EventType::Purchase => self.count_purchase(event),
            EventType::Return => {
                self.counters.returns += event.units();
                self.counters.revenue -= event.price.unwrap_or(0.0) * f64::from(event.units());
            }
            _ => {}
        }
        let Some(product) = product else {
            return true;
        };
        self.list_item(event.kind, product, at);
        let paid = event.price.map(|p| p as f32);
        match known {
            Some(known) => self.learn(event.kind, known, paid, at, config),
            None => {
                if self.pending.len() >= MAX_PENDING {
                    self.pending.remove(0);
                }
                self.pending.push(PendingEvent {
                    product,
                    kind: event.kind,
                    price: paid,
                    at,
                });
            }
        }
        true
    }

    /// Applies pending events whose product the catalog now knows; returns whether any was.
    pub fn resolve_pending(
        &mut self,
        lookup: &dyn Fn(Sym) -> Option<Known>,
        config: &ProfilesConfig,
    ) -> bool {
        if self.pending.is_empty() {
            return false;
        }
        let pending = std::mem::take(&mut self.pending);
        let waiting = pending.len();
        for p in pending {
            match lookup(p.product) {
                Some(known) => self.learn(p.kind, &known, p.price, p.at, config),
                None => self.pending.push(p),
            }
        }
        self.pending.len() < waiting
    }

    /// Counts an event at `at_ms`; returns whether it opened a session.
    fn touch(&mut self, at_ms: i64, config: &ProfilesConfig) -> bool {
        let at = secs(at_ms);
        if self.counters.events == 0 {
            self.counters.first_seen = at_ms;
        }
        self.counters.events += 1;
        self.counters.first_seen = self.counters.first_seen.min(at_ms);
        // A late event (older than the session) never opens a new session.
        let timeout = (config.session_timeout_ms / 1000) as u32;
        let starts_session = self.counters.sessions == 0
            || (at.saturating_sub(self.session.last) > timeout && at >= self.session.last);
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
        self.counters.last_seen = self.counters.last_seen.max(at_ms);
        starts_session
    }

    fn count_purchase(&mut self, event: &Event) {
        let new_order = match &event.order_id {
            Some(order) => {
                let hash = crate::group::stable_hash(order);
                let seen = self.order_ids.contains(&hash);
                if !seen {
                    push_capped(&mut self.order_ids, hash, MAX_ORDER_IDS);
                }
                !seen
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

    fn list_item(&mut self, kind: EventType, product: Sym, at: Secs) {
        let item = Recent { product, at };
        match kind {
            EventType::View | EventType::Click => replace_recent(&mut self.viewed, item),
            EventType::AddToCart => {
                self.carted.retain(|r| r.product != product);
                push_capped(&mut self.carted, item, MAX_CARTED);
            }
            EventType::RemoveFromCart => self.carted.retain(|r| r.product != product),
            EventType::Purchase => {
                self.carted.retain(|r| r.product != product);
                replace_recent(&mut self.bought, item);
            }
            EventType::Return | EventType::Search => {}
        }
    }

    fn learn(
        &mut self,
        kind: EventType,
        known: &Known,
        paid: Option<f32>,
        at: Secs,
        config: &ProfilesConfig,
    ) {
        let weight = kind.weight(&config.weights);
        if weight == 0.0 {
            return;
        }
        let hl = config.half_life_ms / 1000.0;
        let caps = &config.caps;
        for &path in &known.paths {
            self.categories.add(path, weight, at, hl, caps.categories);
            session_add(&mut self.session.categories, path, weight);
        }
        if let Some(brand) = known.brand {
            self.brands.add(brand, weight, at, hl, caps.brands);
            session_add(&mut self.session.brands, brand, weight);
        }
        for &attr in &known.attributes {
            self.attributes.add(attr, weight, at, hl, caps.attributes);
        }
        if weight > 0.0
            && let Some(price) = paid.or(known.price.map(|p| p as f32))
        {
            let point = PricePoint {
                category: known.paths.last().copied().unwrap_or(NO_SYM),
                price,
                weight,
                at,
            };
            push_capped(&mut self.prices, point, MAX_PRICES);
        }
    }

    /// Folds another profile (an anonymous one being identified) into this one.
    pub fn absorb(&mut self, other: Profile, config: &ProfilesConfig) {
        let hl = config.half_life_ms / 1000.0;
        let caps = &config.caps;
        self.categories.merge(other.categories, hl, caps.categories);
        self.brands.merge(other.brands, hl, caps.brands);
        self.attributes.merge(other.attributes, hl, caps.attributes);
        merge_by_time(&mut self.prices, other.prices, |p| p.at, MAX_PRICES);
        merge_by_time(&mut self.viewed, other.viewed, |r| r.at, MAX_RECENT);
        merge_by_time(&mut self.carted, other.carted, |r| r.at, MAX_CARTED);
        merge_by_time(&mut self.bought, other.bought, |r| r.at, MAX_RECENT);
        merge_by_time(&mut self.queries, other.queries, |q| q.1, MAX_QUERIES);
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
        self.taste_seq = self.taste_seq.max(other.taste_seq);
        self.identified |= other.identified;
    }
}

fn session_add(list: &mut Vec<(Sym, f32)>, key: Sym, weight: f32) {
    if let Some((_, v)) = list.iter_mut().find(|(k, _)| *k == key) {
        *v += weight;
    } else if list.len() < MAX_SESSION_KEYS {
        list.push((key, weight));
    }
}

/// Appends, dropping the oldest first when full (so the deque never outgrows `cap`).
fn push_capped<T>(list: &mut VecDeque<T>, item: T, cap: usize) {
    while list.len() >= cap {
        list.pop_front();
    }
    list.push_back(item);
}

fn replace_recent(list: &mut VecDeque<Recent>, item: Recent) {
    list.retain(|r| r.product != item.product);
    push_capped(list, item, MAX_RECENT);
}

fn merge_by_time<T>(
    into: &mut VecDeque<T>,
    other: VecDeque<T>,
    at: impl Fn(&T) -> Secs,
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

    const DAY: Secs = 86_400;

    #[test]
    fn a_score_halves_every_half_life_and_late_events_count_decayed() {
        let hl = 14.0 * f64::from(DAY);
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
    fn affinity_lists_keep_the_strongest_entries_within_their_cap() {
        let hl = 14.0 * f64::from(DAY);
        let mut a = Affinities::default();
        for (key, w) in [(0, 5.0), (1, 1.0), (2, 3.0)] {
            a.add(key, w, 0, hl, 2);
        }
        let mut keys: Vec<Sym> = a.0.iter().map(|(k, _)| *k).collect();
        keys.sort();
        assert_eq!(keys, vec![0, 2]);
        assert_eq!(a.score(2, 0, hl), 3.0);
        assert_eq!(a.score(1, 0, hl), 0.0);
    }
}
