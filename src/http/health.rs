//! Health.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::engine::Engine;

/// The answer of `GET /health`. (Fields in name order, as the answer has always listed them.)
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// The index generation: one more per committed write.
    pub generation: u64,
    /// Full catalog syncs open.
    pub open_syncs: usize,
    /// Products in the catalog.
    pub products: u64,
    /// Visitor profiles in memory.
    pub profiles: usize,
    /// `ok` while the server answers.
    pub status: &'static str,
    /// The server's version.
    pub version: &'static str,
}

/// Liveness and catalog size
#[utoipa::path(get, path = "/health", responses((status = 200, description = "ok", body = Health)))]
pub async fn get_health(State(engine): State<Arc<Engine>>) -> Json<Health> {
    let index = engine.index();
    Json(Health {
        generation: index.generation(),
        open_syncs: engine.syncs().len(),
        products: index.len(),
        profiles: engine.profiles().len(),
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}
