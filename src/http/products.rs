//! Catalog endpoints: streamed upserts, read, patch, delete.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, batch_answer};
use super::extract::{JsonBody, QueryPairs, body_format, feed_body};
use crate::engine::{Engine, IngestReport};
use crate::error::Error;
use crate::index::DeleteReport;

/// `POST /v1/products`: upsert a JSON array or NDJSON body, streamed.
pub async fn post_products(
    State(engine): State<Arc<Engine>>,
    QueryPairs(query): QueryPairs,
    request: Request,
) -> Result<Response, ApiError> {
    let mut sync_id = None;
    for (name, value) in query {
        match name.as_str() {
            "sync_id" => sync_id = Some(value),
            _ => return Err(Error::invalid(name, "unknown parameter").into()),
        }
    }
    let format = body_format(request.headers())?;
    let mut ingest = engine.ingest(sync_id)?;
    feed_body(
        request,
        format,
        engine.config().server.max_body_bytes,
        &mut ingest,
    )
    .await?;
    let report: IngestReport = ingest.finish().await?;
    let (failed, first) = (report.failed, report.errors.first().cloned());
    Ok(batch_answer(
        &report,
        failed,
        report.upserted,
        first.as_ref(),
    ))
}

/// Most ids one multi-get reads.
pub const MAX_IDS: usize = 100;

/// `GET /v1/products?ids=a,b,c`: several products at once (a cart, a wish list), in the
/// order asked; ids the catalog does not have are listed apart.
pub async fn get_products(
    State(engine): State<Arc<Engine>>,
    QueryPairs(query): QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let mut ids: Vec<String> = Vec::new();
    for (name, value) in query {
        match name.as_str() {
            "ids" => ids.extend(
                (value.split(','))
                    .map(str::trim)
                    .filter(|id| !id.is_empty())
                    .map(str::to_string),
            ),
            _ => return Err(Error::invalid(name, "unknown parameter").into()),
        }
    }
    if ids.is_empty() {
        return Err(Error::invalid("ids", "is required: comma-separated product ids").into());
    }
    if ids.len() > MAX_IDS {
        return Err(Error::invalid("ids", format!("at most {MAX_IDS} ids")).into());
    }
    let mut products = Vec::new();
    let mut not_found = Vec::new();
    for id in ids {
        match engine.product(&id) {
            Ok(product) => products.push(product.to_json()),
            Err(Error::UnknownProduct(_)) => not_found.push(id),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Json(json!({"products": products, "not_found": not_found})))
}

/// `GET /v1/products/{id}`.
pub async fn get_product(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(engine.product(&id)?.to_json()))
}

/// `PATCH /v1/products/{id}`: a JSON merge patch (RFC 7396).
pub async fn patch_product(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(engine.patch_product(&id, patch).await?.to_json()))
}

/// `DELETE /v1/products/{id}`.
pub async fn delete_product(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    engine.delete_product(&id).await?;
    Ok((StatusCode::OK, Json(json!({"deleted": 1}))))
}

/// Body of `POST /v1/products/delete`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteIds {
    /// Ids to delete.
    pub ids: Vec<String>,
}

/// `POST /v1/products/delete`: `{"ids": [...]}`.
pub async fn delete_products(
    State(engine): State<Arc<Engine>>,
    JsonBody(body): JsonBody<DeleteIds>,
) -> Result<Json<DeleteReport>, ApiError> {
    Ok(Json(engine.delete_products(body.ids).await?))
}
