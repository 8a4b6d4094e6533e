//! Merchandising rules through the real router: search with the example rules over the small
//! catalog, reloads (good, bad, under load) and previews.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{RULES, SMALL_CATALOG, TestApp, ids};

/// The small catalog under a config that includes the example rules file.
async fn app_with_rules() -> TestApp {
    TestApp::with_config_files(&[
        ("attune.toml", "include = [\"rules/*.toml\"]\n"),
        ("rules/merchandising.toml", RULES),
    ])
    .load_small_catalog()
    .await
}

async fn search(app: &TestApp, query: &str) -> Value {
    let r = app.get(&format!("/v1/search?{query}")).await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.body);
    r.body
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_search_applies_pin_boost_bury_and_hide_and_names_the_rules_that_fired() {
    let app = app_with_rules().await;
    let body = search(&app, "q=running+shoes").await;
    // shoe-4 pinned first; Acme boosted; shoe-3 (Acme, clearance) buried below the sneaker
    // (in category Shoes); shoe-2 hidden.
    assert_eq!(ids(&body), ["shoe-4", "shoe-1", "shoe-5", "shoe-3"]);
    assert_eq!(body["total"], 4);
    assert_eq!(
        strings(&body["query"]["rules"]),
        ["dress-shoe-hero", "clearance-last", "acme-week"]
    );
    assert!(body.get("redirect").is_none());
}

#[tokio::test]
async fn without_rules_the_same_search_ranks_by_relevance_alone() {
    let app = TestApp::with_small_catalog().await;
    let body = search(&app, "q=running+shoes").await;
    assert!(ids(&body).contains(&"shoe-2".to_string()));
    assert!(body["query"].get("rules").is_none());
}

