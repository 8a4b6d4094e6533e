//! Offline evaluation of personalized ranking: NDCG@10 and HR@10 of held-out target items,
//! personalized against the control (plain) order, with a paired 95 % confidence interval.
//!
//! Two set-ups, each in its own engine over a temporary data directory:
//! - **simulated shoppers** on the priced part of `pcpartpicker_catalog` (real products,
//!   prices and a two-level category tree): each shopper has hidden tastes (two favourite
//!   categories, a price tier, a favourite brand per category) that drive their views and
//!   purchases; the target is one more item drawn from the same tastes, searched for by its
//!   category's name;
//! - **replayed purchase histories** of `online_retail_uci` (France and Germany): each
//!   customer's earlier invoices become purchase events and the items of their last invoice
//!   are the targets, each searched for by the last word of its description;
//! - **ambiguous queries** on the ESCI catalog (`esci_srw150`, real products under 30
//!   departments): a word is ambiguous when at least [`AMBIGUOUS_MIN`] titles in each of two
//!   or more departments (top-level categories) hold it, and it is a product word rather
//!   than a function word (at most [`AMBIGUOUS_MAX`] titles in all); each shopper's events
//!   are all in one department, they type one ambiguous word their department sells, and the
//!   targets are that department's products whose title holds the word.
//!
//! Also a neutral-profile check: visitors with no events must get exactly the plain order.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use flate2::read::GzDecoder;
use serde::Serialize;
use serde_json::json;

use crate::config::Config;
use crate::demo;
use crate::engine::{BodyFormat, Engine};
use crate::error::{Error, Result};
use crate::search::SearchRequest;
use crate::search::ranking::tiers::{NO_TIER, TierTable};

/// Mean and paired 95 % confidence interval of one metric.
#[derive(Debug, Clone, Serialize)]
pub struct Paired {
    /// Mean with personalization.
    pub personalized: f64,
    /// Mean of the control (plain) order.
    pub control: f64,
    /// Mean of the per-case differences.
    pub difference: f64,
    /// 95 % interval of the mean difference (normal approximation).
    pub interval: (f64, f64),
}

impl Paired {
    fn of(pairs: &[(f64, f64)]) -> Paired {
        let n = pairs.len().max(1) as f64;
        let mean = |f: &dyn Fn(&(f64, f64)) -> f64| pairs.iter().map(f).sum::<f64>() / n;
        let personalized = mean(&|p| p.0);
        let control = mean(&|p| p.1);
        let difference = personalized - control;
        let var = pairs
            .iter()
            .map(|p| (p.0 - p.1 - difference).powi(2))
            .sum::<f64>()
            / (n - 1.0).max(1.0);
        let half = 1.96 * (var / n).sqrt();
        Paired {
            personalized,
            control,
            difference,
            interval: (difference - half, difference + half),
        }
    }
}

/// The outcome of one set-up.
#[derive(Debug, Clone, Serialize)]
pub struct SetupReport {
    /// Set-up name.
    pub name: String,
    /// Products indexed.
    pub products: u64,
    /// Shoppers evaluated.
    pub shoppers: usize,
    /// Target searches evaluated.
    pub cases: usize,
    /// NDCG@10 of the targets.
    pub ndcg_at_10: Paired,
    /// Hit rate at 10.
    pub hr_at_10: Paired,
    /// Searches of neutral (empty) profiles whose order differed from the plain one.
    pub neutral_changed: usize,
    /// Searches of neutral profiles compared.
    pub neutral_checked: usize,
}

/// One target search: the shopper, the words, and the relevant ids.
struct Case {
    shopper: String,
    q: String,
    targets: HashSet<String>,
}

/// NDCG@10 (binary gains) and hit@10 of a ranked list.
pub(crate) fn score(ranked: &[String], targets: &HashSet<String>) -> (f64, f64) {
    let dcg: f64 = ranked
        .iter()
        .take(10)
        .enumerate()
        .filter(|(_, id)| targets.contains(*id))
        .map(|(i, _)| 1.0 / (i as f64 + 2.0).log2())
        .sum();
    let idcg: f64 = (0..targets.len().min(10))
        .map(|i| 1.0 / (i as f64 + 2.0).log2())
        .sum();
    let hit = ranked.iter().take(10).any(|id| targets.contains(id));
    (
        if idcg == 0.0 { 0.0 } else { dcg / idcg },
        f64::from(u8::from(hit)),
    )
}

