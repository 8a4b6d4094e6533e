//! Autocomplete: past queries that find products first, then brands and categories, prefix
//! and typo matching, limits, and the visitor's affinities reordering suggestions.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::TestApp;

/// Records one search event per (visitor, query).
async fn searches(app: &TestApp, searches: &[(&str, &str)]) {
    let events: Vec<Value> = searches
        .iter()
        .map(|(visitor, query)| json!({"type": "search", "visitor_id": visitor, "query": query}))
        .collect();
    let r = app.json(Method::POST, "/v1/events", &json!(events)).await;
    assert_eq!(r.body["failed"], 0, "{}", r.body);
}

/// Records product views for a visitor.
async fn views(app: &TestApp, visitor: &str, products: &[&str]) {
    let events: Vec<Value> = products
        .iter()
        .map(|p| json!({"type": "view", "visitor_id": visitor, "product_id": p}))
        .collect();
    let r = app.json(Method::POST, "/v1/events", &json!(events)).await;
    assert_eq!(r.body["failed"], 0, "{}", r.body);
}

async fn rebuild(app: &TestApp) {
    app.engine.rebuild_suggestions().await.expect("rebuild");
}

/// The suggestions answered for a query string, as (text, type, count).
async fn suggest(app: &TestApp, query: &str) -> Vec<(String, String, u64)> {
    let r = app.get(&format!("/v1/autocomplete?{query}")).await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.body);
    assert!(r.body["took_ms"].is_number(), "{}", r.body);
    r.body["suggestions"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| {
            let text = s["text"].as_str().unwrap_or_default().to_string();
            let kind = s["type"].as_str().unwrap_or_default().to_string();
            (text, kind, s["count"].as_u64().unwrap_or_default())
        })
        .collect()
}

fn texts(found: &[(String, String, u64)]) -> Vec<&str> {
    found.iter().map(|s| s.0.as_str()).collect()
}

fn entry(text: &str, kind: &str, count: u64) -> (String, String, u64) {
    (text.to_string(), kind.to_string(), count)
}

#[tokio::test]
async fn popular_queries_that_find_products_come_first_counted_in_visitors() {
    let app = TestApp::with_small_catalog().await;
    searches(
        &app,
        &[
            ("v1", "Running Shoes"),
            ("v2", "running  shoes"),
            ("v3", "running shoes"),
            ("v1", "road running shoe"),
            ("v2", "road running shoe"),
            // Finds nothing: never suggested, however popular.
            ("v1", "rain boots"),
            ("v2", "rain boots"),
            ("v3", "rain boots"),
            // Finds products only once corrected: a misspelling is not worth suggesting.
            ("v1", "sneakr"),
            ("v2", "sneakr"),
            // One visitor is not enough to suggest a query to everyone.
            ("v4", "red running shoe"),
        ],
    )
    .await;
    rebuild(&app).await;
    let found = suggest(&app, "q=r").await;
    assert_eq!(
        found[..3],
        [
            entry("running shoes", "query", 3),
            entry("road running shoe", "query", 2),
            entry("Running", "category", 3),
        ]
    );
    let texts = texts(&found);
    for absent in ["rain boots", "red running shoe"] {
        assert!(!texts.contains(&absent), "{absent} in {texts:?}");
    }
    let sneak = suggest(&app, "q=sneak").await;
    assert!(
        sneak.iter().all(|s| s.1 != "query"),
        "a misspelt query is not suggested: {sneak:?}"
    );
}

#[tokio::test]
async fn a_prefix_with_a_typo_still_finds_the_suggestion() {
    let app = TestApp::with_small_catalog().await;
    searches(&app, &[("v1", "running shoes"), ("v2", "running shoes")]).await;
    rebuild(&app).await;
    let found = suggest(&app, "q=runing").await;
    assert_eq!(found[0], entry("running shoes", "query", 2));
    // What is typed is normalised like the suggestions: case and spaces do not matter.
    let found = suggest(&app, "q=RUNNING+SH").await;
    assert_eq!(found[0], entry("running shoes", "query", 2));
    assert!(
        found[1..]
            .iter()
            .all(|s| s.1 == "product" && s.0.contains("Running Shoe"))
    );
    // Three letters are too few for typos.
    assert!(suggest(&app, "q=rnu").await.is_empty());
}

