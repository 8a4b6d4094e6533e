//! `POST /v1/events`: one event, a JSON array of up to 1,000, or NDJSON.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;

use super::error::{ApiError, ErrorBody, batch_answer};
use super::extract::{SMALL_BODY_LIMIT, body_format, feed_body, media_type, sniff_plain_text};
use crate::engine::{Engine, EventReport};
use crate::profiles::event::Event;

/// Record visitor events
///
/// One event, a JSON array of up to 1,000, or NDJSON; `text/plain` (what
/// `navigator.sendBeacon` sends) holding JSON or NDJSON of at most 1 MiB. Recorded durably,
/// then applied to the visitors' profiles.
#[utoipa::path(post, path = "/v1/events",
    request_body(content(
        (Events = "application/json"),
        (Event = "application/x-ndjson"),
        (String = "text/plain"))),
    responses(
        (status = 200, description = "recorded; durable and applied when sent", body = EventReport),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "unsupported content type", body = ErrorBody),
        (status = 422, description = "invalid_items: every event was rejected (the report is in the body too)", body = ErrorBody)))]
pub async fn post_events(
    State(engine): State<Arc<Engine>>,
    request: Request,
) -> Result<Response, ApiError> {
    let (format, request) = match body_format(request.headers()) {
        Ok(format) => (format, request),
        // `navigator.sendBeacon` with a string sends text/plain; the body says what it is.
        Err(_) if media_type(request.headers()) == "text/plain" => {
            sniff_plain_text(request, SMALL_BODY_LIMIT).await?
        }
        Err(e) => return Err(e.into()),
    };
    let mut ingest = engine.events(format);
    feed_body(
        request,
        format,
        engine.config().server.max_body_bytes,
        &mut ingest,
    )
    .await?;
    let report = ingest.finish().await?;
    let recorded = report.accepted + report.duplicates;
    let (failed, first) = (report.failed, report.errors.first().cloned());
    Ok(batch_answer(report, failed, recorded, first.as_ref()))
}

/// A JSON body of `POST /v1/events`: one event or an array of them.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // read by the API description; bodies are split and parsed item by item
enum Events {
    /// One event.
    One(Box<Event>),
    /// Up to 1,000 events.
    Many(Vec<Event>),
}
