//! Search endpoints: the same request by query string or JSON body.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use super::error::{ApiError, ErrorBody};
use super::extract::{JsonBody, QueryPairs};
use crate::engine::Engine;
use crate::error::Error;
use crate::search::{SearchRequest, SearchResponse, Sort};

/// The parameters of a search, by query string or as the fields of a JSON body (checked
/// against what the request parser reads by a test of the API description).
#[derive(utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the API description; requests are parsed by `SearchRequest`
pub struct SearchParameters {
    /// The shopper's words; empty browses.
    q: Option<String>,
    /// The visitor whose profile personalizes the order (and who is recorded as searching).
    visitor_id: Option<String>,
    /// Category path prefix, `A > B`, case-insensitive.
    category: Option<String>,
    /// Any of these brands (repeat the parameter; a list in a body).
    #[param(style = Form, explode)]
    brand: Option<Vec<String>>,
    /// Lowest price, inclusive.
    #[param(minimum = 0)]
    #[schema(minimum = 0)]
    price_min: Option<f64>,
    /// Highest price, inclusive.
    #[param(minimum = 0)]
    #[schema(minimum = 0)]
    price_max: Option<f64>,
    /// Only products in stock (or out of stock).
    in_stock: Option<bool>,
    /// `attr.<name>=<value>`, repeatable (an object of lists in a body): the values of one
    /// attribute are OR-ed, attributes AND-ed.
    #[param(style = DeepObject, explode)]
    attr: Option<std::collections::BTreeMap<String, String>>,
    /// The order (default `relevance`).
    sort: Option<Sort>,
    /// Hits to skip; `offset + limit` at most 10,000.
    #[param(maximum = 10000)]
    #[schema(maximum = 10000)]
    offset: Option<usize>,
    /// Hits to return (default 10).
    #[param(maximum = 100)]
    #[schema(maximum = 100)]
    limit: Option<usize>,
    /// 1-based page, with `hits_per_page` (instead of `offset` and `limit`); the answer then
    /// carries `page`, `hits_per_page` and `total_pages`.
    #[param(minimum = 1)]
    #[schema(minimum = 1)]
    page: Option<usize>,
    /// Hits per page, with `page` (default 10).
    #[param(maximum = 100)]
    #[schema(maximum = 100)]
    hits_per_page: Option<usize>,
    /// Comma-separated facets to count: `category`, `brand`, `price`, `tier`, `attr.<name>`.
    facets: Option<String>,
    /// Any of these price tiers (repeat the parameter; a list in a body): `budget`, `mid`,
    /// `premium`, `luxury` by default.
    #[param(style = Form, explode)]
    tier: Option<Vec<String>>,
    /// Personalization strength for this request (0–100); 0 is unpersonalized.
    #[param(maximum = 100)]
    #[schema(maximum = 100)]
    personalization: Option<u8>,
    /// Whether each hit explains its score.
    explain: Option<bool>,
    /// Whether each hit carries `_highlight`: its title and a description snippet with the
    /// matched words in `<em>` (HTML-escaped).
    highlight: Option<bool>,
    /// Comma-separated hit fields to return (`id` always comes): title, brand, category,
    /// price, currency, tier, image_url, url, in_stock, rating, review_count, attributes,
    /// score, explain, _highlight.
    fields: Option<String>,
}

/// Search and browse
#[utoipa::path(get, path = "/v1/search", params(SearchParameters),
    responses(
        (status = 200, description = "results", body = SearchResponse),
        (status = 503, description = "busy, retry", body = ErrorBody)))]
pub async fn get_search(
    State(engine): State<Arc<Engine>>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let req = SearchRequest::from_pairs(pairs, &engine.config().search)?;
    search(&engine, req).await
}

/// Search with a JSON body
///
/// The same fields as the query string's; `attr` is an object of lists.
#[utoipa::path(post, path = "/v1/search", request_body = SearchParameters,
    responses(
        (status = 200, description = "results", body = SearchResponse),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "unsupported content type", body = ErrorBody),
        (status = 503, description = "busy, retry", body = ErrorBody)))]
pub async fn post_search(
    State(engine): State<Arc<Engine>>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let req = SearchRequest::from_json(body, &engine.config().search)?;
    search(&engine, req).await
}

