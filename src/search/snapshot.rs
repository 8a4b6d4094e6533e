//! Values derived from a snapshot of the index (the catalog's lexicon, price tiers), kept
//! until the index's segments or the settings they were built with change.

use std::sync::{Arc, Mutex};

use tantivy::Searcher;
use tantivy::index::SegmentId;

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
        let segments: Vec<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(|s| s.segment_id())
            .collect();
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
}