/// Runs both set-ups; `data` is the shared data folder (`../shared/data`).
pub async fn evaluate(data: &Path, work: &Path, shoppers: usize) -> Result<Vec<SetupReport>> {
    let simulated = simulate(
        &data.join("pcpartpicker_catalog"),
        &work.join("sim"),
        shoppers,
    )
    .await?;
    let replayed = replay(&data.join("online_retail_uci"), &work.join("retail")).await?;
    let ambiguous = ambiguous(
        &data.join("esci_srw150/products.ndjson.gz"),
        &work.join("ambiguous"),
        shoppers,
    )
    .await?;
    Ok(vec![simulated, replayed, ambiguous])
}

/// An engine where every visitor is personalized (the control order is asked for by
/// searching without a visitor), over `dir`.
fn engine(dir: &Path) -> Result<Arc<Engine>> {
    engine_with_clock(dir, Arc::new(crate::rules::SystemClock))
}

/// The same engine reading the time from `clock` (a replay of old events stops it).
pub(crate) fn engine_with_clock(
    dir: &Path,
    clock: Arc<dyn crate::rules::Clock>,
) -> Result<Arc<Engine>> {
    let mut config = Config::default();
    config.server.data_dir = dir.to_path_buf();
    config.personalization.control_share = 0;
    Engine::open_with_clock(config, clock)
}

