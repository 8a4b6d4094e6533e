//! Watching the configuration file and its included rule files: a change reloads the
//! configuration ([`Engine::reload`]) after the writes settle.
//!
//! The directories holding the files are watched rather than the files, because editors save
//! by writing a new file and renaming it over the old one (a watch on the old file would go
//! quiet). Events are debounced: an editor's save is several events, and a `git pull` touches
//! several files; the reload waits until none has come for [`SETTLE`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::engine::Engine;

/// Quiet time after the last change before reloading.
pub const SETTLE: Duration = Duration::from_millis(300);

/// Watches until the task is dropped; a no-op when the server has no configuration file.
pub async fn watch_config(engine: Arc<Engine>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let mut watched = BTreeSet::new();
    let mut watcher = None;
    loop {
        let dirs = directories(&engine.config().version.files);
        if dirs != watched || watcher.is_none() {
            watcher = start(&dirs, tx.clone());
            watched = dirs;
        }
        if watcher.is_none() || rx.recv().await.is_none() {
            return;
        }
        // Debounce: wait until the changes stop.
        while let Ok(Some(())) = tokio::time::timeout(SETTLE, rx.recv()).await {}
        match engine.reload().await {
            Ok(report) => tracing::debug!(?report, "configuration file changed"),
            Err(e) => tracing::warn!(error = %e, "configuration file changed but was rejected"),
        }
    }
}

/// The directories of the files, which are watched for changes to `.toml` files.
fn directories(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    files
        .iter()
        .map(|f| match f.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        })
        .collect()
}

fn start(
    dirs: &BTreeSet<PathBuf>,
    tx: mpsc::UnboundedSender<()>,
) -> Option<notify::RecommendedWatcher> {
    let handler = move |event: notify::Result<notify::Event>| {
        let relevant =
            event.is_ok_and(|e| !e.kind.is_access() && e.paths.iter().any(|p| is_toml(p)));
        if relevant {
            let _ = tx.send(());
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the configuration; use POST /v1/admin/reload");
            return None;
        }
    };
    for dir in dirs {
        if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
            tracing::warn!(error = %e, dir = %dir.display(), "cannot watch a configuration directory");
        }
    }
    Some(watcher)
}

fn is_toml(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "toml")
}
