//! The OpenAPI description of the API, derived from the handlers' `#[utoipa::path]`
//! attributes and the request and answer types, so that it cannot drift from them.
//! `docs/openapi.json` is this document written out; a test keeps the two equal.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{AnyOf, Schema};
use utoipa::openapi::{Content, Ref};
use utoipa::openapi::{RefOr, Required};

use super::{admin, autocomplete, events, health, products, recommend, search, syncs, visitors};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "attune",
        description = "Personalized product search server. See docs/api.md."
    ),
    paths(
        health::get_health,
        get_openapi,
        products::post_products,
        products::get_products,
        products::get_product,
        products::patch_product,
        products::delete_product,
        products::delete_products,
        syncs::create_sync,
        syncs::commit_sync,
        syncs::delete_sync,
        search::get_search,
        search::post_search,
        search::get_browse,
        search::post_multi_search,
        autocomplete::get_autocomplete,
        recommend::get_recommendations,
        recommend::post_recommendations,
        events::post_events,
        visitors::get_visitor,
        visitors::delete_visitor,
        visitors::identify_visitor,
        visitors::put_preferences,
        admin::get_config,
        admin::get_caches,
        admin::reload_config,
        admin::preview_rules,
    ),
    components(schemas(super::error::ErrorBody)),
    modifiers(&CommonErrors, &Derived)
)]
struct ApiDoc;

/// What is said once and derived for the operations that differ from it: a category page
/// takes a search's parameters but `q`, and needs `category`; a patch is a product whose
/// every field is optional. And a facet's kinds are `anyOf`, not the `oneOf` derived for
/// an untagged enum: an empty list is a list of any kind.
struct Derived;

impl utoipa::Modify for Derived {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        if let Some(browse) = (doc.paths.paths.get_mut("/v1/browse")).and_then(|i| i.get.as_mut()) {
            let parameters = browse.parameters.get_or_insert_with(Vec::new);
            parameters.retain(|p| p.name != "q");
            for p in parameters.iter_mut().filter(|p| p.name == "category") {
                p.required = Required::True;
            }
        }
        let Some(components) = doc.components.as_mut() else {
            return;
        };
        if let Some(RefOr::T(Schema::OneOf(kinds))) = components.schemas.get("Facet") {
            let mut any_of = AnyOf::new();
            any_of.items = kinds.items.clone();
            any_of.description = kinds.description.clone();
            (components.schemas).insert("Facet".into(), RefOr::T(Schema::AnyOf(any_of)));
        }
        if let Some(RefOr::T(Schema::Object(product))) = components.schemas.get("Product") {
            let mut patch = product.clone();
            patch.required.clear();
            patch.description = Some(
                "A JSON merge patch of a product (RFC 7396): the fields sent replace the \
                 product's, `null` removes one, and the result is validated as a whole product."
                    .into(),
            );
            (components.schemas).insert("ProductPatch".into(), RefOr::T(Schema::Object(patch)));
        }
    }
}

/// The answers every operation can give besides its own (all `{"error": {"code",
/// "message"}}`): an internal error, and for those that take input, a malformed request or an
/// invalid field.
struct CommonErrors;

const COMMON_ERRORS: [(&str, &str); 3] = [
    ("500", "internal error (details in the server log)"),
    ("400", "malformed request"),
    ("422", "invalid field (named in the message)"),
];

impl utoipa::Modify for CommonErrors {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for item in doc.paths.paths.values_mut() {
            for operation in operations(item) {
                let takes_input = operation.request_body.is_some()
                    || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let common = if takes_input { 3 } else { 1 };
                for (status, description) in &COMMON_ERRORS[..common] {
                    if !operation.responses.responses.contains_key(*status) {
                        let response = error_response(description);
                        (operation.responses.responses).insert(status.to_string(), response.into());
                    }
                }
            }
        }
    }
}

/// An error answer: `{"error": {"code", "message"}}`.
pub fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
        )
        .build()
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// This document
#[utoipa::path(get, path = "/openapi.json", responses(
    (status = 200, description = "the OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn get_openapi() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], document())
}

/// The OpenAPI document, as `GET /openapi.json` serves it and `docs/openapi.json` holds it.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut text = ApiDoc::openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serializes");
        text.push('\n');
        text
    })
}
