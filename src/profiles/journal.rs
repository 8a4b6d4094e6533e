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
//! Record: `len: u32 | crc32(seq ‖ payload): u32 | seq: u64 | payload` (JSON entry), little endian.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc as std_mpsc};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::profile::Profile;
use super::{Alias, Entry, ProfileStore};
use crate::durable::sync_dir;
use crate::error::{Error, Result};
use crate::mailbox::Mailbox;

const SNAPSHOT: &str = "snapshot.ndjson";
const HEADER_BYTES: usize = 16;
/// Appends taken in one turn (each may carry up to 1,000 entries).
const MAX_APPENDS_PER_TURN: usize = 256;

enum Command {
    Append {
        entries: Vec<Entry>,
        reply: oneshot::Sender<Result<u64>>,
    },
    Snapshot {
        reply: Option<oneshot::Sender<Result<()>>>,
    },
}

/// The journal: a handle to the log thread.
pub struct Journal {
    tx: Mailbox<Command>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

/// Snapshot file header.
#[derive(Serialize, Deserialize)]
struct Header {
    version: u32,
    rotation_seq: u64,
}

/// One line of a snapshot after the header.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line {
    Alias(String, Alias),
    Profile(Box<Profile>),
    /// The symbol table, in symbol order, written last so it covers every profile above.
    Symbols(Vec<String>),
}

