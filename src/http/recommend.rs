//! Recommendation widgets.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use super::error::{ApiError, ErrorBody};
use super::extract::{JsonBody, QueryPairs};
use crate::engine::Engine;
use crate::recommend::{Kind, RecommendRequest, Recommendations};

/// The parameters of a recommendation request (checked against what the request parser
/// reads by a test of the API description).
#[derive(utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the API description; requests are parsed by `RecommendRequest`
pub struct RecommendParameters {
    /// What to recommend.
    #[param(rename = "type")]
    #[serde(rename = "type")]
    kind: Kind,
    /// The product the recommendations are for (required by `similar`; left out of
    /// `recently_viewed`).
    product_id: Option<String>,
    /// Several products (a cart, an order: `also_viewed`, `bought_together`,
    /// `post_purchase`): repeated or comma-separated in a query string, a list in a body; at
    /// most 100.
    #[param(style = Form, explode)]
    product_ids: Option<Vec<String>>,
    /// The visitor they are for (required by `recently_viewed`; re-ranks `similar`).
    visitor_id: Option<String>,
    /// Category path, `A > B`, case-insensitive: the items of `trending` are in it.
    category: Option<String>,
    /// Items to return (default 10).
    #[param(maximum = 100)]
    #[schema(maximum = 100)]
    limit: Option<usize>,
    /// Whether each item explains its score (`similar`).
    explain: Option<bool>,
}

/// Recommendations for a product page or a visitor
///
/// `similar`: alternatives to `product_id` (its title searched within its category, then
/// its parent categories), in stock, with the merchandising rules and the visitor's
/// re-ranking of search. `recently_viewed`: the visitor's views, newest first, in stock.
#[utoipa::path(get, path = "/v1/recommendations", params(RecommendParameters),
    responses(
        (status = 200, description = "the items, best first", body = Recommendations),
        (status = 404, description = "unknown product", body = ErrorBody),
        (status = 503, description = "busy, retry", body = ErrorBody)))]
pub async fn get_recommendations(
    State(engine): State<Arc<Engine>>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<Recommendations>, ApiError> {
    let req = RecommendRequest::from_pairs(pairs)?;
    Ok(Json(engine.recommend(req).await?))
}

/// Recommendations for several products (a cart, an order)
///
/// The query string's parameters as the fields of a JSON body, `product_ids` a list.
#[utoipa::path(post, path = "/v1/recommendations", request_body = RecommendParameters,
    responses(
        (status = 200, description = "the items, best first", body = Recommendations),
        (status = 404, description = "unknown product", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "unsupported content type", body = ErrorBody),
        (status = 503, description = "busy, retry", body = ErrorBody)))]
pub async fn post_recommendations(
    State(engine): State<Arc<Engine>>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Recommendations>, ApiError> {
    let req = RecommendRequest::from_json(body)?;
    Ok(Json(engine.recommend(req).await?))
}
