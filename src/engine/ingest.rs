//! Ingestion of streamed bodies: products into the index or a sync, events into the journal.
//!
//! Both validate item by item, reject bad items with their line (counted exactly, listed up to
//! [`MAX_LISTED_ERRORS`]) and hand the good ones on in batches while the body still streams.

use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use super::{BodyFormat, Engine};
use crate::catalog::Product;
use crate::catalog::ingest::{self, ItemError, RawItem, parse_item};
use crate::error::{Error, Result};
use crate::group::Group;
use crate::index::WriteTicket;
use crate::profiles::event::Event;
use crate::profiles::{Entry, now_ms};

/// Products per batch handed to the writer while a body streams in.
const BATCH: usize = 500;
/// Item errors listed in one answer; the `failed` count stays exact beyond it.
pub const MAX_LISTED_ERRORS: usize = 1000;

/// The outcome of one ingestion request.
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
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

/// An ingestion in progress: feed it the items of a body, then finish it.
pub struct Ingest {
    engine: Arc<Engine>,
    sync_id: Option<String>,
    ticket: WriteTicket,
    batch: Vec<Product>,
    report: IngestReport,
    /// Ids written, to refresh what profiles know of them once committed.
    written: Vec<String>,
}

/// Takes the items of a streamed body, batch by batch.
pub trait ItemSink {
    /// Validates and forwards items.
    fn push(&mut self, items: Vec<RawItem>) -> impl Future<Output = Result<()>> + Send;
}

impl ItemSink for Ingest {
    fn push(&mut self, items: Vec<RawItem>) -> impl Future<Output = Result<()>> + Send {
        Ingest::push(self, items)
    }
}

impl ItemSink for EventIngest {
    fn push(&mut self, items: Vec<RawItem>) -> impl Future<Output = Result<()>> + Send {
        EventIngest::push(self, items)
    }
}

impl Ingest {
    pub(super) fn new(engine: Arc<Engine>, sync_id: Option<String>) -> Ingest {
        Ingest {
            ticket: engine.index.begin(),
            engine,
            written: Vec::new(),
            batch: Vec::with_capacity(BATCH),
            report: IngestReport {
                sync_id: sync_id.clone(),
                ..IngestReport::default()
            },
            sync_id,
        }
    }

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
        record_failure(&mut self.report.failed, &mut self.report.errors, error);
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
                    for id in &self.written {
                        self.engine.facts.invalidate(id);
                    }
                    self.engine.suggest_new_catalog();
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
            None => {
                self.written.extend(batch.iter().map(|p| p.id.clone()));
                self.engine.index.upsert(batch).await?
            }
        }
        self.report.upserted += n;
        Ok(())
    }
}

/// Most events in one JSON array.
pub const MAX_EVENTS_PER_ARRAY: u64 = 1000;
/// Events appended to the journal together while a body streams in.
const EVENT_BATCH: usize = 1000;

/// The outcome of one event ingestion request.
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct EventReport {
    /// Events durably recorded and applied.
    pub accepted: u64,
    /// Events ignored because an event with the same `event_id` was recorded within the
    /// configured window (a retried batch): already counted, nothing to resend.
    pub duplicates: u64,
    /// Events rejected.
    pub failed: u64,
    /// Why (at most [`MAX_LISTED_ERRORS`]).
    pub errors: Vec<ItemError>,
}

/// An event ingestion in progress.
pub struct EventIngest {
    engine: Arc<Engine>,
    format: BodyFormat,
    items: u64,
    batch: Vec<Entry>,
    report: EventReport,
}

impl EventIngest {
    pub(super) fn new(engine: Arc<Engine>, format: BodyFormat) -> EventIngest {
        EventIngest {
            engine,
            format,
            items: 0,
            batch: Vec::new(),
            report: EventReport::default(),
        }
    }

    /// Validates items and appends full batches to the journal.
    pub async fn push(&mut self, items: Vec<RawItem>) -> Result<()> {
        let now = now_ms();
        for item in items {
            self.items += 1;
            if self.format == BodyFormat::JsonArray && self.items > MAX_EVENTS_PER_ARRAY {
                return Err(Error::invalid(
                    "",
                    format!(
                        "a JSON array holds at most {MAX_EVENTS_PER_ARRAY} events: send NDJSON for more"
                    ),
                ));
            }
            match parse_event(item, now) {
                Ok(mut event) => {
                    // The group the visitor's answers came from, for measuring lift later.
                    let share = self.engine.config().personalization.control_share;
                    event.group = Some(Group::of(&event.visitor_id, share));
                    self.batch.push(Entry::Event { event });
                }
                Err(e) => record_failure(&mut self.report.failed, &mut self.report.errors, e),
            }
            // A JSON array is checked whole before any of it is recorded.
            if self.format == BodyFormat::Ndjson && self.batch.len() >= EVENT_BATCH {
                self.flush().await?;
            }
        }
        Ok(())
    }

    /// Records the rest; returns once everything accepted is durable.
    pub async fn finish(mut self) -> Result<EventReport> {
        self.flush().await?;
        Ok(self.report)
    }

    async fn flush(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        let visitors: Vec<String> = (batch.iter())
            .filter_map(|entry| match entry {
                Entry::Event { event } => Some(event.visitor_id.clone()),
                _ => None,
            })
            .collect();
        let appended = self.engine.journal.append(batch).await?;
        self.report.accepted += appended.written;
        self.report.duplicates += appended.duplicates;
        self.engine.refresh_tastes(visitors).await;
        Ok(())
    }
}

/// Counts a rejected item and lists it while the list is short enough to send back.
fn record_failure(failed: &mut u64, errors: &mut Vec<ItemError>, error: ItemError) {
    *failed += 1;
    if errors.len() < MAX_LISTED_ERRORS {
        errors.push(error);
    }
}

fn parse_event(item: RawItem, now: i64) -> std::result::Result<Event, ItemError> {
    let line = item.line;
    let value = ingest::parse_json(item)?;
    Event::from_json(value, now).map_err(|e| ingest::item_error(line, None, &e))
}
