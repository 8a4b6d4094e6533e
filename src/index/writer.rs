//! The single writer thread: applies catalog operations in order and commits them in groups.
//!
//! Each turn of the loop takes every operation waiting in the mailbox (up to a cap) and applies
//! them to the tantivy writer. When anyone in the turn waits for an answer (a commit, patch,
//! delete or replace), the turn ends with one commit and a reader reload, then answers them
//! all: a request is answered only after its changes are fsync'd and searchable, and one
//! fsync serves every request waiting at that moment (group commit). Batches of a streaming
//! upload need no answer, so they are applied without a commit until the upload's own commit.
//!
//! Writes not yet committed are invisible to the reader; an overlay of their ids lets deletes
//! see them, and a patch of such a product commits first so it reads the latest version.

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use tantivy::query::AllQuery;
use tantivy::{IndexReader, IndexWriter, Term};
use tokio::sync::{mpsc, oneshot};

use super::{DeleteReport, Fields, ReplaceReport, lookup};
use crate::catalog::{Product, apply_patch};
use crate::error::{Error, Result};

/// Tuning of the writer.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Indexing threads tantivy uses.
    pub threads: NonZeroUsize,
    /// Memory budget of the tantivy writer, in bytes (at least 15 MB per thread).
    pub heap_bytes: usize,
    /// Capacity of the writer's mailbox, in operations (each upsert carries a batch).
    pub queue: usize,
    /// The store's languages: products are analysed in theirs.
    pub languages: crate::text::Languages,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            threads: NonZeroUsize::MIN,
            heap_bytes: 64 << 20,
            queue: 64,
            languages: crate::text::Languages::default(),
        }
    }
}

/// An operation for the writer thread.
pub enum Op {
    /// Upsert products; made durable by a later commit.
    Upsert(Vec<Product>),
    /// Commit everything so far; answered with the new generation, or an error when a
    /// rollback happened after `since_rollbacks` (earlier upserts of the caller may be lost).
    Commit {
        /// The rollback count when the caller started writing.
        since_rollbacks: u64,
        /// Where the generation goes once durable.
        reply: oneshot::Sender<Result<u64>>,
    },
    /// Patch one product.
    Patch {
        /// Product id.
        id: String,
        /// RFC 7396 merge patch.
        patch: Value,
        /// Where the patched product goes once durable.
        reply: oneshot::Sender<Result<Product>>,
    },
    /// Delete products by id.
    Delete {
        /// Product ids.
        ids: Vec<String>,
        /// Where the report goes once durable.
        reply: oneshot::Sender<Result<DeleteReport>>,
    },
    /// Replace the catalog with the products in a staging file.
    ReplaceAll {
        /// Staging file, one canonical product per line.
        file: PathBuf,
        /// Where the report goes once durable.
        reply: oneshot::Sender<Result<ReplaceReport>>,
    },
}

/// An answer owed once the turn's commit is done.
enum Pending {
    /// A commit, with the rollback count when its writer started.
    Commit(oneshot::Sender<Result<u64>>, u64),
    Patch(oneshot::Sender<Result<Product>>, Box<Result<Product>>),
    Delete(oneshot::Sender<Result<DeleteReport>>, Result<DeleteReport>),
    Replace(
        oneshot::Sender<Result<ReplaceReport>>,
        Result<ReplaceReport>,
    ),
}

/// Most operations taken in one turn, so waiting requests are answered even under a flood.
const MAX_OPS_PER_TURN: usize = 256;

/// The state of the writer thread.
pub struct Writer {
    writer: IndexWriter,
    reader: IndexReader,
    fields: Fields,
    generation: Arc<AtomicU64>,
    /// Ids written (true) or deleted (false) since the last commit.
    overlay: HashMap<String, bool>,
    /// Whether the catalog was replaced since the last commit (the reader's ids are all gone).
    cleared: bool,
    dirty: bool,
    /// Set when an operation failed half-applied: the turn is rolled back, not committed.
    poisoned: bool,
    /// Number of rollbacks so far, shared with [`super::ProductIndex`] for write tickets.
    rollbacks: Arc<AtomicU64>,
    /// Analyzers of the products' languages.
    analyzers: crate::text::Analyzers,
}

impl Writer {
    /// Wraps a tantivy writer.
    pub fn new(
        writer: IndexWriter,
        reader: IndexReader,
        fields: Fields,
        generation: Arc<AtomicU64>,
        rollbacks: Arc<AtomicU64>,
        languages: crate::text::Languages,
    ) -> Writer {
        Writer {
            writer,
            reader,
            fields,
            generation,
            overlay: HashMap::new(),
            cleared: false,
            dirty: false,
            poisoned: false,
            rollbacks,
            analyzers: crate::text::Analyzers::new(languages),
        }
    }

