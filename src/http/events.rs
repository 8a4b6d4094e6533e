//! `POST /v1/events`: one event, a JSON array of up to 1,000, or NDJSON.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;

use super::error::{ApiError, batch_answer};
use super::extract::{SMALL_BODY_LIMIT, body_format, feed_body, media_type, sniff_plain_text};
use crate::engine::Engine;

/// Records events durably and applies them to the visitors' profiles.
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
