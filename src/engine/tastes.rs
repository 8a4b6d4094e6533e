//! Tastes built for recent searches, so a visitor's next page, refinement or autocomplete
//! does not rebuild the same taste from the profile (names resolved, paths split, maps
//! filled: a tenth of what personalization cost per search with a 44-affinity profile).
//!
//! An entry is only reused while nothing it was built from has changed: the profile (its
//! last applied journal entry), the snapshot's tiers, the decay half-life, and the minute
//! (decay moves slowly; a click moves the profile, so it shows in the next search).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use crate::cache::{Bounded, CacheStats};
use crate::profiles::profile::Profile;
use crate::search::ranking::personalize::{Taste, TasteKeys};
use crate::search::ranking::tiers::SnapshotTiers;

/// Recent tastes by canonical profile id, at most `cache.tastes` of them.
pub struct TasteCache {
    entries: Bounded<String, Entry>,
    keys: TasteKeys,
    /// Tastes derived so far.
    derived: AtomicU64,
}

#[derive(Clone)]
struct Entry {
    taste_seq: u64,
    /// Held weakly: an entry must not keep an old snapshot's tiers alive, and the allocation
    /// it points to cannot be reused for a newer snapshot while it is held.
    tiers: Weak<SnapshotTiers>,
    half_life_bits: u64,
    minute: i64,
    taste: Arc<Taste>,
}

impl TasteCache {
    /// An empty cache of at most `capacity` tastes.
    pub fn new(capacity: usize) -> TasteCache {
        TasteCache {
            entries: Bounded::new(capacity),
            keys: TasteKeys::default(),
            derived: AtomicU64::new(0),
        }
    }

    /// The taste of `profile` under `tiers`, `half_life_ms` and at `now_ms`, built by `build`
    /// unless an entry built from the same still holds.
    pub fn get(
        &self,
        profile: &Profile,
        tiers: &Arc<SnapshotTiers>,
        half_life_ms: f64,
        now_ms: i64,
        build: impl FnOnce() -> Taste,
    ) -> Arc<Taste> {
        let minute = now_ms.div_euclid(60_000);
        let half_life_bits = half_life_ms.to_bits();
        if let Some(entry) = self.entries.get(profile.id.as_str())
            && entry.taste_seq == profile.taste_seq
            && entry.minute == minute
            && entry.half_life_bits == half_life_bits
            && std::ptr::eq(entry.tiers.as_ptr(), Arc::as_ptr(tiers))
        {
            return entry.taste.clone();
        }
        let taste = Arc::new(build());
        self.derived.fetch_add(1, Ordering::Relaxed);
        self.entries.insert(
            profile.id.clone(),
            Entry {
                taste_seq: profile.taste_seq,
                tiers: Arc::downgrade(tiers),
                half_life_bits,
                minute,
                taste: taste.clone(),
            },
        );
        taste
    }

    /// The keys tastes file affinities under, kept across tastes.
    pub fn keys(&self) -> &TasteKeys {
        &self.keys
    }

    /// How many tastes were derived so far (each time a search or an event found none
    /// that still held).
    pub fn derived(&self) -> u64 {
        self.derived.load(Ordering::Relaxed)
    }

    /// Whether a taste of the profile is kept (a visitor who searched recently).
    pub fn holds(&self, id: &str) -> bool {
        self.entries.contains(id)
    }

    /// What the cache holds and how often a search found its visitor's taste kept.
    pub fn stats(&self) -> CacheStats {
        self.entries.stats("tastes")
    }

    /// Forgets a profile's taste (the profile was erased).
    pub fn forget(&self, id: &str) {
        self.entries.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(id: &str, taste_seq: u64) -> Profile {
        Profile {
            id: id.into(),
            taste_seq,
            ..Profile::default()
        }
    }

    /// Builds through the cache and says whether it built.
    fn built(cache: &TasteCache, p: &Profile, tiers: &Arc<SnapshotTiers>, now_ms: i64) -> bool {
        let mut built = false;
        cache.get(p, tiers, 86_400.0, now_ms, || {
            built = true;
            Taste::default()
        });
        built
    }

    #[test]
    fn a_taste_is_reused_until_its_profile_tiers_or_minute_change() {
        let cache = TasteCache::new(4096);
        let tiers = Arc::new(SnapshotTiers::default());
        assert!(built(&cache, &profile("v", 1), &tiers, 0));
        assert!(!built(&cache, &profile("v", 1), &tiers, 59_999));
        // An event moved the profile.
        assert!(built(&cache, &profile("v", 2), &tiers, 59_999));
        // A new snapshot's tiers.
        let newer = Arc::new(SnapshotTiers::default());
        assert!(built(&cache, &profile("v", 2), &newer, 59_999));
        assert!(!built(&cache, &profile("v", 2), &newer, 59_999));
        // The next minute.
        assert!(built(&cache, &profile("v", 2), &newer, 60_000));
        // Another visitor, and a forgotten one.
        assert!(built(&cache, &profile("w", 2), &newer, 60_000));
        cache.forget("v");
        assert!(built(&cache, &profile("v", 2), &newer, 60_000));
    }

    #[test]
    fn an_entry_does_not_keep_old_tiers_alive() {
        let cache = TasteCache::new(4096);
        let tiers = Arc::new(SnapshotTiers::default());
        built(&cache, &profile("v", 1), &tiers, 0);
        assert_eq!(Arc::strong_count(&tiers), 1);
    }
}
