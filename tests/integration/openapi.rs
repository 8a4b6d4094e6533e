//! The published OpenAPI description is derived from the handlers and types, is written out
//! to `docs/openapi.json`, describes every field, and matches the routes the server has.

use std::collections::BTreeSet;

use attune::group::Group;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::TestApp;

const WRITTEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");

fn spec() -> Value {
    serde_json::from_str(attune::http::openapi::document()).expect("valid JSON")
}

fn spec_operations() -> BTreeSet<(String, String)> {
    let spec = spec();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let mut ops = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                ops.insert((method.clone(), path.clone()));
            }
        }
    }
    ops
}

/// `docs/openapi.json` is the document the server serves. After changing a handler or a type
/// of the API, `ATTUNE_WRITE_OPENAPI=1 cargo test openapi` writes it anew.
#[test]
fn the_written_document_is_the_derived_one() {
    let derived = attune::http::openapi::document();
    if std::env::var_os("ATTUNE_WRITE_OPENAPI").is_some() {
        std::fs::write(WRITTEN, derived).expect("write docs/openapi.json");
    }
    let written = std::fs::read_to_string(WRITTEN).unwrap_or_default();
    assert!(
        written == derived,
        "docs/openapi.json is out of date: run `ATTUNE_WRITE_OPENAPI=1 cargo test openapi`"
    );
}

#[test]
fn the_spec_lists_exactly_the_route_table() {
    let routes: BTreeSet<(String, String)> = attune::http::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(spec_operations(), routes);
}

/// Every schema says what it holds: no `{}` and no object without properties (a free-form
/// map says what its values are).
#[test]
fn no_schema_is_empty() {
    fn walk(at: &str, value: &Value, empty: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                let is_schema = at.ends_with("/schema")
                    || at.contains("/schemas/")
                    || at.ends_with("/items")
                    || at.contains("/properties/")
                    || at.ends_with("/additionalProperties");
                let says_what = ["type", "$ref", "oneOf", "allOf", "anyOf", "enum"]
                    .iter()
                    .any(|k| map.contains_key(*k));
                let bare_object = map.get("type") == Some(&Value::from("object"))
                    && !map.contains_key("properties")
                    && !map.contains_key("additionalProperties");
                if is_schema && (!says_what || bare_object) && !at.ends_with("/properties") {
                    empty.push(at.to_string());
                }
                for (key, child) in map {
                    walk(&format!("{at}/{key}"), child, empty);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(&format!("{at}/{i}"), child, empty);
                }
            }
            _ => {}
        }
    }
    let mut empty = Vec::new();
    walk("", &spec(), &mut empty);
    assert!(empty.is_empty(), "schemas that say nothing: {empty:#?}");
}

