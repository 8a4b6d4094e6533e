//! Malformed and invalid requests of every kind get the right 4xx and our JSON error body.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::TestApp;

fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

/// One malformed request and the answer it must get.
struct Case {
    method: Method,
    uri: &'static str,
    content_type: Option<&'static str>,
    body: &'static str,
    status: StatusCode,
    code: &'static str,
}

const fn case(
    method: Method,
    uri: &'static str,
    content_type: Option<&'static str>,
    body: &'static str,
    status: StatusCode,
    code: &'static str,
) -> Case {
    Case {
        method,
        uri,
        content_type,
        body,
        status,
        code,
    }
}

const JSON: Option<&str> = Some("application/json");

#[tokio::test]
async fn malformed_requests_of_every_kind_get_the_right_4xx_and_a_json_error() {
    let app = TestApp::new();
    let cases = [
        // Unknown paths and wrong methods.
        case(
            Method::GET,
            "/v2/whatever",
            None,
            "",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        case(
            Method::PUT,
            "/v1/search",
            None,
            "",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        case(
            Method::PUT,
            "/v1/products",
            None,
            "",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        // Bodies of the wrong media type.
        case(
            Method::POST,
            "/v1/products",
            Some("text/csv"),
            "id,title",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        case(
            Method::POST,
            "/v1/products",
            None,
            "{}",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        case(
            Method::POST,
            "/v1/search",
            Some("text/plain"),
            "{}",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        // Malformed JSON.
        case(
            Method::POST,
            "/v1/search",
            JSON,
            "{\"q\": ",
            StatusCode::BAD_REQUEST,
            "malformed_request",
        ),
        case(
            Method::POST,
            "/v1/search",
            JSON,
            "[1]",
            StatusCode::BAD_REQUEST,
            "malformed_request",
        ),
        case(
            Method::PATCH,
            "/v1/products/x",
            JSON,
            "nope",
            StatusCode::BAD_REQUEST,
            "malformed_request",
        ),
        case(
            Method::POST,
            "/v1/products",
            JSON,
            "",
            StatusCode::BAD_REQUEST,
            "malformed_request",
        ),
        case(
            Method::POST,
            "/v1/products/delete",
            JSON,
            "{\"id\": [\"a\"]}",
            StatusCode::BAD_REQUEST,
            "malformed_request",
        ),
        // Unknown things.
        case(
            Method::GET,
            "/v1/products/nope",
            None,
            "",
            StatusCode::NOT_FOUND,
            "unknown_product",
        ),
        case(
            Method::DELETE,
            "/v1/products/nope",
            None,
            "",
            StatusCode::NOT_FOUND,
            "unknown_product",
        ),
        case(
            Method::POST,
            "/v1/catalog/syncs/nope/commit",
            None,
            "",
            StatusCode::NOT_FOUND,
            "unknown_sync",
        ),
        case(
            Method::DELETE,
            "/v1/catalog/syncs/nope",
            None,
            "",
            StatusCode::NOT_FOUND,
            "unknown_sync",
        ),
        case(
            Method::POST,
            "/v1/products?sync_id=nope",
            Some("application/x-ndjson"),
            "{}",
            StatusCode::NOT_FOUND,
            "unknown_sync",
        ),
        case(
            Method::POST,
            "/v1/products?sync=1",
            Some("application/x-ndjson"),
            "{}",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
    ];
    for c in cases {
        let r = app
            .send(c.method.clone(), c.uri, c.content_type, c.body)
            .await;
        assert_eq!(r.status, c.status, "{} {}: {}", c.method, c.uri, r.body);
        assert_error(r.status, &r.body, c.status, c.code);
    }
}

#[tokio::test]
async fn invalid_search_parameters_are_422_naming_the_parameter() {
    let app = TestApp::new();
    for (query, field) in [
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("price_min=abc", "price_min"),
        ("price_min=10&price_max=5", "price_min"),
        ("in_stock=perhaps", "in_stock"),
        ("sort=random", "sort"),
        ("facets=colour", "facets"),
        ("colour=red", "colour"),
        ("offset=9995&limit=10", "offset"),
    ] {
        let r = app.get(&format!("/v1/search?{query}")).await;
        assert_error(
            r.status,
            &r.body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        );
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{field}:")),
            "{query}: {message}"
        );
    }
    let r = app
        .json(Method::POST, "/v1/search", &json!({"q": ["a"]}))
        .await;
    assert_error(
        r.status,
        &r.body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
}

#[tokio::test]
async fn a_body_above_the_limit_is_413() {
    let app = TestApp::new();
    let big = format!("{{\"q\": \"{}\"}}", "x".repeat(2 << 20));
    let r = app
        .send(Method::POST, "/v1/search", Some("application/json"), big)
        .await;
    assert_error(
        r.status,
        &r.body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    );
}

#[tokio::test]
async fn product_uploads_above_the_configured_limit_are_413() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = attune::Config::default();
    config.server.max_body_bytes = 1000;
    let engine = crate::common::open_engine(dir.path(), config);
    let router = attune::http::router(engine);
    let body: String = (0..100)
        .map(|i| format!("{{\"id\":\"{i}\",\"title\":\"t\"}}\n"))
        .collect();
    let request = axum::http::Request::post("/v1/products")
        .header("content-type", "application/x-ndjson")
        .body(axum::body::Body::from(body))
        .unwrap();
    let response = tower::ServiceExt::oneshot(router, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_415_names_what_the_endpoint_reads() {
    // Regression: POST /v1/search with NDJSON got a 415 whose message recommended NDJSON.
    let app = TestApp::new();
    let r = app
        .send(
            Method::POST,
            "/v1/search",
            Some("application/x-ndjson"),
            "{}",
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.ends_with("send application/json"), "{message}");
    let r = app
        .send(Method::POST, "/v1/products", Some("text/csv"), "id,title")
        .await;
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("application/x-ndjson"), "{message}");
}

#[tokio::test]
async fn a_patch_in_the_merge_patch_media_type_is_accepted() {
    // Regression: PATCH refused application/merge-patch+json, the type of RFC 7396.
    let app = TestApp::with_small_catalog().await;
    let r = app
        .send(
            Method::PATCH,
            "/v1/products/shoe-1",
            Some("application/merge-patch+json"),
            r#"{"title": "Patched"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        app.get("/v1/products/shoe-1").await.body["title"],
        "Patched"
    );
}

#[tokio::test]
async fn a_batch_in_which_every_item_failed_is_a_422_with_its_report() {
    // Regression: a product or event batch whose every item was rejected answered 200.
    let app = TestApp::new();
    let r = app
        .send(
            Method::POST,
            "/v1/products",
            Some("application/x-ndjson"),
            "{\"id\": \"\"}\n{\"title\": \"x\"}\n",
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "invalid_items");
    assert_eq!(
        (r.body["upserted"].clone(), r.body["failed"].clone()),
        (json!(0), json!(2))
    );
    let bad_event = r#"{"type": "view", "visitor_id": "v"}"#;
    let r = app
        .send(
            Method::POST,
            "/v1/events",
            Some("application/x-ndjson"),
            bad_event,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 1: product_id"),
        "{}",
        r.body
    );
    // One good item is a partial success: 200, with the failures listed.
    let r = app
        .send(
            Method::POST,
            "/v1/products",
            Some("application/x-ndjson"),
            "{\"id\": \"\"}\n{\"id\": \"ok\", \"title\": \"Fine\"}\n",
        )
        .await;
    assert_eq!(
        (r.status, r.body["upserted"].clone()),
        (StatusCode::OK, json!(1))
    );
}
