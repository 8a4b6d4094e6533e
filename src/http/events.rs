//! `POST /v1/events`: one event, a JSON array of up to 1,000, or NDJSON.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};

use super::error::ApiError;
use super::extract::{body_format, feed_body};
use crate::engine::{Engine, EventReport};

/// Records events durably and applies them to the visitors' profiles.
pub async fn post_events(
    State(engine): State<Arc<Engine>>,
    request: Request,
) -> Result<Json<EventReport>, ApiError> {
    let format = body_format(request.headers())?;
    let mut ingest = engine.events(format);
    feed_body(
        request,
        format,
        engine.config().server.max_body_bytes,
        &mut ingest,
    )
    .await?;
    Ok(Json(ingest.finish().await?))
}
