//! Where the engine runs a search: a narrow one on the thread that received it, a broad one
//! on the search pool.

use std::num::NonZeroUsize;
use std::sync::mpsc;

use super::*;

const SMALL_CATALOG: &str = include_str!("../../fixtures/small_catalog.ndjson");

/// An engine over `dir` holding the small catalog (12 products), with one search thread, no
/// queue, and searches predicted to visit at most `inline` matches run by the caller.
async fn small_engine(dir: &std::path::Path, inline: u64) -> Arc<Engine> {
    let mut config = Config::default();
    config.server.data_dir = dir.to_path_buf();
    config.server.search_concurrency = NonZeroUsize::MIN;
    config.server.search_queue = 0;
    config.server.inline_search_matches = inline;
    let engine = Engine::open(config).unwrap();
    let report = crate::demo::import(
        &engine,
        SMALL_CATALOG.as_bytes(),
        BodyFormat::Ndjson,
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(report.upserted, 12);
    engine
}

fn request(q: &str) -> SearchRequest {
    let pairs = vec![("q".to_string(), q.to_string())];
    SearchRequest::from_pairs(pairs, &Config::default().search).unwrap()
}

/// Keeps the engine's only search thread busy until the returned sender is dropped.
async fn occupy_the_search_thread(engine: &Arc<Engine>) -> mpsc::Sender<()> {
    let (release, released) = mpsc::channel::<()>();
    let (started, running) = tokio::sync::oneshot::channel();
    let engine = engine.clone();
    tokio::spawn(async move {
        engine
            .on_pool("held", move |_| {
                let _ = started.send(());
                let _ = released.recv();
                Ok(())
            })
            .await
    });
    running.await.unwrap();
    release
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrow_search_is_answered_while_the_search_threads_are_busy_and_a_broad_one_waits_for_them()
 {
    let dir = tempfile::tempdir().unwrap();
    // Browsing visits all 12 products: one more than the limit. "sneaker" visits one.
    let engine = small_engine(dir.path(), 11).await;
    let held = occupy_the_search_thread(&engine).await;
    let narrow = engine.search(request("sneaker")).await.unwrap();
    assert_eq!(narrow.hits[0].id, "shoe-5");
    let broad = engine.search(request("")).await;
    assert!(matches!(broad, Err(Error::Overloaded)), "{broad:?}");
    drop(held);
    // The thread is free once its job has seen the release; a broad search then runs on it.
    let mut browsed = engine.search(request("")).await;
    while matches!(browsed, Err(Error::Overloaded)) {
        tokio::task::yield_now().await;
        browsed = engine.search(request("")).await;
    }
    assert_eq!(browsed.unwrap().total, 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_inline_limit_every_search_waits_for_a_search_thread() {
    let dir = tempfile::tempdir().unwrap();
    let engine = small_engine(dir.path(), 0).await;
    let held = occupy_the_search_thread(&engine).await;
    let narrow = engine.search(request("sneaker")).await;
    assert!(matches!(narrow, Err(Error::Overloaded)), "{narrow:?}");
    drop(held);
}

fn suggest(q: &str, visitor_id: Option<&str>) -> AutocompleteRequest {
    let mut pairs = vec![("q".to_string(), q.to_string())];
    pairs.extend(visitor_id.map(|v| ("visitor_id".to_string(), v.to_string())));
    AutocompleteRequest::from_pairs(pairs, &Config::default().suggest).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autocomplete_without_a_visitor_is_answered_while_the_search_threads_are_busy_and_a_visitors_waits()
 {
    let dir = tempfile::tempdir().unwrap();
    let engine = small_engine(dir.path(), 0).await;
    engine.rebuild_suggestions().await.unwrap();
    let held = occupy_the_search_thread(&engine).await;
    let anyone = engine.autocomplete(suggest("snea", None)).await.unwrap();
    assert!(
        anyone
            .suggestions
            .iter()
            .any(|s| s.text.to_lowercase().contains("sneaker")),
        "{anyone:?}"
    );
    let visitor = engine.autocomplete(suggest("snea", Some("v-1"))).await;
    assert!(matches!(visitor, Err(Error::Overloaded)), "{visitor:?}");
    drop(held);
}
