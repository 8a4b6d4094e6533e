//! The product index on disk: schema, the single writer, and readers.
//!
//! [`ProductIndex`] owns a tantivy index in a directory. Reads go through a [`Searcher`]
//! snapshot and never wait on writes. All writes go through one writer thread behind a
//! bounded channel ([`writer`]): it applies operations in arrival order, commits them in
//! groups (one fsync'd tantivy commit serves every request waiting at that moment), reloads
//! the reader and only then answers, so an acknowledged write is both durable and visible.

pub mod schema;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::TermQuery;
use tantivy::schema::{Field, IndexRecordOption, Value as _};
use tantivy::{
    DocAddress, Index, IndexReader, IndexSettings, ReloadPolicy, Searcher, TantivyDocument, Term,
};
use tokio::sync::{mpsc, oneshot};

pub use schema::Fields;
use writer::{Op, WriterConfig};

use crate::catalog::Product;
use crate::error::{Error, Result};
use crate::mailbox::Mailbox;

/// Size of a compressed block of the document store. Reading one product decompresses its
/// whole block, so blocks much larger than a product (tantivy's default is 16 KiB) make
/// reading one product (and tantivy's own document reads) slow. Search hits are read from
/// memory instead (the search layer keeps them, filled by a warmer).
const DOCSTORE_BLOCK_BYTES: usize = 4096;

/// Decompressed blocks cached per segment, for reads of whole products: popular products
/// stay decompressed. At most the whole store decompressed (tens of MB for 46k products),
/// and only as much of it as is read.
const DOCSTORE_CACHE_BLOCKS: usize = 8000;

/// Counts of a bulk delete.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct DeleteReport {
    /// How many of the ids existed and were deleted.
    pub deleted: usize,
    /// Ids that were not in the catalog.
    pub not_found: Vec<String>,
}

/// What a replace-all (sync commit) did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct ReplaceReport {
    /// Products in the catalog after the replace.
    pub products: u64,
    /// Products that were in the catalog before and are gone now.
    pub removed: u64,
}

/// Marks the start of a multi-batch write, so its commit can tell whether a rollback in
/// between dropped some of its batches.
#[derive(Debug, Clone, Copy)]
pub struct WriteTicket(u64);

