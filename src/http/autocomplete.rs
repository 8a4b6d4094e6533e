//! Autocomplete endpoint.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use super::error::{ApiError, ErrorBody};
use super::extract::QueryPairs;
use crate::engine::Engine;
use crate::suggest::{AutocompleteRequest, AutocompleteResponse};

/// Suggestions for a prefix
///
/// Past queries, brands, categories and products, typo-tolerant, best first.
#[utoipa::path(get, path = "/v1/autocomplete", params(AutocompleteRequest),
    responses(
        (status = 200, description = "suggestions, best first", body = AutocompleteResponse),
        (status = 503, description = "busy, retry", body = ErrorBody)))]
pub async fn get_autocomplete(
    State(engine): State<Arc<Engine>>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<AutocompleteResponse>, ApiError> {
    let req = AutocompleteRequest::from_pairs(pairs, &engine.config().suggest)?;
    Ok(Json(engine.autocomplete(req).await?))
}
