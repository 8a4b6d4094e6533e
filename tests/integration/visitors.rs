//! Events and visitor profiles over HTTP: ingestion, errors, identify, preferences, erasure.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::TestApp;
use crate::common::on_disk;

fn events(lines: &[serde_json::Value]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[tokio::test]
async fn events_update_the_profile_with_the_products_catalog_facts() {
    let app = TestApp::with_small_catalog().await;
    let body = events(&[
        json!({"type": "view", "visitor_id": "v1", "product_id": "shoe-1"}),
        json!({"type": "add_to_cart", "visitor_id": "v1", "product_id": "shoe-1"}),
        json!({"type": "purchase", "visitor_id": "v1", "product_id": "shoe-1", "order_id": "o1", "price": 110}),
        json!({"type": "search", "visitor_id": "v1", "query": "trail shoes"}),
    ]);
    let r = app.ndjson("/v1/events", &body).await;
    assert_eq!(
        r.body,
        json!({"accepted": 4, "duplicates": 0, "failed": 0, "errors": []})
    );
    let v = app.get("/v1/visitors/v1").await;
    assert_eq!(v.status, StatusCode::OK);
    let p = &v.body;
    assert_eq!(p["lifecycle"], "customer");
    assert_eq!(p["categories"][0]["value"], "Shoes");
    assert_eq!(p["categories"][1]["value"], "Shoes > Running");
    assert_eq!(p["brands"][0]["value"], "Acme");
    assert_eq!(p["counters"]["orders"], 1);
    assert_eq!(p["counters"]["revenue"], 110.0);
    assert_eq!(p["bought"], json!(["shoe-1"]));
    assert_eq!(p["recent_queries"], json!(["trail shoes"]));
    assert_eq!(p["prices"][2], json!(["Shoes > Running", 110.0, 10.0]));
}

#[tokio::test]
async fn bad_events_are_reported_by_line_and_the_good_ones_recorded() {
    let app = TestApp::new();
    let body = concat!(
        "{\"type\":\"view\",\"visitor_id\":\"v\",\"product_id\":\"p\"}\n",
        "{\"type\":\"view\",\"visitor_id\":\"v\"}\n",
        "not json\n",
        "{\"type\":\"purchase\",\"visitor_id\":\"v\",\"product_id\":\"p\",\"timestamp\":\"2999-01-01T00:00:00Z\"}\n",
    );
    let r = app.ndjson("/v1/events", body).await;
    assert_eq!(r.body["accepted"], 1);
    assert_eq!(r.body["failed"], 3);
    let errors = r.body["errors"].as_array().unwrap();
    assert_eq!(errors[0]["line"], 2);
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("product_id:")
    );
    assert_eq!(errors[1]["code"], "malformed_json");
    assert!(
        errors[2]["message"]
            .as_str()
            .unwrap()
            .starts_with("timestamp:")
    );
    // Unknown products are accepted: the catalog may lag.
    assert_eq!(app.get("/v1/visitors/v").await.body["pending_events"], 1);
}

