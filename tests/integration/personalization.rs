//! Personalized ranking: price tiers, re-ranking by the visitor's taste, the control group,
//! strength, and explanations that add up.

use attune::group::Group;
use serde_json::{Value, json};

use crate::common::{TestApp, ids, on_disk};

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
    // The profile shows the tiers the tier signal aims at.
    let profile = app.get(&format!("/v1/visitors/{premium}")).await.body;
    let running = profile["price_tiers"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c[0] == "Shoes > Running")
        .cloned()
        .unwrap_or_default();
    assert_eq!(running[1]["tier"], "luxury", "{profile}");
    assert_eq!(profile["price_tiers"]["overall"]["tier"], "luxury");
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

#[tokio::test(flavor = "multi_thread")]
async fn an_event_derives_the_taste_of_a_visitor_who_searched_so_their_next_search_need_not() {
    let app = store().await;
    let shopper = visitor("prepared", Group::Personalized);
    let query = format!("q=running+shoe&limit=20&visitor_id={shopper}");
    let click = |id: &str| json!({"type": "click", "visitor_id": shopper, "product_id": id});
    app.ndjson("/v1/events", &click("run-2").to_string()).await;
    let derived = || app.engine.tastes_derived();
    // A visitor who has not searched: their event derives nothing.
    assert_eq!(derived(), 0);
    let before = ids(&search(&app, &query).await);
    assert_eq!(derived(), 1);
    // The click derives the taste anew, once, and the next search uses it.
    app.ndjson("/v1/events", &click("run-6").to_string()).await;
    assert_eq!(derived(), 2);
    let after = ids(&search(&app, &query).await);
    assert_eq!(derived(), 2);
    let rank = |list: &[String]| list.iter().position(|id| id == "run-6").unwrap();
    assert!(rank(&after) < rank(&before), "{before:?} then {after:?}");
}

/// A search a visitor makes is recorded as their search event (in the background); it adds a
/// query to the profile, not to what the taste reads, so their next search still finds the
/// taste kept.
#[tokio::test(flavor = "multi_thread")]
async fn a_visitor_s_own_recorded_searches_keep_their_taste() {
    let app = store().await;
    let shopper = visitor("searcher", Group::Personalized);
    let click = json!({"type": "click", "visitor_id": shopper, "product_id": "run-2"});
    app.ndjson("/v1/events", &click.to_string()).await;
    let query = format!("q=running+shoe&visitor_id={shopper}");
    search(&app, &query).await;
    assert_eq!(app.engine.tastes_derived(), 1);
    // Wait for the recorded search to reach the profile.
    for _ in 0..200 {
        let profile = app.get(&format!("/v1/visitors/{shopper}")).await.body;
        if profile["recent_queries"]
            .as_array()
            .is_some_and(|q| !q.is_empty())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let profile = app.get(&format!("/v1/visitors/{shopper}")).await.body;
    assert_eq!(profile["recent_queries"], json!(["running shoe"]));
    search(&app, &query).await;
    assert_eq!(
        app.engine.tastes_derived(),
        1,
        "the recorded search left the taste kept"
    );
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
        assert_eq!(p["signals"].as_array().unwrap().len(), 8);
        assert!(p["in_band"].is_boolean(), "{hit}");
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

#[tokio::test]
async fn a_category_page_needs_a_category_and_takes_no_words() {
    let app = store().await;
    let r = app.get("/v1/browse?visitor_id=v").await;
    assert_eq!(r.status, 422);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("category"),
        "{}",
        r.body
    );
    let r = app.get("/v1/browse?category=Shoes&q=red").await;
    assert_eq!(r.status, 422);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("q"),
        "{}",
        r.body
    );
    let r = app
        .get("/v1/browse?category=Shoes+%3E+Running&facets=tier,brand")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["total"], 9);
    assert!(r.body["facets"]["tier"].is_array());
}

