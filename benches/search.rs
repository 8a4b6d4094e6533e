//! Search latency on the demo catalog (1,967 real products) with the 75 ESCI dev queries:
//! attune's full search path (plan, rank, facets, hydrate) against plain tantivy BM25 on the
//! same index; and autocomplete on the same catalog: lookups of the queries' first 2, 4 and
//! 6 characters, and a rebuild. Every timed iteration checks its result against one computed
//! before timing, so a broken search cannot look fast.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use flate2::read::GzDecoder;

use attune::engine::BodyFormat;
use attune::eval::baseline::{Matching, PlainBm25};
use attune::search::SearchRequest;
use attune::suggest::Suggester;
use attune::{Config, Engine, demo};

const QUERIES: &str = include_str!("../fixtures/esci_queries.txt");

fn engine(dir: &std::path::Path) -> Arc<Engine> {
    let mut config = Config::default();
    config.server.data_dir = dir.to_path_buf();
    let engine = Engine::open(config).expect("engine");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let report = rt
        .block_on(demo::import(
            &engine,
            GzDecoder::new(demo::DEMO_CATALOG),
            BodyFormat::Ndjson,
            |_| {},
        ))
        .expect("import");
    assert_eq!(report.failed, 0);
    engine
}

fn request(q: &str, facets: bool) -> SearchRequest {
    let mut pairs = vec![("q".to_string(), q.to_string())];
    if facets {
        pairs.push(("facets".into(), "category,brand,price".into()));
    }
    SearchRequest::from_pairs(pairs, &Config::default().search).expect("valid request")
}

fn bench_search(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = engine(dir.path());
    let queries: Vec<&str> = QUERIES.lines().filter(|q| !q.trim().is_empty()).collect();

    let mut group = c.benchmark_group("search_75_esci_queries");
    for (name, facets) in [("attune", false), ("attune_with_facets", true)] {
        let requests: Vec<SearchRequest> = queries.iter().map(|q| request(q, facets)).collect();
        let expected: Vec<u64> = requests
            .iter()
            .map(|r| engine.search_now(r).expect("search").total)
            .collect();
        group.bench_function(name, |b| {
            b.iter(|| {
                for (req, total) in requests.iter().zip(&expected) {
                    let answer = engine.search_now(req).expect("search");
                    assert_eq!(answer.total, *total);
                }
            })
        });
    }

    let plain = PlainBm25::new(engine.index(), Matching::AllWords);
    let expected: Vec<Vec<String>> = queries
        .iter()
        .map(|q| plain.top_ids(engine.index(), q, 10).expect("baseline"))
        .collect();
    group.bench_function("plain_tantivy_bm25", |b| {
        b.iter(|| {
            for (q, ids) in queries.iter().zip(&expected) {
                let hits = plain.top_ids(engine.index(), q, 10).expect("baseline");
                assert_eq!(hits.len(), ids.len());
            }
        })
    });
    group.finish();
}

/// Autocomplete over the demo catalog without events: brands, categories and every title,
/// the largest key set a catalog of this size gives.
fn bench_autocomplete(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = engine(dir.path());
    let config = engine.config();
    let suggester = Suggester::new().expect("suggester");
    let rebuild = || {
        suggester
            .rebuild(
                engine.search_index(),
                engine.profiles(),
                &config.search,
                &config.suggest,
            )
            .expect("rebuild")
    };
    let stats = rebuild();
    let prefixes: Vec<String> = QUERIES
        .lines()
        .filter(|q| !q.trim().is_empty())
        .flat_map(|q| [2, 4, 6].map(|n| q.chars().take(n).collect::<String>()))
        .collect();
    let lookup_all = |suggester: &Suggester| -> Vec<usize> {
        let current = suggester.current();
        prefixes
            .iter()
            .map(|p| current.lookup(p, 8, None, 1.0).len())
            .collect()
    };
    let expected = lookup_all(&suggester);
    assert!(
        expected.iter().any(|n| *n > 0),
        "the prefixes find suggestions"
    );

    let mut group = c.benchmark_group("autocomplete_demo_catalog");
    group.bench_function("lookup_225_prefixes", |b| {
        b.iter(|| assert_eq!(lookup_all(&suggester), expected))
    });
    group.sample_size(10);
    group.bench_function("rebuild", |b| b.iter(|| assert_eq!(rebuild(), stats)));
    group.finish();
}

criterion_group!(benches, bench_search, bench_autocomplete);
criterion_main!(benches);
