//! Full catalog syncs with replace semantics.
//!
//! A sync job opens a sync, pushes its batches, then commits. Pushed products are validated
//! and appended to a staging file in the data directory (fsync'd before the push is
//! answered), so searches keep seeing the old catalog until the commit, which replaces the
//! whole catalog in one index commit. A sync with no activity for its time-to-live expires:
//! its staging file is removed and the catalog is untouched. Open syncs survive a restart.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::Product;
use crate::durable::sync_dir;
use crate::error::{Error, Result};

/// What a client learns about an open sync.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SyncInfo {
    /// The sync's id, to pass as `sync_id`.
    pub sync_id: String,
    /// Products staged so far (a product pushed twice counts twice).
    pub staged: u64,
    /// Seconds of inactivity after which the sync expires.
    pub ttl_seconds: u64,
}

struct OpenSync {
    path: PathBuf,
    file: File,
    staged: u64,
    /// Bytes of whole staged lines: a failed append is cut back to it.
    len: u64,
    last_activity: SystemTime,
}

impl OpenSync {
    /// Reopens a staging file to append to it, counting what it holds. A tail that is not a
    /// whole valid product line (a crash mid-push, never acknowledged) is cut off, as the
    /// profile journal cuts a torn record: appending after it would make every commit fail.
    fn resume(path: PathBuf, last_activity: SystemTime) -> Result<OpenSync> {
        let (staged, len) = valid_prefix(&path)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let on_disk = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        if on_disk > len {
            tracing::warn!(path = %path.display(), at = len, cut = on_disk - len, "cutting a torn tail off a sync's staging file");
            file.set_len(len).map_err(|e| Error::io(&path, e))?;
            file.sync_all().map_err(|e| Error::io(&path, e))?;
        }
        Ok(OpenSync {
            path,
            file,
            staged,
            len,
            last_activity,
        })
    }
}

/// The open syncs and their staging files.
pub struct SyncManager {
    dir: PathBuf,
    ttl: Duration,
    open: Mutex<HashMap<String, Arc<Mutex<OpenSync>>>>,
}

