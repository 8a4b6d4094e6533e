//! In-process queries per second on one thread, for the load script's baseline: plain tantivy
//! BM25 and attune's full search path over the same data directory and query list; then the
//! same queries personalized for a visitor with about fifty affinities, in pairs of passes
//! with unpersonalized ones so both see the same machine.
//!
//! Usage: `inprocess_qps DATA_DIR QUERIES_FILE SECONDS` (run it under `taskset -c 0`). With
//! `PROFILE=plain` or `PROFILE=personal` it ends with passes of that kind only, for `perf`
//! (`PROFILE=derive`: each personalized search after one of the visitor's own views);
//! with `THROUGHPUT_ONLY=1` it stops after the queries per second (the load script alternates
//! it with HTTP runs).

use std::time::{Duration, Instant};

use attune::eval::baseline::{Matching, PlainBm25, top_ids_of};
use attune::search::query::{self, Reading, typo};
use attune::search::{IndexVocabulary, SearchRequest};
use attune::{Config, Engine};

/// The server's allocator, so in-process and HTTP figures compare the same code.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Pairs of unpersonalized and personalized passes compared.
const PAIRS: usize = 21;
/// Pairs of passes, and queries per pass, with the profile changed before every search.
const CHANGING_PAIRS: usize = 7;
const CHANGING: usize = 300;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        args.len() == 4,
        "usage: inprocess_qps DATA_DIR QUERIES_FILE SECONDS"
    );
    // ATTUNE_CONFIG names a config file, to compare ranking settings.
    let mut config = match std::env::var_os("ATTUNE_CONFIG") {
        Some(path) => Config::load(std::path::Path::new(&path), true)?,
        None => Config::default(),
    };
    config.server.data_dir = args[1].clone().into();
    // Every visitor personalized: the personalized rounds must not land in the control group.
    config.personalization.control_share = 0;
    let queries: Vec<String> = std::fs::read_to_string(&args[2])?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let seconds: u64 = args[3].parse()?;
    let engine = Engine::open(config)?;
    let search_config = engine.config().search.clone();
    let all_words = PlainBm25::new(engine.index(), Matching::AllWords);
    let all_words_qps = run(&queries, seconds, |q| {
        all_words
            .top_ids(engine.index(), q, 10)
            .map(|ids| ids.len())
            .unwrap_or(0)
    });
    let any_word = PlainBm25::new(engine.index(), Matching::AnyWord);
    let any_word_qps = run(&queries, seconds, |q| {
        any_word
            .top_ids(engine.index(), q, 10)
            .map(|ids| ids.len())
            .unwrap_or(0)
    });
    let requests: Vec<SearchRequest> = queries
        .iter()
        .map(|q| SearchRequest::from_pairs(vec![("q".into(), q.clone())], &search_config))
        .collect::<Result<_, _>>()?;
    // The tantivy queries attune plans for the same requests, planned before timing, run by
    // tantivy alone: what attune adds around tantivy is the difference.
    let searcher = engine.index().searcher();
    let lexicon = engine
        .search_index()
        .lexicon(&searcher, search_config.languages.default_lang())?;
    let plans: Vec<Box<dyn tantivy::query::Query>> = requests
        .iter()
        .map(|req| {
            let vocabulary = IndexVocabulary::new(
                &searcher,
                engine.search_index(),
                typo::NORMAL,
                engine.search_index().words(&searcher)?,
            );
            let reading = Reading {
                lexicon: Some(&lexicon),
                price_boost: None,
                tier_filter: None,
                // Tantivy's own term queries, weighed anew for every search as tantivy does.
                terms: None,
            };
            let plan = query::plan(
                req,
                engine.index().fields(),
                &search_config,
                &vocabulary,
                &reading,
            );
            Ok(plan.query)
        })
        .collect::<attune::Result<_>>()?;
    let mut next_plan = plans.iter().cycle();
    let planned_qps = run(&queries, seconds, |_| {
        let plan = next_plan.next().expect("cycle");
        top_ids_of(engine.index(), plan.as_ref(), 10)
            .map(|ids| ids.len())
            .unwrap_or(0)
    });
    let mut next = requests.iter().cycle();
    let attune_qps = run(&queries, seconds, |_| {
        let req = next.next().expect("cycle");
        engine.search_now(req).map(|a| a.hits.len()).unwrap_or(0)
    });
    println!("products: {}", engine.index().len());
    println!("plain tantivy BM25, all words, in-process, 1 thread: {all_words_qps:.0} queries/s");
    println!("plain tantivy BM25, any word, in-process, 1 thread:  {any_word_qps:.0} queries/s");
    println!("tantivy alone, attune's query plans, 1 thread:       {planned_qps:.0} queries/s");
    println!("attune search in-process, 1 thread:                  {attune_qps:.0} queries/s");
    if std::env::var_os("THROUGHPUT_ONLY").is_some() {
        engine.close();
        return Ok(());
    }

    let visitor = "bench-visitor";
    let runtime = tokio::runtime::Runtime::new()?;
    let affinities = seed_profile(&runtime, &engine, &requests, visitor)?;
    let personalized: Vec<SearchRequest> = requests
        .iter()
        .map(|r| SearchRequest {
            visitor_id: Some(visitor.to_string()),
            ..r.clone()
        })
        .collect();
    // Pairs of passes over every query, one unpersonalized and one personalized ([`abba`]).
    let pass = |list: &[SearchRequest]| {
        let started = Instant::now();
        let hits: usize = list
            .iter()
            .map(|req| engine.search_now(req).map(|a| a.hits.len()).unwrap_or(0))
            .sum();
        assert!(hits > 0, "no query found anything");
        started.elapsed().as_secs_f64()
    };
    // The products viewed before searches below: the first query's hits.
    let viewed: Vec<String> = engine
        .search_now(&requests[0])?
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect();
    anyhow::ensure!(!viewed.is_empty(), "the first query found nothing to view");
    // PROFILE=plain or PROFILE=personal: only passes of that kind, for a profiler;
    // PROFILE=derive: personalized searches, each after one of the visitor's own views.
    if std::env::var("PROFILE").as_deref() == Ok("derive") {
        for (n, req) in personalized
            .iter()
            .cycle()
            .take(PAIRS * CHANGING)
            .enumerate()
        {
            record_views(
                &runtime,
                &engine,
                visitor,
                [viewed[n % viewed.len()].as_str()],
            )?;
            engine.search_now(req)?;
        }
        return Ok(());
    }
    if let Ok(only) = std::env::var("PROFILE") {
        let list = if only == "personal" {
            &personalized
        } else {
            &requests
        };
        for _ in 0..PAIRS {
            pass(list);
        }
        return Ok(());
    }
    let ratios = abba(PAIRS, |personal| {
        pass(if personal { &personalized } else { &requests })
    });
    println!(
        "personalized ({affinities} affinities) vs unpersonalized, {PAIRS} pairs of passes over \
         the {} queries: personalized costs {}",
        requests.len(),
        summary(ratios),
    );
    // The same with one view recorded (untimed) before every search: by this visitor, so the
    // profile changes before each personalized search (the view's event derives the taste
    // anew, when the visitor has searched); then by another visitor, which leaves the taste
    // alone but writes the journal just the same. Fewer queries: every view is a journal
    // write.
    let mut views = 0usize;
    let mut after_views = |list: &[SearchRequest], viewer: &str| {
        let mut searching = 0.0;
        for req in &list[..list.len().min(CHANGING)] {
            let id = viewed[views % viewed.len()].as_str();
            views += 1;
            record_views(&runtime, &engine, viewer, [id]).expect("view recorded");
            let started = Instant::now();
            engine.search_now(req).expect("search");
            searching += started.elapsed().as_secs_f64();
        }
        searching
    };
    for (viewer, whose) in [
        (visitor, "the visitor's"),
        ("another-visitor", "another visitor's"),
    ] {
        let ratios = abba(CHANGING_PAIRS, |personal| {
            after_views(if personal { &personalized } else { &requests }, viewer)
        });
        println!(
            "with {whose} view recorded before every search, {CHANGING_PAIRS} pairs of passes \
             over {CHANGING} queries: personalized costs {}",
            summary(ratios),
        );
    }
    engine.close();
    Ok(())
}