#[tokio::test]
async fn a_category_page_favours_new_and_popular_products_then_the_visitor() {
    let app = TestApp::with_config("[tiers]\nmin_products = 4\n");
    let now = time::OffsetDateTime::now_utc();
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let old = fmt(now - time::Duration::days(700));
    let new = fmt(now - time::Duration::days(1));
    let catalog = [
        json!({"id": "lamp-old", "title": "Lamp A", "brand": "Lumo", "category": ["Home", "Lamps"], "price": 30, "popularity": 100, "created_at": old}),
        json!({"id": "lamp-new", "title": "Lamp B", "brand": "Lumo", "category": ["Home", "Lamps"], "price": 32, "popularity": 100, "created_at": new}),
        json!({"id": "lamp-hit", "title": "Lamp C", "brand": "Glow", "category": ["Home", "Lamps"], "price": 90, "popularity": 50000, "created_at": old}),
    ];
    let body: Vec<String> = catalog.iter().map(Value::to_string).collect();
    app.ndjson("/v1/products", &body.join("\n")).await;
    let page = ids(&app.get("/v1/browse?category=Home").await.body);
    // Equal popularity: the new lamp first; far more popular: the bestseller above both.
    assert_eq!(page, vec!["lamp-hit", "lamp-new", "lamp-old"]);
    let explain = app.get("/v1/browse?category=Home&explain=true").await.body;
    let stages: Vec<&str> = explain["hits"][0]["explain"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert!(stages.contains(&"recency"), "{stages:?}");
    // A Lumo fan sees the Lumo lamps higher.
    let fan = visitor("lumo-fan", Group::Personalized);
    let prefs = json!({"brands": ["Lumo"]});
    let r = app
        .json(
            axum::http::Method::PUT,
            &format!("/v1/visitors/{fan}/preferences"),
            &prefs,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let page = app
        .get(&format!("/v1/browse?category=Home&visitor_id={fan}"))
        .await
        .body;
    assert_eq!(page["personalization"]["applied"], true);
    let order = ids(&page);
    let rank = |id: &str| order.iter().position(|h| h == id).unwrap();
    assert!(
        rank("lamp-new") < rank("lamp-hit") || rank("lamp-old") < rank("lamp-hit"),
        "{order:?}"
    );
}

#[tokio::test]
async fn events_record_the_visitors_group_for_measuring_lift() {
    let app = store().await;
    let control = visitor("measured", Group::Control);
    buys(&app, &control, "run-1", 40.0).await;
    assert!(on_disk(app._dir.path(), r#""group":"control""#));
    assert!(!on_disk(app._dir.path(), r#""group":"personalized""#));
    let shopper = visitor("measured", Group::Personalized);
    buys(&app, &shopper, "run-1", 40.0).await;
    assert!(on_disk(app._dir.path(), r#""group":"personalized""#));
}

#[tokio::test]
async fn rules_come_after_personalization_pins_last_and_a_rule_can_set_the_strength() {
    let rules = r#"
[tiers]
min_products = 4

[[rules]]
id = "hero"
when = { contains = "running" }
then = { pin = [{ id = "run-1", position = 1 }] }

[[rules]]
id = "plain-socks"
when = { contains = "socks" }
then = { strength = 0 }
"#;
    let app = TestApp::with_config(rules);
    app.ndjson("/v1/products", TIERED).await;
    let shopper = visitor("ruled", Group::Personalized);
    buys(&app, &shopper, "run-8", 185.0).await;
    buys(&app, &shopper, "sock-8", 120.0).await;
    // The pin holds its place whatever personalization does to the rest.
    let body = search(
        &app,
        &format!("q=running+shoe&visitor_id={shopper}&explain=true"),
    )
    .await;
    assert_eq!(body["personalization"]["applied"], true);
    assert_eq!(ids(&body)[0], "run-1");
    assert_eq!(body["query"]["rules"], json!(["hero"]));
    // A rule's strength 0 turns personalization off for its queries.
    let plain = ids(&search(&app, "q=socks&limit=20").await);
    let body = search(&app, &format!("q=socks&limit=20&visitor_id={shopper}")).await;
    assert_eq!(body["query"]["strength"], 0);
    assert_eq!(body["personalization"]["applied"], false);
    assert_eq!(ids(&body), plain);
    // The request's own strength wins over the rule's.
    let body = search(
        &app,
        &format!("q=socks&limit=20&visitor_id={shopper}&personalization=100"),
    )
    .await;
    assert_eq!(body["personalization"]["applied"], true);
}

#[tokio::test]
async fn a_stated_price_range_alone_moves_the_products_in_it_up() {
    // Regression: a visitor whose only stated preference was a price range got
    // "applied": false, and a product outside the range kept its place.
    let app = TestApp::with_small_catalog().await;
    let plain = app.search_ids("q=running+shoe&limit=3").await;
    assert_eq!(plain[..2], ["shoe-2", "shoe-1"]);
    for (visitor, range, expected_first) in [
        (
            "dear",
            json!({"price_min": 100, "price_max": 200}),
            "shoe-1",
        ),
        ("open-ended", json!({"price_min": 100}), "shoe-1"),
    ] {
        let uri = format!("/v1/visitors/{visitor}/preferences");
        assert_eq!(
            app.json(axum::http::Method::PUT, &uri, &range).await.status,
            axum::http::StatusCode::OK
        );
        let r = app
            .get(&format!(
                "/v1/search?q=running+shoe&limit=3&visitor_id={visitor}&explain=true"
            ))
            .await;
        assert_eq!(r.body["personalization"]["applied"], true, "{}", r.body);
        assert_eq!(
            ids(&r.body)[0],
            expected_first,
            "{visitor}: plain order {plain:?}"
        );
        let signals = r.body["hits"][0]["explain"]["personalization"]["signals"]
            .as_array()
            .unwrap()
            .clone();
        let price = signals.iter().find(|s| s["signal"] == "price").unwrap();
        assert_eq!(price["value"], 1.0);
    }
}
