//! The demo store: the embedded catalog and sample events load on first start, and only then.

use crate::common::{TestApp, ids, open_engine};

#[tokio::test]
async fn the_demo_store_seeds_its_catalog_and_sample_events_once() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open_engine(dir.path(), attune::Config::default());
    let seeded = attune::demo::seed_demo(&engine)
        .await
        .unwrap()
        .expect("first start seeds");
    assert_eq!(seeded.products.upserted, 1967);
    assert_eq!(seeded.products.failed, 0);
    assert_eq!(seeded.events.failed, 0);
    assert!(seeded.events.accepted > 40);
    let cook = engine.visitor("demo-cook").unwrap();
    assert_eq!(cook.categories[0].value, "Home & Kitchen");
    assert_eq!(cook.counters.orders, 1);
    assert!(
        attune::demo::seed_demo(&engine).await.unwrap().is_none(),
        "seeding happens once"
    );
}

/// The demo's personas are each all in one department; the queries a merchant tries first
/// (`bowl`, `cheap knife`, `brush`) match products of several. Where the catalog has three
/// matches in a persona's department, its first three are all there.
#[tokio::test]
async fn each_persona_reads_an_ambiguous_query_in_its_department() {
    let app = TestApp::new();
    attune::demo::seed_demo(&app.engine).await.unwrap().unwrap();
    let personas = [
        ("demo-cook", "Home & Kitchen"),
        ("demo-diy", "Tools & Home Improvement"),
        ("demo-pets", "Pet Supplies"),
    ];
    let mut checked = 0;
    for q in ["bowl", "cheap+knife", "brush"] {
        for (persona, department) in personas {
            let encoded = department.replace(' ', "+").replace('&', "%26");
            let there = app
                .get(&format!("/v1/search?q={q}&category={encoded}"))
                .await;
            let matches = there.body["total"].as_u64().unwrap();
            let r = app
                .get(&format!("/v1/search?q={q}&visitor_id={persona}&limit=3"))
                .await;
            let first: Vec<&str> = (r.body["hits"].as_array().unwrap().iter())
                .map(|h| h["category"][0].as_str().unwrap_or_default())
                .collect();
            if matches >= 3 {
                assert_eq!(first, [department; 3], "{q} for {persona}: {}", r.body);
                checked += 1;
            }
        }
    }
    // bowl: kitchen and pet; cheap knife: kitchen and tools; brush: kitchen and tools.
    assert!(
        checked >= 6,
        "only {checked} query and persona pairs had three matches"
    );
    let bowl = |persona: &str| {
        let app = &app;
        let q = format!("/v1/search?q=bowl&visitor_id={persona}&limit=3");
        async move { ids(&app.get(&q).await.body) }
    };
    assert_ne!(bowl("demo-cook").await, bowl("demo-pets").await);
}
