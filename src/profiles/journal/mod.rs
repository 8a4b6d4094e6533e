//! The profile journal: a write-ahead log with group commit, background snapshots, recovery.
//!
//! One thread owns the log. Each turn it takes every waiting append, writes their entries with
//! increasing sequence numbers, fsyncs once, applies them to the [`ProfileStore`] in order and
//! only then answers: an acknowledged event is on disk and visible.
//!
//! A snapshot starts a new log segment at sequence `R`, then a second thread writes every
//! profile and alias (while new entries keep arriving), renames the file into place and deletes
//! the segments before `R`. Recovery loads the snapshot, drops aliases made at or after `R`, and
//! replays the segments from `R`; each profile records the last entry it reflects, so entries
//! the snapshot already caught are skipped. A torn record at the end of the last segment (a
//! crash mid-write, never acknowledged) is cut off.
//!
//! Events carrying an `event_id` seen within the configured window are dropped before they are
//! written ([`RecentIds`], kept in the snapshot and rebuilt from the log). An erasure is
//! finished by a snapshot (the log segments holding the visitor's events go); one that a crash
//! interrupted is finished when the journal opens again.
//!
//! Record: `len: u32 | crc32(seq ‖ payload): u32 | seq: u64 | payload` (JSON entry), little endian.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc as std_mpsc};

use tokio::sync::{mpsc, oneshot};

use super::dedup::RecentIds;
use super::{Entry, ProfileStore};
use crate::durable::sync_dir;
use crate::error::{Error, Result};
use crate::mailbox::Mailbox;

mod files;

use files::{HEADER_BYTES, event_key, recover, segment_path, write_snapshot};

/// Appends taken in one turn (each may carry up to 1,000 entries).
const MAX_APPENDS_PER_TURN: usize = 256;

enum Command {
    Append {
        entries: Vec<Entry>,
        reply: oneshot::Sender<Result<Appended>>,
    },
    Snapshot {
        reply: Option<oneshot::Sender<Result<()>>>,
    },
}

/// The journal: a handle to the log thread.
pub struct Journal {
    tx: Mailbox<Command>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    shared: Arc<Shared>,
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Entries written (and applied).
    pub written: u64,
    /// Events dropped because their `event_id` was seen within the window.
    pub duplicates: u64,
}

/// What the log thread, the snapshot thread and the handle share.
struct Shared {
    /// 1 + the sequence number of the latest erasure written (0: none since the start).
    last_erasure: AtomicU64,
    /// The rotation of the latest snapshot on disk: the log before it is gone.
    purged_before: AtomicU64,
    /// Event ids seen lately.
    recent: Mutex<RecentIds>,
}

impl Shared {
    fn recent(&self) -> MutexGuard<'_, RecentIds> {
        // A panic while holding it leaves at worst an id remembered or not: still usable.
        self.recent.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether an erasure's events may still be in a log segment.
    fn erasure_pending(&self) -> bool {
        let last = self.last_erasure.load(Ordering::Acquire);
        // `last` is 1 + the erasure's sequence number: pending while that number is at or
        // after the rotation of the latest snapshot.
        last > self.purged_before.load(Ordering::Acquire)
    }
}

