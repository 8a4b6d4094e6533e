//! The engine: the framework-free facade the HTTP layer and the CLI call.
//!
//! It owns the product index, the catalog syncs and the configuration, and runs searches on
//! the blocking pool behind a bounded queue so a burst answers "busy" instead of piling up.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::catalog::ingest::{ItemError, RawItem, parse_item};
use crate::catalog::sync::{SyncInfo, SyncManager};
use crate::catalog::{Product, ingest};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::index::writer::WriterConfig;
use crate::index::{DeleteReport, ProductIndex, ReplaceReport, WriteTicket};
use crate::search::{self, SearchRequest, SearchResponse};

/// Products per batch handed to the writer while a body streams in.
const BATCH: usize = 500;
/// Item errors listed in one answer; the `failed` count stays exact beyond it.
pub const MAX_LISTED_ERRORS: usize = 1000;

/// The outcome of one ingestion request.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct IngestReport {
    /// Items applied (or staged, in a sync).
    pub upserted: u64,
    /// Items rejected.
    pub failed: u64,
    /// Why items were rejected (at most [`MAX_LISTED_ERRORS`]).
    pub errors: Vec<ItemError>,
    /// The sync the items were staged in, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_id: Option<String>,
}

/// The engine.
pub struct Engine {
    config: Config,
    index: ProductIndex,
    syncs: Arc<SyncManager>,
    search_gate: Arc<Gate>,
}

impl Engine {
    /// Opens (or creates) the data directory named in the config.
    pub fn open(config: Config) -> Result<Arc<Engine>> {
        let data = &config.server.data_dir;
        let index = ProductIndex::open(
            &data.join("products"),
            WriterConfig {
                threads: config.index.writer_threads,
                heap_bytes: config.index.writer_heap_bytes,
                ..WriterConfig::default()
            },
        )?;
        let syncs = SyncManager::open(&data.join("syncs"), config.index.sync_ttl)?;
        let gate = Gate::new(
            config.server.search_concurrency.get(),
            config.server.search_queue,
        );
        Ok(Arc::new(Engine {
            index,
            syncs: Arc::new(syncs),
            search_gate: Arc::new(gate),
            config,
        }))
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The product index.
    pub fn index(&self) -> &ProductIndex {
        &self.index
    }

    /// Open catalog syncs.
    pub fn syncs(&self) -> &SyncManager {
        &self.syncs
    }

    /// Starts an ingestion of streamed items, into the catalog or into a sync.
    pub fn ingest(self: &Arc<Self>, sync_id: Option<String>) -> Result<Ingest> {
        if let Some(id) = &sync_id {
            self.syncs.check(id)?;
        }
        Ok(Ingest {
            engine: self.clone(),
            ticket: self.index.begin(),
            batch: Vec::with_capacity(BATCH),
            report: IngestReport {
                sync_id: sync_id.clone(),
                ..IngestReport::default()
            },
            sync_id,
        })
    }

    /// Reads one product.
    pub fn product(&self, id: &str) -> Result<Product> {
        self.index
            .get(id)?
            .ok_or_else(|| Error::UnknownProduct(id.to_string()))
    }

    /// Applies a merge patch to one product.
    pub async fn patch_product(&self, id: &str, patch: serde_json::Value) -> Result<Product> {
        self.index.patch(id.to_string(), patch).await
    }

    /// Deletes one product; unknown ids are an error.
    pub async fn delete_product(&self, id: &str) -> Result<()> {
        let report = self.index.delete(vec![id.to_string()]).await?;
        if report.deleted == 0 {
            return Err(Error::UnknownProduct(id.to_string()));
        }
        Ok(())
    }

    /// Deletes products in bulk; unknown ids are reported, not an error.
    pub async fn delete_products(&self, ids: Vec<String>) -> Result<DeleteReport> {
        self.index.delete(ids).await
    }

    /// Opens a full catalog sync.
    pub fn begin_sync(&self) -> Result<SyncInfo> {
        self.syncs.begin(SystemTime::now())
    }

    /// Replaces the catalog with what a sync staged, atomically.
    pub async fn commit_sync(&self, sync_id: &str) -> Result<ReplaceReport> {
        let path: PathBuf = self.syncs.take(sync_id)?;
        match self.index.replace_all(path.clone()).await {
            Ok(report) => {
                self.syncs.finish(&path);
                Ok(report)
            }
            Err(e) => {
                // Leave the sync open so the job can retry the commit.
                self.syncs.reopen(sync_id, path, SystemTime::now())?;
                Err(e)
            }
        }
    }

    /// Abandons a sync.
    pub fn abort_sync(&self, sync_id: &str) -> Result<()> {
        self.syncs.abort(sync_id)
    }

    /// Runs a search on the blocking pool; answers [`Error::Overloaded`] when the queue is full.
    pub async fn search(self: &Arc<Self>, req: SearchRequest) -> Result<SearchResponse> {
        let permit = self.search_gate.enter().await?;
        let engine = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            search::search(&engine.index, &engine.config.search, &req)
        })
        .await
        .map_err(|e| Error::Internal(format!("search task failed: {e}")))?
    }

    /// Commits pending writes and stops the writer (graceful shutdown).
    pub fn close(&self) {
        self.index.close();
    }
}

