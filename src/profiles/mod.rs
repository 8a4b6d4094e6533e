//! Visitor profiles: events in, affinities out.
//!
//! [`ProfileStore`] keeps every profile in a concurrent map and applies journal entries to it
//! (events, identifications, preferences, erasures). Entries reach it only through the
//! [`journal`]: they are written and fsync'd first, then applied in sequence order by one
//! thread, so the state after a restart (snapshot plus journal replay) is the state that was
//! acknowledged. Readers (search, the profile endpoint) never wait on the journal.

pub mod dedup;
pub mod event;
pub mod facts;
pub mod journal;
pub mod profile;
pub mod related;
pub mod symbols;
pub mod synthetic;
pub mod view;

use std::sync::Arc;

use dashmap::DashMap;
use serde::{Deserialize, Serialize};

use crate::settings::ProfilesConfig;
use event::Event;
use profile::{Known, Preferences, ProductFacts, Profile};
use symbols::{Sym, Symbols};

/// What the journal records, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Entry {
    /// A visitor event.
    Event {
        /// The event.
        event: Event,
    },
    /// An anonymous id becomes a user's.
    Identify {
        /// The anonymous id.
        visitor_id: String,
        /// The user id.
        user_id: String,
    },
    /// Stated preferences replace the previous ones.
    Preferences {
        /// Visitor or user id.
        id: String,
        /// The preferences.
        preferences: Preferences,
    },
    /// Erase a profile and its aliases.
    Forget {
        /// Visitor or user id.
        id: String,
    },
}

/// Where profiles learn what a product is.
pub trait FactsSource: Send + Sync {
    /// The facts of a product, or None when the catalog does not have it (yet).
    fn facts(&self, product_id: &str) -> Option<ProductFacts>;
}

/// An anonymous id merged into another profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alias {
    /// The profile it belongs to now.
    pub to: String,
    /// The journal entry that made it.
    pub seq: u64,
}

/// Longest alias chain followed (an id identified as a user who was later identified again).
const MAX_ALIAS_HOPS: usize = 8;

/// All profiles and aliases.
pub struct ProfileStore {
    symbols: Symbols,
    /// Boxed: a map slot then holds a pointer, not a half-kilobyte struct times the load factor.
    profiles: DashMap<Box<str>, Box<Profile>>,
    aliases: DashMap<String, Alias>,
    config: ProfilesConfig,
    facts: Arc<dyn FactsSource>,
    /// The sequence number of the latest entry applied (what derived data was built from).
    applied: std::sync::atomic::AtomicU64,
    /// Which products go together, counted from every event applied.
    related: related::Related,
}

impl ProfileStore {
    /// The sequence number of the latest journal entry applied: unchanged while no profile
    /// changed.
    pub fn applied(&self) -> u64 {
        self.applied.load(std::sync::atomic::Ordering::Acquire)
    }

    /// An empty store.
    pub fn new(config: ProfilesConfig, facts: Arc<dyn FactsSource>) -> ProfileStore {
        ProfileStore {
            symbols: Symbols::default(),
            profiles: DashMap::new(),
            applied: Default::default(),
            aliases: DashMap::new(),
            config,
            facts,
            related: related::Related::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &ProfilesConfig {
        &self.config
    }

    /// The profile stored under a canonical id, created empty when absent.
    fn slot(&self, canonical: &str) -> dashmap::mapref::one::RefMut<'_, Box<str>, Box<Profile>> {
        self.profiles
            .entry(canonical.into())
            .or_insert_with(|| Box::new(Profile::new(canonical)))
    }

    /// The symbol table profiles are written in.
    pub fn symbols(&self) -> &Symbols {
        &self.symbols
    }

    /// What the catalog knows of a product, as symbols.
    fn known(&self, product: Sym) -> Option<Known> {
        let facts = self.facts.facts(&self.symbols.name(product))?;
        Some(Known::of(&facts, &self.symbols))
    }

    /// Which products go together.
    pub fn related(&self) -> &related::Related {
        &self.related
    }

    /// Number of profiles in memory.
    pub fn len(&self) -> usize {
        self.profiles.len()
    }

    /// Whether there is no profile.
    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }

    /// The canonical profile id of a visitor or user id.
    pub fn resolve(&self, id: &str) -> String {
        let mut current = id.to_string();
        for _ in 0..MAX_ALIAS_HOPS {
            match self.aliases.get(&current) {
                Some(alias) => current = alias.to.clone(),
                None => break,
            }
        }
        current
    }

    /// Ids merged into `canonical`.
    pub fn aliases_of(&self, canonical: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .aliases
            .iter()
            .filter(|a| self.resolve(a.key()) == canonical)
            .map(|a| a.key().clone())
            .collect();
        ids.sort();
        ids
    }

    /// A copy of a profile with its pending events resolved against the catalog.
    pub fn get(&self, id: &str) -> Option<Profile> {
        let canonical = self.resolve(id);
        let mut profile = self.profiles.get(canonical.as_str())?.as_ref().clone();
        profile.resolve_pending(&|p| self.known(p), &self.config);
        Some(profile)
    }

    /// Reads a profile in place (no copy): what the search path uses. Holds a shard's read
    /// lock only for the duration of `read`, which must not block.
    pub fn with<R>(&self, id: &str, read: impl FnOnce(&Profile) -> R) -> Option<R> {
        let profile = match self.aliases.get(id) {
            None => self.profiles.get(id)?,
            Some(_) => self.profiles.get(self.resolve(id).as_str())?,
        };
        Some(read(&profile))
    }

    /// A visitor's lists, newest first: bought, cart, viewed (None: no profile). Reads only
    /// them, for the recommendations that need nothing else of the profile.
    pub fn lists(&self, id: &str) -> Option<[Vec<String>; 3]> {
        self.with(id, |p| {
            let names = |list: &std::collections::VecDeque<profile::Recent>| -> Vec<String> {
                let names = self.symbols.names();
                list.iter()
                    .rev()
                    .map(|r| names.of(r.product).to_string())
                    .collect()
            };
            [names(&p.bought), names(&p.carted), names(&p.viewed)]
        })
    }

    /// Applies one journal entry. Entries must come in sequence order; an entry a profile
    /// already reflects (its `last_seq` is not older) is skipped, which makes replaying the
    /// journal over a snapshot taken while entries were applied exact.
    pub fn apply(&self, seq: u64, entry: &Entry) {
        self.applied
            .fetch_max(seq, std::sync::atomic::Ordering::AcqRel);
        match entry {
            Entry::Event { event } => self.apply_event(seq, event),
            Entry::Identify {
                visitor_id,
                user_id,
            } => {
                let target = self.identify(visitor_id, user_id, seq);
                if let Some(mut p) = self.profiles.get_mut(target.as_str()) {
                    p.last_seq = p.last_seq.max(seq);
                    p.taste_seq = p.taste_seq.max(seq);
                }
            }
            Entry::Preferences { id, preferences } => {
                let canonical = self.resolve(id);
                let mut p = self.slot(&canonical);
                if p.last_seq < seq {
                    p.preferences = Some(Box::new(preferences.clone()));
                    p.last_seq = seq;
                    p.taste_seq = seq;
                }
            }
            Entry::Forget { id } => self.forget(id),
        }
    }