impl Journal {
    /// Recovers `store` from `dir` (snapshot plus log) and starts the log thread.
    pub fn open(dir: &Path, store: Arc<ProfileStore>) -> Result<Journal> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let config = store.config();
        let mut recent = RecentIds::new(config.event_id_window_ms, config.max_event_ids);
        let recovered = recover(dir, &store, &mut recent)?;
        let next_seq = recovered.next_seq;
        let log = Log::create(dir, next_seq)?;
        let mut last_erasure = 0;
        if recovered.erasures {
            // A crash came between an erasure and the snapshot that purges the log of the
            // visitor's events: finish it before anything else is written.
            let related = store.related().snapshot();
            match write_snapshot(dir, &store, recent.entries(), &related, next_seq) {
                Ok(()) => tracing::info!("finished an erasure a restart interrupted"),
                Err(e) => {
                    // Still pending: the next snapshot or a repeated erasure request purges.
                    tracing::error!(error = %e, "cannot finish an interrupted erasure yet");
                    last_erasure = next_seq + 1;
                }
            }
        }
        let shared = Arc::new(Shared {
            last_erasure: AtomicU64::new(last_erasure),
            purged_before: AtomicU64::new(next_seq),
            recent: Mutex::new(recent),
        });
        let (tx, rx) = mpsc::channel(1024);
        let (snap_tx, snap_rx) = std_mpsc::channel::<SnapshotJob>();
        let writer_store = store.clone();
        let snapshot_dir = dir.to_path_buf();
        let (writer_shared, snapshot_shared) = (shared.clone(), shared.clone());
        let snapshotter = std::thread::Builder::new()
            .name("attune-snapshot".into())
            .spawn(move || {
                for job in snap_rx {
                    let evicted = store.evict(crate::profiles::now_ms());
                    if evicted > 0 {
                        tracing::info!(evicted, "evicted idle anonymous profiles");
                    }
                    let recent = snapshot_shared.recent().entries();
                    let result = write_snapshot(
                        &snapshot_dir,
                        &store,
                        recent,
                        &job.related,
                        job.rotation_seq,
                    );
                    match &result {
                        Ok(()) => {
                            (snapshot_shared.purged_before)
                                .fetch_max(job.rotation_seq, Ordering::AcqRel);
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "profile snapshot failed; the log is kept")
                        }
                    }
                    for reply in job.replies {
                        let _ = reply.send(
                            result
                                .as_ref()
                                .map(|_| ())
                                .map_err(|e| Error::Internal(e.to_string())),
                        );
                    }
                }
            })
            .map_err(|e| Error::Internal(format!("cannot start the snapshot thread: {e}")))?;
        let logger = std::thread::Builder::new()
            .name("attune-journal".into())
            .spawn(move || run(log, rx, writer_store, writer_shared, snap_tx))
            .map_err(|e| Error::Internal(format!("cannot start the journal thread: {e}")))?;
        Ok(Journal {
            tx: Mailbox::new(tx),
            threads: Mutex::new(vec![logger, snapshotter]),
            shared,
        })
    }

    /// Writes entries durably and applies them, leaving out events whose id was seen lately.
    pub async fn append(&self, entries: Vec<Entry>) -> Result<Appended> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Append { entries, reply }).await?;
        rx.await.map_err(|_| Error::WriterGone)?
    }

    /// Takes a snapshot and drops the log before it; returns when it is on disk.
    pub async fn snapshot(&self) -> Result<()> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Snapshot { reply: Some(reply) })
            .await?;
        rx.await.map_err(|_| Error::WriterGone)?
    }

    /// Whether an erasure was written whose visitor's events a snapshot has not yet purged
    /// from the log (its snapshot failed): a repeated erasure request snapshots again.
    pub fn erasure_pending(&self) -> bool {
        self.shared.erasure_pending()
    }

    /// Stops the threads after the entries already queued.
    pub fn close(&self) {
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        if threads.is_empty() {
            return;
        }
        self.tx.close();
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.close();
    }
}

/// An append taken this turn: its entries, how many of its events were repeats, its reply.
type PendingAppend = (Vec<Entry>, u64, oneshot::Sender<Result<Appended>>);

struct SnapshotJob {
    rotation_seq: u64,
    /// The related-products counts as they stood at the rotation (taken by the log thread,
    /// between two turns: every entry before it counted, none after).
    related: crate::profiles::related::RelatedCounts,
    replies: Vec<oneshot::Sender<Result<()>>>,
}

/// The open log segment.
struct Log {
    dir: PathBuf,
    file: BufWriter<File>,
    path: PathBuf,
    next_seq: u64,
    len: u64,
}

impl Log {
    fn create(dir: &Path, next_seq: u64) -> Result<Log> {
        let path = segment_path(dir, next_seq);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        sync_dir(dir)?;
        Ok(Log {
            dir: dir.to_path_buf(),
            file: BufWriter::with_capacity(1 << 20, file),
            path,
            next_seq,
            len,
        })
    }

    /// Writes and fsyncs a batch; on failure the segment is cut back to where it was.
    fn write(&mut self, entries: &[&Entry]) -> Result<u64> {
        let start_len = self.len;
        let start_seq = self.next_seq;
        let result = self.try_write(entries);
        if result.is_err() {
            self.next_seq = start_seq;
            self.len = start_len;
            let _ = self.file.get_ref().set_len(start_len);
        }
        result
    }

