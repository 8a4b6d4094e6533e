//! Search endpoints: the same request by query string or JSON body.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use super::error::ApiError;
use super::extract::{JsonBody, QueryPairs};
use crate::engine::Engine;
use crate::search::{SearchRequest, SearchResponse};

/// `GET /v1/search`.
pub async fn get_search(
    State(engine): State<Arc<Engine>>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<SearchResponse>, ApiError> {
    let req = SearchRequest::from_pairs(pairs, &engine.config().search)?;
    Ok(Json(engine.search(req).await?))
}

/// `POST /v1/search`.
pub async fn post_search(
    State(engine): State<Arc<Engine>>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<SearchResponse>, ApiError> {
    let req = SearchRequest::from_json(body, &engine.config().search)?;
    Ok(Json(engine.search(req).await?))
}

/// `GET /v1/browse`: a category page.
pub async fn get_browse(
    State(engine): State<Arc<Engine>>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<SearchResponse>, ApiError> {
    let req = SearchRequest::browse_from_pairs(pairs, &engine.config().search)?;
    Ok(Json(engine.search(req).await?))
}
