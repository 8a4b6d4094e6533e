//! Admin endpoints: the configuration in force, reloading it, previewing rules.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::error::{ApiError, ErrorBody};
use super::extract::JsonBody;
use crate::cache::CacheStats;
use crate::config::ConfigVersion;
use crate::engine::{Engine, Preview, PreviewRequest, ReloadReport};

/// The answer of `GET /v1/admin/config`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConfigInForce {
    /// The merchandising rules in force, in the file's order.
    pub rules: Vec<RuleSummary>,
    /// Which configuration is in force.
    pub version: ConfigVersion,
}

/// A rule in force.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RuleSummary {
    /// What the merchandiser wrote of it.
    pub description: Option<String>,
    /// Its id, named by `explain` and the answer's `query.rules`.
    pub id: String,
}

/// The configuration in force: its version (hash, counter, load time, files) and its rules
#[utoipa::path(get, path = "/v1/admin/config",
    responses((status = 200, description = "the version in force", body = ConfigInForce)))]
pub async fn get_config(State(engine): State<Arc<Engine>>) -> Json<ConfigInForce> {
    let config = engine.config();
    let rules = (config.rules.rules().iter())
        .map(|r| RuleSummary {
            description: r.description.clone(),
            id: r.id.to_string(),
        })
        .collect();
    Json(ConfigInForce {
        rules,
        version: config.version.clone(),
    })
}

/// The answer of `GET /v1/admin/caches`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Caches {
    /// Every cache.
    pub caches: Vec<CacheStats>,
}

/// What each cache holds: entries, capacity, hits and misses since start
#[utoipa::path(get, path = "/v1/admin/caches",
    responses((status = 200, description = "every cache", body = Caches)))]
pub async fn get_caches(State(engine): State<Arc<Engine>>) -> Result<Json<Caches>, ApiError> {
    let caches = engine.cache_stats()?;
    Ok(Json(Caches { caches }))
}

/// Reread the configuration file and the rule files it includes
///
/// An invalid file is rejected (422, `file:line:column: reason`) and the configuration in
/// force stays.
#[utoipa::path(post, path = "/v1/admin/reload",
    responses(
        (status = 200, description = "the new version in force", body = ReloadReport),
        (status = 422, description = "invalid_config: file:line:column: reason; or no_config_file", body = ErrorBody)))]
pub async fn reload_config(
    State(engine): State<Arc<Engine>>,
) -> Result<Json<ReloadReport>, ApiError> {
    Ok(Json(engine.reload().await?))
}

/// A query's top hits under the configuration in force and under a candidate
///
/// Both on one snapshot of the index, side by side.
#[utoipa::path(post, path = "/v1/admin/rules/preview", request_body = PreviewRequest,
    responses(
        (status = 200, description = "before and after, side by side", body = Preview),
        (status = 415, description = "unsupported content type", body = ErrorBody),
        (status = 503, description = "busy, retry", body = ErrorBody)))]
pub async fn preview_rules(
    State(engine): State<Arc<Engine>>,
    JsonBody(body): JsonBody<PreviewRequest>,
) -> Result<Json<Preview>, ApiError> {
    Ok(Json(engine.preview(body).await?))
}