fn parameter_names(operation: &Value) -> BTreeSet<String> {
    (operation["parameters"].as_array().expect("parameters"))
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

/// The documented search parameters are the ones the request parser reads.
#[test]
fn the_search_parameters_are_the_ones_parsed() {
    let mut parsed: BTreeSet<String> = (attune::search::query::request::PARAMETERS.iter())
        .map(|p| p.to_string())
        .collect();
    parsed.insert("attr".into());
    let spec = spec();
    assert_eq!(parameter_names(&spec["paths"]["/v1/search"]["get"]), parsed);
    let body = &spec["components"]["schemas"]["SearchParameters"]["properties"];
    let fields: BTreeSet<String> = body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(fields, parsed);
    parsed.remove("q");
    assert_eq!(parameter_names(&spec["paths"]["/v1/browse"]["get"]), parsed);
}

/// The documented recommendation parameters are the ones the request parser reads.
#[test]
fn the_recommendation_parameters_are_the_ones_parsed() {
    let parsed: BTreeSet<String> = (attune::recommend::PARAMETERS.iter())
        .map(|p| p.to_string())
        .collect();
    let operation = &spec()["paths"]["/v1/recommendations"]["get"];
    assert_eq!(parameter_names(operation), parsed);
}

/// A product with every documented field set comes back with exactly those fields.
#[tokio::test]
async fn the_product_schema_lists_the_fields_a_product_has() {
    let spec = spec();
    let schema = &spec["components"]["schemas"]["Product"];
    let documented: BTreeSet<String> = (schema["properties"].as_object().unwrap().keys())
        .cloned()
        .collect();
    let app = TestApp::new();
    let product = serde_json::json!({
        "id": "p1", "title": "Kettle", "description": "Boils water", "brand": "Acme",
        "category": ["Home", "Kitchen"], "price": 20.0, "currency": "EUR",
        "attributes": {"color": ["red"]}, "tags": ["new"], "in_stock": true,
        "popularity": 3.0, "rating": 4.5, "review_count": 10,
        "image_url": "https://example.com/p1.jpg", "url": "https://example.com/p1",
        "created_at": "2026-01-01T00:00:00Z", "lang": "en"
    });
    let r = (app.json(Method::POST, "/v1/products", &Value::Array(vec![product]))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let read = app.get("/v1/products/p1").await;
    let returned: BTreeSet<String> = read.body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(returned, documented);
    let required: BTreeSet<&str> = (schema["required"].as_array().unwrap().iter())
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(required, BTreeSet::from(["id", "title"]));
}

/// The document's schemas, made strict for checking answers: an object may hold only the
/// properties its schema names (`unevaluatedProperties`, which sees through `allOf`; schemas
/// that are parts of an `allOf` are left open, their whole is closed).
fn strict_components() -> Value {
    let mut components = spec()["components"].clone();
    let schemas = components["schemas"].as_object_mut().unwrap();
    let text = Value::Object(schemas.clone()).to_string();
    for (name, schema) in schemas.iter_mut() {
        let part_of_all_of = text.contains(&format!(
            r##""allOf":[{{"$ref":"#/components/schemas/{name}""##
        )) || schemas_in_all_of(&text).contains(name);
        let object = schema.get("properties").is_some() || schema.get("allOf").is_some();
        if object && !part_of_all_of {
            schema["unevaluatedProperties"] = Value::Bool(false);
        }
    }
    components
}

/// The schemas an `allOf` names as one of its parts.
fn schemas_in_all_of(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for part in text.split(r#""allOf":["#).skip(1) {
        let end = part.find(']').unwrap_or(part.len());
        for piece in part[..end].split("#/components/schemas/").skip(1) {
            names.insert(piece.split('"').next().unwrap().to_string());
        }
    }
    names
}

/// Asserts that an answer is what the document's schema `name` describes, to the field.
fn assert_conforms(components: &Value, name: &str, answer: &Value) {
    let schema = json!({"$ref": format!("#/components/schemas/{name}"), "components": components});
    let validator = jsonschema::draft202012::new(&schema).expect("a valid schema");
    let errors: Vec<String> = (validator.iter_errors(answer))
        .map(|e| format!("{e} (at {})", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{name} does not describe {answer:#}: {errors:#?}"
    );
}

/// Real answers, with every optional part present, are what the document says they are.
#[tokio::test]
async fn answers_are_what_the_document_describes() {
    let components = strict_components();
    let check = |name: &str, answer: &Value| assert_conforms(&components, name, answer);
    let app = TestApp::with_small_catalog().await;
    let visitor = (0..)
        .map(|i| format!("openapi-{i}"))
        .find(|id| Group::of(id, 5) == Group::Personalized)
        .unwrap();
    let events = json!([
        {"type": "view", "visitor_id": visitor, "product_id": "shoe-1"},
        {"type": "purchase", "visitor_id": visitor, "product_id": "shoe-2", "price": 60.0,
         "order_id": "o-1", "timestamp": "2026-01-01T00:00:00Z"},
        {"type": "add_to_cart", "visitor_id": visitor, "product_id": "bottle-1"}]);
    let r = app.json(Method::POST, "/v1/events", &events).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    check("EventReport", &r.body);
    let searches = [
        format!("q=cheap+runing+shoes+under+%24150&visitor_id={visitor}&explain=true&highlight=true&facets=category,brand,price,tier,attr.color&page=1&hits_per_page=3"),
        "q=red+shoe&brand=Acme&attr.color=red&in_stock=true&price_min=1&price_max=500&tier=budget&sort=price_asc&facets=price".into(),
        "q=bottl&fields=id,title,score".into(),
        "q=acme+sneakr+without+laces".into(),
        "q=hydra+water+bott".into(),
    ];
    for query in &searches {
        let r = app.get(&format!("/v1/search?{query}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        check("SearchResponse", &r.body);
    }
    let browse = app
        .get(&format!(
            "/v1/browse?category=Shoes&visitor_id={visitor}&explain=true&facets=category"
        ))
        .await;
    check("SearchResponse", &browse.body);
    let multi = json!({"queries": [{"q": "shoe", "attr": {"color": ["red"]}}, {"q": "bottle"}]});
    check(
        "MultiSearchResults",
        &app.json(Method::POST, "/v1/multi-search", &multi)
            .await
            .body,
    );
    check(
        "ProfileView",
        &app.get(&format!("/v1/visitors/{visitor}")).await.body,
    );
    check(
        "AutocompleteResponse",
        &app.get(&format!("/v1/autocomplete?q=sh&visitor_id={visitor}"))
            .await
            .body,
    );
    for query in [
        format!("type=similar&product_id=shoe-1&visitor_id={visitor}&explain=true"),
        format!("type=recently_viewed&visitor_id={visitor}"),
    ] {
        let r = app.get(&format!("/v1/recommendations?{query}")).await;
        assert!(
            !r.body["items"].as_array().unwrap().is_empty(),
            "{}",
            r.body
        );
        check("Recommendations", &r.body);
    }
    check("Product", &app.get("/v1/products/shoe-1").await.body);
    check(
        "ProductsFound",
        &app.get("/v1/products?ids=shoe-1,nope").await.body,
    );
    check("Health", &app.get("/health").await.body);
    check("ConfigInForce", &app.get("/v1/admin/config").await.body);
    check("Caches", &app.get("/v1/admin/caches").await.body);
    check("ErrorBody", &app.get("/v1/products/nope").await.body);
    let sync = app.post_empty("/v1/catalog/syncs").await;
    check("SyncInfo", &sync.body);
    let bad = app
        .ndjson(
            "/v1/products",
            "{\"id\": \"x\"}\n{\"id\": \"y\", \"title\": \"Y\"}",
        )
        .await;
    check("IngestReport", &bad.body);
    let deleted = app
        .json(
            Method::POST,
            "/v1/products/delete",
            &json!({"ids": ["y", "nope"]}),
        )
        .await;
    check("DeleteReport", &deleted.body);
}

/// The check above can fail: an answer with a field its schema does not name does not
/// conform.
#[test]
fn an_undocumented_field_does_not_conform() {
    let components = strict_components();
    let health = json!({"generation": 1, "open_syncs": 0, "products": 3, "profiles": 0,
        "status": "ok", "version": "0.1.0"});
    assert_conforms(&components, "Health", &health);
    let mut extra = health.clone();
    extra["uptime"] = json!(5);
    let result = std::panic::catch_unwind(|| assert_conforms(&components, "Health", &extra));
    assert!(result.is_err());
}

#[tokio::test]
async fn every_operation_in_the_spec_is_routed() {
    let app = TestApp::new();
    for (method, path) in spec_operations() {
        let uri = path.replace("{id}", "some-id");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let r = app
            .send(method.clone(), &uri, Some("application/json"), "{}")
            .await;
        let routed =
            r.status != StatusCode::METHOD_NOT_ALLOWED && r.body["error"]["code"] != "not_found";
        assert!(
            routed,
            "{method} {uri} is not routed: {} {}",
            r.status, r.body
        );
    }
}

#[tokio::test]
async fn the_server_publishes_the_spec() {
    let app = TestApp::new();
    let r = app.get("/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, spec());
    assert_eq!(r.body["info"]["title"], "attune");
}
