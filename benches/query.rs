//! Query understanding on the 75 ESCI dev queries over the demo catalog (1,967 real
//! products): price intent and price words, language, analysis, stop words and negations,
//! the catalog lexicon (brands, categories, attribute values), synonyms and the tantivy query
//! plan. `as_typed` leaves the index's vocabulary out; `with_vocabulary` adds the typo,
//! completion and other-language lookups in the index's term dictionaries. Each iteration
//! checks the words it read against a run made before timing.

use criterion::{Criterion, criterion_group, criterion_main};
use flate2::read::GzDecoder;

use attune::engine::BodyFormat;
use attune::search::query::{self, AsTyped, Reading, Vocabulary, constraints, typo};
use attune::search::{IndexVocabulary, SearchRequest};
use attune::settings::CacheConfig;
use attune::{Config, Engine, demo};

const QUERIES: &str = include_str!("../fixtures/esci_queries.txt");

fn bench_query(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::default();
    config.server.data_dir = dir.path().to_path_buf();
    let engine = Engine::open(config).expect("engine");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(demo::import(
        &engine,
        GzDecoder::new(demo::DEMO_CATALOG),
        BodyFormat::Ndjson,
        |_| {},
    ))
    .expect("import");
    let config = engine.config().search.clone();
    let index = engine.search_index();
    let searcher = index.searcher();
    let lexicon = index
        .lexicon(&searcher, config.languages.default_lang())
        .expect("lexicon");
    let requests: Vec<SearchRequest> = QUERIES
        .lines()
        .filter(|q| !q.trim().is_empty())
        .map(|q| SearchRequest::from_pairs(vec![("q".into(), q.into())], &config).expect("request"))
        .collect();
    // A vocabulary per plan, as a search makes one: it remembers the words it looked up. Its
    // memo of corrections and completions starts empty for every plan, so this measures
    // what a word costs the first time a snapshot meets it.
    let read = |req: &SearchRequest, with_index: bool| {
        let (text, _intent) = constraints::intent(&req.q);
        let (text, price) = constraints::extract(&text);
        let mut req = req.clone();
        req.q = text;
        let reading = Reading {
            lexicon: Some(&lexicon),
            price_boost: None,
            tier_filter: None,
            terms: None,
        };
        let index_vocabulary = IndexVocabulary::new(
            &searcher,
            index,
            typo::NORMAL,
            std::sync::Arc::new(typo::WordMemo::new(CacheConfig::default().words)),
        );
        let vocabulary: &dyn Vocabulary = if with_index {
            &index_vocabulary
        } else {
            &AsTyped
        };
        let plan = query::plan(&req, index.fields(), &config, vocabulary, &reading);
        plan.terms.len() + plan.understood.len() + usize::from(price.is_some())
    };
    let mut group = c.benchmark_group("understand_75_esci_queries");
    for (name, with_index) in [("as_typed", false), ("with_vocabulary", true)] {
        let expected: Vec<usize> = requests.iter().map(|r| read(r, with_index)).collect();
        group.bench_function(name, |b| {
            b.iter(|| {
                for (req, want) in requests.iter().zip(&expected) {
                    assert_eq!(read(req, with_index), *want);
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_query);
criterion_main!(benches);
