//! Health and API description.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::engine::Engine;

/// The OpenAPI description of the API, kept in step with the router by a test.
pub const OPENAPI: &str = include_str!("../../docs/openapi.json");

/// `GET /health`.
pub async fn get_health(State(engine): State<Arc<Engine>>) -> Json<Value> {
    let index = engine.index();
    Json(json!({
        "status": "ok",
        "products": index.len(),
        "generation": index.generation(),
        "open_syncs": engine.syncs().len(),
        "profiles": engine.profiles().len(),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// `GET /openapi.json`.
pub async fn get_openapi() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], OPENAPI)
}
