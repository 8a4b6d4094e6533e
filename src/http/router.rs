//! The route table and the middleware around it.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use super::error::{method_not_allowed, not_found, panic_response};
use super::extract::SMALL_BODY_LIMIT;
use super::{
    admin, autocomplete, events, health, openapi, products, recommend, search, syncs, visitors,
};
use crate::engine::Engine;

/// Every route as (method, path), in OpenAPI path syntax. A test holds this list, the router
/// and the API description ([`super::openapi`]) to the same set.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/openapi.json"),
    ("post", "/v1/products"),
    ("get", "/v1/products"),
    ("get", "/v1/products/{id}"),
    ("patch", "/v1/products/{id}"),
    ("delete", "/v1/products/{id}"),
    ("post", "/v1/products/delete"),
    ("post", "/v1/catalog/syncs"),
    ("post", "/v1/catalog/syncs/{id}/commit"),
    ("delete", "/v1/catalog/syncs/{id}"),
    ("get", "/v1/search"),
    ("post", "/v1/search"),
    ("get", "/v1/browse"),
    ("post", "/v1/multi-search"),
    ("get", "/v1/autocomplete"),
    ("get", "/v1/recommendations"),
    ("post", "/v1/recommendations"),
    ("post", "/v1/events"),
    ("get", "/v1/visitors/{id}"),
    ("delete", "/v1/visitors/{id}"),
    ("post", "/v1/visitors/{id}/identify"),
    ("put", "/v1/visitors/{id}/preferences"),
    ("get", "/v1/admin/config"),
    ("get", "/v1/admin/caches"),
    ("post", "/v1/admin/reload"),
    ("post", "/v1/admin/rules/preview"),
];

/// Builds the application.
pub fn router(engine: Arc<Engine>) -> Router {
    Router::new()
        .route("/health", get(health::get_health))
        .route("/openapi.json", get(openapi::get_openapi))
        .route(
            "/v1/products",
            post(products::post_products).get(products::get_products),
        )
        .route(
            "/v1/products/{id}",
            get(products::get_product)
                .patch(products::patch_product)
                .delete(products::delete_product),
        )
        .route("/v1/products/delete", post(products::delete_products))
        .route("/v1/catalog/syncs", post(syncs::create_sync))
        .route("/v1/catalog/syncs/{id}/commit", post(syncs::commit_sync))
        .route(
            "/v1/catalog/syncs/{id}",
            axum::routing::delete(syncs::delete_sync),
        )
        .route(
            "/v1/search",
            get(search::get_search).post(search::post_search),
        )
        .route("/v1/browse", get(search::get_browse))
        .route("/v1/multi-search", post(search::post_multi_search))
        .route("/v1/autocomplete", get(autocomplete::get_autocomplete))
        .route(
            "/v1/recommendations",
            get(recommend::get_recommendations).post(recommend::post_recommendations),
        )
        .route("/v1/events", post(events::post_events))
        .route(
            "/v1/visitors/{id}",
            get(visitors::get_visitor).delete(visitors::delete_visitor),
        )
        .route(
            "/v1/visitors/{id}/identify",
            post(visitors::identify_visitor),
        )
        .route(
            "/v1/visitors/{id}/preferences",
            axum::routing::put(visitors::put_preferences),
        )
        .route("/v1/admin/config", get(admin::get_config))
        .route("/v1/admin/caches", get(admin::get_caches))
        .route("/v1/admin/reload", post(admin::reload_config))
        .route("/v1/admin/rules/preview", post(admin::preview_rules))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(SMALL_BODY_LIMIT))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TraceLayer::new_for_http())
        .with_state(engine)
}