/// Gives `visitor` views of the top hits of the first queries until the profile holds about
/// fifty affinities (categories, brands, attribute values); returns how many it holds.
fn seed_profile(
    runtime: &tokio::runtime::Runtime,
    engine: &std::sync::Arc<Engine>,
    requests: &[SearchRequest],
    visitor: &str,
) -> anyhow::Result<usize> {
    let mut count = 0;
    for req in requests.iter().take(200) {
        let answer = engine.search_now(req)?;
        let top = answer.hits.iter().take(2).map(|h| h.id.as_str());
        record_views(runtime, engine, visitor, top)?;
        let view = engine.visitor(visitor)?;
        count = view.categories.len() + view.brands.len() + view.attributes.len();
        if count >= 50 {
            break;
        }
    }
    Ok(count)
}

/// Records `visitor`'s views of `products`, as the events API would.
fn record_views<'a>(
    runtime: &tokio::runtime::Runtime,
    engine: &std::sync::Arc<Engine>,
    visitor: &str,
    products: impl IntoIterator<Item = &'a str>,
) -> anyhow::Result<()> {
    let events: Vec<String> = products
        .into_iter()
        .map(|id| {
            serde_json::json!({"type": "view", "visitor_id": visitor, "product_id": id}).to_string()
        })
        .collect();
    runtime.block_on(attune::demo::import_events(
        engine,
        events.join("\n").as_bytes(),
    ))?;
    Ok(())
}

/// Time ratios of `b` to `a` over pairs of runs in alternating order (ABBA): each ratio is
/// measured on the same machine state, so a noisy neighbour moves both.
/// `timed(false)` times A, `timed(true)` B.
fn abba(pairs: usize, mut timed: impl FnMut(bool) -> f64) -> Vec<f64> {
    (0..pairs)
        .map(|round| {
            let (a, b) = if round % 2 == 0 {
                let a = timed(false);
                (a, timed(true))
            } else {
                let b = timed(true);
                (timed(false), b)
            };
            b / a
        })
        .collect()
}

/// "+x % time (median; quartiles …, range …)" of time ratios.
fn summary(mut ratios: Vec<f64>) -> String {
    ratios.sort_by(f64::total_cmp);
    let n = ratios.len();
    let pct = |r: f64| (r - 1.0) * 100.0;
    format!(
        "{:+.1} % time (median; quartiles {:+.1} to {:+.1}, range {:+.1} to {:+.1})",
        pct(ratios[n / 2]),
        pct(ratios[n / 4]),
        pct(ratios[n * 3 / 4]),
        pct(ratios[0]),
        pct(ratios[n - 1]),
    )
}

fn run(queries: &[String], seconds: u64, mut f: impl FnMut(&str) -> usize) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut done = 0u64;
    let mut hits = 0usize;
    for q in queries.iter().cycle() {
        hits += f(q);
        done += 1;
        if done % 64 == 0 && Instant::now() >= deadline {
            break;
        }
    }
    assert!(
        hits > 0,
        "no query found anything: the index is empty or broken"
    );
    done as f64 / started.elapsed().as_secs_f64()
}
