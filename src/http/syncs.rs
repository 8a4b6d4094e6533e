//! Full catalog sync endpoints.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::error::ApiError;
use crate::catalog::sync::SyncInfo;
use crate::engine::Engine;
use crate::index::ReplaceReport;

/// `POST /v1/catalog/syncs`: opens a sync.
pub async fn create_sync(
    State(engine): State<Arc<Engine>>,
) -> Result<(StatusCode, Json<SyncInfo>), ApiError> {
    Ok((StatusCode::CREATED, Json(engine.begin_sync()?)))
}

/// `POST /v1/catalog/syncs/{id}/commit`: replaces the catalog with the sync's products.
pub async fn commit_sync(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
) -> Result<Json<ReplaceReport>, ApiError> {
    Ok(Json(engine.commit_sync(&id).await?))
}

/// `DELETE /v1/catalog/syncs/{id}`: abandons a sync; the catalog is unchanged.
pub async fn delete_sync(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    engine.abort_sync(&id)?;
    Ok(Json(json!({"aborted": id})))
}
