//! Recently seen event ids, so a client retrying a batch the server never acknowledged (it
//! was killed after writing part of it) does not count those events twice.
//!
//! Only a 64-bit hash of each id is kept, with the time the server first saw it: ids are
//! remembered for a window of time and, within it, at most a fixed number of the latest
//! (bounded memory whatever the traffic). The journal owns one, checks each event against it
//! before writing, and keeps it across restarts in its snapshot and log.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher, Hasher};

use rustc_hash::{FxBuildHasher, FxHasher};

/// Event ids seen lately.
#[derive(Debug)]
pub struct RecentIds {
    window_ms: i64,
    max: usize,
    seen: HashSet<u64, FxBuildHasher>,
    /// (first seen, key), oldest first: what expires next.
    order: VecDeque<(i64, u64)>,
}

impl RecentIds {
    /// Remembers ids for `window_ms`, at most `max` of them.
    pub fn new(window_ms: i64, max: usize) -> RecentIds {
        RecentIds {
            window_ms,
            max,
            seen: HashSet::with_hasher(FxBuildHasher),
            order: VecDeque::new(),
        }
    }

    /// The key an id is remembered by. FxHasher has no random seed, so keys written to a
    /// snapshot mean the same after a restart.
    pub fn key(event_id: &str) -> u64 {
        let mut h: FxHasher = FxBuildHasher.build_hasher();
        h.write(event_id.as_bytes());
        h.write_u8(0xff);
        h.finish()
    }

    /// Whether the key was seen within the window (as of the last [`RecentIds::insert`] or
    /// [`RecentIds::expire`]).
    pub fn contains(&self, key: u64) -> bool {
        self.seen.contains(&key)
    }

    /// Remembers a key first seen at `now_ms`; a key already remembered keeps its first time.
    pub fn insert(&mut self, key: u64, now_ms: i64) {
        if self.max == 0 || !self.seen.insert(key) {
            return;
        }
        self.order.push_back((now_ms, key));
        self.expire(now_ms);
    }

    /// Forgets keys older than the window, then the oldest while above the cap.
    pub fn expire(&mut self, now_ms: i64) {
        while let Some(&(at, key)) = self.order.front() {
            if now_ms - at <= self.window_ms && self.order.len() <= self.max {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&key);
        }
    }

    /// Every remembered (key, first seen), oldest first: what a snapshot writes.
    pub fn entries(&self) -> Vec<(u64, i64)> {
        self.order.iter().map(|&(at, key)| (key, at)).collect()
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_within_the_window_is_recognised_and_an_older_one_is_not() {
        let mut ids = RecentIds::new(1_000, 100);
        let a = RecentIds::key("evt-a");
        ids.insert(a, 0);
        assert!(ids.contains(a));
        assert!(!ids.contains(RecentIds::key("evt-b")));
        ids.insert(RecentIds::key("evt-b"), 1_000);
        assert!(
            ids.contains(a),
            "exactly the window's age is still within it"
        );
        ids.expire(1_001);
        assert!(!ids.contains(a));
        assert!(ids.contains(RecentIds::key("evt-b")));
    }

    #[test]
    fn above_the_cap_the_oldest_ids_are_forgotten_first() {
        let mut ids = RecentIds::new(i64::MAX / 2, 3);
        for (t, id) in ["a", "b", "c", "d"].iter().enumerate() {
            ids.insert(RecentIds::key(id), t as i64);
        }
        assert_eq!(ids.len(), 3);
        assert!(!ids.contains(RecentIds::key("a")));
        assert!(
            ["b", "c", "d"]
                .iter()
                .all(|id| ids.contains(RecentIds::key(id)))
        );
    }

    #[test]
    fn inserting_a_remembered_id_again_keeps_its_first_time() {
        let mut ids = RecentIds::new(100, 10);
        let a = RecentIds::key("a");
        ids.insert(a, 0);
        ids.insert(a, 90);
        assert_eq!(ids.entries(), vec![(a, 0)]);
        ids.expire(101);
        assert!(!ids.contains(a));
    }

    #[test]
    fn keys_are_the_same_in_every_process_and_build() {
        // Snapshots store keys: a change of hash function would forget every remembered id
        // at the upgrade. This literal was computed once; it must never change.
        assert_eq!(RecentIds::key("evt-1"), 569_655_706_179_463_771);
        assert_ne!(RecentIds::key("evt-1"), RecentIds::key("evt-2"));
    }
}
