//! Autocomplete lookups one by one on one thread: nothing typed, then the first 2, 4 and 6
//! characters of every query of a list, as a shopper types them, against the suggestions built
//! from a data directory's catalog; prints the time a lookup takes (mean, median, p90, p99,
//! slowest), the slowest prefixes, the time the suggestions took to build, and a checksum of
//! the answers (equal checksums: equal answers).
//!
//! Usage: `autocomplete_cost DATA_DIR QUERIES_FILE` (under `taskset -c 0`). With
//! `AFFINITY=1` every lookup is for a visitor who likes the catalog's most suggested brand and
//! category (a boost reorders suggestions, and the lookup must look further).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::Instant;

use attune::suggest::{Affinity, Suggester};
use attune::{Config, Engine};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Timed runs of each lookup; its median is kept.
const RUNS: usize = 9;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        args.len() == 3,
        "usage: autocomplete_cost DATA_DIR QUERIES_FILE"
    );
    let mut config = Config::default();
    config.server.data_dir = args[1].clone().into();
    let engine = Engine::open(config)?;
    let config = engine.config();
    let suggester = Suggester::new()?;
    let started = Instant::now();
    let stats = suggester.rebuild(
        engine.search_index(),
        engine.profiles(),
        &config.search,
        &config.suggest,
    )?;
    let rebuilt_ms = started.elapsed().as_secs_f64() * 1000.0;
    let suggestions = suggester.current();
    // The empty prefix first: what the box suggests before anything is typed.
    let prefixes: Vec<String> = std::iter::once(String::new())
        .chain(
            std::fs::read_to_string(&args[2])?
                .lines()
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .flat_map(|q| {
                    [2, 4, 6]
                        .into_iter()
                        .filter(|&n| q.chars().count() >= n)
                        .map(|n| q.chars().take(n).collect::<String>())
                }),
        )
        .collect();
    let affinity = std::env::var_os("AFFINITY").map(|_| liked(&suggestions, &prefixes));
    let limit = config.suggest.default_limit;
    let boost = config.suggest.personal_boost;
    let mut checksum = std::collections::hash_map::DefaultHasher::new();
    let mut timed: Vec<(f64, &str)> = Vec::new();
    for prefix in &prefixes {
        let mut runs = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let started = Instant::now();
            let found = suggestions.lookup(prefix, limit, affinity.as_ref(), boost);
            runs.push(started.elapsed().as_secs_f64() * 1e6);
            std::hint::black_box(&found);
        }
        for s in suggestions.lookup(prefix, limit, affinity.as_ref(), boost) {
            s.text.hash(&mut checksum);
        }
        runs.sort_by(f64::total_cmp);
        timed.push((runs[RUNS / 2], prefix));
    }
    let mut times: Vec<f64> = timed.iter().map(|(t, _)| *t).collect();
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!(
        "{} suggestions ({} queries, {} from the catalog), built in {rebuilt_ms:.0} ms; {} \
         prefixes, limit {limit}{}",
        suggestions.len(),
        stats.queries,
        stats.catalog,
        prefixes.len(),
        if affinity.is_some() {
            ", with affinities"
        } else {
            ""
        },
    );
    println!(
        "lookup µs: mean {:.1}, median {:.1}, p90 {:.1}, p99 {:.1}, slowest {:.1}",
        times.iter().sum::<f64>() / times.len() as f64,
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
    timed.sort_by(|a, b| b.0.total_cmp(&a.0));
    let slowest: Vec<String> = timed[..5.min(timed.len())]
        .iter()
        .map(|(t, p)| format!("{p:?} {t:.0} µs"))
        .collect();
    println!("slowest: {}", slowest.join(", "));
    println!("answers checksum: {:016x}", checksum.finish());
    engine.close();
    Ok(())
}

/// A visitor who likes the brand and the top-level category suggested most often for the
/// prefixes.
fn liked(suggestions: &attune::suggest::Suggestions, prefixes: &[String]) -> Affinity {
    let mut brands: HashMap<String, usize> = HashMap::new();
    for prefix in prefixes {
        for s in suggestions.lookup(prefix, 20, None, 0.0) {
            if s.kind == attune::suggest::Kind::Brand {
                *brands.entry(s.text.to_lowercase()).or_default() += 1;
            }
        }
    }
    let top = brands
        .into_iter()
        .max_by_key(|(name, n)| (*n, std::cmp::Reverse(name.clone())))
        .map(|(name, _)| name);
    Affinity {
        brands: top.into_iter().map(|b| (b, 1.0)).collect(),
        categories: HashMap::new(),
    }
}