#[tokio::test]
async fn explain_names_the_rules_that_touched_each_hit() {
    let app = app_with_rules().await;
    let body = search(&app, "q=running+shoes&explain=true").await;
    let stages = |i: usize| body["hits"][i]["explain"]["stages"].clone();
    let pin = stages(0)
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "pin")
        .cloned();
    assert_eq!(
        pin,
        Some(json!({"stage": "pin", "rule": "dress-shoe-hero", "value": 1.0, "factor": 1.0}))
    );
    let rules_of = |i: usize| -> Vec<(String, f64)> {
        stages(i)
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["stage"] == "rule")
            .map(|s| {
                (
                    s["rule"].as_str().unwrap().to_string(),
                    s["factor"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(rules_of(1), [("acme-week".to_string(), 5.0)]);
    assert_eq!(
        rules_of(3),
        [
            ("clearance-last".to_string(), 0.01),
            ("acme-week".to_string(), 5.0)
        ]
    );
}

#[tokio::test]
async fn pins_hold_absolute_positions_across_pages() {
    let app = app_with_rules().await;
    let first = search(&app, "q=running+shoes&limit=1").await;
    let second = search(&app, "q=running+shoes&limit=2&offset=1").await;
    let third = search(&app, "q=running+shoes&limit=2&offset=3").await;
    assert_eq!(ids(&first), ["shoe-4"]);
    assert_eq!(ids(&second), ["shoe-1", "shoe-5"]);
    assert_eq!(ids(&third), ["shoe-3"]);
}

#[tokio::test]
async fn a_pinned_product_outside_the_matches_is_placed_and_counted_and_a_missing_one_skipped() {
    let rule = r#"
[[rules]]
id = "mug-with-lamps"
when = { is = "lamps" }
then = { pin = [{ id = "mug-1", position = 1 }, { id = "ghost", position = 2 }] }
"#;
    let app = TestApp::with_config_files(&[("attune.toml", rule)])
        .load_small_catalog()
        .await;
    let body = search(&app, "q=lamp").await;
    assert_eq!(ids(&body), ["mug-1", "lamp-1"]);
    assert_eq!(body["total"], 2);
    let filtered = search(&app, "q=lamp&brand=Lumo").await;
    assert_eq!(ids(&filtered), ["lamp-1"], "a pin never overrides a filter");
}

#[tokio::test]
async fn a_category_rule_adds_its_filter_to_a_browse() {
    let app = app_with_rules().await;
    let body = search(&app, "category=Shoes").await;
    assert_eq!(
        strings(&body["query"]["rules"]),
        ["clearance-last", "in-stock-shoes"]
    );
    let found = ids(&body);
    assert_eq!(found.len(), 4, "{found:?}");
    assert!(
        !found.contains(&"shoe-3".to_string()),
        "out of stock: {found:?}"
    );
}

#[tokio::test]
async fn a_redirect_rule_sends_the_shopper_away_and_still_answers_hits() {
    let app = app_with_rules().await;
    let body = search(&app, "q=blender+deals").await;
    assert_eq!(body["redirect"], "https://shop.example/help/returns");
    assert!(
        ids(&body).iter().any(|id| id.starts_with("blender")),
        "{body}"
    );
    let body = search(&app, "q=Returns").await;
    assert_eq!(body["redirect"], "https://shop.example/help/returns");
    assert!(body["hits"].is_array());
}

#[tokio::test]
async fn a_segment_rule_fires_for_customers_only_and_sets_the_strength() {
    let app = app_with_rules().await;
    let purchase = json!({"type": "purchase", "visitor_id": "v1", "product_id": "lamp-1",
                          "order_id": "o1", "price": 39.0});
    let r = app.json(Method::POST, "/v1/events", &purchase).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let customer = search(&app, "q=lamp&visitor_id=v1").await;
    assert_eq!(
        strings(&customer["query"]["rules"]),
        ["clearance-last", "loyal-customers"]
    );
    assert_eq!(customer["query"]["strength"], 80);
    let stranger = search(&app, "q=lamp&visitor_id=nobody").await;
    assert!(stranger["query"].get("strength").is_none());
}

#[tokio::test]
async fn a_good_file_is_put_in_force_by_the_reload_endpoint() {
    let app = TestApp::with_config_files(&[("attune.toml", "")])
        .load_small_catalog()
        .await;
    let before = app.get("/v1/admin/config").await.body;
    assert_eq!(before["version"]["counter"], 1);
    app.write_config("attune.toml", RULES);
    let r = app.post_empty("/v1/admin/reload").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["changed"], true);
    assert_eq!(r.body["rules"], 6);
    assert_eq!(r.body["version"]["counter"], 2);
    let after = app.get("/v1/admin/config").await.body;
    assert_eq!(after["version"], r.body["version"]);
    assert_ne!(after["version"]["hash"], before["version"]["hash"]);
    assert_eq!(after["rules"][0]["id"], "dress-shoe-hero");
    assert_eq!(ids(&search(&app, "q=running+shoes").await)[0], "shoe-4");
}

#[tokio::test]
async fn a_bad_file_is_rejected_with_its_line_and_column_and_the_old_config_stays() {
    let app = TestApp::with_config_files(&[("attune.toml", RULES)])
        .load_small_catalog()
        .await;
    let in_force = app.get("/v1/admin/config").await.body;
    let broken = RULES.replace("factor = 5", "factor = 0.5");
    app.write_config("attune.toml", &broken);
    let r = app.post_empty("/v1/admin/reload").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "invalid_config");
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(
            "attune.toml:20:57: rule \"acme-week\": then.boost.factor: must be a number >= 1"
        ),
        "{message}"
    );
    assert_eq!(app.get("/v1/admin/config").await.body, in_force);
    assert_eq!(ids(&search(&app, "q=running+shoes").await)[0], "shoe-4");
}

#[tokio::test]
async fn settings_that_need_a_restart_are_reported_and_not_applied() {
    let app = TestApp::with_config_files(&[("attune.toml", "")]);
    let listen = app.engine.config().server.listen;
    app.write_config(
        "attune.toml",
        "[server]\nsearch_queue = 3\n[search]\nmax_limit = 40\n",
    );
    let r = app.post_empty("/v1/admin/reload").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        strings(&r.body["ignored_until_restart"]),
        ["server.search_queue"]
    );
    let config = app.engine.config();
    assert_eq!(
        (config.server.search_queue, config.search.max_limit),
        (256, 40)
    );
    assert_eq!(config.server.listen, listen);
}

#[tokio::test]
async fn a_server_without_a_config_file_has_nothing_to_reload() {
    let app = TestApp::new();
    let r = app.post_empty("/v1/admin/reload").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["error"]["code"], "no_config_file");
}

