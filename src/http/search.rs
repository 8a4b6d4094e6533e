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
    search(&engine, req).await
}

/// A search, recorded as the visitor's search event.
async fn search(
    engine: &Arc<Engine>,
    req: SearchRequest,
) -> Result<Json<SearchResponse>, ApiError> {
    let searcher = req.visitor_id.clone().map(|id| (id, req.q.clone()));
    let answer = engine.search(req).await?;
    if let Some((visitor_id, q)) = searcher {
        engine.record_search(visitor_id, &q, &answer);
    }
    Ok(Json(answer))
}

/// `POST /v1/search`.
pub async fn post_search(
    State(engine): State<Arc<Engine>>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<SearchResponse>, ApiError> {
    let req = SearchRequest::from_json(body, &engine.config().search)?;
    search(&engine, req).await
}

/// `GET /v1/browse`: a category page.
pub async fn get_browse(
    State(engine): State<Arc<Engine>>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<SearchResponse>, ApiError> {
    let req = SearchRequest::browse_from_pairs(pairs, &engine.config().search)?;
    Ok(Json(engine.search(req).await?))
}