/// Loads products and then events into an engine, every event accepted; returns how many
/// products it holds. `what` names the set-up in an error.
pub(crate) async fn load(
    engine: &Arc<Engine>,
    what: &str,
    products: &[serde_json::Value],
    events: &[serde_json::Value],
) -> Result<u64> {
    let ndjson = |items: &[serde_json::Value]| {
        (items.iter().map(|v| v.to_string()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let catalog = ndjson(products);
    let report = demo::import(engine, catalog.as_bytes(), BodyFormat::Ndjson, |_| {}).await?;
    let recorded = demo::import_events(engine, ndjson(events).as_bytes()).await?;
    if recorded.failed > 0 {
        return Err(Error::Internal(format!(
            "{what}: {} events rejected: {:?}",
            recorded.failed,
            recorded.errors.first()
        )));
    }
    Ok(report.upserted)
}

/// Loads products and events, then scores every case and the neutral check.
async fn run(
    name: &str,
    dir: &Path,
    products: &[serde_json::Value],
    events: &[serde_json::Value],
    cases: &[Case],
) -> Result<SetupReport> {
    let engine = engine(dir)?;
    let products = load(&engine, name, products, events).await?;
    let search_config = engine.config().search.clone();
    let ranked = |q: &str, visitor: Option<&str>| -> Result<Vec<String>> {
        let mut pairs = vec![("q".to_string(), q.to_string())];
        if let Some(v) = visitor {
            pairs.push(("visitor_id".into(), v.to_string()));
        }
        let req = SearchRequest::from_pairs(pairs, &search_config)?;
        Ok(engine
            .search_now(&req)?
            .hits
            .into_iter()
            .map(|h| h.id)
            .collect())
    };
    let mut ndcg = Vec::new();
    let mut hr = Vec::new();
    let mut shoppers = HashSet::new();
    let mut neutral_changed = 0;
    let mut neutral_checked = 0;
    for (i, case) in cases.iter().enumerate() {
        let personal = score(&ranked(&case.q, Some(&case.shopper))?, &case.targets);
        let plain_list = ranked(&case.q, None)?;
        let plain = score(&plain_list, &case.targets);
        ndcg.push((personal.0, plain.0));
        hr.push((personal.1, plain.1));
        shoppers.insert(case.shopper.clone());
        if i % 4 == 0 {
            neutral_checked += 1;
            let neutral = ranked(&case.q, Some(&format!("neutral-{i}")))?;
            neutral_changed += usize::from(neutral != plain_list);
        }
    }
    engine.close();
    Ok(SetupReport {
        name: name.to_string(),
        products,
        shoppers: shoppers.len(),
        cases: cases.len(),
        ndcg_at_10: Paired::of(&ndcg),
        hr_at_10: Paired::of(&hr),
        neutral_changed,
        neutral_checked,
    })
}

/// A priced product of the PC parts catalog.
struct Part {
    id: String,
    name: String,
    category: Vec<String>,
    brand: String,
    price: f64,
}

fn read_parts(dir: &Path) -> Result<Vec<Part>> {
    let path = dir.join("products.tsv.gz");
    let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let mut text = String::new();
    GzDecoder::new(file)
        .read_to_string(&mut text)
        .map_err(|e| Error::io(&path, e))?;
    let mut parts = Vec::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let Some(price) = cols.get(6).and_then(|p| p.parse::<f64>().ok()) else {
            continue;
        };
        if cols.len() < 7 || cols[5].is_empty() || price <= 0.0 {
            continue;
        }
        parts.push(Part {
            id: cols[0].to_string(),
            name: cols[4].to_string(),
            category: vec![cols[1].to_string(), cols[3].to_string()],
            brand: cols[5].to_string(),
            price,
        });
    }
    Ok(parts)
}

/// Simulated shoppers whose hidden tastes drive their events.
async fn simulate(dir: &Path, work: &Path, shoppers: usize) -> Result<SetupReport> {
    let parts = read_parts(dir)?;
    let tiers = TierTable::build(
        parts.iter().map(|p| (p.category.as_slice(), p.price)),
        &Config::default().tiers,
    );
    // Index: category → tier → brand → part indexes.
    let mut by_category: BTreeMap<&[String], Vec<usize>> = BTreeMap::new();
    for (i, p) in parts.iter().enumerate() {
        by_category
            .entry(p.category.as_slice())
            .or_default()
            .push(i);
    }
    let categories: Vec<&[String]> = by_category
        .iter()
        .filter(|(_, items)| items.len() >= 100)
        .map(|(c, _)| *c)
        .collect();
    let tier_of = |i: usize| tiers.tier(&parts[i].category, Some(parts[i].price));
    let mut rng = fastrand::Rng::with_seed(20261126);
    let mut events = Vec::new();
    let mut cases = Vec::new();
    for s in 0..shoppers {
        let shopper = format!("shopper-{s}");
        let favourite: Vec<&[String]> = (0..2)
            .map(|_| categories[rng.usize(..categories.len())])
            .collect();
        let tier = rng.u8(..tiers.tiers());
        let brands: HashMap<&[String], &str> = favourite
            .iter()
            .map(|c| {
                let items = &by_category[c];
                (*c, parts[items[rng.usize(..items.len())]].brand.as_str())
            })
            .collect();
        // One draw from the shopper's tastes: a favourite category; the favourite tier 80 %
        // of the time (else a neighbour); the favourite brand 60 % of the time.
        let draw = |rng: &mut fastrand::Rng| -> usize {
            let category = favourite[rng.usize(..favourite.len())];
            let items = &by_category[category];
            let want_tier = if rng.f32() < 0.8 {
                tier
            } else {
                tier.saturating_add(1).min(tiers.tiers() - 1)
            };
            let want_brand = (rng.f32() < 0.6).then(|| brands[category]);
            let fits = |i: &&usize| {
                tier_of(**i) == want_tier && want_brand.is_none_or(|b| parts[**i].brand == b)
            };
            let pool: Vec<usize> = items.iter().filter(fits).copied().collect();
            let pool = if pool.is_empty() {
                items
                    .iter()
                    .filter(|i| tier_of(**i) == want_tier)
                    .copied()
                    .collect()
            } else {
                pool
            };
            if pool.is_empty() {
                items[rng.usize(..items.len())]
            } else {
                pool[rng.usize(..pool.len())]
            }
        };
        let mut seen = HashSet::new();
        for e in 0..10 {
            let item = draw(&mut rng);
            seen.insert(item);
            let kind = if e % 5 == 4 { "purchase" } else { "view" };
            events.push(
                json!({"type": kind, "visitor_id": shopper, "product_id": parts[item].id,
                "price": parts[item].price, "order_id": format!("{shopper}-{e}")}),
            );
        }
        let target = (0..50)
            .map(|_| draw(&mut rng))
            .find(|t| !seen.contains(t) && tier_of(*t) != NO_TIER);
        if let Some(target) = target {
            cases.push(Case {
                shopper,
                q: parts[target].category[1].clone(),
                targets: HashSet::from([parts[target].id.clone()]),
            });
        }
    }
    let products: Vec<serde_json::Value> = parts
        .iter()
        .map(|p| json!({"id": p.id, "title": p.name, "brand": p.brand, "category": p.category, "price": p.price}))
        .collect();
    run(
        "simulated shoppers (pcpartpicker)",
        work,
        &products,
        &events,
        &cases,
    )
    .await
}

/// One line of an Online Retail invoice (a sale: cancellations, non-products and refunds left
/// out).
pub(crate) struct RetailLine {
    pub invoice: String,
    pub code: String,
    pub description: String,
    pub price: f64,
    pub customer: String,
    /// (sortable time, invoice): the order of the customer's invoices.
    pub order: (i64, String),
}

/// The sales of the French and German customers of `online_retail_uci`.
pub(crate) fn retail_lines(dir: &Path) -> Result<Vec<RetailLine>> {
    let mut lines = Vec::new();
    for file in ["france.csv", "germany.csv"] {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        for row in text.lines().skip(1) {
            let cols: Vec<&str> = row.split(',').collect();
            if cols.len() < 8 || cols[0].starts_with('C') {
                continue;
            }
            let (Ok(quantity), Ok(price)) = (cols[3].parse::<f64>(), cols[5].parse::<f64>()) else {
                continue;
            };
            let code = cols[1].trim();
            if quantity <= 0.0 || price <= 0.0 || !code.starts_with(|c: char| c.is_ascii_digit()) {
                continue;
            }
            lines.push(RetailLine {
                invoice: cols[0].to_string(),
                code: code.to_string(),
                description: cols[2].trim().to_string(),
                price,
                customer: cols[6].to_string(),
                order: (date_key(cols[4]), cols[0].to_string()),
            });
        }
    }
    Ok(lines)
}

/// Replays real purchase histories: earlier invoices as events, the last invoice as targets.
async fn replay(dir: &Path, work: &Path) -> Result<SetupReport> {
    let lines = retail_lines(dir)?;
    let mut products: BTreeMap<&str, (&str, f64)> = BTreeMap::new();
    for l in &lines {
        products.entry(&l.code).or_insert((&l.description, l.price));
    }
    // Invoices of each customer, in time order.
    let mut invoices: BTreeMap<&str, BTreeMap<&(i64, String), Vec<&RetailLine>>> = BTreeMap::new();
    for l in &lines {
        invoices
            .entry(&l.customer)
            .or_default()
            .entry(&l.order)
            .or_default()
            .push(l);
    }
    let mut events = Vec::new();
    let mut cases = Vec::new();
    for (customer, history) in &invoices {
        if history.len() < 2 {
            continue;
        }
        let shopper = format!("customer-{customer}");
        let all: Vec<&Vec<&RetailLine>> = history.values().collect();
        let Some((last, earlier)) = all.split_last() else {
            continue;
        };
        for invoice in earlier {
            for l in invoice.iter() {
                events.push(
                    json!({"type": "purchase", "visitor_id": shopper, "product_id": l.code,
                    "price": l.price, "order_id": l.invoice}),
                );
            }
        }
        let bought: HashSet<&str> = history
            .values()
            .rev()
            .skip(1)
            .flatten()
            .map(|l| l.code.as_str())
            .collect();
        // Each new item of the last invoice, searched by the last word of its description.
        let mut by_word: BTreeMap<String, HashSet<String>> = BTreeMap::new();
        for l in last.iter().filter(|l| !bought.contains(l.code.as_str())) {
            if let Some(word) = l.description.split_whitespace().last() {
                by_word
                    .entry(word.to_lowercase())
                    .or_default()
                    .insert(l.code.clone());
            }
        }
        for (q, targets) in by_word {
            cases.push(Case {
                shopper: shopper.clone(),
                q,
                targets,
            });
        }
    }
    let products: Vec<serde_json::Value> = products
        .iter()
        .map(|(code, (description, price))| json!({"id": code, "title": description, "price": price}))
        .collect();
    run(
        "replayed purchases (online retail, FR+DE)",
        work,
        &products,
        &events,
        &cases,
    )
    .await
}

/// The fewest titles in a department that make a word one of its readings.
pub const AMBIGUOUS_MIN: usize = 5;
/// The most titles a word may hold in all to count as a product word.
pub const AMBIGUOUS_MAX: usize = 300;

/// Shoppers with a department taste type words whose matches span departments.
async fn ambiguous(path: &Path, work: &Path, shoppers: usize) -> Result<SetupReport> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut text = String::new();
    GzDecoder::new(file)
        .read_to_string(&mut text)
        .map_err(|e| Error::io(path, e))?;
    let products = text
        .lines()
        .map(serde_json::from_str::<serde_json::Value>)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?;
    let readings = Readings::of(&products);
    let words: Vec<(&String, Vec<&str>)> = readings.ambiguous().collect();
    if words.is_empty() {
        return Err(Error::Internal(format!(
            "{}: no ambiguous words",
            path.display()
        )));
    }
    let mut rng = fastrand::Rng::with_seed(20261205);
    let mut events = Vec::new();
    let mut cases = Vec::new();
    for s in 0..shoppers {
        let shopper = format!("shopper-{s}");
        let (word, departments) = &words[rng.usize(..words.len())];
        let department = departments[rng.usize(..departments.len())];
        // Twelve events in the department, none of them the word's products: the taste is
        // the department's, not an earlier look at the answer.
        let answers = &readings.titles[*word][department];
        let pool: Vec<usize> = (readings.departments[department].iter())
            .filter(|i| !answers.contains(i))
            .copied()
            .collect();
        if pool.is_empty() {
            continue; // a department that sells nothing else gives no taste
        }
        for e in 0..12 {
            let item = &products[pool[rng.usize(..pool.len())]];
            let kind = if e % 6 == 5 { "add_to_cart" } else { "view" };
            events.push(json!({"type": kind, "visitor_id": shopper, "product_id": item["id"]}));
        }
        cases.push(Case {
            shopper,
            q: readings.surface[*word].clone(),
            targets: answers
                .iter()
                .filter_map(|i| products[*i]["id"].as_str().map(str::to_string))
                .collect(),
        });
    }
    run("ambiguous queries (ESCI)", work, &products, &events, &cases).await
}

/// Where each title word (stemmed) is found, by department.
struct Readings<'a> {
    /// Stem → department → products whose title holds it.
    titles: BTreeMap<String, BTreeMap<&'a str, BTreeSet<usize>>>,
    /// Stem → its most common spelling in titles.
    surface: BTreeMap<String, String>,
    /// Department → its products.
    departments: BTreeMap<&'a str, Vec<usize>>,
}