    fn apply_event(&self, seq: u64, event: &Event) {
        let target = match &event.user_id {
            Some(user) => self.identify(&event.visitor_id, user, seq),
            None => self.resolve(&event.visitor_id),
        };
        // Read the catalog before taking the profile's lock.
        let product = event
            .product_id
            .as_deref()
            .map(|id| self.symbols.intern(id));
        let known = product.and_then(|p| self.known(p));
        let mut profile = self.slot(&target);
        // Counted even when the profile already reflects the entry (a replay over a snapshot
        // taken after it): the counts' own snapshot holds every entry before the rotation and
        // none after, and only entries from the rotation on are replayed.
        if let Some(product) = product {
            let partners = profile.partners(event, product, related::PARTNERS, &self.config);
            if let Some((relation, partners)) = partners {
                self.related.add(relation, product, &partners);
            }
            let weight = event.kind.weight(&self.config.weights);
            (self.related).trend(product, weight, profile::secs(event.timestamp));
        }
        if profile.last_seq >= seq {
            return;
        }
        if event.user_id.is_some() {
            profile.identified = true;
        }
        let resolved = profile.resolve_pending(&|p| self.known(p), &self.config);
        let changed = profile.apply(event, product, known.as_ref(), &self.config);
        profile.last_seq = seq;
        if resolved || changed {
            profile.taste_seq = seq;
        }
    }

    /// Merges an anonymous profile into a user's; returns the user's canonical id.
    fn identify(&self, visitor: &str, user: &str, seq: u64) -> String {
        let target = self.resolve(user);
        if visitor == user || target == visitor {
            return self.resolve(visitor);
        }
        if let Some(owner) = self.aliases.get(visitor).map(|a| a.to.clone()) {
            if self.resolve(&owner) == target {
                return target;
            }
            // A shared device changing hands: the device's id is merged into another user
            // already. From now on it belongs to this user, who gets a profile if they had
            // none; the previous user keeps the history made under it.
            self.slot(&target).identified = true;
            self.aliases.insert(
                visitor.to_string(),
                Alias {
                    to: target.clone(),
                    seq,
                },
            );
            return target;
        }
        let anonymous = self.profiles.remove(visitor).map(|(_, p)| *p);
        let mut profile = self.slot(&target);
        profile.identified = true;
        // A profile that already reflects this entry (replay over a snapshot) has absorbed
        // the anonymous one before; absorbing again would count its events twice.
        if profile.last_seq < seq
            && let Some(anonymous) = anonymous
        {
            profile.absorb(anonymous, &self.config);
        }
        drop(profile);
        self.aliases.insert(
            visitor.to_string(),
            Alias {
                to: target.clone(),
                seq,
            },
        );
        target
    }

    fn forget(&self, id: &str) {
        let canonical = self.resolve(id);
        self.profiles.remove(canonical.as_str());
        let merged = self.aliases_of(&canonical);
        for alias in merged {
            self.aliases.remove(&alias);
        }
        self.aliases.remove(id);
    }

    /// Evicts anonymous profiles idle for longer than the time-to-live, then the least
    /// recently active anonymous ones while above the global cap. Returns how many went.
    pub fn evict(&self, now: i64) -> usize {
        let ttl = self.config.anonymous_ttl_ms;
        let before = self.profiles.len();
        self.profiles
            .retain(|_, p| p.identified || now - p.counters.last_seen <= ttl);
        let over = self.profiles.len().saturating_sub(self.config.max_profiles);
        if over > 0 {
            let mut idle: Vec<(i64, String)> = self
                .profiles
                .iter()
                .filter(|p| !p.identified)
                .map(|p| (p.counters.last_seen, p.key().to_string()))
                .collect();
            idle.sort();
            for (_, id) in idle.into_iter().take(over) {
                self.profiles.remove(id.as_str());
            }
            tracing::warn!(
                cap = self.config.max_profiles,
                evicted = over,
                "profile cap reached: evicted the least recently active anonymous profiles"
            );
        }
        before - self.profiles.len()
    }

    /// Every profile id (for snapshots).
    pub fn ids(&self) -> Vec<String> {
        self.profiles.iter().map(|p| p.key().to_string()).collect()
    }

    /// Reads every profile in place, one at a time (suggestions aggregate recent searches).
    /// Holds a shard's read lock while `read` runs, which must be quick and must not block.
    pub fn for_each(&self, mut read: impl FnMut(&Profile)) {
        for profile in self.profiles.iter() {
            read(profile.value());
        }
    }