#[tokio::test]
async fn a_server_started_without_its_optional_file_ignores_one_created_later() {
    // Regression: `attune serve` without `--config` and without `./attune.toml` answered
    // `422 invalid_config "cannot read attune.toml"`, and a file created later was loaded.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("attune.toml");
    let config = attune::Config::load(&path, false).expect("a missing optional file is fine");
    let engine = crate::common::open_engine(&dir.path().join("data"), config);
    let app = TestApp::from_parts(engine, dir);
    let r = app.post_empty("/v1/admin/reload").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["error"]["code"], "no_config_file");
    std::fs::write(&path, "[search]\ndefault_limit = 3\n").unwrap();
    let r = app.post_empty("/v1/admin/reload").await;
    assert_eq!(r.body["error"]["code"], "no_config_file");
    assert_eq!(app.engine.config().search.default_limit, 10);
}

#[tokio::test]
async fn a_preview_shows_the_hits_before_and_after_a_candidate_config_side_by_side() {
    let app = TestApp::with_config_files(&[("attune.toml", "")])
        .load_small_catalog()
        .await;
    let body = json!({"config": RULES, "q": "running shoes", "limit": 3});
    let r = app
        .json(Method::POST, "/v1/admin/rules/preview", &body)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let side = |name: &str| ids(&json!({"hits": r.body[name]}));
    assert!(side("before").contains(&"shoe-2".to_string()));
    assert_eq!(side("after"), ["shoe-4", "shoe-1", "shoe-5"]);
    assert_eq!(
        strings(&r.body["fired"]),
        ["dress-shoe-hero", "clearance-last", "acme-week"]
    );
    assert_eq!(strings(&r.body["fired_before"]), Vec::<String>::new());
    // Nothing was put in force.
    assert_eq!(app.get("/v1/admin/config").await.body["rules"], json!([]));
}

#[tokio::test]
async fn a_preview_of_an_invalid_config_says_where_it_is_wrong() {
    let app = TestApp::with_config_files(&[("attune.toml", "")]);
    let body = json!({"config": "[[rules]]\nid = \"x\"\nthen = { strength = 300 }\n", "q": "shoe"});
    let r = app
        .json(Method::POST, "/v1/admin/rules/preview", &body)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("(preview):3:21: rule \"x\": then.strength"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn searches_during_reloads_never_fail() {
    let app = Arc::new(TestApp::with_config_files(&[("attune.toml", RULES)]));
    let r = app.ndjson("/v1/products", SMALL_CATALOG).await;
    assert_eq!(r.status, StatusCode::OK);
    let failures = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let searchers: Vec<_> = (0..4)
        .map(|i| {
            let (app, failures, done, stop) =
                (app.clone(), failures.clone(), done.clone(), stop.clone());
            tokio::spawn(async move {
                let queries = ["q=running+shoes", "q=bottle", "category=Shoes", "q=returns"];
                while !stop.load(Ordering::Acquire) {
                    let r = app
                        .get(&format!("/v1/search?{}", queries[i % queries.len()]))
                        .await;
                    if r.status != StatusCode::OK {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let variants = [
        RULES.to_string(),
        String::new(),
        RULES.replace("factor = 5", "factor = 0"),
    ];
    let mut reloads = 0;
    for round in 0..9 {
        // Let some searches run between reloads.
        let target = done.load(Ordering::Relaxed) + 20;
        while done.load(Ordering::Relaxed) < target {
            tokio::task::yield_now().await;
        }
        app.write_config("attune.toml", &variants[round % 3]);
        let r = app.post_empty("/v1/admin/reload").await;
        let expected = if round % 3 == 2 {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        assert_eq!(r.status, expected, "{}", r.body);
        reloads += usize::from(r.status == StatusCode::OK);
    }
    stop.store(true, Ordering::Release);
    for s in searchers {
        s.await.unwrap();
    }
    assert_eq!(failures.load(Ordering::Relaxed), 0);
    assert!(done.load(Ordering::Relaxed) >= 180);
    assert_eq!(app.engine.config().version.counter, 1 + reloads as u64);
}

#[tokio::test]
async fn an_edit_of_the_watched_file_is_put_in_force_without_a_call() {
    let app = TestApp::with_config_files(&[("attune.toml", "")]);
    let watcher = tokio::spawn(attune::watch::watch_config(app.engine.clone()));
    // The watch starts on its task; edit until it reports (an edit before it watches is lost).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut round = 0;
    while app.engine.config().version.counter == 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the edit was never reloaded"
        );
        round += 1;
        app.write_config("attune.toml", &format!("# edit {round}\n{RULES}"));
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    watcher.abort();
    assert_eq!(app.engine.config().rules.rules().len(), 6);
}
