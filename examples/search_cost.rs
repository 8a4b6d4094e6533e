//! Calibrates `server.inline_search_matches`: for every query of a list, the matches its plan
//! is predicted to visit (`attune::search::query::cost`) and the median time of its search on one
//! thread, then, for a ladder of limits, the share of searches a limit would run on the
//! receiving thread and the slowest of them.
//!
//! Usage: `search_cost DATA_DIR QUERIES_FILE [EXTRA_QUERY_STRING]` (under `taskset -c 0`;
//! the extra query string, such as `facets=category,brand,price`, is added to every search).
//! With `PER_QUERY=1` it also prints `predicted<TAB>µs<TAB>query` for every query.

use std::time::Instant;

use attune::rules::Outcome;
use attune::search::query::cost::Inline;
use attune::search::{Personalization, SearchRequest, search_with_rules};
use attune::{Config, Engine};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Timed runs of each search; its median is kept.
const RUNS: usize = 15;
/// Limits whose share and slowest search are reported.
const LIMITS: &[u64] = &[
    500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000,
];

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        (3..=4).contains(&args.len()),
        "usage: search_cost DATA_DIR QUERIES_FILE [EXTRA_QUERY_STRING]"
    );
    let mut config = Config::default();
    config.server.data_dir = args[1].clone().into();
    let extra: Vec<(String, String)> = match args.get(3) {
        Some(qs) => serde_urlencoded::from_str(qs)?,
        None => Vec::new(),
    };
    let engine = Engine::open(config)?;
    let config = engine.config();
    let searcher = engine.index().searcher();
    let personal = Personalization::none(&config.personalization, &config.tiers);
    let outcome = Outcome::default();
    let mut measured = Vec::new();
    for q in std::fs::read_to_string(&args[2])?.lines() {
        let mut pairs = vec![("q".to_string(), q.to_string())];
        pairs.extend(extra.iter().cloned());
        let req = SearchRequest::from_pairs(pairs, &config.search)?;
        let run = |limit| {
            let index = engine.search_index();
            search_with_rules(
                index,
                &searcher,
                &config.search,
                &req,
                &personal,
                &outcome,
                limit,
            )
        };
        let predicted = match run(Some(0))? {
            Inline::Declined { predicted } => predicted,
            Inline::Answered(_) => 0,
        };
        let mut times: Vec<f64> = (0..RUNS)
            .map(|_| {
                let started = Instant::now();
                let answer = run(None).and_then(Inline::answered);
                assert!(answer.is_ok(), "{q}: {answer:?}");
                started.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        times.sort_by(f64::total_cmp);
        measured.push((predicted, times[RUNS / 2], q.to_string()));
    }
    if std::env::var_os("PER_QUERY").is_some() {
        for (predicted, micros, q) in &measured {
            println!("{predicted}\t{micros:.1}\t{q}");
        }
    }
    let all: f64 = measured.iter().map(|m| m.1).sum();
    println!(
        "{} searches, {:.1} µs on average",
        measured.len(),
        all / measured.len() as f64
    );
    println!("limit      searches under it   their time   slowest under it   fastest above it");
    for &limit in LIMITS {
        let (under, above): (Vec<_>, Vec<_>) = measured.iter().partition(|m| m.0 <= limit);
        let time: f64 = under.iter().map(|m| m.1).sum();
        let slowest = under.iter().map(|m| m.1).fold(0.0, f64::max);
        let fastest = above.iter().map(|m| m.1).fold(f64::INFINITY, f64::min);
        println!(
            "{limit:>7}    {:>5.1} %             {:>5.1} %      {slowest:>8.0} µs        {fastest:>8.0} µs",
            100.0 * under.len() as f64 / measured.len() as f64,
            100.0 * time / all,
        );
    }
    Ok(())
}