/// A category page
///
/// Ordered by popularity and recency, personalized; filters, facets, sort and paging as
/// search's, `category` required and no `q`.
#[utoipa::path(get, path = "/v1/browse", params(SearchParameters),
    responses(
        (status = 200, description = "results", body = SearchResponse),
        (status = 503, description = "busy, retry", body = ErrorBody)))]
pub async fn get_browse(
    State(engine): State<Arc<Engine>>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let req = SearchRequest::browse_from_pairs(pairs, &engine.config().search)?;
    search(&engine, req).await
}

/// Most searches one multi-search runs.
pub const MAX_QUERIES: usize = 10;

/// Several searches in one request, answered in order
///
/// Each query is the body of a `POST /v1/search`; the searches run at once. Every query is
/// validated before any runs: the first invalid one answers 422 naming `queries[i].field`.
#[utoipa::path(post, path = "/v1/multi-search", request_body = MultiSearch,
    responses(
        (status = 200, description = "one answer per search", body = MultiSearchResults),
        (status = 415, description = "unsupported content type", body = ErrorBody),
        (status = 503, description = "busy, retry", body = ErrorBody)))]
pub async fn post_multi_search(
    State(engine): State<Arc<Engine>>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let Some(queries) = body.get("queries").and_then(Value::as_array) else {
        return Err(Error::invalid("queries", "is required: an array of search bodies").into());
    };
    if let Some(unknown) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != "queries"))
    {
        return Err(Error::invalid(unknown.clone(), "unknown parameter").into());
    }
    if queries.is_empty() || queries.len() > MAX_QUERIES {
        let message = format!("must hold 1 to {MAX_QUERIES} searches");
        return Err(Error::invalid("queries", message).into());
    }
    let config = engine.config();
    let mut requests = Vec::with_capacity(queries.len());
    for (i, query) in queries.iter().enumerate() {
        let at = |e: Error| match e {
            Error::InvalidField { field, message } => Error::InvalidField {
                field: format!("queries[{i}].{field}")
                    .trim_end_matches('.')
                    .to_string(),
                message,
            },
            Error::Malformed(message) => Error::invalid(format!("queries[{i}]"), message),
            other => other,
        };
        requests.push(SearchRequest::from_json(query.clone(), &config.search).map_err(at)?);
    }
    let answers = futures_util::future::join_all(requests.into_iter().map(|req| {
        let engine = engine.clone();
        async move { search_json(&engine, req).await }
    }))
    .await;
    let results = answers.into_iter().collect::<Result<Vec<Value>, Error>>()?;
    Ok(Json(MultiSearchResults { results }).into_response())
}

/// The body of `POST /v1/multi-search` (read query by query, to name the one at fault).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // read by the API description
struct MultiSearch {
    /// The searches, at most 10.
    #[schema(max_items = 10, min_items = 1)]
    queries: Vec<SearchParameters>,
}

/// The answer of `POST /v1/multi-search`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MultiSearchResults {
    /// One answer per search, in the order of the queries.
    #[schema(value_type = Vec<SearchResponse>)]
    pub results: Vec<Value>,
}

/// One search of a multi-search, as JSON.
async fn search_json(engine: &Arc<Engine>, req: SearchRequest) -> Result<Value, Error> {
    let (answer, fields) = run(engine, req).await?;
    Ok(answer.to_json(fields.as_deref()))
}

/// A search or category page, its hits with the fields asked for.
async fn search(engine: &Arc<Engine>, req: SearchRequest) -> Result<Response, ApiError> {
    Ok(match run(engine, req).await? {
        (answer, Some(fields)) => Json(answer.to_json(Some(&fields))).into_response(),
        (answer, None) => Json(answer).into_response(),
    })
}

/// Runs a search and returns it with the hit fields asked for; a search with words and a
/// visitor is recorded as the visitor's search event.
async fn run(
    engine: &Arc<Engine>,
    req: SearchRequest,
) -> Result<(SearchResponse, Option<Vec<String>>), Error> {
    let searcher = (req.visitor_id.clone())
        .filter(|_| !req.browse)
        .map(|id| (id, req.q.clone()));
    let fields = req.fields.clone();
    let answer = engine.search(req).await?;
    if let Some((visitor_id, q)) = searcher {
        engine.record_search(visitor_id, &q, &answer);
    }
    Ok((answer, fields))
}