    /// Runs until the mailbox is closed and drained, then commits what is pending.
    pub fn run(mut self, mut mailbox: mpsc::Receiver<Op>) {
        while let Some(first) = mailbox.blocking_recv() {
            let mut pending = Vec::new();
            let mut next = Some(first);
            let mut taken = 0;
            while let Some(op) = next.take() {
                self.apply(op, &mut pending);
                taken += 1;
                if taken < MAX_OPS_PER_TURN {
                    next = mailbox.try_recv().ok();
                }
            }
            self.finish_turn(pending);
        }
        if self.dirty
            && let Err(e) = self.commit()
        {
            tracing::error!(error = %e, "final commit failed");
        }
        tracing::info!("index writer stopped");
    }

    fn apply(&mut self, op: Op, pending: &mut Vec<Pending>) {
        match op {
            Op::Upsert(products) => {
                for product in products {
                    self.upsert(product);
                }
            }
            Op::Commit {
                since_rollbacks,
                reply,
            } => pending.push(Pending::Commit(reply, since_rollbacks)),
            Op::Patch { id, patch, reply } => {
                let result = self.patch(&id, patch);
                pending.push(Pending::Patch(reply, Box::new(result)));
            }
            Op::Delete { ids, reply } => {
                let result = self.delete(ids);
                pending.push(Pending::Delete(reply, result));
            }
            Op::ReplaceAll { file, reply } => {
                let result = self.replace_all(&file);
                pending.push(Pending::Replace(reply, result));
            }
        }
    }

    fn upsert(&mut self, product: Product) {
        self.writer
            .delete_term(Term::from_field_text(self.fields.id, &product.id));
        let doc = self.fields.document(&product, &mut self.analyzers);
        if let Err(e) = self.writer.add_document(doc) {
            tracing::error!(error = %e, "cannot add a document");
        }
        self.overlay.insert(product.id, true);
        self.dirty = true;
    }

    fn exists(&self, id: &str) -> Result<bool> {
        match self.overlay.get(id) {
            Some(written) => Ok(*written),
            None if self.cleared => Ok(false),
            None => Ok(lookup(&self.reader.searcher(), &self.fields, id)?.is_some()),
        }
    }

    fn patch(&mut self, id: &str, patch: Value) -> Result<Product> {
        if self.overlay.get(id) == Some(&true) {
            // The latest version is not in the reader yet: commit so it can be read.
            if let Err(e) = self.commit() {
                self.poisoned = true;
                return Err(e);
            }
        } else if !self.exists(id)? {
            return Err(Error::UnknownProduct(id.to_string()));
        }
        let current = lookup(&self.reader.searcher(), &self.fields, id)?
            .ok_or_else(|| Error::UnknownProduct(id.to_string()))?;
        let patched = apply_patch(&current, patch)?;
        self.upsert(patched.clone());
        Ok(patched)
    }

    fn delete(&mut self, ids: Vec<String>) -> Result<DeleteReport> {
        let mut report = DeleteReport::default();
        for id in ids {
            if !self.exists(&id)? {
                report.not_found.push(id);
                continue;
            }
            self.writer
                .delete_term(Term::from_field_text(self.fields.id, &id));
            self.overlay.insert(id, false);
            report.deleted += 1;
            self.dirty = true;
        }
        Ok(report)
    }

    /// Two passes over the staging file: validate all of it, then apply. A staged file that
    /// cannot be read fails before anything is deleted; a failure while applying poisons the
    /// turn so that the partial replace is rolled back, never committed.
    fn replace_all(&mut self, file: &PathBuf) -> Result<ReplaceReport> {
        let mut staged: HashSet<String> = HashSet::new();
        for_each_staged(file, |product| {
            staged.insert(product.id);
        })?;
        let old_ids = self.existing_ids()?;
        let kept = old_ids.iter().filter(|id| staged.contains(*id)).count() as u64;
        let removed = old_ids.len() as u64 - kept;
        self.writer.delete_query(Box::new(AllQuery))?;
        self.overlay.clear();
        self.cleared = true;
        self.dirty = true;
        let applied = for_each_staged(file, |product| self.upsert(product));
        if let Err(e) = applied {
            self.poisoned = true;
            return Err(e);
        }
        Ok(ReplaceReport {
            products: staged.len() as u64,
            removed,
        })
    }

