//! One policy for every cache that evicts: a bounded concurrent cache that, when full, forgets
//! its least useful entries one at a time (quick_cache's CLOCK-PRO-like policy: an entry hit
//! since it came in survives a sweep), and counts its hits and misses.
//!
//! The hand-made caches this replaces cleared everything when full, so the 4,097th visitor
//! dropped every cached taste at once: a latency cliff under real traffic. quick_cache rather
//! than moka: a lookup is a sharded lock and a hash probe with no background maintenance, cheap
//! enough for the per-segment lookups every search makes; it counts hits and misses itself
//! (its `stats` feature), which moka does not; and moka's timed expiry and admission policy
//! are not needed here (entries say themselves when they no longer hold).

use std::hash::Hash;

use quick_cache::Equivalent;
use serde::Serialize;

/// A concurrent cache of at most `capacity` entries.
pub struct Bounded<K, V> {
    capacity: usize,
    entries: quick_cache::sync::Cache<K, V>,
}

/// What a cache holds and how often it answered, for operators.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CacheStats {
    /// Which cache.
    pub name: &'static str,
    /// Entries held now.
    pub entries: usize,
    /// Entries held at most.
    pub capacity: usize,
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that had to compute (or found nothing).
    pub misses: u64,
}

impl<K: Eq + Hash + Clone, V: Clone> Bounded<K, V> {
    /// An empty cache of at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Bounded {
            capacity,
            entries: quick_cache::sync::Cache::new(capacity),
        }
    }

    /// The value kept for `key`, if any (counted as a hit or a miss).
    pub fn get<Q: Hash + Equivalent<K> + ?Sized>(&self, key: &Q) -> Option<V> {
        self.entries.get(key)
    }

    /// Keeps `value` for `key`, forgetting another entry when full.
    pub fn insert(&self, key: K, value: V) {
        self.entries.insert(key, value);
    }

    /// The value of `key`, computed by `compute` when not kept (an error is not kept). It is
    /// computed outside any lock: two threads may compute the same value, never wait on each
    /// other's.
    pub fn get_or_try<E>(&self, key: K, compute: impl FnOnce() -> Result<V, E>) -> Result<V, E> {
        if let Some(value) = self.entries.get(&key) {
            return Ok(value);
        }
        let value = compute()?;
        self.entries.insert(key, value.clone());
        Ok(value)
    }

    /// The value of `key`, computed by `compute` when not kept.
    pub fn get_or(&self, key: K, compute: impl FnOnce() -> V) -> V {
        match self.get_or_try(key, || Ok::<V, std::convert::Infallible>(compute())) {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// Whether `key` is kept (not counted as a lookup).
    pub fn contains<Q: Hash + Equivalent<K> + ?Sized>(&self, key: &Q) -> bool {
        self.entries.contains_key(key)
    }

    /// Forgets `key`.
    pub fn remove<Q: Hash + Equivalent<K> + ?Sized>(&self, key: &Q) {
        self.entries.remove(key);
    }

    /// Keeps only the entries `keep` says to.
    pub fn retain(&self, keep: impl Fn(&K, &V) -> bool) {
        self.entries.retain(keep);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.entries.clear();
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What the cache holds and its hits and misses so far, under `name`.
    pub fn stats(&self, name: &'static str) -> CacheStats {
        CacheStats {
            name,
            entries: self.entries.len(),
            capacity: self.capacity,
            hits: self.entries.hits(),
            misses: self.entries.misses(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A full cache forgets some entries to take a new one, never all of them; an entry that
    /// is looked up again survives entries seen once.
    #[test]
    fn a_full_cache_forgets_entries_one_at_a_time_and_keeps_the_hot_ones() {
        let cache: Bounded<u32, u32> = Bounded::new(100);
        for key in 0..100 {
            cache.insert(key, key);
        }
        for _ in 0..3 {
            assert_eq!(cache.get(&7), Some(7));
        }
        for key in 100..150 {
            cache.insert(key, key);
        }
        assert!(cache.len() > 50, "{} kept", cache.len());
        assert!(cache.len() <= 100);
        assert_eq!(cache.get(&7), Some(7), "a hot entry survives");
    }

    /// Values are computed once, errors are not kept, and hits and misses are counted.
    #[test]
    fn values_are_computed_once_errors_are_not_kept_and_lookups_are_counted() {
        let cache: Bounded<&str, u32> = Bounded::new(10);
        let computed = Cell::new(0);
        let get = |key| {
            cache.get_or(key, || {
                computed.set(computed.get() + 1);
                7
            })
        };
        assert_eq!(get("a"), 7);
        assert_eq!(get("a"), 7);
        assert_eq!(computed.get(), 1);
        assert_eq!(cache.get_or_try("b", || Err::<u32, _>("no")), Err("no"));
        assert!(!cache.contains("b"));
        let stats = cache.stats("test");
        assert_eq!((stats.hits, stats.misses), (1, 2));
        assert_eq!((stats.entries, stats.capacity), (1, 10));
        cache.remove("a");
        assert!(cache.is_empty());
    }
}
