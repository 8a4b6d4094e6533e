//! The demo store: the embedded catalog and sample events load on first start, and only then.

use crate::common::open_engine;

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
