//! Recommendation widgets: `similar` (alternatives to a product) and `recently_viewed` (the
//! visitor's views), on the small catalog.

use attune::group::Group;
use serde_json::{Value, json};

use crate::common::{RULES, TestApp};

fn items(body: &Value) -> Vec<String> {
    (body["items"].as_array())
        .unwrap_or_else(|| panic!("no items: {body}"))
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

async fn recommend(app: &TestApp, query: &str) -> Value {
    let r = app.get(&format!("/v1/recommendations?{query}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// A visitor of the personalized group.
fn personalized(name: &str) -> String {
    (0..)
        .map(|i| format!("{name}-{i}"))
        .find(|id| Group::of(id, 5) == Group::Personalized)
        .unwrap()
}

#[tokio::test]
async fn similar_items_share_the_category_first_then_its_parents_and_are_in_stock() {
    let app = TestApp::new().load_small_catalog().await;
    // Running shoes first (shoe-3 is one, but out of stock), then other shoes: the one
    // whose title shares a word before the sneaker; nothing outside shoes matches.
    let body = recommend(&app, "type=similar&product_id=shoe-1&limit=5").await;
    assert_eq!(body["type"], "similar");
    assert_eq!(items(&body), ["shoe-2", "shoe-4", "shoe-5"], "{body}");
    let body = recommend(&app, "type=similar&product_id=shoe-1&limit=1").await;
    assert_eq!(items(&body), ["shoe-2"]);
    // A blender's first alternative is the other blender.
    let body = recommend(&app, "type=similar&product_id=blender-2&limit=1").await;
    assert_eq!(items(&body), ["blender-1"]);
    // Items are hits: title, price, tier, score; explain on request.
    let body = recommend(&app, "type=similar&product_id=shoe-1&explain=true").await;
    let first = &body["items"][0];
    assert_eq!(first["title"], "Road Running Shoe");
    assert!(first["score"].as_f64().unwrap() > 0.0, "{first}");
    assert!(first["explain"]["text"].as_f64().unwrap() > 0.0, "{first}");
    assert_eq!(body["personalization"]["applied"], false);
}

#[tokio::test]
async fn similar_items_obey_the_merchandising_rules() {
    let app = TestApp::with_config_files(&[("attune.toml", RULES)])
        .load_small_catalog()
        .await;
    // "acme-week" hides shoe-2 from anything about running.
    let body = recommend(&app, "type=similar&product_id=shoe-1&limit=3").await;
    assert!(!items(&body).contains(&"shoe-2".to_string()), "{body}");
}

#[tokio::test]
async fn similar_items_are_reranked_for_the_visitor() {
    let app = TestApp::new().load_small_catalog().await;
    let fan = personalized("zoom-fan");
    let events: Vec<Value> = ["shoe-5", "shoe-2", "shoe-5"]
        .iter()
        .map(|p| json!({"type": "view", "visitor_id": fan, "product_id": p}))
        .collect();
    app.events(events).await;
    let q = format!("type=similar&product_id=shoe-4&visitor_id={fan}");
    let body = recommend(&app, &q).await;
    assert_eq!(body["personalization"]["applied"], true, "{body}");
    assert_eq!(body["personalization"]["group"], "personalized");
}

#[tokio::test]
async fn recently_viewed_is_the_visitor_s_views_newest_first_in_stock() {
    let app = TestApp::new().load_small_catalog().await;
    let view = |p: &str, at: i64| json!({"type": "view", "visitor_id": "v1", "product_id": p, "timestamp": at});
    let events = vec![
        view("shoe-1", 1_700_000_000_000),
        view("shoe-3", 1_700_000_001_000),
        view("lamp-1", 1_700_000_002_000),
        view("bottle-1", 1_700_000_003_000),
    ];
    app.events(events).await;
    let body = recommend(&app, "type=recently_viewed&visitor_id=v1").await;
    // shoe-3 is out of stock.
    assert_eq!(items(&body), ["bottle-1", "lamp-1", "shoe-1"], "{body}");
    assert_eq!(body["items"][1]["title"], "LED Desk Lamp");
    // The same tier as search shows for it.
    let search = app.get("/v1/search?q=desk+lamp&limit=1").await.body;
    assert_eq!(search["hits"][0]["id"], "lamp-1");
    assert_eq!(
        body["items"][1]["tier"], search["hits"][0]["tier"],
        "{body}"
    );
    assert!(body["items"][1]["tier"].is_string(), "{body}");
    // On the lamp's page, the lamp is not recommended to its viewer.
    let body = recommend(
        &app,
        "type=recently_viewed&visitor_id=v1&product_id=lamp-1&limit=1",
    )
    .await;
    assert_eq!(items(&body), ["bottle-1"]);
    // A visitor never seen has viewed nothing.
    let body = recommend(&app, "type=recently_viewed&visitor_id=nobody").await;
    assert_eq!(items(&body), Vec::<String>::new());
}

#[tokio::test]
async fn a_bad_request_names_the_field_and_an_unknown_product_is_a_404() {
    let app = TestApp::new().load_small_catalog().await;
    for (query, field) in [
        ("product_id=shoe-1", "type"),
        ("type=bestsellers", "type"),
        ("type=similar", "product_id"),
        ("type=recently_viewed", "visitor_id"),
        ("type=similar&product_id=shoe-1&limit=500", "limit"),
        ("type=similar&product_id=shoe-1&colour=red", "colour"),
    ] {
        let r = app.get(&format!("/v1/recommendations?{query}")).await;
        assert_eq!(r.status, 422, "{query}: {}", r.body);
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{field}: ")),
            "{query}: {message}"
        );
    }
    let r = app
        .get("/v1/recommendations?type=similar&product_id=no-such")
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
}

/// Views of sessions (one visitor each) and purchases of orders, a minute apart.
fn history() -> Vec<Value> {
    let mut events = Vec::new();
    let mut t = 1_700_000_000_000i64;
    let mut event = |kind: &str, visitor: &str, product: &str| {
        t += 60_000;
        let mut e =
            json!({"type": kind, "visitor_id": visitor, "product_id": product, "timestamp": t});
        if kind == "purchase" {
            e["order_id"] = json!(format!("{visitor}-order"));
            e["price"] = json!(10.0);
        }
        events.push(e);
    };
    for (visitor, products) in [
        ("s1", &["shoe-1", "bottle-1", "lamp-1"][..]),
        ("s2", &["shoe-1", "bottle-1"]),
        ("s3", &["shoe-1", "blender-1"]),
        ("s4", &["lamp-1", "bottle-1", "shoe-1"]),
    ] {
        for p in products {
            event("view", visitor, p);
        }
    }
    for (visitor, products) in [
        ("b1", &["shoe-2", "bottle-2"][..]),
        ("b2", &["shoe-2", "bottle-2", "shoe-3"]),
        ("b3", &["shoe-2", "shoe-3", "mug-1"]),
        ("b4", &["blender-1", "bottle-3", "mug-1"]),
        ("b5", &["blender-1", "bottle-3", "mug-1"]),
    ] {
        for p in products {
            event("purchase", visitor, p);
        }
    }
    events
}

#[tokio::test]
async fn also_viewed_and_bought_together_come_from_the_events_with_support() {
    let app = TestApp::new().load_small_catalog().await;
    app.events(history()).await;
    // bottle-1 shares three sessions with shoe-1, lamp-1 two; blender-1 one: no support.
    let body = recommend(&app, "type=also_viewed&product_id=shoe-1").await;
    assert_eq!(body["type"], "also_viewed");
    assert_eq!(items(&body), ["bottle-1", "lamp-1"], "{body}");
    let score = |i: usize| body["items"][i]["score"].as_f64().unwrap();
    // Cosine: 3 / √(4 × 3) and 2 / √(4 × 2).
    assert!((score(0) - 3.0 / 12f64.sqrt()).abs() < 1e-6, "{body}");
    assert!((score(1) - 2.0 / 8f64.sqrt()).abs() < 1e-6, "{body}");
    // shoe-3 was bought with shoe-2 twice but is out of stock; mug-1 once.
    let body = recommend(&app, "type=bought_together&product_id=shoe-2").await;
    assert_eq!(items(&body), ["bottle-2"], "{body}");
    // Views are not purchases.
    let body = recommend(&app, "type=bought_together&product_id=bottle-1").await;
    assert!(!items(&body).contains(&"shoe-1".to_string()), "{body}");
}

#[tokio::test]
async fn a_product_nobody_paired_gets_its_similar_items() {
    let app = TestApp::new().load_small_catalog().await;
    app.events(history()).await;
    let body = recommend(&app, "type=also_viewed&product_id=blender-2&limit=1").await;
    assert_eq!(body["type"], "also_viewed");
    assert_eq!(items(&body), ["blender-1"]);
}

#[tokio::test]
async fn the_counts_survive_a_restart_from_the_snapshot_and_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        let engine = crate::common::open_engine(dir.path(), attune::Config::default());
        TestApp {
            router: attune::http::router(engine.clone()),
            engine,
            _dir: tempfile::tempdir().unwrap(),
        }
    };
    let app = open().load_small_catalog().await;
    let events = history();
    let (before, after) = events.split_at(6);
    app.events(before.to_vec()).await;
    app.engine.snapshot_profiles().await.unwrap();
    app.events(after.to_vec()).await;
    let query = "type=also_viewed&product_id=shoe-1";
    let expected = recommend(&app, query).await;
    app.engine.close();
    drop(app);
    let app = open();
    let again = recommend(&app, query).await;
    assert_eq!(items(&again), items(&expected));
    assert_eq!(again["items"][0]["score"], expected["items"][0]["score"]);
}

#[tokio::test]
async fn trending_weighs_recent_views_carts_and_purchases_within_a_category() {
    let app = TestApp::new().load_small_catalog().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let event = |kind: &str, visitor: &str, product: &str, ago_days: i64| {
        let mut e = json!({"type": kind, "visitor_id": visitor, "product_id": product,
            "timestamp": now - ago_days * 86_400_000 - 60_000});
        if kind == "purchase" {
            e["price"] = json!(10.0);
        }
        e
    };
    let mut events = Vec::new();
    for v in 0..3 {
        events.push(event("view", &format!("t{v}"), "lamp-1", 0));
    }
    // A purchase (10) outweighs three views (3); the same a week ago is worth far less.
    events.push(event("purchase", "t9", "bottle-3", 0));
    events.push(event("purchase", "t8", "blender-1", 7));
    events.push(event("add_to_cart", "t7", "mug-1", 0));
    // Out of stock: never trending.
    for v in 0..5 {
        events.push(event("purchase", &format!("o{v}"), "shoe-3", 0));
    }
    app.events(events).await;
    let body = recommend(&app, "type=trending").await;
    assert_eq!(body["type"], "trending");
    assert_eq!(
        items(&body),
        ["bottle-3", "mug-1", "lamp-1", "blender-1"],
        "{body}"
    );
    let body = recommend(&app, "type=trending&category=home+%3E+kitchen&limit=2").await;
    assert_eq!(items(&body), ["bottle-3", "mug-1"], "{body}");
    // Nothing trends among shoes in stock: the category page stands in.
    let body = recommend(&app, "type=trending&category=Shoes&limit=2").await;
    assert_eq!(items(&body).len(), 2, "{body}");
    let browse = app.search_ids("category=Shoes&in_stock=true&limit=2").await;
    assert_eq!(items(&body), browse);
}

#[tokio::test]
async fn for_you_is_the_neighbours_of_the_visitor_s_history_without_it() {
    let app = TestApp::new().load_small_catalog().await;
    app.events(history()).await;
    // s2 viewed shoe-1 and bottle-1: lamp-1 was viewed with both, in two sessions each.
    let body = recommend(&app, "type=for_you&visitor_id=s2").await;
    assert_eq!(body["type"], "for_you");
    assert_eq!(items(&body), ["lamp-1"], "{body}");
    // s1 viewed all three: nothing new to pair them with, so what is trending (nothing in
    // these old events) and then the catalog's first products stand in.
    let body = recommend(&app, "type=for_you&visitor_id=s1&limit=3").await;
    let first = app.search_ids("q=&in_stock=true&limit=3").await;
    assert_eq!(items(&body), first, "{body}");
    let stranger = recommend(&app, "type=for_you&visitor_id=nobody&limit=3").await;
    assert_eq!(items(&stranger), first);
}

#[tokio::test]
async fn a_cart_gets_what_was_bought_with_all_of_it_and_an_order_its_complements() {
    let app = TestApp::new().load_small_catalog().await;
    app.events(history()).await;
    let post = |body: Value| {
        let app = &app;
        async move {
            let r = app
                .json(axum::http::Method::POST, "/v1/recommendations", &body)
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.body
        }
    };
    // mug-1 was bought with both the blender and the bottle: it leads, the cart stays out.
    let body =
        post(json!({"type": "bought_together", "product_ids": ["blender-1", "bottle-3"]})).await;
    assert_eq!(items(&body), ["mug-1"], "{body}");
    // After buying the blender: the bottle and the mug (drinkware, not another blender).
    let body = post(json!({"type": "post_purchase", "product_ids": ["blender-1"]})).await;
    assert_eq!(body["type"], "post_purchase");
    assert_eq!(items(&body), ["bottle-3", "mug-1"], "{body}");
    // After buying the bottle: the blender, not the mug, another piece of drinkware.
    let body =
        post(json!({"type": "post_purchase", "product_ids": ["bottle-3"], "limit": 5})).await;
    assert_eq!(items(&body), ["blender-1"], "{body}");
    // The query string takes them too.
    let body = recommend(&app, "type=post_purchase&product_ids=bottle-3").await;
    assert_eq!(items(&body), ["blender-1"], "{body}");

    for (body, field) in [
        (json!({"type": "post_purchase"}), "product_ids"),
        (
            json!({"type": "bought_together", "product_ids": [1, 2]}),
            "product_ids",
        ),
        (
            json!({"type": "bought_together", "product_id": {"id": "x"}}),
            "product_id",
        ),
    ] {
        let r = app
            .json(axum::http::Method::POST, "/v1/recommendations", &body)
            .await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{field}: ")),
            "{body}: {message}"
        );
    }
    let r = app
        .json(
            axum::http::Method::POST,
            "/v1/recommendations",
            &json!({"type": "post_purchase", "product_ids": ["blender-1", "no-such"]}),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
}

#[tokio::test]
async fn a_product_a_rule_hides_is_recommended_by_no_widget() {
    let rule = "[[rules]]\nid = \"no-mug\"\nthen = { hide = [\"mug-1\", \"shoe-5\"] }\n";
    let app = TestApp::with_config_files(&[("attune.toml", rule)])
        .load_small_catalog()
        .await;
    app.events(history()).await;
    app.events(vec![
        json!({"type": "view", "visitor_id": "v9", "product_id": "mug-1"}),
        json!({"type": "view", "visitor_id": "v9", "product_id": "lamp-1"}),
    ])
    .await;
    for query in [
        "type=bought_together&product_id=blender-1",
        "type=post_purchase&product_id=blender-1",
        "type=recently_viewed&visitor_id=v9",
        "type=trending",
        "type=similar&product_id=bottle-3",
    ] {
        let body = recommend(&app, query).await;
        assert!(
            !items(&body).contains(&"mug-1".to_string()),
            "{query}: {body}"
        );
    }
    // Without the rule the mug is there.
    let body = recommend(&app, "type=bought_together&product_id=blender-1").await;
    assert_eq!(items(&body), ["bottle-3"], "{body}");
    let plain = TestApp::new().load_small_catalog().await;
    plain.events(history()).await;
    let body = recommend(&plain, "type=bought_together&product_id=blender-1").await;
    assert_eq!(items(&body), ["bottle-3", "mug-1"], "{body}");
}

#[tokio::test]
async fn a_rule_can_target_one_widget_by_its_placement() {
    let rule = "[[rules]]\nid = \"off-widgets\"\nwhen = { placement = [\"bought_together\", \"similar\"] }\nthen = { hide = [\"mug-1\", \"shoe-5\"] }\n";
    let app = TestApp::with_config_files(&[("attune.toml", rule)])
        .load_small_catalog()
        .await;
    app.events(history()).await;
    let has_mug = |body: &Value| items(body).contains(&"mug-1".to_string());
    let body = recommend(&app, "type=bought_together&product_id=blender-1").await;
    assert!(!has_mug(&body), "{body}");
    let body = recommend(&app, "type=similar&product_id=shoe-1&limit=5").await;
    assert_eq!(items(&body), ["shoe-2", "shoe-4"], "{body}");
    // Other placements are untouched: the order confirmation, search.
    let body = recommend(&app, "type=post_purchase&product_id=blender-1").await;
    assert!(has_mug(&body), "{body}");
    assert!(app.search_ids("q=mug").await.contains(&"mug-1".to_string()));
    assert!(
        app.search_ids("q=sneaker")
            .await
            .contains(&"shoe-5".to_string())
    );
}