    /// A copy of one stored profile, without resolving pending events.
    pub fn raw(&self, canonical: &str) -> Option<Profile> {
        self.profiles.get(canonical).map(|p| p.as_ref().clone())
    }

    /// Every alias.
    pub fn all_aliases(&self) -> Vec<(String, Alias)> {
        self.aliases
            .iter()
            .map(|a| (a.key().clone(), a.value().clone()))
            .collect()
    }

    /// Restores a snapshot's contents into an empty store; `symbols` in symbol order.
    pub fn restore(
        &self,
        symbols: Vec<String>,
        profiles: Vec<Profile>,
        aliases: Vec<(String, Alias)>,
    ) {
        for name in symbols {
            self.symbols.intern(&name);
        }
        for p in profiles {
            self.profiles.insert(p.id.as_str().into(), Box::new(p));
        }
        for (id, alias) in aliases {
            self.aliases.insert(id, alias);
        }
    }
}

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiles::view::{Lifecycle, ProfileView};
    use serde_json::json;

    const DAY: i64 = 86_400_000;
    const T0: i64 = 1_700_000_000_000;

    struct Catalog;
    impl FactsSource for Catalog {
        fn facts(&self, id: &str) -> Option<ProductFacts> {
            let (category, brand, price) = match id {
                "run-1" => ("Shoes > Running", "Acme", 150.0),
                "run-2" => ("Shoes > Running", "Zoom", 60.0),
                "dress-1" => ("Shoes > Dress", "Oxford", 200.0),
                "mug-1" => ("Home > Kitchen", "Clearly", 12.0),
                _ => return None,
            };
            Some(ProductFacts {
                category: category.split(" > ").map(str::to_string).collect(),
                brand: Some(brand.into()),
                attributes: vec![format!(
                    "color={}",
                    if id == "run-1" { "red" } else { "black" }
                )],
                price: Some(price),
            })
        }
    }

    fn store() -> ProfileStore {
        ProfileStore::new(crate::config::Config::default().profiles, Arc::new(Catalog))
    }

    struct Feed<'a> {
        store: &'a ProfileStore,
        seq: u64,
    }

    impl Feed<'_> {
        fn send(&mut self, event: serde_json::Value, at: i64) {
            let mut event = event;
            event["timestamp"] = json!(at);
            self.seq += 1;
            let event = Event::from_json(event, at).unwrap();
            self.store.apply(self.seq, &Entry::Event { event });
        }
        fn entry(&mut self, entry: Entry) {
            self.seq += 1;
            self.store.apply(self.seq, &entry);
        }
    }

    fn view(store: &ProfileStore, id: &str, now: i64) -> ProfileView {
        let p = store.get(id).unwrap();
        ProfileView::of(&p, store.aliases_of(&p.id), now, store)
    }

    fn weight(list: &[crate::profiles::view::AffinityView], value: &str) -> f32 {
        list.iter()
            .find(|a| a.value == value)
            .map_or(0.0, |a| a.weight)
    }

    #[test]
    fn every_event_type_moves_the_profile() {
        let s = store();
        let mut f = Feed { store: &s, seq: 0 };
        f.send(
            json!({"type": "view", "visitor_id": "v", "product_id": "run-1", "source": "ads"}),
            T0,
        );
        f.send(
            json!({"type": "click", "visitor_id": "v", "product_id": "run-2"}),
            T0 + 1,
        );
        f.send(
            json!({"type": "add_to_cart", "visitor_id": "v", "product_id": "run-1"}),
            T0 + 2,
        );
        f.send(
            json!({"type": "add_to_cart", "visitor_id": "v", "product_id": "mug-1"}),
            T0 + 3,
        );
        f.send(
            json!({"type": "remove_from_cart", "visitor_id": "v", "product_id": "mug-1"}),
            T0 + 4,
        );
        f.send(json!({"type": "purchase", "visitor_id": "v", "product_id": "run-1", "order_id": "o1", "price": 140, "quantity": 2}), T0 + 5);
        f.send(json!({"type": "return", "visitor_id": "v", "product_id": "run-1", "order_id": "o1", "price": 140}), T0 + 6);
        f.send(
            json!({"type": "search", "visitor_id": "v", "query": "trail shoes"}),
            T0 + 7,
        );
        let v = view(&s, "v", T0 + 10);
        assert_eq!(v.counters.events, 8);
        assert_eq!(v.counters.orders, 1);
        assert_eq!(v.counters.revenue, 140.0);
        assert_eq!(v.counters.returns, 1);
        assert_eq!(v.recently_viewed, vec!["run-2", "run-1"]);
        assert!(v.cart.is_empty(), "bought and removed items leave the cart");
        assert_eq!(v.bought, vec!["run-1"]);
        assert_eq!(v.recent_queries, vec!["trail shoes"]);
        assert_eq!(v.source.as_deref(), Some("ads"));
        assert_eq!(v.lifecycle, Lifecycle::Customer);
        // run-1: view 1 + cart 5 + purchase 10 - return 8 = 8; run-2: click 2; mug: 5 - 3 = 2.
        let running = v
            .categories
            .iter()
            .find(|a| a.value == "Shoes > Running")
            .unwrap();
        assert!((running.score - 10.0).abs() < 1e-3, "{running:?}");
        assert_eq!(weight(&v.categories, "Shoes"), 1.0);
        assert!((weight(&v.brands, "Acme") - 1.0).abs() < 1e-6);
        assert!((weight(&v.brands, "Zoom") - 0.25).abs() < 1e-6);
        assert_eq!(v.session.as_ref().unwrap().events, 8);
    }

    #[test]
    fn affinities_decay_with_the_clock_and_sessions_expire() {
        let s = store();
        let mut f = Feed { store: &s, seq: 0 };
        f.send(
            json!({"type": "purchase", "visitor_id": "v", "product_id": "dress-1"}),
            T0,
        );
        let score = |now| view(&s, "v", now).categories[0].score;
        assert!((score(T0) - 10.0).abs() < 1e-3);
        assert!((score(T0 + 14 * DAY) - 5.0).abs() < 1e-3);
        assert!((score(T0 + 28 * DAY) - 2.5).abs() < 1e-3);
        assert!(view(&s, "v", T0 + 29 * 60_000).session.is_some());
        assert!(view(&s, "v", T0 + 31 * 60_000).session.is_none());
        // A new session after the timeout.
        f.send(
            json!({"type": "view", "visitor_id": "v", "product_id": "mug-1"}),
            T0 + DAY,
        );
        let v = view(&s, "v", T0 + DAY);
        assert_eq!(v.counters.sessions, 2);
        assert_eq!(v.session.unwrap().categories[0].0, "Home");
        assert_eq!(view(&s, "v", T0 + 200 * DAY).lifecycle, Lifecycle::Lapsed);
    }

    #[test]
    fn two_devices_join_one_user_without_counting_twice() {
        let s = store();
        let mut f = Feed { store: &s, seq: 0 };
        f.send(
            json!({"type": "view", "visitor_id": "phone", "product_id": "run-1"}),
            T0,
        );
        f.send(
            json!({"type": "view", "visitor_id": "laptop", "product_id": "run-2"}),
            T0 + 1,
        );
        f.entry(Entry::Identify {
            visitor_id: "phone".into(),
            user_id: "alice".into(),
        });
        // The laptop logs in through an event carrying the user id.
        f.send(json!({"type": "add_to_cart", "visitor_id": "laptop", "user_id": "alice", "product_id": "run-2"}), T0 + 2);
        // Identifying again changes nothing.
        f.entry(Entry::Identify {
            visitor_id: "phone".into(),
            user_id: "alice".into(),
        });
        // Later events under either device id reach alice.
        f.send(
            json!({"type": "view", "visitor_id": "phone", "product_id": "mug-1"}),
            T0 + 3,
        );
        let v = view(&s, "laptop", T0 + 4);
        assert_eq!(v.profile_id, "alice");
        assert_eq!(v.aliases, vec!["laptop", "phone"]);
        assert_eq!(v.counters.events, 4);
        assert_eq!(v.recently_viewed, vec!["mug-1", "run-2", "run-1"]);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn stated_preferences_take_precedence_and_opt_out_is_recorded() {
        let s = store();
        let mut f = Feed { store: &s, seq: 0 };
        f.send(
            json!({"type": "purchase", "visitor_id": "v", "product_id": "run-1"}),
            T0,
        );
        f.send(
            json!({"type": "view", "visitor_id": "v", "product_id": "run-2"}),
            T0,
        );
        let preferences = Preferences {
            brands: vec!["Zoom".into(), "Nimbus".into()],
            personalize: true,
            ..Preferences::default()
        };
        f.entry(Entry::Preferences {
            id: "v".into(),
            preferences,
        });
        let v = view(&s, "v", T0);
        let zoom = v.brands.iter().find(|a| a.value == "Zoom").unwrap();
        assert_eq!((zoom.weight, zoom.stated), (1.0, true));
        let nimbus = v.brands.iter().find(|a| a.value == "Nimbus").unwrap();
        assert_eq!((nimbus.weight, nimbus.stated), (1.0, true));
        assert!(v.personalize);
        let opt_out = Preferences {
            personalize: false,
            ..Preferences::default()
        };
        f.entry(Entry::Preferences {
            id: "v".into(),
            preferences: opt_out,
        });
        assert!(!view(&s, "v", T0).personalize);
    }

    #[test]
    fn events_for_unknown_products_count_once_the_product_arrives() {
        struct Late(std::sync::atomic::AtomicBool);
        impl FactsSource for Late {
            fn facts(&self, id: &str) -> Option<ProductFacts> {
                if !self.0.load(std::sync::atomic::Ordering::Relaxed) {
                    return None;
                }
                Catalog.facts(if id == "new" { "mug-1" } else { id })
            }
        }
        let late = Arc::new(Late(false.into()));
        let s = ProfileStore::new(crate::config::Config::default().profiles, late.clone());
        let mut f = Feed { store: &s, seq: 0 };
        f.send(
            json!({"type": "add_to_cart", "visitor_id": "v", "product_id": "new"}),
            T0,
        );
        let v = view(&s, "v", T0);
        assert_eq!(v.pending_events, 1);
        assert!(v.categories.is_empty());
        late.0.store(true, std::sync::atomic::Ordering::Relaxed);
        let v = view(&s, "v", T0);
        assert_eq!(v.pending_events, 0);
        assert_eq!(v.categories[0].score, 5.0);
    }

    #[test]
    fn idle_anonymous_profiles_are_evicted_but_users_are_kept() {
        let s = store();
        let mut f = Feed { store: &s, seq: 0 };
        f.send(
            json!({"type": "view", "visitor_id": "old", "product_id": "run-1"}),
            T0,
        );
        f.send(
            json!({"type": "view", "visitor_id": "fresh", "product_id": "run-1"}),
            T0 + 29 * DAY,
        );
        f.send(
            json!({"type": "view", "visitor_id": "x", "user_id": "member", "product_id": "run-1"}),
            T0,
        );
        assert_eq!(s.evict(T0 + 31 * DAY), 1);
        assert!(s.get("old").is_none());
        assert!(s.get("fresh").is_some());
        assert!(s.get("member").is_some());
    }

    #[test]
    fn forgetting_a_user_removes_the_profile_and_its_aliases() {
        let s = store();
        let mut f = Feed { store: &s, seq: 0 };
        f.send(
            json!({"type": "view", "visitor_id": "phone", "user_id": "bob", "product_id": "run-1"}),
            T0,
        );
        f.entry(Entry::Forget { id: "phone".into() });
        assert!(s.get("bob").is_none());
        assert_eq!(s.resolve("phone"), "phone");
        assert!(s.all_aliases().is_empty());
    }
}