/// Admission to the blocking pool: `slots` run at once, at most `queue` more wait, and
/// anyone beyond that is turned away at once with [`Error::Overloaded`] (a 503), so a burst
/// cannot pile up unbounded work or memory.
pub struct Gate {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
}

impl Gate {
    /// A gate with `slots` concurrent holders and `queue` waiters.
    pub fn new(slots: usize, queue: usize) -> Gate {
        Gate {
            slots: Arc::new(Semaphore::new(slots)),
            waiting: AtomicUsize::new(0),
            queue,
        }
    }

    /// Waits for a slot, or fails at once when the queue is full.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Error::Overloaded);
        }
        let permit = self.slots.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        permit.map_err(|_| Error::Overloaded)
    }
}

/// An ingestion in progress: feed it the items of a body, then finish it.
pub struct Ingest {
    engine: Arc<Engine>,
    sync_id: Option<String>,
    ticket: WriteTicket,
    batch: Vec<Product>,
    report: IngestReport,
}

impl Ingest {
    /// Validates items and hands full batches on.
    pub async fn push(&mut self, items: Vec<RawItem>) -> Result<()> {
        for item in items {
            match parse_item(item) {
                Ok(product) => self.batch.push(product),
                Err(e) => self.reject(e),
            }
            if self.batch.len() >= BATCH {
                self.flush_batch().await?;
            }
        }
        Ok(())
    }

    /// Records a rejected item.
    pub fn reject(&mut self, error: ItemError) {
        self.report.failed += 1;
        if self.report.errors.len() < MAX_LISTED_ERRORS {
            self.report.errors.push(error);
        }
    }

    /// Applies the last batch and waits until everything accepted is durable.
    pub async fn finish(mut self) -> Result<IngestReport> {
        self.flush_batch().await?;
        match self.sync_id.clone() {
            Some(id) => {
                let syncs = self.engine.syncs.clone();
                tokio::task::spawn_blocking(move || syncs.flush(&id))
                    .await
                    .map_err(|e| Error::Internal(e.to_string()))??;
            }
            None => {
                if self.report.upserted > 0 {
                    self.engine.index.commit(self.ticket).await?;
                }
            }
        }
        Ok(self.report)
    }

    async fn flush_batch(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        let n = batch.len() as u64;
        match self.sync_id.clone() {
            Some(id) => {
                let syncs = self.engine.syncs.clone();
                tokio::task::spawn_blocking(move || syncs.stage(&id, &batch, SystemTime::now()))
                    .await
                    .map_err(|e| Error::Internal(e.to_string()))??;
            }
            None => self.engine.index.upsert(batch).await?,
        }
        self.report.upserted += n;
        Ok(())
    }
}

/// Re-exported so callers can build splitters without reaching into the catalog module.
pub use ingest::{BodyFormat, BodySplitter};

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_gate_queues_up_to_its_limit_and_turns_the_rest_away() {
        let gate = Arc::new(Gate::new(1, 1));
        let first = gate.enter().await.unwrap();
        let waiter = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.enter().await.map(|_| ()) })
        };
        while gate.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(gate.enter().await, Err(Error::Overloaded)));
        drop(first);
        assert!(waiter.await.unwrap().is_ok());
        assert!(gate.enter().await.is_ok());
    }
}
