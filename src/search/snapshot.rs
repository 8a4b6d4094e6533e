//! Values derived from a snapshot of the index (the catalog's lexicon, price tiers), kept
//! until the index's segments or the settings they were built with change; and a bounded
//! memo for values derived from something immutable (a segment, a snapshot's vocabulary).

use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tantivy::Searcher;
use tantivy::index::SegmentId;

use crate::cache::{Bounded, CacheStats};

/// The value of the latest snapshot, with the segments and settings it was built from.
pub struct SnapshotCache<K, T> {
    current: Mutex<Option<Kept<K, T>>>,
}

/// A kept value with the segments and settings it was built from.
struct Kept<K, T> {
    segments: Vec<SegmentId>,
    settings: K,
    value: Arc<T>,
}

impl<K, T> Default for SnapshotCache<K, T> {
    fn default() -> Self {
        SnapshotCache {
            current: Mutex::new(None),
        }
    }
}

impl<K: PartialEq + Clone, T> SnapshotCache<K, T> {
    /// The value for a snapshot under `settings`: the kept one when neither the segments
    /// nor the settings changed (a config reload may change them), else a new one from
    /// `build`. Builds under the lock, so concurrent searches never build it twice.
    pub fn get(
        &self,
        searcher: &Searcher,
        settings: &K,
        build: impl FnOnce() -> tantivy::Result<T>,
    ) -> tantivy::Result<Arc<T>> {
        let segments = segments_of(searcher);
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(kept) = current.as_ref()
            && kept.segments == segments
            && kept.settings == *settings
        {
            return Ok(kept.value.clone());
        }
        let value = Arc::new(build()?);
        *current = Some(Kept {
            segments,
            settings: settings.clone(),
            value: value.clone(),
        });
        Ok(value)
    }

    /// Whether the value kept is the one of this snapshot under `settings` (a search would
    /// not build it).
    #[cfg(test)]
    pub fn holds(&self, searcher: &Searcher, settings: &K) -> bool {
        let current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        current.as_ref().is_some_and(|kept| {
            kept.segments == segments_of(searcher) && kept.settings == *settings
        })
    }
}

fn segments_of(searcher: &Searcher) -> Vec<SegmentId> {
    searcher
        .segment_readers()
        .iter()
        .map(|s| s.segment_id())
        .collect()
}

/// Values computed once per key and kept, at most `MAX` of them (a full memo forgets the
/// least useful, [`Bounded`]); what they were computed from is immutable, like a segment or a
/// snapshot's vocabulary. A value is computed outside any lock: two threads may compute the
/// same one, never wait on each other's.
pub struct Memo<K, V, const MAX: usize> {
    values: Bounded<K, V>,
}

impl<K: Hash + Eq + Clone, V: Clone, const MAX: usize> Default for Memo<K, V, MAX> {
    fn default() -> Self {
        Memo {
            values: Bounded::new(MAX),
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone, const MAX: usize> Memo<K, V, MAX> {
    /// The value of `key`, computed by `compute` the first time (an error is not kept).
    pub fn get_or_try<E>(&self, key: K, compute: impl FnOnce() -> Result<V, E>) -> Result<V, E> {
        self.values.get_or_try(key, compute)
    }

    /// The value of `key`, computed by `compute` the first time.
    pub fn get_or(&self, key: K, compute: impl FnOnce() -> V) -> V {
        self.values.get_or(key, compute)
    }

    /// How many values are kept.
    #[cfg(test)]
    pub fn kept(&self) -> usize {
        self.values.len()
    }

    /// What the memo holds and how often it answered, under `name`.
    pub fn stats(&self, name: &'static str) -> CacheStats {
        self.values.stats(name)
    }

    /// Forgets the values of segments no live searcher holds (a tantivy warmer's garbage
    /// collection); `segment` names the segment of a key.
    pub fn retain_live_by(
        &self,
        live: &[&tantivy::SearcherGeneration],
        segment: impl Fn(&K) -> SegmentId,
    ) {
        let segments: rustc_hash::FxHashSet<SegmentId> = live
            .iter()
            .flat_map(|generation| generation.segments().keys().copied())
            .collect();
        self.values
            .retain(|key, _| segments.contains(&segment(key)));
    }
}

/// Computes `open` for every segment of a reloaded searcher (a tantivy warmer's warm-up). A
/// failure is logged, not returned: a commit must not fail for it, and the search that needs
/// the value computes it again and reports the error.
pub fn warm_segments<T, E: std::fmt::Display>(
    searcher: &Searcher,
    what: &str,
    open: impl Fn(&tantivy::SegmentReader) -> Result<T, E>,
) {
    for segment in searcher.segment_readers() {
        if let Err(e) = open(segment) {
            tracing::warn!(error = %e, "cannot read a segment's {what}");
        }
    }
}

impl<V: Clone, const MAX: usize> Memo<SegmentId, V, MAX> {
    /// Forgets the values of segments no live searcher holds.
    pub fn retain_live(&self, live: &[&tantivy::SearcherGeneration]) {
        self.retain_live_by(live, |segment| *segment);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use tantivy::Index;
    use tantivy::schema::{STRING, Schema};

    /// Regression: the tier cache was keyed by the segments alone (and the tier count), so a
    /// reload that changed `tiers.min_products` kept the old cut-offs until the next write.
    #[test]
    fn a_value_is_rebuilt_when_the_settings_change_and_kept_otherwise() {
        let mut schema = Schema::builder();
        schema.add_text_field("id", STRING);
        let index = Index::create_in_ram(schema.build());
        let searcher = index.reader().unwrap().searcher();
        let cache: SnapshotCache<u32, u32> = SnapshotCache::default();
        let builds = Cell::new(0);
        let get = |settings: u32| {
            *cache
                .get(&searcher, &settings, || {
                    builds.set(builds.get() + 1);
                    Ok(settings * 10)
                })
                .unwrap()
        };
        assert_eq!(get(1), 10);
        assert_eq!(get(1), 10);
        assert_eq!(builds.get(), 1);
        assert_eq!(get(2), 20);
        assert_eq!(builds.get(), 2);
    }

    /// A memo keeps each value, does not keep errors, and forgets one to take another when full.
    #[test]
    fn a_memo_keeps_values_forgets_one_when_full_and_never_keeps_an_error() {
        let memo: Memo<u32, u32, 2> = Memo::default();
        let computed = Cell::new(0);
        let get = |key: u32| {
            memo.get_or(key, || {
                computed.set(computed.get() + 1);
                key * 10
            })
        };
        assert_eq!((get(1), get(1), get(2)), (10, 10, 20));
        assert_eq!(computed.get(), 2);
        // Full: a third key takes the place of one of the others, not of both.
        assert_eq!(get(3), 30);
        assert_eq!(memo.kept(), 2);
        assert_eq!(computed.get(), 3);
        assert_eq!(memo.get_or_try(7, || Err::<u32, &str>("no")), Err("no"));
        assert_eq!(memo.get_or_try(7, || Ok::<u32, &str>(70)), Ok(70));
    }
}