#[tokio::test]
async fn a_single_event_and_an_array_are_accepted_but_not_an_array_above_1000() {
    let app = TestApp::new();
    let one = json!({"type": "search", "visitor_id": "v", "query": "mug"});
    let r = app.json(Method::POST, "/v1/events", &one).await;
    assert_eq!(r.body["accepted"], 1, "{}", r.body);
    let many: Vec<serde_json::Value> = (0..1001).map(|_| one.clone()).collect();
    let r = app.json(Method::POST, "/v1/events", &json!(many)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(
        app.get("/v1/visitors/v").await.body["counters"]["events"],
        1
    );
    let r = app
        .json(Method::POST, "/v1/events", &json!(many[..1000]))
        .await;
    assert_eq!(r.body["accepted"], 1000);
}

#[tokio::test]
async fn identify_merges_two_devices_into_one_user() {
    let app = TestApp::with_small_catalog().await;
    app.ndjson(
        "/v1/events",
        &events(&[json!({"type": "view", "visitor_id": "phone", "product_id": "bottle-1"})]),
    )
    .await;
    app.ndjson(
        "/v1/events",
        &events(&[json!({"type": "view", "visitor_id": "laptop", "product_id": "lamp-1"})]),
    )
    .await;
    for device in ["phone", "laptop"] {
        let r = app
            .json(
                Method::POST,
                &format!("/v1/visitors/{device}/identify"),
                &json!({"user_id": "alice"}),
            )
            .await;
        assert_eq!(r.body, json!({"visitor_id": device, "profile_id": "alice"}));
    }
    app.ndjson(
        "/v1/events",
        &events(&[json!({"type": "view", "visitor_id": "phone", "product_id": "mug-1"})]),
    )
    .await;
    let v = app.get("/v1/visitors/laptop").await.body;
    assert_eq!(v["profile_id"], "alice");
    assert_eq!(v["aliases"], json!(["laptop", "phone"]));
    assert_eq!(v["counters"]["events"], 3);
    assert_eq!(v["recently_viewed"], json!(["mug-1", "lamp-1", "bottle-1"]));
    let r = app
        .json(
            Method::POST,
            "/v1/visitors/phone/identify",
            &json!({"user_id": ""}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn preferences_are_stated_validated_and_can_opt_out() {
    let app = TestApp::with_small_catalog().await;
    let prefs = json!({"brands": ["Hydra"], "categories": ["Home > Kitchen"], "colors": ["red"], "price_max": 50});
    let r = app
        .json(Method::PUT, "/v1/visitors/v/preferences", &prefs)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["brands"][0],
        json!({"value": "Hydra", "score": 0.0, "weight": 1.0, "stated": true})
    );
    assert_eq!(r.body["personalize"], true);
    let r = app
        .json(
            Method::PUT,
            "/v1/visitors/v/preferences",
            &json!({"personalize": false}),
        )
        .await;
    assert_eq!(r.body["personalize"], false);
    let r = app
        .json(
            Method::PUT,
            "/v1/visitors/v/preferences",
            &json!({"brand": ["x"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .json(
            Method::PUT,
            "/v1/visitors/v/preferences",
            &json!({"price_min": 9, "price_max": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn deleting_a_visitor_leaves_nothing_in_memory_or_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let engine = crate::common::open_engine(dir.path(), attune::Config::default());
    let app = TestApp {
        router: attune::http::router(engine.clone()),
        engine,
        _dir: tempfile::tempdir().unwrap(),
    };
    let body = events(&[
        json!({"type": "view", "visitor_id": "anon-zq81", "product_id": "p1"}),
        json!({"type": "view", "visitor_id": "anon-zq81", "user_id": "user-xk77", "product_id": "p2"}),
        json!({"type": "view", "visitor_id": "someone-else", "product_id": "p3"}),
    ]);
    app.ndjson("/v1/events", &body).await;
    app.engine.snapshot_profiles().await.unwrap();
    app.ndjson(
        "/v1/events",
        &events(&[json!({"type": "view", "visitor_id": "anon-zq81", "product_id": "p4"})]),
    )
    .await;
    assert!(on_disk(dir.path(), "user-xk77"));

    let r = app
        .send(Method::DELETE, "/v1/visitors/anon-zq81", None, "")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        app.get("/v1/visitors/user-xk77").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/v1/visitors/anon-zq81").await.status,
        StatusCode::NOT_FOUND
    );
    assert!(!on_disk(dir.path(), "user-xk77"));
    assert!(!on_disk(dir.path(), "anon-zq81"));
    assert_eq!(
        app.get("/v1/visitors/someone-else").await.status,
        StatusCode::OK
    );
    // Erasure is idempotent: a client retrying it (its first answer was lost) gets a 200.
    let r = app
        .send(Method::DELETE, "/v1/visitors/anon-zq81", None, "")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["found"], false);
}

#[tokio::test]
async fn an_event_id_seen_before_is_ignored_and_counted_as_a_duplicate() {
    let app = TestApp::with_small_catalog().await;
    let view = |id: &str| json!({"type": "view", "visitor_id": "dup", "product_id": "shoe-1", "event_id": id});
    let body = events(&[view("e1"), view("e2"), view("e1")]);
    let r = app.ndjson("/v1/events", &body).await;
    assert_eq!(
        (r.body["accepted"].clone(), r.body["duplicates"].clone()),
        (json!(2), json!(1))
    );
    // The same batch again (a client retrying after a lost answer), as a JSON array.
    let array = json!([view("e1"), view("e2"), view("e3")]);
    let r = app.json(Method::POST, "/v1/events", &array).await;
    assert_eq!(
        (r.body["accepted"].clone(), r.body["duplicates"].clone()),
        (json!(1), json!(2))
    );
    let v = app.get("/v1/visitors/dup").await;
    assert_eq!(v.body["counters"]["events"], 3);
    // An event id that is not a string is a 4xx naming the field.
    let r = app
        .ndjson(
            "/v1/events",
            &events(&[
                json!({"type": "view", "visitor_id": "dup", "product_id": "shoe-1", "event_id": 7}),
            ]),
        )
        .await;
    let message = r.body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("event_id"), "{}", r.body);
}

#[tokio::test]
async fn events_sent_by_send_beacon_as_text_plain_are_read_by_their_content() {
    // Regression: navigator.sendBeacon(url, string) sends text/plain, which answered 415.
    let app = TestApp::with_small_catalog().await;
    let one = r#"{"type": "view", "visitor_id": "beacon", "product_id": "shoe-1"}"#;
    let r = app
        .send(
            Method::POST,
            "/v1/events",
            Some("text/plain;charset=UTF-8"),
            one,
        )
        .await;
    assert_eq!(
        (r.status, r.body["accepted"].clone()),
        (StatusCode::OK, json!(1)),
        "{}",
        r.body
    );
    let pretty = "[\n  {\"type\": \"view\", \"visitor_id\": \"beacon\", \"product_id\": \"shoe-2\"},\n  {\"type\": \"click\", \"visitor_id\": \"beacon\", \"product_id\": \"shoe-2\"}\n]";
    let r = app
        .send(Method::POST, "/v1/events", Some("text/plain"), pretty)
        .await;
    assert_eq!(r.body["accepted"], 2, "{}", r.body);
    let lines = format!("{one}\n{one}\n");
    let r = app
        .send(Method::POST, "/v1/events", Some("text/plain"), lines)
        .await;
    assert_eq!(r.body["accepted"], 2, "{}", r.body);
    assert_eq!(
        app.get("/v1/visitors/beacon").await.body["counters"]["events"],
        5
    );
    let r = app
        .send(
            Method::POST,
            "/v1/events",
            Some("text/plain"),
            "{\"type\": ",
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.body);
}

#[tokio::test]
async fn a_search_with_a_visitor_id_is_recorded_as_their_search_event() {
    let app = TestApp::with_small_catalog().await;
    let r = app
        .get("/v1/search?q=trail+shoes&visitor_id=searcher")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let search_id = r.body["search_id"].as_str().unwrap().to_string();
    // Recorded in the background: the answer did not wait for the journal.
    let mut profile = app.get("/v1/visitors/searcher").await;
    for _ in 0..100 {
        if profile.status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        profile = app.get("/v1/visitors/searcher").await;
    }
    assert_eq!(
        profile.body["recent_queries"],
        json!(["trail shoes"]),
        "{search_id}"
    );
    // A category page is not a search; without a visitor nothing is recorded.
    app.get("/v1/browse?category=Shoes&visitor_id=browser")
        .await;
    app.get("/v1/search?q=lamp").await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        app.get("/v1/visitors/browser").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn searches_are_not_recorded_when_the_store_sends_its_own_search_events() {
    let app = TestApp::with_config("[profiles]\nrecord_searches = false\n")
        .load_small_catalog()
        .await;
    app.get("/v1/search?q=trail&visitor_id=quiet").await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        app.get("/v1/visitors/quiet").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_shared_device_identified_as_another_user_changes_hands() {
    // Regression: identifying a cookie already merged into user-7 as user-8 answered 200
    // with user-7's profile and left user-8 without one.
    let app = TestApp::with_small_catalog().await;
    let view = |v: &str, p: &str| json!({"type": "view", "visitor_id": v, "product_id": p});
    app.ndjson("/v1/events", &events(&[view("shared", "shoe-1")]))
        .await;
    let identify = |user: &str| json!({"user_id": user});
    let r = app
        .json(
            Method::POST,
            "/v1/visitors/shared/identify",
            &identify("user-7"),
        )
        .await;
    assert_eq!(r.body["profile_id"], "user-7");
    let r = app
        .json(
            Method::POST,
            "/v1/visitors/shared/identify",
            &identify("user-8"),
        )
        .await;
    assert_eq!(
        (r.status, r.body["profile_id"].clone()),
        (StatusCode::OK, json!("user-8"))
    );
    assert_eq!(app.get("/v1/visitors/user-8").await.status, StatusCode::OK);
    // The device's next events are the new user's; the previous user keeps their history.
    app.ndjson("/v1/events", &events(&[view("shared", "lamp-1")]))
        .await;
    let eight = app.get("/v1/visitors/user-8").await.body;
    assert_eq!(eight["counters"]["events"], 1, "{eight}");
    let seven = app.get("/v1/visitors/user-7").await.body;
    assert_eq!(seven["counters"]["events"], 1, "{seven}");
    assert_eq!(
        app.get("/v1/visitors/shared").await.body["profile_id"],
        "user-8"
    );
}

#[tokio::test]
async fn identify_errors_are_ours_and_name_the_field() {
    let app = TestApp::new();
    let r = app
        .json(
            Method::POST,
            "/v1/visitors/v/identify",
            &json!({"user": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("user_id: is required")
    );
    let r = app
        .json(
            Method::POST,
            "/v1/visitors/v/identify",
            &json!({"user_id": "x", "extra": 1}),
        )
        .await;
    assert_eq!(r.body["error"]["message"], "extra: unknown field");
}

#[tokio::test]
async fn opting_out_keeps_what_the_shopper_stated() {
    // Regression: PUT {"personalize": false} wiped the stated brands and colours.
    let app = TestApp::with_small_catalog().await;
    let uri = "/v1/visitors/quiz/preferences";
    let stated = json!({"brands": ["Acme"], "colors": ["red"], "price_max": 100});
    assert_eq!(
        app.json(Method::PUT, uri, &stated).await.status,
        StatusCode::OK
    );
    let r = app
        .json(Method::PUT, uri, &json!({"personalize": false}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let preferences = &r.body["preferences"];
    assert_eq!(preferences["brands"], json!(["Acme"]));
    assert_eq!(preferences["colors"], json!(["red"]));
    assert_eq!(preferences["personalize"], false);
    // A field sent as null is cleared; an unknown one is a 422.
    let r = app.json(Method::PUT, uri, &json!({"brands": null})).await;
    assert_eq!(r.body["preferences"]["brands"], json!([]));
    assert_eq!(r.body["preferences"]["colors"], json!(["red"]));
    let r = app
        .json(Method::PUT, uri, &json!({"colours": ["red"]}))
        .await;
    assert_eq!(r.body["error"]["message"], "colours: unknown field");
}

/// The caches say what they hold: a visitor's taste is built by their first search and found
/// kept by the next, an event's product facts are read once, a query's best text score is
/// measured once for every visitor, and a cache holds no more than its `[cache]` size.
#[tokio::test]
async fn the_caches_report_their_entries_hits_and_misses() {
    let app =
        TestApp::with_config("[cache]\ntastes = 1\nproduct_facts = 8\nwords = 2\nqueries = 2")
            .load_small_catalog()
            .await;
    let cache = |body: &serde_json::Value, name: &str| {
        let caches = body["caches"].as_array().unwrap();
        let found = caches.iter().find(|c| c["name"] == name);
        found
            .unwrap_or_else(|| panic!("no {name} in {caches:?}"))
            .clone()
    };
    let view =
        |visitor: &str| json!({"type": "view", "visitor_id": visitor, "product_id": "shoe-1"});
    app.ndjson("/v1/events", &events(&[view("v1"), view("v2")]))
        .await;
    let facts = cache(&app.get("/v1/admin/caches").await.body, "product_facts");
    assert_eq!(
        (facts["entries"].as_u64(), facts["capacity"].as_u64()),
        (Some(1), Some(8))
    );
    assert!(facts["hits"].as_u64() >= Some(1), "{facts}");

    app.get("/v1/search?q=shoe&visitor_id=v1").await;
    app.get("/v1/search?q=shoe&visitor_id=v1").await;
    let tastes = cache(&app.get("/v1/admin/caches").await.body, "tastes");
    assert_eq!(tastes["entries"], 1);
    assert!(tastes["hits"].as_u64() >= Some(1), "{tastes}");
    app.get("/v1/search?q=shoe&visitor_id=v2").await;
    let all = app.get("/v1/admin/caches").await.body;
    let after = cache(&all, "tastes");
    assert_eq!(after["entries"], 1, "a cache of one taste keeps one");
    assert!(
        after["misses"].as_u64() > tastes["misses"].as_u64(),
        "{after}"
    );
    let best = cache(&all, "best_text_scores");
    assert_eq!(
        (best["entries"].as_u64(), best["misses"].as_u64()),
        (Some(1), Some(1)),
        "{best}"
    );
    assert_eq!(best["hits"], 2, "{best}");
    for q in ["bottle", "lamp", "red+shoe"] {
        app.get(&format!("/v1/search?q={q}&visitor_id=v1")).await;
    }
    let best = cache(&app.get("/v1/admin/caches").await.body, "best_text_scores");
    assert_eq!(
        (best["entries"].as_u64(), best["capacity"].as_u64()),
        (Some(2), Some(2)),
        "{best}"
    );

    for typo in ["shoo", "botle", "sneeker"] {
        app.get(&format!("/v1/search?q={typo}+x")).await;
    }
    let all = app.get("/v1/admin/caches").await.body;
    for name in ["facet_paths", "rank_columns", "hit_tables"] {
        cache(&all, name);
    }
    let words = cache(&all, "corrections");
    assert_eq!(words["capacity"], 2);
    assert!(words["entries"].as_u64() <= Some(2), "{words}");
    assert!(words["misses"].as_u64() >= Some(3), "{words}");
}