impl SyncManager {
    /// Opens the staging directory, resuming the syncs found in it.
    pub fn open(dir: &Path, ttl: Duration) -> Result<SyncManager> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut open = HashMap::new();
        for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let path = entry.path();
            let Some(id) = staging_id(&path) else {
                continue;
            };
            let meta = entry.metadata().map_err(|e| Error::io(&path, e))?;
            let last_activity = meta.modified().unwrap_or_else(|_| SystemTime::now());
            let state = OpenSync::resume(path, last_activity)?;
            open.insert(id, Arc::new(Mutex::new(state)));
        }
        Ok(SyncManager {
            dir: dir.to_path_buf(),
            ttl,
            open: Mutex::new(open),
        })
    }

    /// Opens a new sync.
    pub fn begin(&self, now: SystemTime) -> Result<SyncInfo> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let path = self.dir.join(format!("{id}.ndjson"));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        sync_dir(&self.dir)?;
        let state = OpenSync {
            path,
            file,
            staged: 0,
            len: 0,
            last_activity: now,
        };
        self.lock().insert(id.clone(), Arc::new(Mutex::new(state)));
        Ok(self.info(&id, 0))
    }

    /// Appends validated products to a sync's staging file (buffered; see [`SyncManager::flush`]).
    pub fn stage(&self, sync_id: &str, products: &[Product], now: SystemTime) -> Result<()> {
        let sync = self.get(sync_id)?;
        let mut sync = sync.lock().map_err(|_| poisoned())?;
        let mut buf = Vec::with_capacity(products.len() * 512);
        for p in products {
            serde_json::to_writer(&mut buf, &p.to_json())
                .map_err(|e| Error::Internal(e.to_string()))?;
            buf.push(b'\n');
        }
        let path = sync.path.clone();
        if let Err(e) = sync.file.write_all(&buf) {
            // A partial line would end up in the middle of the file once the next push
            // succeeds: cut the file back to its last whole line.
            let _ = sync.file.set_len(sync.len);
            return Err(Error::io(&path, e));
        }
        sync.len += buf.len() as u64;
        sync.staged += products.len() as u64;
        sync.last_activity = now;
        Ok(())
    }

    /// Makes everything staged in a sync durable; call before acknowledging a push.
    pub fn flush(&self, sync_id: &str) -> Result<SyncInfo> {
        let sync = self.get(sync_id)?;
        let sync = sync.lock().map_err(|_| poisoned())?;
        sync.file
            .sync_data()
            .map_err(|e| Error::io(&sync.path, e))?;
        Ok(self.info(sync_id, sync.staged))
    }

    /// Fails unless the sync is open (checked before a push reads its body).
    pub fn check(&self, sync_id: &str) -> Result<()> {
        self.get(sync_id).map(|_| ())
    }

    /// Closes a sync for commit and returns its staging file; the caller replaces the
    /// catalog with it and then calls [`SyncManager::finish`] (or [`SyncManager::reopen`]).
    pub fn take(&self, sync_id: &str) -> Result<PathBuf> {
        let sync = self
            .lock()
            .remove(sync_id)
            .ok_or_else(|| Error::UnknownSync(sync_id.to_string()))?;
        let sync = sync.lock().map_err(|_| poisoned())?;
        sync.file
            .sync_data()
            .map_err(|e| Error::io(&sync.path, e))?;
        Ok(sync.path.clone())
    }

    /// Puts back a sync whose commit failed, so the job can retry the commit.
    pub fn reopen(&self, sync_id: &str, path: PathBuf, now: SystemTime) -> Result<()> {
        let state = OpenSync::resume(path, now)?;
        self.lock()
            .insert(sync_id.to_string(), Arc::new(Mutex::new(state)));
        Ok(())
    }

    /// Removes a committed sync's staging file.
    pub fn finish(&self, path: &Path) {
        if let Err(e) = std::fs::remove_file(path) {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove a staging file");
        }
    }

    /// Abandons a sync: nothing changes in the catalog.
    pub fn abort(&self, sync_id: &str) -> Result<()> {
        let path = self.take(sync_id)?;
        self.finish(&path);
        Ok(())
    }

    /// Expires syncs idle for longer than the time-to-live; returns their ids.
    pub fn expire(&self, now: SystemTime) -> Vec<String> {
        let idle: Vec<String> = self
            .lock()
            .iter()
            .filter(|(_, s)| {
                s.lock().is_ok_and(|s| {
                    now.duration_since(s.last_activity)
                        .is_ok_and(|idle| idle > self.ttl)
                })
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in &idle {
            if self.abort(id).is_ok() {
                tracing::info!(sync_id = %id, "catalog sync expired; nothing changed");
            }
        }
        idle
    }

    /// Number of open syncs.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no sync is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn info(&self, id: &str, staged: u64) -> SyncInfo {
        SyncInfo {
            sync_id: id.to_string(),
            staged,
            ttl_seconds: self.ttl.as_secs(),
        }
    }

    fn get(&self, sync_id: &str) -> Result<Arc<Mutex<OpenSync>>> {
        self.lock()
            .get(sync_id)
            .cloned()
            .ok_or_else(|| Error::UnknownSync(sync_id.to_string()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Mutex<OpenSync>>>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn poisoned() -> Error {
    Error::Internal("a sync's lock was poisoned by a panic".into())
}

fn staging_id(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let id = name.strip_suffix(".ndjson")?;
    id.chars()
        .all(|c| c.is_ascii_hexdigit())
        .then(|| id.to_string())
}

/// The whole, valid product lines at the start of a staging file: how many, and the bytes
/// they cover.
fn valid_prefix(path: &Path) -> Result<(u64, u64)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut lines = 0u64;
    let mut len = 0usize;
    while let Some(end) = bytes[len..].iter().position(|&b| b == b'\n') {
        let line = &bytes[len..len + end];
        let valid = serde_json::from_slice(line)
            .ok()
            .is_some_and(|value| Product::from_json(value).is_ok());
        if !valid {
            break;
        }
        lines += 1;
        len += end + 1;
    }
    Ok((lines, len as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn product(id: &str) -> Product {
        Product::from_json(json!({"id": id, "title": "T"})).unwrap()
    }

    #[test]
    fn an_idle_sync_expires_and_its_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let syncs = SyncManager::open(dir.path(), Duration::from_secs(60)).unwrap();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let a = syncs.begin(t0).unwrap().sync_id;
        let b = syncs.begin(t0).unwrap().sync_id;
        syncs
            .stage(&b, &[product("x")], t0 + Duration::from_secs(50))
            .unwrap();
        let expired = syncs.expire(t0 + Duration::from_secs(100));
        assert_eq!(expired, vec![a.clone()]);
        assert!(matches!(syncs.check(&a), Err(Error::UnknownSync(_))));
        assert!(syncs.check(&b).is_ok());
        assert!(!dir.path().join(format!("{a}.ndjson")).exists());
    }

    #[test]
    fn a_torn_staging_tail_is_cut_off_on_resume_and_later_pushes_append_after_it() {
        // Regression: `kill -9` mid-push left a partial line; the next push was appended to
        // it and every commit failed with "corrupt staging line".
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let syncs = SyncManager::open(dir.path(), Duration::from_secs(60)).unwrap();
            let id = syncs.begin(SystemTime::now()).unwrap().sync_id;
            syncs
                .stage(&id, &[product("a"), product("b")], SystemTime::now())
                .unwrap();
            syncs.flush(&id).unwrap();
            id
        };
        let path = dir.path().join(format!("{id}.ndjson"));
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"id":"s999","title":"torn"#).unwrap();
        drop(file);
        let syncs = SyncManager::open(dir.path(), Duration::from_secs(60)).unwrap();
        syncs
            .stage(&id, &[product("c")], SystemTime::now())
            .unwrap();
        assert_eq!(syncs.flush(&id).unwrap().staged, 3);
        let text = std::fs::read_to_string(syncs.take(&id).unwrap()).unwrap();
        let ids: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].to_string())
            .collect();
        assert_eq!(ids, ["\"a\"", "\"b\"", "\"c\""]);
    }

    #[test]
    fn a_whole_line_that_is_not_a_product_ends_what_a_resume_keeps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0badc0de.ndjson");
        std::fs::write(
            &path,
            "{\"id\":\"a\",\"title\":\"T\"}\n{\"id\":\"\"}\n{\"id\":\"c\",\"title\":\"T\"}\n",
        )
        .unwrap();
        let syncs = SyncManager::open(dir.path(), Duration::from_secs(60)).unwrap();
        assert_eq!(syncs.flush("0badc0de").unwrap().staged, 1);
    }

    #[test]
    fn open_syncs_survive_a_restart_with_their_staged_products() {
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let syncs = SyncManager::open(dir.path(), Duration::from_secs(60)).unwrap();
            let id = syncs.begin(SystemTime::now()).unwrap().sync_id;
            syncs
                .stage(&id, &[product("x"), product("y")], SystemTime::now())
                .unwrap();
            syncs.flush(&id).unwrap();
            id
        };
        let syncs = SyncManager::open(dir.path(), Duration::from_secs(60)).unwrap();
        assert_eq!(syncs.flush(&id).unwrap().staged, 2);
    }
}
