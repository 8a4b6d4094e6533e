//! Small helpers for durable files, shared by the catalog syncs and the profile journal.

use std::fs::File;
use std::path::Path;

use crate::error::{Error, Result};

/// Makes a directory's entries (new, renamed or removed files) durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}