#[tokio::test]
async fn brands_categories_and_titles_are_suggested_with_their_counts() {
    let app = TestApp::with_small_catalog().await;
    rebuild(&app).await;
    assert_eq!(suggest(&app, "q=ac").await, [entry("Acme", "brand", 2)]);
    assert_eq!(
        suggest(&app, "q=kit").await,
        [entry("Kitchen", "category", 4)]
    );
    assert_eq!(
        suggest(&app, "q=trail").await,
        [entry("Trail Running Shoe", "product", 500)]
    );
    // A word inside a title starts a match too.
    let found = suggest(&app, "q=blender&limit=20").await;
    assert_eq!(
        texts(&found),
        [
            "Blenders",
            "Personal Blender for Smoothies",
            "Countertop Blender 1200W"
        ]
    );
    // Regression: once a past query qualified, the titles were no longer suggested. Past
    // queries come first, and the products still have their share.
    searches(&app, &[("v1", "blender"), ("v2", "blender")]).await;
    rebuild(&app).await;
    assert_eq!(
        suggest(&app, "q=blend").await,
        [
            entry("blender", "query", 2),
            entry("Blenders", "category", 2),
            entry("Personal Blender for Smoothies", "product", 1200),
            entry("Countertop Blender 1200W", "product", 700),
        ]
    );
}

#[tokio::test]
async fn an_empty_query_answers_the_most_popular_suggestions_up_to_the_limit() {
    let app = TestApp::with_small_catalog().await;
    searches(
        &app,
        &[
            ("v1", "mug"),
            ("v2", "mug"),
            ("v3", "mug"),
            ("v1", "lamp"),
            ("v2", "lamp"),
        ],
    )
    .await;
    rebuild(&app).await;
    // Of 4: past queries 2, brands and categories 1, products 1.
    let found = suggest(&app, "limit=4").await;
    assert_eq!(
        found,
        [
            entry("mug", "query", 3),
            entry("lamp", "query", 2),
            entry("Home", "category", 5),
            entry("Insulated Water Bottle 1L", "product", 2000),
        ]
    );
    assert_eq!(suggest(&app, "q=").await.len(), 8, "the default limit");
}

#[tokio::test]
async fn queries_that_stop_finding_products_are_dropped_at_the_next_rebuild() {
    let app = TestApp::with_small_catalog().await;
    searches(&app, &[("v1", "desk lamp"), ("v2", "desk lamp")]).await;
    rebuild(&app).await;
    assert_eq!(
        suggest(&app, "q=desk").await,
        [
            entry("desk lamp", "query", 2),
            entry("LED Desk Lamp", "product", 400)
        ]
    );
    let r = app
        .send(Method::DELETE, "/v1/products/lamp-1", None, "")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    rebuild(&app).await;
    assert!(suggest(&app, "q=desk").await.is_empty());
    assert!(
        suggest(&app, "q=lum").await.is_empty(),
        "the brand is gone too"
    );
}

#[tokio::test]
async fn the_periodic_refresh_rebuilds_only_after_the_catalog_or_the_profiles_changed() {
    let app = TestApp::with_small_catalog().await;
    let refresh = || async { app.engine.refresh_suggestions().await.expect("refresh") };
    assert!(refresh().await.is_some(), "first build");
    assert!(refresh().await.is_none(), "nothing changed");
    searches(&app, &[("v1", "desk lamp"), ("v2", "desk lamp")]).await;
    assert_eq!(refresh().await.map(|s| s.queries), Some(1));
    assert!(refresh().await.is_none());
    let r = app
        .send(Method::DELETE, "/v1/products/lamp-1", None, "")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(refresh().await.is_some(), "the catalog changed");
    assert!(suggest(&app, "q=desk").await.is_empty());
}

