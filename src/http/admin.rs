//! Admin endpoints: the configuration in force, reloading it, previewing rules.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::error::ApiError;
use super::extract::JsonBody;
use crate::engine::{Engine, Preview, PreviewRequest, ReloadReport};

/// `GET /v1/admin/config`: the version in force and its rules.
pub async fn get_config(State(engine): State<Arc<Engine>>) -> Json<Value> {
    let config = engine.config();
    let rules: Vec<Value> = config
        .rules
        .rules()
        .iter()
        .map(|r| json!({"id": &*r.id, "description": r.description}))
        .collect();
    Json(json!({"version": config.version, "rules": rules}))
}

/// `GET /v1/admin/caches`: what each cache holds, its capacity, hits and misses.
pub async fn get_caches(State(engine): State<Arc<Engine>>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({"caches": engine.cache_stats()?})))
}

/// `POST /v1/admin/reload`: rereads the configuration file; 422 when it is invalid (the
/// configuration in force stays).
pub async fn reload_config(
    State(engine): State<Arc<Engine>>,
) -> Result<Json<ReloadReport>, ApiError> {
    Ok(Json(engine.reload().await?))
}

/// `POST /v1/admin/rules/preview`: a query's top hits before and after a candidate config.
pub async fn preview_rules(
    State(engine): State<Arc<Engine>>,
    JsonBody(body): JsonBody<PreviewRequest>,
) -> Result<Json<Preview>, ApiError> {
    Ok(Json(engine.preview(body).await?))
}
