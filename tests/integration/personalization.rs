//! Personalized ranking: price tiers, re-ranking by the visitor's taste, the control group,
//! strength, and explanations that add up.

use attune::search::personalize::Group;
use serde_json::{Value, json};

use crate::common::{TestApp, ids};

const TIERED: &str = include_str!("../../fixtures/tiered_catalog.ndjson");

async fn store() -> TestApp {
    let app = TestApp::with_config("[tiers]\nmin_products = 4\n");
    let r = app.ndjson("/v1/products", TIERED).await;
    assert_eq!(r.body["failed"], 0, "{}", r.body);
    app
}

/// A visitor id of the given group (ids hash into groups deterministically).
fn visitor(prefix: &str, group: Group) -> String {
    (0..)
        .map(|i| format!("{prefix}-{i}"))
        .find(|id| Group::of(id, 5) == group)
        .expect("some id of each group")
}

async fn buys(app: &TestApp, visitor: &str, product: &str, price: f64) {
    let event = json!({"type": "purchase", "visitor_id": visitor, "product_id": product,
        "price": price, "order_id": format!("{visitor}-{product}")});
    let r = app.ndjson("/v1/events", &event.to_string()).await;
    assert_eq!(r.body["accepted"], 1, "{}", r.body);
}

async fn search(app: &TestApp, query: &str) -> Value {
    app.get(&format!("/v1/search?{query}")).await.body
}

