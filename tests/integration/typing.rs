//! Search as you type (issue 26, item 1): every prefix of a catalog word finds the products
//! that have the word, although the index stores stems, and is never "corrected" into
//! another word.

use std::sync::{Arc, OnceLock};

use attune::Engine;
use attune::search::SearchRequest;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

use crate::common::open_engine;

/// The demo catalog in an engine, loaded once for the tests of this file, with the runtime
/// that serves it.
fn demo() -> &'static (tokio::runtime::Runtime, Arc<Engine>, tempfile::TempDir) {
    static DEMO: OnceLock<(tokio::runtime::Runtime, Arc<Engine>, tempfile::TempDir)> =
        OnceLock::new();
    DEMO.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let engine = rt.block_on(async {
            let engine = open_engine(dir.path(), attune::Config::default());
            attune::demo::seed_demo(&engine).await.unwrap();
            engine
        });
        (rt, engine, dir)
    })
}

/// The ids of every match of `pairs` (at most 100), and the correction offered.
fn matches(pairs: &[(&str, &str)]) -> (Vec<String>, Option<String>) {
    let (rt, engine, _) = demo();
    let mut pairs: Vec<(String, String)> = (pairs.iter())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    pairs.push(("limit".into(), "100".into()));
    let req = SearchRequest::from_pairs(pairs, &engine.config().search).unwrap();
    let found = rt.block_on(engine.search(req)).unwrap();
    let echo = serde_json::to_value(&found.query).unwrap();
    let did_you_mean = echo["did_you_mean"].as_str().map(str::to_string);
    (found.hits.into_iter().map(|h| h.id).collect(), did_you_mean)
}

/// The demo products whose title has `word` (case-insensitive, whole word).
fn titles_with(word: &str) -> Vec<(String, String)> {
    let (rt, engine, _) = demo();
    let req = SearchRequest::from_pairs(
        vec![("q".into(), word.into()), ("limit".into(), "100".into())],
        &engine.config().search,
    )
    .unwrap();
    let found = rt.block_on(engine.search(req)).unwrap();
    (found.hits.into_iter())
        .filter(|h| title_words(&h.title).any(|w| w == word))
        .map(|h| (h.id, h.title))
        .collect()
}

fn title_words(title: &str) -> impl Iterator<Item = String> + '_ {
    title
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
}

#[test]
fn every_prefix_of_running_finds_the_running_products_and_is_never_corrected() {
    // Regression: `runn` found 1 product, `runni` and `runnin` none (or 19 "Funny…" products
    // with did_you_mean "funny"), while `run` and `running` found them all.
    let running = titles_with("running");
    assert!(running.len() >= 3, "{running:?}");
    for prefix in ["runn", "runni", "runnin", "running"] {
        let (ids, did_you_mean) = matches(&[("q", prefix)]);
        assert_eq!(did_you_mean, None, "{prefix}");
        for (id, title) in &running {
            assert!(ids.contains(id), "{prefix}: {title} ({id}) not found");
        }
    }
}

#[test]
fn a_short_prefix_finds_the_products_of_its_rarer_words_too() {
    // Regression: "flo" was completed to its 5 commonest words only (floor, flower…), so the
    // products with "flour" were not found.
    let flour = titles_with("flour");
    assert!(!flour.is_empty());
    let (all, _) = matches(&[("q", "flo")]);
    assert_eq!(
        all.len(),
        100,
        "more products than a page have words starting with flo"
    );
    for (id, title) in &flour {
        let (ids, _) = matches(&[("q", "flo"), ("brand", &brand_of(id))]);
        assert!(ids.contains(id), "flo does not find {title} ({id})");
    }
}

/// The brand of a demo product.
fn brand_of(id: &str) -> String {
    let (_, engine, _) = demo();
    let product = engine.product(id).unwrap().to_json();
    product["brand"].as_str().unwrap_or_default().to_string()
}

#[test]
fn a_prefix_of_a_longer_word_that_is_a_word_itself_finds_both() {
    // "bow" is a word, and the start of "bowl": as the shopper types, both are meant.
    let bowls = titles_with("bowl");
    assert!(!bowls.is_empty());
    let (ids, _) = matches(&[("q", "bow")]);
    assert!(bowls.iter().any(|(id, _)| ids.contains(id)), "{ids:?}");
    // A finished word (a space after it) is not a prefix.
    let (ids, _) = matches(&[("q", "bow ")]);
    assert!(bowls.iter().all(|(id, _)| !ids.contains(id)), "{ids:?}");
}

/// Stop words are not searched for; shorter words are not completed.
fn searchable(word: &str) -> bool {
    const STOP: &[&str] = &[
        "and", "the", "for", "with", "from", "that", "this", "your", "you", "are", "not",
        "without", "into", "out", "off", "all", "its",
    ];
    word.len() >= 4 && word.chars().all(|c| c.is_ascii_lowercase()) && !STOP.contains(&word)
}

/// Every word of the demo catalog's titles, brands and category names, lowercased.
fn catalog_words() -> std::collections::HashSet<String> {
    use std::io::BufRead;
    let reader = flate2::read::GzDecoder::new(attune::demo::DEMO_CATALOG);
    let mut words = std::collections::HashSet::new();
    for line in std::io::BufReader::new(reader).lines() {
        let product: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        let mut names = vec![product["title"].to_string(), product["brand"].to_string()];
        names.push(product["category"].to_string());
        for name in names {
            words.extend(title_words(&name).filter(|w| !w.is_empty()));
        }
    }
    words
}

/// Every prefix of 3 letters or more of a title word finds the product, but for a prefix that
/// is itself a word of the catalog: a shopper who typed "stack" may mean "stack" or be typing
/// "stackable", and the search takes the longer words too only when they have more products
/// than the word (completing every full word cost every search ending with one; see
/// `query::complete_last_word`).
#[test]
fn any_prefix_of_three_letters_or_more_of_a_title_word_finds_the_product() {
    let written = catalog_words();
    let (rt, engine, _) = demo();
    // Every demo product's id, title, price and category, to narrow each search to a few
    // products: membership among the matches is what is checked, not the rank.
    let req = SearchRequest::browse_from_pairs(
        vec![
            ("category".into(), "Home & Kitchen".into()),
            ("limit".into(), "100".into()),
        ],
        &engine.config().search,
    )
    .unwrap();
    let products: Vec<_> = rt.block_on(engine.search(req)).unwrap().hits;
    let cases: Vec<(String, String, String)> = products
        .iter()
        .flat_map(|h| {
            title_words(&h.title)
                .filter(|w| searchable(w))
                .map(|w| (h.id.clone(), h.price.unwrap_or(0.0).to_string(), w))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(cases.len() > 100);
    let mut runner = TestRunner::new(ProptestConfig::with_cases(120));
    let strategy = (0..cases.len(), 3usize..20);
    runner
        .run(&strategy, |(case, cut)| {
            let (id, price, word) = &cases[case];
            let prefix = &word[..cut.min(word.len())];
            prop_assume!(prefix == word || !written.contains(prefix));
            let (ids, _) = matches(&[
                ("q", prefix),
                ("category", "Home & Kitchen"),
                ("price_min", price),
                ("price_max", price),
            ]);
            prop_assert!(
                ids.contains(id),
                "{prefix} (of {word}) does not find {id}: {ids:?}"
            );
            Ok(())
        })
        .unwrap();
}