impl<'a> Readings<'a> {
    fn of(products: &'a [serde_json::Value]) -> Readings<'a> {
        let stemmer = rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English);
        let mut titles: BTreeMap<String, BTreeMap<&str, BTreeSet<usize>>> = BTreeMap::new();
        let mut spellings: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        let mut departments: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, product) in products.iter().enumerate() {
            let Some(department) = product["category"][0].as_str() else {
                continue;
            };
            departments.entry(department).or_default().push(i);
            let title = product["title"].as_str().unwrap_or_default().to_lowercase();
            let words = title.split(|c: char| !c.is_alphanumeric());
            for word in words.filter(|w| w.len() >= 3 && w.chars().all(char::is_alphabetic)) {
                let stem = stemmer.stem(word).into_owned();
                *(spellings.entry(stem.clone()).or_default())
                    .entry(word.to_string())
                    .or_default() += 1;
                titles
                    .entry(stem)
                    .or_default()
                    .entry(department)
                    .or_default()
                    .insert(i);
            }
        }
        let surface = spellings
            .into_iter()
            .filter_map(|(stem, counts)| {
                let most = counts.into_iter().max_by_key(|(w, n)| (*n, w.clone()))?;
                Some((stem, most.0))
            })
            .collect();
        Readings {
            titles,
            surface,
            departments,
        }
    }

    /// The ambiguous words, each with the departments where it has a reading.
    fn ambiguous(&self) -> impl Iterator<Item = (&String, Vec<&'a str>)> + '_ {
        self.titles.iter().filter_map(|(stem, by_department)| {
            let total: usize = by_department.values().map(BTreeSet::len).sum();
            let readings: Vec<&str> = (by_department.iter())
                .filter(|(_, items)| items.len() >= AMBIGUOUS_MIN)
                .map(|(d, _)| *d)
                .collect();
            (readings.len() >= 2 && total <= AMBIGUOUS_MAX).then_some((stem, readings))
        })
    }
}

