//! The journal's files on disk: log segments and the snapshot, and recovery from them.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::super::dedup::RecentIds;
use super::super::{Entry, ProfileStore};
use crate::profiles::related::RelatedCounts;
use serde::{Deserialize, Serialize};

use super::super::Alias;
use super::super::profile::Profile;
use crate::durable::sync_dir;
use crate::error::{Error, Result};

const SNAPSHOT: &str = "snapshot.ndjson";
/// A record's `len | crc | seq` before its payload.
pub(super) const HEADER_BYTES: usize = 16;

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
    /// Event ids seen lately: (key, first seen in epoch ms), oldest first.
    EventIds(Vec<(u64, i64)>),
    /// Which products go together, counted from every entry before the rotation.
    Related(Box<RelatedCounts>),
}

pub(super) fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("wal-{first_seq:020}.log"))
}

pub(super) fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
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

/// What recovery found.
pub(super) struct Recovered {
    /// The sequence number of the next entry.
    pub next_seq: u64,
    /// Whether the replayed log holds an erasure (no snapshot purged it yet).
    pub erasures: bool,
}

/// Loads the snapshot and replays the log into `store`, remembering the event ids of both in
/// `recent`.
pub(super) fn recover(
    dir: &Path,
    store: &ProfileStore,
    recent: &mut RecentIds,
) -> Result<Recovered> {
    let rotation_seq = load_snapshot(dir, store, recent)?;
    let mut next_seq = rotation_seq.max(1);
    let mut erasures = false;
    let now = crate::profiles::now_ms();
    let mut segments = segments(dir)?;
    // A crash between a snapshot's rename and its deleting the segments it covers leaves
    // them behind (with the events of any visitor erased since): finish the deleting.
    for (_, stale) in segments.iter().filter(|(first, _)| *first < rotation_seq) {
        tracing::info!(path = %stale.display(), "removing a journal segment a snapshot covers");
        std::fs::remove_file(stale).map_err(|e| Error::io(stale, e))?;
    }
    segments.retain(|(first, _)| *first >= rotation_seq);
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
                erasures |= matches!(entry, Entry::Forget { .. });
                if let Some(key) = event_key(&entry) {
                    // When it was first seen is not in the log: the window starts again now,
                    // which only remembers it longer.
                    recent.insert(key, now);
                }
            }
            next_seq = next_seq.max(seq + 1);
        }
    }
    tracing::info!(profiles = store.len(), replayed, "profiles restored");
    Ok(Recovered { next_seq, erasures })
}

/// A segment as read back: its valid records, the bytes they cover, whether junk follows.
type SegmentContents = (Vec<(u64, Entry)>, u64, bool);

/// Reads the valid records of a segment, the length they cover, and whether junk follows.
pub(super) fn read_segment(path: &Path) -> Result<SegmentContents> {
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
pub(super) fn load_snapshot(
    dir: &Path,
    store: &ProfileStore,
    recent: &mut RecentIds,
) -> Result<u64> {
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
            Line::EventIds(ids) => {
                for (key, at) in ids {
                    recent.insert(key, at);
                }
            }
            Line::Related(counts) => store.related().restore(*counts),
        }
    }
    store.restore(symbols, profiles, aliases);
    Ok(header.rotation_seq)
}

/// Writes a snapshot of `store` and the event ids seen lately, and deletes the log segments
/// before `rotation_seq`.
pub(super) fn write_snapshot(
    dir: &Path,
    store: &ProfileStore,
    recent: Vec<(u64, i64)>,
    related: &RelatedCounts,
    rotation_seq: u64,
) -> Result<()> {
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
    put(serde_json::to_vec(&Line::Related(Box::new(
        related.clone(),
    ))))?;
    put(serde_json::to_vec(&Line::Symbols(names)))?;
    put(serde_json::to_vec(&Line::EventIds(recent)))?;
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

/// The key of an event's client id, if it has one.
pub(super) fn event_key(entry: &Entry) -> Option<u64> {
    match entry {
        Entry::Event { event } => event.event_id.as_deref().map(RecentIds::key),
        _ => None,
    }
}
