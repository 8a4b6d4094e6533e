//! Search endpoints: the same request by query string or JSON body.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ApiError;
use super::extract::{JsonBody, QueryPairs};
use crate::engine::Engine;
use crate::error::Error;
use crate::search::{SearchRequest, SearchResponse};

/// `GET /v1/search`.
pub async fn get_search(
    State(engine): State<Arc<Engine>>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let req = SearchRequest::from_pairs(pairs, &engine.config().search)?;
    search(&engine, req).await
}

/// `POST /v1/search`.
pub async fn post_search(
    State(engine): State<Arc<Engine>>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let req = SearchRequest::from_json(body, &engine.config().search)?;
    search(&engine, req).await
}

/// `GET /v1/browse`: a category page.
pub async fn get_browse(
    State(engine): State<Arc<Engine>>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let req = SearchRequest::browse_from_pairs(pairs, &engine.config().search)?;
    search(&engine, req).await
}

/// Most searches one multi-search runs.
pub const MAX_QUERIES: usize = 10;

/// `POST /v1/multi-search`: `{"queries": [search body, …]}` (each the body of `POST
/// /v1/search`) → `{"results": [answer, …]}` in the same order, the searches run at once. Every query is validated before any runs;
/// the first invalid one answers 422 naming `queries[i].field`.
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
    Ok(Json(json!({"results": results})).into_response())
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
