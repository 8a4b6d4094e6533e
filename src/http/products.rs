//! Catalog endpoints: streamed upserts, read, patch, delete.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{ApiError, ErrorBody, batch_answer};
use super::extract::{IdInPath, JsonBody, QueryPairs, body_format, feed_body};
use crate::catalog::Product;
use crate::engine::{Engine, IngestReport};
use crate::error::Error;
use crate::index::DeleteReport;

/// Upsert products (JSON array or NDJSON, streamed)
///
/// Each product is validated on its own: the report names the line and field of every one
/// rejected. With `sync_id` the products are staged into an open full sync instead.
#[utoipa::path(post, path = "/v1/products",
    params(("sync_id" = Option<String>, Query, description = "stage into an open full sync instead")),
    request_body(content(
        (Vec<Product> = "application/json"),
        (Product = "application/x-ndjson"))),
    responses(
        (status = 200, description = "applied; durable and searchable when sent", body = IngestReport),
        (status = 404, description = "unknown sync", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "unsupported content type", body = ErrorBody),
        (status = 422, description = "invalid_items: every product was rejected (the report is in the body too), or an invalid parameter", body = ErrorBody)))]
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

/// Several products at once, in the order asked
///
/// For a cart or a wish list; ids the catalog does not have are listed apart.
#[utoipa::path(get, path = "/v1/products",
    params(("ids" = String, Query, description = "comma-separated product ids, at most 100")),
    responses((status = 200, description = "the products found, and the ids not found", body = ProductsFound)))]
pub async fn get_products(
    State(engine): State<Arc<Engine>>,
    QueryPairs(query): QueryPairs,
) -> Result<Json<ProductsFound>, ApiError> {
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
    Ok(Json(ProductsFound {
        not_found,
        products,
    }))
}

/// The answer of `GET /v1/products`. (Fields in name order, as the answer has always listed
/// them.)
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductsFound {
    /// The ids asked for that the catalog does not have.
    pub not_found: Vec<String>,
    /// The products found, in the order asked.
    #[schema(value_type = Vec<Product>)]
    pub products: Vec<Value>,
}

/// Read a product
#[utoipa::path(get, path = "/v1/products/{id}", params(IdInPath),
    responses(
        (status = 200, description = "the product", body = Product),
        (status = 404, description = "unknown product", body = ErrorBody)))]
pub async fn get_product(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(engine.product(&id)?.to_json()))
}

/// Partial update (JSON merge patch, RFC 7396)
///
/// The fields sent replace the product's, `null` removes one; the result is validated as a
/// whole product.
#[utoipa::path(patch, path = "/v1/products/{id}", params(IdInPath),
    request_body(content = ref("#/components/schemas/ProductPatch"), content_type = "application/json"),
    responses(
        (status = 200, description = "the patched product", body = Product),
        (status = 404, description = "unknown product", body = ErrorBody),
        (status = 415, description = "unsupported content type", body = ErrorBody)))]
pub async fn patch_product(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(engine.patch_product(&id, patch).await?.to_json()))
}

/// Delete a product
#[utoipa::path(delete, path = "/v1/products/{id}", params(IdInPath),
    responses(
        (status = 200, description = "deleted", body = Deleted),
        (status = 404, description = "unknown product", body = ErrorBody)))]
pub async fn delete_product(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
) -> Result<Json<Deleted>, ApiError> {
    engine.delete_product(&id).await?;
    Ok(Json(Deleted { deleted: 1 }))
}

/// The answer of `DELETE /v1/products/{id}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Deleted {
    /// Products deleted: 1.
    pub deleted: u64,
}

/// Body of `POST /v1/products/delete`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteIds {
    /// Ids to delete.
    pub ids: Vec<String>,
}

/// Delete products in bulk
#[utoipa::path(post, path = "/v1/products/delete", request_body = DeleteIds,
    responses(
        (status = 200, description = "deleted, and the ids the catalog did not have", body = DeleteReport),
        (status = 415, description = "unsupported content type", body = ErrorBody)))]
pub async fn delete_products(
    State(engine): State<Arc<Engine>>,
    JsonBody(body): JsonBody<DeleteIds>,
) -> Result<Json<DeleteReport>, ApiError> {
    Ok(Json(engine.delete_products(body.ids).await?))
}