    fn existing_ids(&self) -> Result<Vec<String>> {
        let searcher = self.reader.searcher();
        let mut ids = Vec::with_capacity(searcher.num_docs() as usize);
        for segment in searcher.segment_readers() {
            let inverted = segment.inverted_index(self.fields.id)?;
            let mut terms = inverted
                .terms()
                .stream()
                .map_err(|e| Error::Internal(format!("cannot read the id terms: {e}")))?;
            while terms.advance() {
                // A term may only belong to deleted docs; check liveness through postings.
                if let Ok(id) = std::str::from_utf8(terms.key())
                    && segment_has_live(segment, &inverted, terms.value())
                {
                    ids.push(id.to_string());
                }
            }
        }
        Ok(ids)
    }

    /// Commits when someone waits and answers everyone of the turn.
    fn finish_turn(&mut self, pending: Vec<Pending>) {
        if pending.is_empty() && !self.poisoned {
            return;
        }
        let outcome = if self.poisoned {
            self.rollback();
            self.poisoned = false;
            Err(Error::Internal(
                "an operation failed half-applied; rolled back".into(),
            ))
        } else {
            self.commit()
        };
        let rollbacks = self.rollbacks.load(Ordering::Acquire);
        for owed in pending {
            answer(owed, &outcome, rollbacks);
        }
    }

    fn commit(&mut self) -> Result<u64> {
        let result = self
            .writer
            .commit()
            .map_err(Error::from)
            .and_then(|opstamp| {
                self.reader.reload()?;
                Ok(opstamp)
            });
        self.forget_uncommitted();
        match result {
            Ok(opstamp) => {
                self.generation.store(opstamp, Ordering::Release);
                Ok(opstamp)
            }
            Err(e) => {
                tracing::error!(error = %e, "commit failed; rolling back this turn");
                self.rollback();
                Err(e)
            }
        }
    }

    /// After a commit or a rollback the reader is the truth again.
    fn forget_uncommitted(&mut self) {
        self.overlay.clear();
        self.cleared = false;
        self.dirty = false;
    }

    fn rollback(&mut self) {
        self.forget_uncommitted();
        self.rollbacks.fetch_add(1, Ordering::AcqRel);
        if let Err(e) = self.writer.rollback() {
            tracing::error!(error = %e, "rollback failed");
        }
    }
}

/// Calls `f` with every product of a staging file, in order.
fn for_each_staged(file: &PathBuf, mut f: impl FnMut(Product)) -> Result<()> {
    let reader = std::fs::File::open(file).map_err(|e| Error::io(file, e))?;
    for line in std::io::BufReader::new(reader).lines() {
        let line = line.map_err(|e| Error::io(file, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(&line)
            .map_err(|e| Error::Internal(format!("corrupt staging line: {e}")))?;
        let product = Product::from_json(value)
            .map_err(|e| Error::Internal(format!("invalid staged product: {e}")))?;
        f(product);
    }
    Ok(())
}

fn segment_has_live(
    segment: &tantivy::SegmentReader,
    inverted: &tantivy::InvertedIndexReader,
    info: &tantivy::postings::TermInfo,
) -> bool {
    use tantivy::DocSet;
    let Ok(mut postings) =
        inverted.read_postings_from_terminfo(info, tantivy::schema::IndexRecordOption::Basic)
    else {
        return false;
    };
    let mut doc = postings.doc();
    while doc != tantivy::TERMINATED {
        if segment.alive_bitset().is_none_or(|bits| bits.is_alive(doc)) {
            return true;
        }
        doc = postings.advance();
    }
    false
}

/// Answers one request of a turn. A commit whose writer saw a rollback since it started
/// fails even if this turn's commit worked: some of its earlier batches were discarded.
fn answer(owed: Pending, outcome: &Result<u64>, rollbacks: u64) {
    let failure = |e: &Error| Error::Internal(format!("commit failed: {e}"));
    match owed {
        Pending::Commit(tx, since) => {
            let result = if since != rollbacks {
                Err(Error::Internal(
                    "a failed commit rolled back part of this write".into(),
                ))
            } else {
                outcome.as_ref().map(|g| *g).map_err(failure)
            };
            let _ = tx.send(result);
        }
        Pending::Patch(tx, r) => {
            let _ = tx.send(outcome.as_ref().map_err(failure).and(*r));
        }
        Pending::Delete(tx, r) => {
            let _ = tx.send(outcome.as_ref().map_err(failure).and(r));
        }
        Pending::Replace(tx, r) => {
            let _ = tx.send(outcome.as_ref().map_err(failure).and(r));
        }
    }
}