/// The product index: a tantivy index, its reader and the writer thread's mailbox.
pub struct ProductIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    ops: Mailbox<Op>,
    generation: Arc<AtomicU64>,
    rollbacks: Arc<AtomicU64>,
    writer_thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl ProductIndex {
    /// Opens the index in `dir`, creating it when absent, and starts the writer thread.
    pub fn open(dir: &Path, config: WriterConfig) -> Result<ProductIndex> {
        ProductIndex::open_with_warmers(dir, config, Vec::new())
    }

    /// Opens the index with warmers: each new snapshot the writer's commits bring in is
    /// handed to them before it is searched (the layers above derive their state from
    /// snapshots this way, and the index needs to know nothing of it). The caller keeps
    /// the warmers alive.
    pub fn open_with_warmers(
        dir: &Path,
        config: WriterConfig,
        warmers: Vec<std::sync::Weak<dyn tantivy::Warmer>>,
    ) -> Result<ProductIndex> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let (schema, fields) = Fields::build();
        let directory = MmapDirectory::open(dir)
            .map_err(|e| Error::Internal(format!("cannot open index directory: {e}")))?;
        let settings = IndexSettings {
            docstore_blocksize: DOCSTORE_BLOCK_BYTES,
            ..IndexSettings::default()
        };
        let index = Index::builder()
            .schema(schema)
            .settings(settings)
            .open_or_create(directory)?;
        crate::text::register(&index, config.languages.default_lang());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .doc_store_cache_num_blocks(DOCSTORE_CACHE_BLOCKS)
            .warmers(warmers)
            .try_into()?;
        let tantivy_writer =
            index.writer_with_num_threads(config.threads.get(), config.heap_bytes)?;
        let generation = Arc::new(AtomicU64::new(tantivy_writer.commit_opstamp()));
        let rollbacks = Arc::new(AtomicU64::new(0));
        let (ops, mailbox) = mpsc::channel(config.queue);
        let worker = writer::Writer::new(
            tantivy_writer,
            reader.clone(),
            fields.clone(),
            generation.clone(),
            rollbacks.clone(),
            config.languages,
        );
        let handle = std::thread::Builder::new()
            .name("attune-writer".into())
            .spawn(move || worker.run(mailbox))
            .map_err(|e| Error::Internal(format!("cannot start the writer thread: {e}")))?;
        Ok(ProductIndex {
            index,
            reader,
            fields,
            ops: Mailbox::new(ops),
            generation,
            rollbacks,
            writer_thread: std::sync::Mutex::new(Some(handle)),
        })
    }

    /// A consistent snapshot for reading.
    pub fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    /// The schema's field handles.
    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    /// The tantivy index (for query building).
    pub fn tantivy(&self) -> &Index {
        &self.index
    }

    /// The opstamp of the last commit: grows with every committed change.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Number of products searchable now.
    pub fn len(&self) -> u64 {
        self.searcher().num_docs()
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads one product from the last committed state.
    pub fn get(&self, id: &str) -> Result<Option<Product>> {
        lookup(&self.searcher(), &self.fields, id)
    }

    /// Starts a multi-batch write: pass the ticket to [`ProductIndex::commit`].
    pub fn begin(&self) -> WriteTicket {
        WriteTicket(self.rollbacks.load(Ordering::Acquire))
    }

    /// Queues products for upsert; they become durable at the next [`ProductIndex::commit`].
    pub async fn upsert(&self, products: Vec<Product>) -> Result<()> {
        self.send(Op::Upsert(products)).await
    }

    /// Commits everything queued so far; returns the new generation once durable and
    /// visible. Fails when a rollback since `ticket` may have dropped the caller's upserts.
    pub async fn commit(&self, ticket: WriteTicket) -> Result<u64> {
        self.call(|reply| Op::Commit {
            since_rollbacks: ticket.0,
            reply,
        })
        .await?
    }

    /// Applies a JSON merge patch to a product, durably.
    pub async fn patch(&self, id: String, patch: Value) -> Result<Product> {
        self.call(|reply| Op::Patch { id, patch, reply }).await?
    }

    /// Deletes products by id, durably.
    pub async fn delete(&self, ids: Vec<String>) -> Result<DeleteReport> {
        self.call(|reply| Op::Delete { ids, reply }).await?
    }

    /// Replaces the whole catalog with the products staged in `file` (one canonical JSON
    /// product per line) in a single commit.
    pub async fn replace_all(&self, file: PathBuf) -> Result<ReplaceReport> {
        self.call(|reply| Op::ReplaceAll { file, reply }).await?
    }

    /// Commits what is pending and stops the writer thread; later writes fail.
    pub fn close(&self) {
        let handle = self.writer_thread.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            self.ops.close();
            let _ = handle.join();
        }
    }

    async fn send(&self, op: Op) -> Result<()> {
        self.ops.send(op).await
    }

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Op) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.send(make(tx)).await?;
        rx.await.map_err(|_| Error::WriterGone)
    }
}

impl Drop for ProductIndex {
    fn drop(&mut self) {
        self.close();
    }
}

/// Finds a product by id in a searcher snapshot.
pub fn lookup(searcher: &Searcher, fields: &Fields, id: &str) -> Result<Option<Product>> {
    let query = TermQuery::new(
        Term::from_field_text(fields.id, id),
        IndexRecordOption::Basic,
    );
    let hits = searcher.search(&query, &TopDocs::with_limit(1).order_by_score())?;
    match hits.first() {
        Some((_, address)) => load(searcher, fields, *address).map(Some),
        None => Ok(None),
    }
}

/// Loads the stored canonical JSON of a document.
pub fn load_source(searcher: &Searcher, fields: &Fields, address: DocAddress) -> Result<Value> {
    let doc: TantivyDocument = searcher.doc(address)?;
    parse_stored(&doc, fields.source)
}

/// Parses the JSON stored in a bytes field of a document.
pub fn parse_stored<'d, T: serde::Deserialize<'d>>(
    doc: &'d TantivyDocument,
    field: Field,
) -> Result<T> {
    let bytes = doc
        .get_first(field)
        .and_then(|v| v.as_bytes())
        .ok_or_else(|| Error::Internal("document without a stored field".into()))?;
    serde_json::from_slice(bytes).map_err(|e| Error::Internal(format!("corrupt stored JSON: {e}")))
}

/// Loads and validates a stored product.
pub fn load(searcher: &Searcher, fields: &Fields, address: DocAddress) -> Result<Product> {
    Product::from_json(load_source(searcher, fields, address)?)
        .map_err(|e| Error::Internal(format!("stored product fails validation: {e}")))
}