impl Journal {
    /// Recovers `store` from `dir` (snapshot plus log) and starts the log thread.
    pub fn open(dir: &Path, store: Arc<ProfileStore>) -> Result<Journal> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let next_seq = recover(dir, &store)?;
        let log = Log::create(dir, next_seq)?;
        let (tx, rx) = mpsc::channel(1024);
        let (snap_tx, snap_rx) = std_mpsc::channel::<SnapshotJob>();
        let writer_store = store.clone();
        let snapshot_dir = dir.to_path_buf();
        let snapshotter = std::thread::Builder::new()
            .name("attune-snapshot".into())
            .spawn(move || {
                for job in snap_rx {
                    let evicted = store.evict(crate::profiles::now_ms());
                    if evicted > 0 {
                        tracing::info!(evicted, "evicted idle anonymous profiles");
                    }
                    let result = write_snapshot(&snapshot_dir, &store, job.rotation_seq);
                    if let Err(e) = &result {
                        tracing::error!(error = %e, "profile snapshot failed; the log is kept");
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
            .spawn(move || run(log, rx, writer_store, snap_tx))
            .map_err(|e| Error::Internal(format!("cannot start the journal thread: {e}")))?;
        Ok(Journal {
            tx: Mailbox::new(tx),
            threads: Mutex::new(vec![logger, snapshotter]),
        })
    }

    /// Writes entries durably and applies them; returns the last sequence number.
    pub async fn append(&self, entries: Vec<Entry>) -> Result<u64> {
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

struct SnapshotJob {
    rotation_seq: u64,
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
    snapshots: std_mpsc::Sender<SnapshotJob>,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut appends: Vec<(Vec<Entry>, oneshot::Sender<Result<u64>>)> = Vec::new();
        let mut snapshot_replies = Vec::new();
        let mut wants_snapshot = false;
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Append { entries, reply } => appends.push((entries, reply)),
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
            let all: Vec<&Entry> = appends.iter().flat_map(|(e, _)| e.iter()).collect();
            let first_seq = log.next_seq;
            match log.write(&all) {
                Ok(_) => {
                    for (i, entry) in all.iter().enumerate() {
                        store.apply(first_seq + i as u64, entry);
                    }
                    let mut seq = first_seq;
                    for (entries, reply) in appends {
                        seq += entries.len() as u64;
                        let _ = reply.send(Ok(seq - 1));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "journal write failed; events refused");
                    for (_, reply) in appends {
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

fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("wal-{first_seq:020}.log"))
}

fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let first = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("wal-"))
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(first) = first {
            out.push((first, path));
        }
    }
    out.sort();
    Ok(out)
}

/// Loads the snapshot and replays the log into `store`; returns the next sequence number.
fn recover(dir: &Path, store: &ProfileStore) -> Result<u64> {
    let rotation_seq = load_snapshot(dir, store)?;
    let mut next_seq = rotation_seq.max(1);
    let segments = segments(dir)?;
    let last = segments.len().saturating_sub(1);
    let mut replayed = 0u64;
    for (i, (_, path)) in segments.iter().enumerate() {
        let (records, valid_len, torn) = read_segment(path)?;
        if torn {
            if i != last {
                return Err(Error::Internal(format!(
                    "journal segment {} is corrupt at byte {valid_len}, before later segments",
                    path.display()
                )));
            }
            tracing::warn!(path = %path.display(), at = valid_len, "cutting a torn record off the journal");
            let file = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| Error::io(path, e))?;
            file.set_len(valid_len).map_err(|e| Error::io(path, e))?;
            file.sync_all().map_err(|e| Error::io(path, e))?;
        }
        for (seq, entry) in records {
            if seq >= rotation_seq {
                store.apply(seq, &entry);
                replayed += 1;
            }
            next_seq = next_seq.max(seq + 1);
        }
    }
    tracing::info!(profiles = store.len(), replayed, "profiles restored");
    Ok(next_seq)
}

/// A segment as read back: its valid records, the bytes they cover, whether junk follows.
type SegmentContents = (Vec<(u64, Entry)>, u64, bool);

/// Reads the valid records of a segment, the length they cover, and whether junk follows.
fn read_segment(path: &Path) -> Result<SegmentContents> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| Error::io(path, e))?;
    let mut records = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let Some(header) = bytes.get(at..at + HEADER_BYTES) else {
            return Ok((records, at as u64, true));
        };
        let len = u32::from_le_bytes(header[..4].try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(header[4..8].try_into().unwrap_or_default());
        let seq_bytes = &header[8..16];
        let Some(payload) = bytes.get(at + HEADER_BYTES..at + HEADER_BYTES + len) else {
            return Ok((records, at as u64, true));
        };
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(seq_bytes);
        hasher.update(payload);
        if hasher.finalize() != crc {
            return Ok((records, at as u64, true));
        }
        let Ok(entry) = serde_json::from_slice::<Entry>(payload) else {
            return Ok((records, at as u64, true));
        };
        let seq = u64::from_le_bytes(seq_bytes.try_into().unwrap_or_default());
        records.push((seq, entry));
        at += HEADER_BYTES + len;
    }
    Ok((records, at as u64, false))
}

/// Restores the snapshot, if any; returns its rotation sequence number (0 without one).
fn load_snapshot(dir: &Path, store: &ProfileStore) -> Result<u64> {
    let path = dir.join(SNAPSHOT);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let corrupt =
        |e: String| Error::Internal(format!("corrupt profile snapshot {}: {e}", path.display()));
    let mut lines = BufReader::new(file).lines();
    let header: Header = match lines.next() {
        Some(line) => serde_json::from_str(&line.map_err(|e| Error::io(&path, e))?)
            .map_err(|e| corrupt(e.to_string()))?,
        None => return Ok(0),
    };
    let mut profiles = Vec::new();
    let mut aliases = Vec::new();
    let mut symbols = Vec::new();
    for line in lines {
        let line = line.map_err(|e| Error::io(&path, e))?;
        match serde_json::from_str::<Line>(&line).map_err(|e| corrupt(e.to_string()))? {
            // Aliases made at or after the rotation are made again by the replay, in order.
            Line::Alias(id, alias) if alias.seq < header.rotation_seq => aliases.push((id, alias)),
            Line::Alias(..) => {}
            Line::Profile(p) => profiles.push(*p),
            Line::Symbols(names) => symbols = names,
        }
    }
    store.restore(symbols, profiles, aliases);
    Ok(header.rotation_seq)
}

/// Writes a snapshot of `store` and deletes the log segments before `rotation_seq`.
fn write_snapshot(dir: &Path, store: &ProfileStore, rotation_seq: u64) -> Result<()> {
    let tmp = dir.join(format!("{SNAPSHOT}.tmp"));
    let io = |e| Error::io(&tmp, e);
    let mut out = BufWriter::new(File::create(&tmp).map_err(io)?);
    let header = Header {
        version: 1,
        rotation_seq,
    };
    let mut put = |line: Result<Vec<u8>, serde_json::Error>| -> Result<()> {
        let mut bytes =
            line.map_err(|e| Error::Internal(format!("cannot encode a snapshot line: {e}")))?;
        bytes.push(b'\n');
        out.write_all(&bytes).map_err(|e| Error::io(&tmp, e))
    };
    put(serde_json::to_vec(&header))?;
    for (id, alias) in store.all_aliases() {
        put(serde_json::to_vec(&Line::Alias(id, alias)))?;
    }
    for id in store.ids() {
        if let Some(p) = store.raw(&id) {
            put(serde_json::to_vec(&Line::Profile(Box::new(p))))?;
        }
    }
    let names = store
        .symbols()
        .all()
        .iter()
        .map(|n| n.to_string())
        .collect();
    put(serde_json::to_vec(&Line::Symbols(names)))?;
    let file = out
        .into_inner()
        .map_err(|e| Error::io(&tmp, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    let path = dir.join(SNAPSHOT);
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    sync_dir(dir)?;
    for (first, segment) in segments(dir)? {
        if first < rotation_seq {
            std::fs::remove_file(&segment).map_err(|e| Error::io(&segment, e))?;
        }
    }
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProfilesConfig;
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
            ProfilesConfig::default(),
            Arc::new(Catalog),
        ))
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
        for (i, e) in all.iter().enumerate() {
            live.apply(i as u64 + 1, e);
        }
        // The snapshot sees everything, although it is labelled with rotation 6.
        write_snapshot(dir.path(), &live, rotation).unwrap();

        let recovered = store();
        let next = recover(dir.path(), &recovered).unwrap();
        assert_eq!(next, 11);
        for id in ["u", "b", "c"] {
            assert_eq!(recovered.get(id), live.get(id), "profile {id}");
        }
        assert_eq!(recovered.get("u").unwrap().counters.events, 5);
        assert_eq!(recovered.resolve("a"), "u");
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
        assert_eq!(recover(dir.path(), &recovered).unwrap(), 4);
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
}
