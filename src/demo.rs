//! Bulk loading from files (the `import` command) and the embedded demo store.
//!
//! Both go through [`crate::engine::Ingest`], the same path as `POST /v1/products`, so a file
//! is validated and reported exactly as an upload would be.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use flate2::read::GzDecoder;

use crate::engine::{BodyFormat, BodySplitter, Engine, EventReport, IngestReport, ItemSink};
use crate::error::{Error, Result};

/// The demo catalog compiled into the binary (see `fixtures/README.md`).
pub const DEMO_CATALOG: &[u8] = include_bytes!("../fixtures/demo_catalog.ndjson.gz");

/// Sample shopper events loaded with the demo catalog (see `fixtures/README.md`).
pub const DEMO_EVENTS: &[u8] = include_bytes!("../fixtures/demo_events.ndjson");

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
    reader: impl Read,
    format: BodyFormat,
    progress: impl FnMut(u64),
) -> Result<IngestReport> {
    let mut ingest = engine.ingest(None)?;
    feed(reader, format, &mut ingest, progress).await?;
    ingest.finish().await
}

/// Records NDJSON events from a reader (offline evaluations and the demo).
pub async fn import_events(engine: &Arc<Engine>, reader: impl Read) -> Result<EventReport> {
    let mut events = engine.events(BodyFormat::Ndjson);
    feed(reader, BodyFormat::Ndjson, &mut events, |_| {}).await?;
    events.finish().await
}

/// Reads items from `reader` chunk by chunk into `sink`; `progress` gets the bytes read.
async fn feed(
    mut reader: impl Read,
    format: BodyFormat,
    sink: &mut impl ItemSink,
    mut progress: impl FnMut(u64),
) -> Result<()> {
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
        sink.push(std::mem::take(&mut items)).await?;
        progress(total);
    }
    splitter.finish(&mut items);
    sink.push(items).await
}

/// What seeding the demo store loaded.
#[derive(Debug)]
pub struct Seeded {
    /// The catalog.
    pub products: IngestReport,
    /// The sample events.
    pub events: EventReport,
}

/// Loads the embedded demo catalog and sample events when the catalog is empty.
pub async fn seed_demo(engine: &Arc<Engine>) -> Result<Option<Seeded>> {
    if !engine.index().is_empty() {
        return Ok(None);
    }
    let catalog = GzDecoder::new(DEMO_CATALOG);
    let products = import(engine, catalog, BodyFormat::Ndjson, |_| {}).await?;
    let events = import_events(engine, DEMO_EVENTS).await?;
    Ok(Some(Seeded { products, events }))
}

/// Example requests printed by `attune demo`.
pub fn example_requests(base: &str) -> String {
    [
        format!("curl '{base}/v1/search?q=water+bottle&limit=3'"),
        format!("curl '{base}/v1/search?q=shoes&facets=category,brand,price&price_max=50'"),
        format!("curl '{base}/v1/search?q=runni&highlight=true&fields=title,price,in_stock,_highlight&hits_per_page=3&page=1'"),
        format!("curl '{base}/v1/search?category=Home+%26+Kitchen&sort=price_asc&limit=5'"),
        format!("curl '{base}/v1/search?q=led+light&explain=true&limit=2'"),
        // One ambiguous query, two personas: the cook's kitchen bowls, the pet owner's dog bowls.
        format!("curl '{base}/v1/search?q=bowl&visitor_id=demo-cook&fields=title,category&limit=3'"),
        format!("curl '{base}/v1/search?q=bowl&visitor_id=demo-pets&fields=title,category&limit=3'"),
        format!("curl '{base}/v1/browse?category=Home+%26+Kitchen&visitor_id=demo-cook&facets=tier&limit=3'"),
        format!("curl '{base}/v1/autocomplete?q=wat'"),
        format!("curl '{base}/v1/recommendations?type=similar&product_id=B08FXD5SNC&visitor_id=demo-cook&limit=3'"),
        format!("curl '{base}/v1/recommendations?type=recently_viewed&visitor_id=demo-cook&limit=3'"),
        format!("curl '{base}/v1/recommendations?type=trending&category=Home+%26+Kitchen&limit=3'"),
        format!(
            "curl -X POST '{base}/v1/multi-search' -H 'content-type: application/json' -d '{{\"queries\":[{{\"q\":\"mug\",\"limit\":2}},{{\"q\":\"knife\",\"limit\":2}}]}}'"
        ),
        format!("curl '{base}/v1/visitors/demo-cook'"),
        format!(
            "curl -X POST '{base}/v1/events' -H 'content-type: application/json' -d '{{\"type\":\"view\",\"visitor_id\":\"me\",\"product_id\":\"B08FXD5SNC\"}}'"
        ),
        format!("curl '{base}/health'"),
    ]
    .join("\n")
}