#[tokio::test]
async fn a_visitors_brands_and_categories_move_their_suggestions_up() {
    let app = TestApp::with_small_catalog().await;
    let runners = ["a", "b", "c", "d"].map(|v| (v, "running shoes"));
    let drinkers = ["a", "b", "c"].map(|v| (v, "water bottle"));
    searches(&app, &runners).await;
    searches(&app, &drinkers).await;
    views(&app, "fan", &["bottle-1", "bottle-2", "bottle-3"]).await;
    rebuild(&app).await;
    // Of 4, past queries have 2.
    let anonymous = suggest(&app, "limit=4").await;
    assert_eq!(texts(&anonymous)[..2], ["running shoes", "water bottle"]);
    let fan = suggest(&app, "limit=4&visitor_id=fan").await;
    assert_eq!(texts(&fan)[..2], ["water bottle", "running shoes"]);
    assert_eq!(fan[0].2, 3, "the count shown is not boosted");
    // An unknown visitor is not an error: everyone's order.
    assert_eq!(suggest(&app, "limit=4&visitor_id=nobody").await, anonymous);
    // Opting out of personalization turns the boost off.
    let r = app
        .json(
            Method::PUT,
            "/v1/visitors/fan/preferences",
            &json!({"personalize": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(suggest(&app, "limit=4&visitor_id=fan").await, anonymous);
}

#[tokio::test]
async fn searches_of_visitors_who_opted_out_are_not_counted() {
    let app = TestApp::with_small_catalog().await;
    searches(&app, &[("v1", "mug"), ("v2", "mug")]).await;
    let r = app
        .json(
            Method::PUT,
            "/v1/visitors/v2/preferences",
            &json!({"personalize": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    rebuild(&app).await;
    assert!(!suggest(&app, "q=mug").await.iter().any(|s| s.1 == "query"));
}

#[tokio::test]
async fn a_limit_out_of_range_or_an_unknown_parameter_is_a_422_naming_it() {
    let app = TestApp::with_small_catalog().await;
    for (query, field) in [
        ("limit=21", "limit"),
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("size=3", "size"),
    ] {
        let r = app.get(&format!("/v1/autocomplete?q=a&{query}")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(r.body["error"]["code"], "invalid_field");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(field), "{message}");
    }
    rebuild(&app).await;
    assert_eq!(suggest(&app, "limit=20").await.len(), 20);
}

#[tokio::test]
async fn a_suggestion_carries_what_a_click_opens() {
    let app = TestApp::with_small_catalog().await;
    rebuild(&app).await;
    let r = app.get("/v1/autocomplete?q=trail").await;
    let product = &r.body["suggestions"][0];
    assert_eq!(product["type"], "product", "{}", r.body);
    assert_eq!(product["id"], "shoe-1");
    let r = app.get("/v1/autocomplete?q=kit").await;
    let category = &r.body["suggestions"][0];
    assert_eq!(category["type"], "category", "{}", r.body);
    assert_eq!(category["path"], json!(["Home", "Kitchen"]));
    assert!(category.get("id").is_none());
}

#[tokio::test]
async fn a_new_catalog_is_suggested_right_after_its_first_commit() {
    // Regression: a new catalog was suggested only at the next periodic rebuild.
    let app = TestApp::new();
    let r = app
        .ndjson("/v1/products", crate::common::SMALL_CATALOG)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if !suggest(&app, "q=ac").await.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no suggestions after the commit"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(suggest(&app, "q=ac").await[0], entry("Acme", "brand", 2));
}

#[tokio::test]
async fn a_synonym_typed_in_full_finds_the_suggestions_of_its_synonyms() {
    // Regression: `couch` did not find the sofa suggestions.
    let app = TestApp::with_config("[search.synonyms]\ngroups = [[\"lamp\", \"luminaire\"]]\n")
        .load_small_catalog()
        .await;
    rebuild(&app).await;
    let lamps = texts(&suggest(&app, "q=lamp").await)
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
    assert!(!lamps.is_empty());
    let found = suggest(&app, "q=Luminaire").await;
    assert_eq!(texts(&found), lamps);
    // Only a whole synonym: a word that merely starts with one finds nothing.
    assert!(suggest(&app, "q=luminaires").await.is_empty());
}