    fn try_write(&mut self, entries: &[&Entry]) -> Result<u64> {
        for entry in entries {
            let payload = serde_json::to_vec(entry).map_err(|e| Error::Internal(e.to_string()))?;
            let seq = self.next_seq;
            let mut crc = crc32fast::Hasher::new();
            crc.update(&seq.to_le_bytes());
            crc.update(&payload);
            let mut header = [0u8; HEADER_BYTES];
            header[..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
            header[4..8].copy_from_slice(&crc.finalize().to_le_bytes());
            header[8..].copy_from_slice(&seq.to_le_bytes());
            let io = |e| Error::io(&self.path, e);
            self.file.write_all(&header).map_err(io)?;
            self.file
                .write_all(&payload)
                .map_err(|e| Error::io(&self.path, e))?;
            self.len += (HEADER_BYTES + payload.len()) as u64;
            self.next_seq += 1;
        }
        self.file.flush().map_err(|e| Error::io(&self.path, e))?;
        self.file
            .get_ref()
            .sync_data()
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(self.next_seq - 1)
    }

    /// Starts a new segment at the next sequence number and returns that number.
    fn rotate(&mut self) -> Result<u64> {
        let next = Log::create(&self.dir, self.next_seq)?;
        *self = next;
        Ok(self.next_seq)
    }
}

fn run(
    mut log: Log,
    mut rx: mpsc::Receiver<Command>,
    store: Arc<ProfileStore>,
    shared: Arc<Shared>,
    snapshots: std_mpsc::Sender<SnapshotJob>,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut appends: Vec<PendingAppend> = Vec::new();
        let mut snapshot_replies = Vec::new();
        let mut wants_snapshot = false;
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Append { entries, reply } => appends.push((entries, 0, reply)),
                Command::Snapshot { reply } => {
                    wants_snapshot = true;
                    snapshot_replies.extend(reply);
                }
            }
            if appends.len() < MAX_APPENDS_PER_TURN {
                next = rx.try_recv().ok();
            }
        }
        if !appends.is_empty() {
            let now = crate::profiles::now_ms();
            let keys = drop_repeats(&mut shared.recent(), &mut appends, now);
            let all: Vec<&Entry> = appends.iter().flat_map(|(e, ..)| e.iter()).collect();
            let first_seq = log.next_seq;
            match log.write(&all) {
                Ok(_) => {
                    let mut recent = shared.recent();
                    for key in keys {
                        recent.insert(key, now);
                    }
                    drop(recent);
                    for (i, entry) in all.iter().enumerate() {
                        let seq = first_seq + i as u64;
                        if matches!(entry, Entry::Forget { .. }) {
                            shared.last_erasure.fetch_max(seq + 1, Ordering::AcqRel);
                        }
                        store.apply(seq, entry);
                    }
                    for (entries, duplicates, reply) in appends {
                        let written = entries.len() as u64;
                        let _ = reply.send(Ok(Appended {
                            written,
                            duplicates,
                        }));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "journal write failed; events refused");
                    for (.., reply) in appends {
                        let _ =
                            reply.send(Err(Error::Internal(format!("journal write failed: {e}"))));
                    }
                }
            }
        }
        if wants_snapshot {
            match log.rotate() {
                Ok(rotation_seq) => {
                    let job = SnapshotJob {
                        rotation_seq,
                        related: store.related().snapshot(),
                        replies: snapshot_replies,
                    };
                    let _ = snapshots.send(job);
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot start a new journal segment");
                    for reply in snapshot_replies {
                        let _ = reply.send(Err(Error::Internal(e.to_string())));
                    }
                }
            }
        }
    }
    tracing::info!("profile journal stopped");
}

