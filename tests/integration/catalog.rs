//! Catalog API: the three body forms, partial failures, reads, patches and deletes.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::{EDGE_CASES, SMALL_CATALOG, TestApp};

#[tokio::test]
async fn ndjson_ingest_upserts_every_valid_line_and_is_searchable_at_once() {
    let app = TestApp::new();
    let r = app.ndjson("/v1/products", SMALL_CATALOG).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"upserted": 12, "failed": 0, "errors": []}));
    assert_eq!(app.get("/health").await.body["products"], 12);
    assert_eq!(app.search_ids("q=blender").await.len(), 2);
}

#[tokio::test]
async fn a_json_array_and_a_single_object_are_both_accepted() {
    let app = TestApp::new();
    let body = json!([{"id": "a", "title": "Alpha"}, {"id": "b", "title": "Beta"}]);
    let r = app.json(Method::POST, "/v1/products", &body).await;
    assert_eq!(r.body["upserted"], 2, "{}", r.body);
    let r = app
        .json(
            Method::POST,
            "/v1/products",
            &json!({"id": "c", "title": "Gamma"}),
        )
        .await;
    assert_eq!(r.body["upserted"], 1, "{}", r.body);
    assert_eq!(app.get("/health").await.body["products"], 3);
}

#[tokio::test]
async fn a_pretty_printed_array_reports_failures_at_the_line_the_item_starts() {
    let app = TestApp::new();
    let body = "[\n  {\"id\": \"a\", \"title\": \"ok\"},\n  {\n    \"id\": \"b\",\n    \"price\": -4\n  }\n]";
    let r = app
        .send(Method::POST, "/v1/products", Some("application/json"), body)
        .await;
    assert_eq!(r.body["upserted"], 1);
    assert_eq!(r.body["failed"], 1);
    assert_eq!(r.body["errors"][0]["line"], 3);
    assert_eq!(r.body["errors"][0]["id"], "b");
}

#[tokio::test]
async fn edge_cases_apply_the_valid_items_and_name_each_failure_by_line_and_field() {
    let app = TestApp::new();
    let r = app.ndjson("/v1/products", EDGE_CASES).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["upserted"], 5, "{}", r.body);
    assert_eq!(r.body["failed"], 5);
    let errors = r.body["errors"].as_array().unwrap();
    let lines: Vec<u64> = errors.iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![6, 7, 8, 9, 10]);
    assert!(errors[0]["message"].as_str().unwrap().starts_with("id:"));
    assert!(errors[1]["message"].as_str().unwrap().starts_with("price:"));
    assert_eq!(errors[1]["id"], "edge-bad-price");
    assert!(
        errors[2]["message"]
            .as_str()
            .unwrap()
            .starts_with("created_at:")
    );
    assert_eq!(errors[3]["code"], "malformed_json");
    assert_eq!(errors[4]["code"], "invalid_field");
    assert_eq!(errors[4]["message"], "a product must be a JSON object");

    let p = app.get("/v1/products/edge-spaces").await.body;
    assert_eq!(p["title"], "Padded title");
    assert_eq!(p["category"], json!(["A", "B"]));
    assert!(p.get("brand").is_none());
    let p = app.get("/v1/products/edge-numbers").await.body;
    assert_eq!(p["attributes"]["size"], json!(["42"]));
    assert_eq!(p["attributes"]["waterproof"], json!(["true"]));
}

#[tokio::test]
async fn a_product_is_returned_with_its_unknown_fields_as_given() {
    let app = TestApp::with_small_catalog().await;
    let r = app.get("/v1/products/lamp-1").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["gtin"], "0000000000017");
    assert_eq!(r.body["warranty"], json!({"years": 2}));
    assert_eq!(r.body["in_stock"], true);
}

#[tokio::test]
async fn an_upsert_replaces_the_product_with_the_same_id() {
    let app = TestApp::with_small_catalog().await;
    app.ndjson(
        "/v1/products",
        r#"{"id":"lamp-1","title":"Floor Lamp","price":99}"#,
    )
    .await;
    let p = app.get("/v1/products/lamp-1").await.body;
    assert_eq!(p["title"], "Floor Lamp");
    assert!(p.get("gtin").is_none());
    assert_eq!(app.get("/health").await.body["products"], 12);
    assert_eq!(app.search_ids("q=desk").await, Vec::<String>::new());
    assert_eq!(app.search_ids("q=floor+lamp").await, vec!["lamp-1"]);
}

#[tokio::test]
async fn a_patch_changes_price_stock_and_one_attribute_and_is_searchable() {
    let app = TestApp::with_small_catalog().await;
    let patch = json!({"price": 10, "in_stock": false, "attributes": {"color": "Orange"}});
    let r = app
        .json(Method::PATCH, "/v1/products/blender-1", &patch)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["price"], 10.0);
    assert_eq!(r.body["brand"], "Mixo");
    assert_eq!(app.search_ids("attr.color=orange").await, vec!["blender-1"]);
    assert_eq!(
        app.search_ids("q=blender&price_max=15").await,
        vec!["blender-1"]
    );
    assert_eq!(
        app.search_ids("q=blender&in_stock=true").await,
        vec!["blender-2"]
    );
}

#[tokio::test]
async fn patching_an_unknown_product_is_404_and_an_invalid_patch_is_422() {
    let app = TestApp::with_small_catalog().await;
    let r = app
        .json(Method::PATCH, "/v1/products/nope", &json!({"price": 1}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["code"], "unknown_product");
    let r = app
        .json(
            Method::PATCH,
            "/v1/products/mug-1",
            &json!({"price": "free"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("price:")
    );
}

#[tokio::test]
async fn deletes_remove_products_from_reads_and_search() {
    let app = TestApp::with_small_catalog().await;
    let r = app
        .send(Method::DELETE, "/v1/products/mug-1", None, "")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        app.get("/v1/products/mug-1").await.status,
        StatusCode::NOT_FOUND
    );
    let r = app
        .send(Method::DELETE, "/v1/products/mug-1", None, "")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let r = app
        .json(
            Method::POST,
            "/v1/products/delete",
            &json!({"ids": ["shoe-1", "shoe-2", "ghost"]}),
        )
        .await;
    assert_eq!(r.body, json!({"deleted": 2, "not_found": ["ghost"]}));
    assert_eq!(app.search_ids("q=running").await, vec!["shoe-3"]);
    assert_eq!(app.get("/health").await.body["products"], 9);
}

#[tokio::test]
async fn concurrent_writers_each_get_a_durable_answer() {
    let app = TestApp::new();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let router = app.router.clone();
        tasks.push(tokio::spawn(async move {
            let body: String = (0..50)
                .map(|j| format!("{{\"id\":\"p{i}-{j}\",\"title\":\"Item {i} {j}\"}}\n"))
                .collect();
            let request = axum::http::Request::post("/v1/products")
                .header("content-type", "application/x-ndjson")
                .body(axum::body::Body::from(body))
                .unwrap();
            tower::ServiceExt::oneshot(router, request)
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(app.get("/health").await.body["products"], 400);
}
