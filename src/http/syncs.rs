//! Full catalog sync endpoints.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;

use super::error::{ApiError, ErrorBody};
use super::extract::IdInPath;
use crate::catalog::sync::SyncInfo;
use crate::engine::Engine;
use crate::index::ReplaceReport;

/// Open a full catalog sync
///
/// Products sent with its `sync_id` are staged; committing the sync replaces the catalog
/// with them at once, abandoning it leaves the catalog as it was.
#[utoipa::path(post, path = "/v1/catalog/syncs",
    responses((status = 201, description = "the sync", body = SyncInfo)))]
pub async fn create_sync(
    State(engine): State<Arc<Engine>>,
) -> Result<(StatusCode, Json<SyncInfo>), ApiError> {
    Ok((StatusCode::CREATED, Json(engine.begin_sync()?)))
}

/// Replace the catalog with the sync's products, atomically
#[utoipa::path(post, path = "/v1/catalog/syncs/{id}/commit", params(IdInPath),
    responses(
        (status = 200, description = "replaced", body = ReplaceReport),
        (status = 404, description = "unknown or closed sync", body = ErrorBody)))]
pub async fn commit_sync(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
) -> Result<Json<ReplaceReport>, ApiError> {
    Ok(Json(engine.commit_sync(&id).await?))
}

/// Abandon a sync; the catalog is unchanged
#[utoipa::path(delete, path = "/v1/catalog/syncs/{id}", params(IdInPath),
    responses(
        (status = 200, description = "aborted", body = SyncAborted),
        (status = 404, description = "unknown or closed sync", body = ErrorBody)))]
pub async fn delete_sync(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
) -> Result<Json<SyncAborted>, ApiError> {
    engine.abort_sync(&id)?;
    Ok(Json(SyncAborted { aborted: id }))
}

/// The answer of `DELETE /v1/catalog/syncs/{id}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SyncAborted {
    /// The sync abandoned.
    pub aborted: String,
}
