//! Autocomplete endpoint.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use super::error::ApiError;
use super::extract::QueryPairs;
use crate::engine::Engine;
use crate::suggest::{AutocompleteRequest, AutocompleteResponse};

/// `GET /v1/autocomplete`.
pub async fn get_autocomplete(
    State(engine): State<Arc<Engine>>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<AutocompleteResponse>, ApiError> {
    let req = AutocompleteRequest::from_pairs(pairs, &engine.config().suggest)?;
    Ok(Json(engine.autocomplete(req).await?))
}
