//! Full catalog syncs: replace semantics, atomic commit, abandon, restart.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::{TestApp, open_engine};

async fn open_sync(app: &TestApp) -> String {
    let r = app.post_empty("/v1/catalog/syncs").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["sync_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_committed_sync_replaces_the_catalog_and_searches_see_the_old_one_until_then() {
    let app = TestApp::with_small_catalog().await;
    let sync = open_sync(&app).await;
    let uri = format!("/v1/products?sync_id={sync}");
    let r = app.ndjson(&uri, "{\"id\":\"lamp-1\",\"title\":\"Lamp v2\"}\n{\"id\":\"new-1\",\"title\":\"Zyxwv gadget\"}\n{\"id\":\"bad\"}").await;
    assert_eq!(r.body["upserted"], 2, "{}", r.body);
    assert_eq!(r.body["failed"], 1);
    assert_eq!(r.body["sync_id"], sync);
    let r = app
        .ndjson(&uri, "{\"id\":\"new-2\",\"title\":\"Second batch\"}")
        .await;
    assert_eq!(r.body["upserted"], 1);

    // Before the commit: the old catalog, untouched.
    assert_eq!(app.get("/health").await.body["products"], 12);
    assert!(app.search_ids("q=zyxwv").await.is_empty());
    assert_eq!(
        app.get("/v1/products/lamp-1").await.body["title"],
        "LED Desk Lamp"
    );

    let r = app
        .post_empty(&format!("/v1/catalog/syncs/{sync}/commit"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, json!({"products": 3, "removed": 11}));
    assert_eq!(app.get("/health").await.body["products"], 3);
    assert_eq!(
        app.get("/v1/products/lamp-1").await.body["title"],
        "Lamp v2"
    );
    assert_eq!(
        app.get("/v1/products/shoe-1").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.search_ids("q=zyxwv").await, vec!["new-1"]);

    // A committed sync is closed.
    let r = app
        .ndjson(&uri, "{\"id\":\"late\",\"title\":\"Too late\"}")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_aborted_sync_changes_nothing() {
    let app = TestApp::with_small_catalog().await;
    let sync = open_sync(&app).await;
    app.ndjson(
        &format!("/v1/products?sync_id={sync}"),
        "{\"id\":\"x\",\"title\":\"X\"}",
    )
    .await;
    let r = app
        .send(
            Method::DELETE,
            &format!("/v1/catalog/syncs/{sync}"),
            None,
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .post_empty(&format!("/v1/catalog/syncs/{sync}/commit"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/health").await.body["products"], 12);
}

#[tokio::test]
async fn an_open_sync_survives_a_restart_and_can_still_be_committed() {
    let dir = tempfile::tempdir().unwrap();
    let sync = {
        let engine = open_engine(dir.path(), attune::Config::default());
        let app = TestApp {
            router: attune::http::router(engine.clone()),
            engine,
            _dir: tempfile::tempdir().unwrap(),
        };
        app.ndjson("/v1/products", "{\"id\":\"old\",\"title\":\"Old\"}")
            .await;
        let sync = open_sync(&app).await;
        app.ndjson(
            &format!("/v1/products?sync_id={sync}"),
            "{\"id\":\"kept\",\"title\":\"Kept\"}",
        )
        .await;
        app.engine.close();
        sync
    };
    let engine = open_engine(dir.path(), attune::Config::default());
    let report = engine.commit_sync(&sync).await.unwrap();
    assert_eq!(report.products, 1);
    assert!(engine.product("kept").is_ok());
    assert!(engine.product("old").is_err());
}
