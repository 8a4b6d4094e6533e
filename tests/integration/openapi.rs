//! The published OpenAPI description matches the routes the server really has.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};

use crate::common::TestApp;

fn spec_operations() -> BTreeSet<(String, String)> {
    let spec: serde_json::Value =
        serde_json::from_str(attune::http::health::OPENAPI).expect("valid JSON");
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

#[test]
fn the_spec_lists_exactly_the_route_table() {
    let routes: BTreeSet<(String, String)> = attune::http::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(spec_operations(), routes);
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
    assert_eq!(r.body["info"]["title"], "attune");
}
