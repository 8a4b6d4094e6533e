//! Recommendation widgets.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use super::error::{ApiError, ErrorBody};
use super::extract::QueryPairs;
use crate::engine::Engine;
use crate::recommend::{Kind, RecommendRequest, Recommendations};

/// The parameters of a recommendation request (checked against what the request parser
/// reads by a test of the API description).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the API description; requests are parsed by `RecommendRequest`
pub struct RecommendParameters {
    /// What to recommend.
    #[param(rename = "type")]
    kind: Kind,
    /// The product the recommendations are for (required by `similar`; left out of
    /// `recently_viewed`).
    product_id: Option<String>,
    /// The visitor they are for (required by `recently_viewed`; re-ranks `similar`).
    visitor_id: Option<String>,
    /// Category path, `A > B`, case-insensitive: the items of `trending` are in it.
    category: Option<String>,
    /// Items to return (default 10).
    #[param(maximum = 100)]
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