/// Takes out of each append the events whose id was seen lately (or earlier in this turn),
/// counting them; returns the keys of the ids kept, to remember once they are written.
fn drop_repeats(recent: &mut RecentIds, appends: &mut [PendingAppend], now: i64) -> Vec<u64> {
    recent.expire(now);
    let mut kept = rustc_hash::FxHashSet::default();
    for (entries, duplicates, _) in appends.iter_mut() {
        let before = entries.len();
        entries.retain(|entry| match event_key(entry) {
            Some(key) => !recent.contains(key) && kept.insert(key),
            None => true,
        });
        *duplicates = (before - entries.len()) as u64;
    }
    kept.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::files::read_segment;
    use super::*;
    use crate::profiles::FactsSource;
    use crate::profiles::event::Event;
    use crate::profiles::profile::ProductFacts;

    struct Catalog;
    impl FactsSource for Catalog {
        fn facts(&self, id: &str) -> Option<ProductFacts> {
            (id != "unknown").then(|| ProductFacts {
                category: vec!["Shoes".into(), id.to_string()],
                brand: Some("Acme".into()),
                attributes: vec!["color=red".into()],
                price: Some(50.0),
            })
        }
    }

    fn store() -> Arc<ProfileStore> {
        Arc::new(ProfileStore::new(
            crate::config::Config::default().profiles,
            Arc::new(Catalog),
        ))
    }

    fn recent() -> RecentIds {
        RecentIds::new(3_600_000, 1_000)
    }

    /// A view `t` ms after a recent moment (so the snapshot's eviction keeps it).
    fn view(visitor: &str, product: &str, t: i64) -> Entry {
        let t = crate::profiles::now_ms() - 60_000 + t;
        let event = Event::from_json(
            serde_json::json!({"type": "view", "visitor_id": visitor, "product_id": product, "timestamp": t}),
            t,
        )
        .unwrap();
        Entry::Event { event }
    }

    fn entries() -> Vec<Entry> {
        vec![
            view("a", "p1", 1000),
            view("b", "p2", 2000),
            view("a", "p3", 3000),
            view("c", "p1", 4000),
            view("b", "p1", 5000),
            // From here on: after the rotation.
            view("a", "p2", 6000),
            Entry::Identify {
                visitor_id: "a".into(),
                user_id: "u".into(),
            },
            view("a", "p4", 8000),
            view("u", "p5", 9000),
            view("c", "p2", 10000),
        ]
    }

    /// A snapshot that caught entries after its rotation point (they kept arriving while it
    /// was written) must not count them twice when the log is replayed over it.
    #[test]
    fn replay_over_a_snapshot_taken_during_writes_counts_every_entry_once() {
        let dir = tempfile::tempdir().unwrap();
        let live = store();
        let all = entries();
        let mut log = Log::create(dir.path(), 1).unwrap();
        let first: Vec<&Entry> = all[..5].iter().collect();
        log.write(&first).unwrap();
        let rotation = log.rotate().unwrap();
        assert_eq!(rotation, 6);
        let rest: Vec<&Entry> = all[5..].iter().collect();
        log.write(&rest).unwrap();
        let mut related = Default::default();
        for (i, e) in all.iter().enumerate() {
            live.apply(i as u64 + 1, e);
            if i + 1 == 5 {
                // The log thread takes the related-products counts at the rotation.
                related = live.related().snapshot();
            }
        }
        // The snapshot sees every profile, although it is labelled with rotation 6.
        write_snapshot(dir.path(), &live, Vec::new(), &related, rotation).unwrap();

        let recovered = store();
        let next = recover(dir.path(), &recovered, &mut recent())
            .unwrap()
            .next_seq;
        assert_eq!(next, 11);
        for id in ["u", "b", "c"] {
            assert_eq!(recovered.get(id), live.get(id), "profile {id}");
        }
        assert_eq!(recovered.get("u").unwrap().counters.events, 5);
        assert_eq!(recovered.resolve("a"), "u");
        // Every view is counted once in the related-products counts too.
        use crate::profiles::related::Relation::Viewed;
        for product in ["p1", "p2", "p3", "p4", "p5"] {
            let (r, l) = (
                recovered.symbols().get(product),
                live.symbols().get(product),
            );
            let (r, l) = (r.unwrap(), l.unwrap());
            let (r, l) = (
                recovered.related().events(Viewed, r),
                live.related().events(Viewed, l),
            );
            assert_eq!(r, l, "{product}");
        }
        assert_eq!(
            live.related()
                .events(Viewed, live.symbols().get("p1").unwrap()),
            3
        );
    }

    #[test]
    fn a_torn_tail_is_cut_off_and_the_rest_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::create(dir.path(), 1).unwrap();
        let all = entries();
        let batch: Vec<&Entry> = all[..3].iter().collect();
        log.write(&batch).unwrap();
        log.file.flush().unwrap();
        let path = log.path.clone();
        drop(log);
        // A crash in the middle of the next record.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[42, 0, 0, 0, 1, 2, 3]).unwrap();
        drop(f);
        let recovered = store();
        let next = recover(dir.path(), &recovered, &mut recent())
            .unwrap()
            .next_seq;
        assert_eq!(next, 4);
        assert_eq!(recovered.get("a").unwrap().counters.events, 2);
        let (_, len, torn) = read_segment(&path).unwrap();
        assert!(!torn);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
    }

    #[tokio::test]
    async fn the_journal_restores_what_it_acknowledged_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let all = entries();
        {
            let journal = Journal::open(dir.path(), store()).unwrap();
            journal.append(all[..4].to_vec()).await.unwrap();
            journal.snapshot().await.unwrap();
            journal.append(all[4..].to_vec()).await.unwrap();
        }
        let recovered = store();
        let _journal = Journal::open(dir.path(), recovered.clone()).unwrap();
        assert_eq!(recovered.get("u").unwrap().counters.events, 5);
        assert_eq!(recovered.get("b").unwrap().counters.events, 2);
        assert_eq!(recovered.get("c").unwrap().counters.events, 2);
    }

    /// A view with a client event id.
    fn view_with_id(visitor: &str, product: &str, event_id: &str) -> Entry {
        let mut entry = view(visitor, product, 0);
        if let Entry::Event { event } = &mut entry {
            event.event_id = Some(event_id.into());
        }
        entry
    }

    /// Whether any file of the journal's directory holds `needle`.
    fn on_disk(dir: &Path, needle: &str) -> bool {
        std::fs::read_dir(dir).unwrap().any(|f| {
            let bytes = std::fs::read(f.unwrap().path()).unwrap();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
    }

    #[test]
    fn an_erasure_a_crash_interrupted_is_finished_when_the_journal_opens() {
        // Regression: `kill -9` between the erasure's entry and its snapshot left the
        // visitor's events in a log segment until the next periodic snapshot.
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::create(dir.path(), 1).unwrap();
        let erased = [view("erased-visitor-x", "p9", 0), view("kept", "p1", 1)];
        log.write(&erased.iter().collect::<Vec<_>>()).unwrap();
        log.write(&[&Entry::Forget {
            id: "erased-visitor-x".into(),
        }])
        .unwrap();
        drop(log);
        assert!(on_disk(dir.path(), "erased-visitor-x"));
        let recovered = store();
        let journal = Journal::open(dir.path(), recovered.clone()).unwrap();
        assert!(!on_disk(dir.path(), "erased-visitor-x"));
        assert!(!journal.erasure_pending());
        assert!(recovered.get("erased-visitor-x").is_none());
        assert_eq!(recovered.get("kept").unwrap().counters.events, 1);
    }

    #[test]
    fn segments_a_snapshot_covers_are_removed_if_a_crash_left_them() {
        let dir = tempfile::tempdir().unwrap();
        let live = store();
        let mut log = Log::create(dir.path(), 1).unwrap();
        let entries = [
            view("erased-visitor-x", "p9", 0),
            Entry::Forget {
                id: "erased-visitor-x".into(),
            },
        ];
        log.write(&entries.iter().collect::<Vec<_>>()).unwrap();
        for (i, e) in entries.iter().enumerate() {
            live.apply(i as u64 + 1, e);
        }
        let old = log.path.clone();
        let rotation = log.rotate().unwrap();
        // The crash came after the snapshot's rename, before it deleted the old segment.
        let saved = std::fs::read(&old).unwrap();
        let related = live.related().snapshot();
        write_snapshot(dir.path(), &live, Vec::new(), &related, rotation).unwrap();
        std::fs::write(&old, saved).unwrap();
        assert!(on_disk(dir.path(), "erased-visitor-x"));
        let _journal = Journal::open(dir.path(), store()).unwrap();
        assert!(!on_disk(dir.path(), "erased-visitor-x"));
        assert!(!old.exists());
    }

    #[tokio::test]
    async fn a_repeated_event_id_is_written_once_even_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let batch = vec![
            view_with_id("a", "p1", "e1"),
            view_with_id("a", "p2", "e2"),
            view_with_id("a", "p2", "e2"),
            view("a", "p3", 0),
        ];
        {
            let journal = Journal::open(dir.path(), store()).unwrap();
            let first = journal.append(batch.clone()).await.unwrap();
            assert_eq!((first.written, first.duplicates), (3, 1));
            let retry = journal.append(batch.clone()).await.unwrap();
            assert_eq!(
                (retry.written, retry.duplicates),
                (1, 3),
                "only the id-less event"
            );
        }
        // Recovered from the log alone.
        let recovered = store();
        {
            let journal = Journal::open(dir.path(), recovered.clone()).unwrap();
            assert_eq!(recovered.get("a").unwrap().counters.events, 4);
            let retry = journal.append(batch[..2].to_vec()).await.unwrap();
            assert_eq!(retry.duplicates, 2);
            journal.snapshot().await.unwrap();
        }
        // Recovered from the snapshot, whose log no longer holds the events.
        let recovered = store();
        let journal = Journal::open(dir.path(), recovered.clone()).unwrap();
        let retry = journal.append(batch[..2].to_vec()).await.unwrap();
        assert_eq!((retry.written, retry.duplicates), (0, 2));
        assert_eq!(recovered.get("a").unwrap().counters.events, 4);
    }
}