#[cfg(test)]
impl ProductIndex {
    /// Writes `products` in one commit, on a runtime of its own: for synchronous tests.
    pub fn commit_now(&self, products: Vec<Product>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let ticket = self.begin();
            self.upsert(products).await.unwrap();
            self.commit(ticket).await.unwrap();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn product(id: &str, title: &str) -> Product {
        Product::from_json(json!({"id": id, "title": title})).unwrap()
    }

    fn open(dir: &Path) -> ProductIndex {
        ProductIndex::open(dir, WriterConfig::default()).unwrap()
    }

    /// An index holding one committed product `old`, and a staging file path beside it.
    async fn with_old_product(dir: &Path) -> (ProductIndex, PathBuf) {
        let index = open(&dir.join("idx"));
        let ticket = index.begin();
        index.upsert(vec![product("old", "Old")]).await.unwrap();
        index.commit(ticket).await.unwrap();
        (index, dir.join("staged.ndjson"))
    }

    #[tokio::test]
    async fn uncommitted_batches_are_invisible_until_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let index = open(dir.path());
        let ticket = index.begin();
        index.upsert(vec![product("a", "A")]).await.unwrap();
        // Nothing waits for an answer, so nothing is committed yet.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(index.get("a").unwrap().is_none());
        let generation = index.commit(ticket).await.unwrap();
        assert!(generation > 0);
        assert_eq!(index.get("a").unwrap().unwrap().title, "A");
    }

    /// Regression: closing used to send a stop message with `try_send`, which is lost when the
    /// queue is full, leaving `close` waiting forever. Closing now ends the channel; the
    /// writer drains it and commits what it applied.
    #[tokio::test]
    async fn closing_commits_every_queued_batch_even_with_a_one_slot_queue() {
        let dir = tempfile::tempdir().unwrap();
        let config = WriterConfig {
            queue: 1,
            ..WriterConfig::default()
        };
        let index = std::sync::Arc::new(ProductIndex::open(dir.path(), config.clone()).unwrap());
        for i in 0..20 {
            index
                .upsert(vec![product(&format!("p{i}"), "T")])
                .await
                .unwrap();
        }
        let closing = index.clone();
        tokio::task::spawn_blocking(move || closing.close())
            .await
            .unwrap();
        assert!(matches!(
            index.upsert(vec![product("late", "T")]).await,
            Err(Error::WriterGone)
        ));
        drop(index);
        let reopened = ProductIndex::open(dir.path(), config).unwrap();
        assert_eq!(reopened.len(), 20);
    }

    #[tokio::test]
    async fn a_patch_reads_the_latest_uncommitted_version() {
        let dir = tempfile::tempdir().unwrap();
        let index = open(dir.path());
        index.upsert(vec![product("a", "First")]).await.unwrap();
        index.upsert(vec![product("a", "Second")]).await.unwrap();
        let patched = index.patch("a".into(), json!({"price": 5})).await.unwrap();
        assert_eq!(patched.title, "Second");
        assert_eq!(index.get("a").unwrap().unwrap().price, Some(5.0));
    }

    #[tokio::test]
    async fn deletes_see_uncommitted_writes_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let index = open(dir.path());
        index
            .upsert(vec![product("a", "A"), product("b", "B")])
            .await
            .unwrap();
        let report = index.delete(vec!["a".into(), "zzz".into()]).await.unwrap();
        assert_eq!(report.deleted, 1);
        assert_eq!(report.not_found, vec!["zzz"]);
        let again = index.delete(vec!["a".into()]).await.unwrap();
        assert_eq!(again.not_found, vec!["a"]);
        assert_eq!(index.len(), 1);
    }

    #[tokio::test]
    async fn after_a_replace_only_the_staged_products_exist() {
        let dir = tempfile::tempdir().unwrap();
        let (index, staged) = with_old_product(dir.path()).await;
        std::fs::write(&staged, "{\"id\":\"new\",\"title\":\"New\"}\n").unwrap();
        let report = index.replace_all(staged).await.unwrap();
        assert_eq!(
            report,
            ReplaceReport {
                products: 1,
                removed: 1
            }
        );
        let report = index
            .delete(vec!["old".into(), "new".into()])
            .await
            .unwrap();
        assert_eq!(report.not_found, vec!["old"]);
        assert_eq!(index.len(), 0);
    }

    #[tokio::test]
    async fn a_corrupt_staging_file_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (index, staged) = with_old_product(dir.path()).await;
        std::fs::write(&staged, "{\"id\":\"new\",\"title\":\"New\"}\n{broken\n").unwrap();
        assert!(index.replace_all(staged).await.is_err());
        assert!(index.get("old").unwrap().is_some());
        assert!(index.get("new").unwrap().is_none());
    }
}