fn tiers(body: &Value) -> Vec<String> {
    body["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["tier"].as_str().unwrap_or("none").to_string())
        .collect()
}

#[tokio::test]
async fn tiers_are_relative_to_the_category_and_shown_on_hits() {
    let app = store().await;
    let body = search(&app, "q=running+shoe&limit=20&facets=tier").await;
    let by_id: std::collections::HashMap<String, String> =
        ids(&body).into_iter().zip(tiers(&body)).collect();
    assert_eq!(by_id["run-1"], "budget");
    assert_eq!(by_id["run-8"], "luxury");
    assert_eq!(by_id["shoe-free"], "none");
    // A sock at 120 is luxury among socks; a shoe at 110 is only premium among shoes.
    let socks = search(&app, "q=socks&limit=20").await;
    let sock_tiers: std::collections::HashMap<String, String> =
        ids(&socks).into_iter().zip(tiers(&socks)).collect();
    assert_eq!(sock_tiers["sock-8"], "luxury");
    assert_eq!(by_id["run-5"], "premium");
    // The facet counts every priced match by tier.
    let counted: u64 = body["facets"]["tier"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 8);
}

#[tokio::test]
async fn tiers_follow_catalog_changes_and_filter_results() {
    let app = store().await;
    let budget = search(&app, "q=running+shoe&tier=budget&limit=20").await;
    let mut found = ids(&budget);
    found.sort();
    assert_eq!(found, vec!["run-1", "run-2"]);
    // A price cut moves a luxury shoe to the budget tier.
    let r = app
        .json(
            axum::http::Method::PATCH,
            "/v1/products/run-8",
            &json!({"price": 35.0}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let budget = search(&app, "q=running+shoe&tier=budget&limit=20").await;
    assert!(ids(&budget).contains(&"run-8".to_string()), "{budget}");
    let bad = app.get("/v1/search?q=shoe&tier=cheap").await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["error"]["code"], "invalid_field");
}

#[tokio::test]
async fn a_premium_buyer_and_a_budget_buyer_see_their_tier_first() {
    let app = store().await;
    let premium = visitor("premium", Group::Personalized);
    let budget = visitor("budget", Group::Personalized);
    buys(&app, &premium, "run-7", 160.0).await;
    buys(&app, &budget, "run-2", 48.0).await;
    let for_premium = search(&app, &format!("q=running+shoe&visitor_id={premium}")).await;
    let for_budget = search(&app, &format!("q=running+shoe&visitor_id={budget}")).await;
    assert_eq!(for_premium["personalization"]["applied"], true);
    assert_eq!(for_premium["personalization"]["group"], "personalized");
    let top = |body: &Value| tiers(body)[..2].to_vec();
    for tier in top(&for_premium) {
        assert!(tier == "premium" || tier == "luxury", "{for_premium}");
    }
    for tier in top(&for_budget) {
        assert!(tier == "budget" || tier == "mid", "{for_budget}");
    }
    // Personalization reorders; it never changes which products match.
    let plain = search(&app, "q=running+shoe&limit=20").await;
    let mut a = ids(&search(
        &app,
        &format!("q=running+shoe&limit=20&visitor_id={premium}"),
    )
    .await);
    let mut b = ids(&plain);
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

#[tokio::test]
async fn the_control_group_strength_zero_and_empty_profiles_get_the_plain_order() {
    let app = store().await;
    let plain = ids(&search(&app, "q=running+shoe&limit=20").await);
    let control = visitor("control", Group::Control);
    let shopper = visitor("shopper", Group::Personalized);
    buys(&app, &control, "run-8", 185.0).await;
    buys(&app, &shopper, "run-8", 185.0).await;
    let body = search(
        &app,
        &format!("q=running+shoe&limit=20&visitor_id={control}"),
    )
    .await;
    assert_eq!(body["personalization"]["group"], "control");
    assert_eq!(body["personalization"]["applied"], false);
    assert_eq!(ids(&body), plain);
    let body = search(
        &app,
        &format!("q=running+shoe&limit=20&visitor_id={shopper}&personalization=0"),
    )
    .await;
    assert_eq!(body["personalization"]["applied"], false);
    assert_eq!(ids(&body), plain);
    let stranger = visitor("stranger", Group::Personalized);
    let body = search(
        &app,
        &format!("q=running+shoe&limit=20&visitor_id={stranger}"),
    )
    .await;
    assert_eq!(body["personalization"]["applied"], false);
    assert_eq!(ids(&body), plain);
    // And the same shopper at full strength does get another order.
    let body = search(
        &app,
        &format!("q=running+shoe&limit=20&visitor_id={shopper}"),
    )
    .await;
    assert_ne!(ids(&body), plain);
}

#[tokio::test]
async fn a_click_changes_the_next_search_at_once() {
    let app = store().await;
    let shopper = visitor("clicker", Group::Personalized);
    let before = ids(&search(
        &app,
        &format!("q=running+shoe&limit=20&visitor_id={shopper}"),
    )
    .await);
    let event = json!({"type": "click", "visitor_id": shopper, "product_id": "run-6"});
    app.ndjson("/v1/events", &event.to_string()).await;
    let after = ids(&search(
        &app,
        &format!("q=running+shoe&limit=20&visitor_id={shopper}"),
    )
    .await);
    assert_ne!(before, after);
    let rank = |list: &[String]| list.iter().position(|id| id == "run-6").unwrap();
    assert!(rank(&after) < rank(&before), "{before:?} then {after:?}");
}

#[tokio::test]
async fn explain_shows_every_signal_and_adds_up_to_the_score() {
    let app = store().await;
    let shopper = visitor("explained", Group::Personalized);
    buys(&app, &shopper, "run-5", 110.0).await;
    let body = search(
        &app,
        &format!("q=cheap+running+shoe&explain=true&visitor_id={shopper}"),
    )
    .await;
    assert_eq!(body["query"]["price_intent"]["tier"], "budget");
    for hit in body["hits"].as_array().unwrap() {
        let e = &hit["explain"];
        let mut score = e["text"].as_f64().unwrap();
        for stage in e["stages"].as_array().unwrap() {
            score *= stage["factor"].as_f64().unwrap();
        }
        let p = &e["personalization"];
        assert_eq!(p["signals"].as_array().unwrap().len(), 6);
        score *= p["factor"].as_f64().unwrap();
        let shown = hit["score"].as_f64().unwrap();
        assert!((score - shown).abs() < 1e-6 * shown.max(1.0), "{hit}");
        assert!((e["score"].as_f64().unwrap() - shown).abs() < 1e-9, "{hit}");
    }
    let stages: Vec<&str> = body["hits"][0]["explain"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert!(stages.contains(&"price_intent"), "{stages:?}");
}

#[tokio::test]
async fn cheap_puts_budget_products_first_without_a_profile() {
    let app = store().await;
    let body = search(&app, "q=cheap+running+shoe&limit=3").await;
    for tier in tiers(&body) {
        assert!(tier == "budget" || tier == "mid", "{body}");
    }
    let body = search(&app, "q=luxury+running+shoe&limit=2").await;
    for tier in tiers(&body) {
        assert!(tier == "luxury" || tier == "premium", "{body}");
    }
}
