//! Bulk loading from files (the `import` command) and the embedded demo store.
//!
//! Both go through [`crate::engine::Ingest`], the same path as `POST /v1/products`, so a file
//! is validated and reported exactly as an upload would be.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use flate2::read::GzDecoder;

use crate::engine::{BodyFormat, BodySplitter, Engine, IngestReport};
use crate::error::{Error, Result};

/// The demo catalog compiled into the binary (see `fixtures/README.md`).
pub const DEMO_CATALOG: &[u8] = include_bytes!("../fixtures/demo_catalog.ndjson.gz");

/// Bytes read per chunk.
const CHUNK: usize = 256 << 10;

/// Reads a product file: NDJSON (`.ndjson`, `.jsonl`) or a JSON array (`.json`), optionally
/// gzip-compressed (`.gz`). `progress` is called with the bytes read so far.
pub async fn import_file(
    engine: &Arc<Engine>,
    path: &Path,
    progress: impl FnMut(u64),
) -> Result<IngestReport> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let name = path.to_string_lossy().to_ascii_lowercase();
    let stem = name.strip_suffix(".gz").unwrap_or(&name);
    let format = if stem.ends_with(".json") {
        BodyFormat::JsonArray
    } else {
        BodyFormat::Ndjson
    };
    let reader: Box<dyn Read + Send> = if name.ends_with(".gz") {
        Box::new(GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    import(engine, reader, format, progress).await
}

/// Streams products from a reader into the catalog and waits until they are durable.
pub async fn import(
    engine: &Arc<Engine>,
    mut reader: impl Read,
    format: BodyFormat,
    mut progress: impl FnMut(u64),
) -> Result<IngestReport> {
    let mut ingest = engine.ingest(None)?;
    let mut splitter = BodySplitter::new(format);
    let mut buf = vec![0u8; CHUNK];
    let mut items = Vec::new();
    let mut total = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| Error::Malformed(format!("cannot read the input: {e}")))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        splitter.feed(&buf[..n], &mut items);
        ingest.push(std::mem::take(&mut items)).await?;
        progress(total);
    }
    splitter.finish(&mut items);
    ingest.push(items).await?;
    ingest.finish().await
}

/// Loads the embedded demo catalog when the catalog is empty; returns what was loaded.
pub async fn seed_demo(engine: &Arc<Engine>) -> Result<Option<IngestReport>> {
    if !engine.index().is_empty() {
        return Ok(None);
    }
    let report = import(
        engine,
        GzDecoder::new(DEMO_CATALOG),
        BodyFormat::Ndjson,
        |_| {},
    )
    .await?;
    Ok(Some(report))
}

/// Example requests printed by `attune demo`.
pub fn example_requests(base: &str) -> String {
    [
        format!("curl '{base}/v1/search?q=water+bottle&limit=3'"),
        format!("curl '{base}/v1/search?q=shoes&facets=category,brand,price&price_max=50'"),
        format!("curl '{base}/v1/search?category=Home+%26+Kitchen&sort=price_asc&limit=5'"),
        format!("curl '{base}/v1/search?q=led+light&explain=true&limit=2'"),
        format!("curl '{base}/v1/products/B07CXG6C9W'"),
        format!("curl '{base}/health'"),
    ]
    .join("\n")
}