/// A sortable key of `M/D/YYYY H:MM`.
fn date_key(text: &str) -> i64 {
    let mut parts = text
        .split([' ', '/', ':'])
        .map(|p| p.parse::<i64>().unwrap_or(0));
    let (m, d, y, h, min) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    (((y * 100 + m) * 100 + d) * 100 + h) * 100 + min
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_at_the_top_scores_one_and_outside_the_top_ten_zero() {
        let targets: HashSet<String> = HashSet::from(["t".to_string()]);
        let at = |pos: usize| {
            let mut list: Vec<String> = (0..20).map(|i| format!("x{i}")).collect();
            list[pos] = "t".into();
            score(&list, &targets)
        };
        assert_eq!(at(0), (1.0, 1.0));
        assert!((at(1).0 - 1.0 / 3f64.log2()).abs() < 1e-12);
        assert_eq!(at(10), (0.0, 0.0));
    }

    #[test]
    fn the_paired_interval_is_centred_on_the_mean_difference() {
        let p = Paired::of(&[(1.0, 0.0), (0.5, 0.5), (1.0, 0.5)]);
        assert!((p.difference - 0.5).abs() < 1e-12);
        assert!(p.interval.0 < 0.5 && p.interval.1 > 0.5);
        let none = Paired::of(&[(0.3, 0.3), (0.7, 0.7)]);
        assert_eq!(none.interval, (0.0, 0.0));
    }

    #[test]
    fn a_word_is_ambiguous_when_two_departments_sell_it_under_that_name() {
        let product = |id: usize, department: &str, title: &str| json!({"id": format!("p{id}"), "title": title, "category": [department, "Any"]});
        let mut products = Vec::new();
        for i in 0..AMBIGUOUS_MIN {
            products.push(product(i, "Kitchen", "Mixing bowl"));
            products.push(product(100 + i, "Pets", "Dog bowls"));
            products.push(product(200 + i, "Kitchen", "Chef knife"));
        }
        // One pet knife is not a reading of "knife" in Pets; "bowl" is the commoner spelling.
        products.push(product(300, "Pets", "Knife toy"));
        products.push(product(301, "Kitchen", "Serving bowl"));
        let readings = Readings::of(&products);
        let ambiguous: Vec<(&String, Vec<&str>)> = readings.ambiguous().collect();
        assert_eq!(ambiguous.len(), 1, "{ambiguous:?}");
        assert_eq!(ambiguous[0].1, vec!["Kitchen", "Pets"]);
        let stem = ambiguous[0].0;
        assert_eq!(readings.surface[stem], "bowl");
        assert_eq!(readings.titles[stem]["Pets"].len(), AMBIGUOUS_MIN);
    }

    #[test]
    fn dates_sort_in_time_order() {
        assert!(date_key("12/1/2010 8:45") < date_key("1/4/2011 10:00"));
        assert!(date_key("1/4/2011 9:59") < date_key("1/4/2011 10:00"));
    }
}
