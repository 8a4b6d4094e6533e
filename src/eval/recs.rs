//! Offline evaluation of recommendations on real baskets and sessions.
//!
//! **Baskets**: `online_retail_uci` (France and Germany), leave-last-basket-out per customer.
//! Every customer's invoices but the last are replayed through the engine as purchase events
//! (with their invoice times, so one invoice is one session); the items of the last invoice
//! the customer had not bought before are the targets. For each customer with such targets:
//! - `for_you` for the customer;
//! - `bought_together` of the last item of their previous invoice;
//!
//! next to two baselines computed here from the same training baskets: **popularity** (the
//! most bought items, without what the customer bought) and **co-occurrence** with that last
//! item (cosine of the co-counts within invoices, without what the customer bought). HR@10
//! and NDCG@10 (binary gains) over the customers.
//!
//! **Sessions**: the views of `diginetica`'s sample, the last view of the latest sessions held
//! out, with `also_viewed` and `for_you` next to the same two baselines.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use super::personal::{RetailLine, retail_lines};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::recommend::{Kind, RecommendRequest};
use crate::rules::FixedClock;

/// HR@10 and NDCG@10 of one recommender.
#[derive(Debug, Clone, Serialize)]
pub struct Scores {
    /// What was measured.
    pub name: String,
    /// Hit rate at 10.
    pub hr_at_10: f64,
    /// NDCG at 10.
    pub ndcg_at_10: f64,
}

/// The outcome on one data set.
#[derive(Debug, Clone, Serialize)]
pub struct RecsReport {
    /// Data set.
    pub name: String,
    /// Products indexed.
    pub products: u64,
    /// Events replayed.
    pub events: usize,
    /// Customers evaluated.
    pub customers: usize,
    /// Each recommender and baseline.
    pub scores: Vec<Scores>,
}

impl RecsReport {
    /// The scores of one recommender.
    pub fn of(&self, name: &str) -> Option<&Scores> {
        self.scores.iter().find(|s| s.name == name)
    }
}

/// Runs the evaluation; `data` is the shared data folder.
pub async fn evaluate(data: &Path, work: &Path) -> Result<Vec<RecsReport>> {
    Ok(vec![
        baskets(&data.join("online_retail_uci"), &work.join("retail")).await?,
        sessions(&data.join("diginetica"), &work.join("sessions")).await?,
    ])
}

/// One customer's case: what they bought before, the last item of their previous invoice,
/// and the new items of their last invoice.
struct Case {
    customer: String,
    bought: HashSet<String>,
    last_item: String,
    targets: HashSet<String>,
}

async fn baskets(dir: &Path, work: &Path) -> Result<RecsReport> {
    let lines = retail_lines(dir)?;
    let mut invoices: BTreeMap<&str, BTreeMap<&(i64, String), Vec<&RetailLine>>> = BTreeMap::new();
    for l in &lines {
        (invoices.entry(&l.customer).or_default())
            .entry(&l.order)
            .or_default()
            .push(l);
    }
    let mut products: BTreeMap<&str, (&str, f64)> = BTreeMap::new();
    for l in &lines {
        products.entry(&l.code).or_insert((&l.description, l.price));
    }
    // Training: every invoice but each customer's last, in time order.
    let mut training: Vec<(&(i64, String), &str, &Vec<&RetailLine>)> = Vec::new();
    let mut cases = Vec::new();
    for (customer, history) in &invoices {
        let all: Vec<(&&(i64, String), &Vec<&RetailLine>)> = history.iter().collect();
        let Some(((_, last), earlier)) = all.split_last() else {
            continue;
        };
        for (order, lines) in earlier {
            training.push((order, customer, lines));
        }
        let Some((_, previous)) = earlier.last() else {
            continue;
        };
        let bought: HashSet<String> = (earlier.iter())
            .flat_map(|(_, lines)| lines.iter().map(|l| l.code.clone()))
            .collect();
        let targets: HashSet<String> = (last.iter())
            .map(|l| l.code.clone())
            .filter(|c| !bought.contains(c))
            .collect();
        let Some(last_item) = previous.last().map(|l| l.code.clone()) else {
            continue;
        };
        if !targets.is_empty() {
            cases.push(Case {
                customer: format!("customer-{customer}"),
                bought,
                last_item,
                targets,
            });
        }
    }
    training.sort_by(|a, b| a.0.cmp(b.0));
    let mut events = Vec::new();
    for ((time, invoice), customer, lines) in &training {
        for l in lines.iter() {
            events.push(
                json!({"type": "purchase", "visitor_id": format!("customer-{customer}"),
                "product_id": l.code, "price": l.price, "order_id": invoice,
                "timestamp": epoch_ms(*time)}),
            );
        }
    }
    let baseline = Baseline::of(
        (training.iter()).map(|(_, _, lines)| lines.iter().map(|l| l.code.as_str()).collect()),
    );

    let end = training.last().map_or(0, |((time, _), ..)| epoch_ms(*time));
    let catalog: Vec<serde_json::Value> = (products.iter())
        .map(|(code, (title, price))| json!({"id": code, "title": title, "price": price}))
        .collect();
    let replayed = events.len();
    let (engine, imported) = replay(work, end, catalog, events).await?;
    let kinds = [
        ("for_you", Kind::ForYou),
        ("bought_together", Kind::BoughtTogether),
    ];
    let lists = measure(&engine, &cases, &baseline, &kinds)?;
    engine.close();
    Ok(report(
        "baskets (online retail, FR+DE)",
        imported,
        replayed,
        cases.len(),
        lists,
    ))
}

/// A session's views: (milliseconds since its start, item), in time order once sorted.
type Views = Vec<(i64, String)>;

/// Share of the sessions (the latest) whose last view is held out.
const TEST_SHARE: f64 = 0.2;

/// Viewing sessions of `diginetica`: the latest fifth of the sessions with two views or more
/// hold their last view out (when it is an item the session had not viewed); everything else
/// is replayed as views, one visitor per session. `also_viewed` of the session's previous
/// item and `for_you` of the session are asked for the held-out item.
async fn sessions(dir: &Path, work: &Path) -> Result<RecsReport> {
    let read = |name: &str| -> Result<String> {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))
    };
    let views_text = read("sample_train-item-views.csv")?;
    // session → (date, [(timeframe, item)])
    let mut sessions: BTreeMap<u64, (String, Views)> = BTreeMap::new();
    for row in views_text.lines().skip(1) {
        let cols: Vec<&str> = row.split(';').collect();
        let (Some(session), Some(item), Some(frame), Some(date)) = (
            cols.first().and_then(|c| c.parse::<u64>().ok()),
            cols.get(2),
            cols.get(3).and_then(|c| c.parse::<i64>().ok()),
            cols.get(4),
        ) else {
            continue;
        };
        let entry = sessions
            .entry(session)
            .or_insert_with(|| (date.to_string(), Vec::new()));
        entry.1.push((frame, item.to_string()));
    }
    let viewed: HashSet<&str> = (sessions.values())
        .flat_map(|(_, views)| views.iter().map(|(_, i)| i.as_str()))
        .collect();
    let categories_text = read("product-categories.csv")?;
    let mut category: HashMap<&str, &str> = HashMap::new();
    for row in categories_text.lines().skip(1) {
        if let Some((item, cat)) = row.split_once(';')
            && viewed.contains(item)
        {
            category.insert(item, cat);
        }
    }
    let products: Vec<serde_json::Value> = (viewed.iter())
        .map(|item| {
            let cat = category.get(item).copied().unwrap_or("none");
            json!({"id": item, "title": format!("item {item}"), "category": [format!("category {cat}")]})
        })
        .collect();
    for (_, (_, views)) in sessions.iter_mut() {
        views.sort();
    }
    let mut ordered: Vec<(u64, String, Views)> = (sessions.into_iter())
        .map(|(id, (date, views))| (id, date, views))
        .collect();
    ordered.sort_by(|a, b| (&a.1, a.0).cmp(&(&b.1, b.0)));
    let first_test = ((ordered.len() as f64) * (1.0 - TEST_SHARE)) as usize;
    let mut events = Vec::new();
    let mut cases = Vec::new();
    let mut training: Vec<Vec<&str>> = Vec::new();
    for (i, (id, date, views)) in ordered.iter().enumerate() {
        let day = date_ms(date);
        let held_out = i >= first_test && views.len() >= 2;
        let kept = if held_out {
            &views[..views.len() - 1]
        } else {
            &views[..]
        };
        for (frame, item) in kept {
            events.push(
                json!({"type": "view", "visitor_id": format!("session-{id}"),
                "product_id": item, "timestamp": day + frame}),
            );
        }
        training.push(kept.iter().map(|(_, item)| item.as_str()).collect());
        if held_out {
            let seen: HashSet<String> = kept.iter().map(|(_, item)| item.clone()).collect();
            let target = &views[views.len() - 1].1;
            if !seen.contains(target) {
                cases.push(Case {
                    customer: format!("session-{id}"),
                    last_item: kept[kept.len() - 1].1.clone(),
                    targets: HashSet::from([target.clone()]),
                    bought: seen,
                });
            }
        }
    }
    let end = events
        .iter()
        .filter_map(|e| e["timestamp"].as_i64())
        .max()
        .unwrap_or(0);
    let baseline = Baseline::of(training.into_iter());
    let replayed = events.len();
    let (engine, imported) = replay(work, end, products, events).await?;
    let kinds = [("for_you", Kind::ForYou), ("also_viewed", Kind::AlsoViewed)];
    let lists = measure(&engine, &cases, &baseline, &kinds)?;
    engine.close();
    Ok(report(
        "sessions (diginetica views)",
        imported,
        replayed,
        cases.len(),
        lists,
    ))
}

/// Each recommender's and baseline's (NDCG@10, HR@10) per case.
fn measure(
    engine: &Engine,
    cases: &[Case],
    baseline: &Baseline,
    kinds: &[(&'static str, Kind)],
) -> Result<BTreeMap<&'static str, Vec<(f64, f64)>>> {
    let mut lists: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for case in cases {
        let mut score = |name, ranked: Vec<String>| {
            let scored = super::personal::score(&ranked, &case.targets);
            lists.entry(name).or_default().push(scored);
        };
        for (name, kind) in kinds {
            score(name, recommended(engine, *kind, case)?);
        }
        score("popularity (baseline)", baseline.popular(&case.bought));
        let co = baseline.with(&case.last_item, &case.bought);
        score("co-occurrence with the last item (baseline)", co);
    }
    Ok(lists)
}

/// The ids a recommender answers for a case, without what the case had seen or bought.
fn recommended(engine: &Engine, kind: Kind, case: &Case) -> Result<Vec<String>> {
    let req = RecommendRequest {
        kind,
        product_id: Some(case.last_item.clone()),
        product_ids: Vec::new(),
        visitor_id: Some(case.customer.clone()),
        category: Vec::new(),
        limit: 10,
        explain: false,
    };
    Ok((engine.recommend_now(&req)?.items.into_iter())
        .map(|h| h.id)
        .filter(|id| !case.bought.contains(id))
        .collect())
}

/// Epoch milliseconds of a `YYYY-MM-DD` day's start, UTC.
fn date_ms(date: &str) -> i64 {
    let mut parts = date.split('-').map(|p| p.parse::<i64>().unwrap_or(1));
    let (y, m, d) = (
        parts.next().unwrap_or(1970),
        parts.next().unwrap_or(1),
        parts.next().unwrap_or(1),
    );
    epoch_ms(((y * 100 + m) * 100 + d) * 10_000)
}

/// An engine over `work` whose clock stops a day after `end_ms` (what trended then), with
/// the products and the events loaded; and how many products it holds.
async fn replay(
    work: &Path,
    end_ms: i64,
    products: Vec<serde_json::Value>,
    events: Vec<serde_json::Value>,
) -> Result<(Arc<Engine>, u64)> {
    let end = time::OffsetDateTime::from_unix_timestamp(end_ms / 1000 + 86_400)
        .map_err(|e| Error::Internal(format!("training end: {e}")))?;
    let engine = super::personal::engine_with_clock(work, Arc::new(FixedClock(end)))?;
    let imported = super::personal::load(&engine, "eval-recs", &products, &events).await?;
    Ok((engine, imported))
}

/// Means of per-case (NDCG@10, HR@10) pairs, by recommender.
fn report(
    name: &str,
    products: u64,
    events: usize,
    cases: usize,
    lists: BTreeMap<&str, Vec<(f64, f64)>>,
) -> RecsReport {
    let mean = |v: &[(f64, f64)], f: fn(&(f64, f64)) -> f64| {
        v.iter().map(f).sum::<f64>() / v.len().max(1) as f64
    };
    RecsReport {
        name: name.into(),
        products,
        events,
        customers: cases,
        scores: (lists.into_iter())
            .map(|(name, v)| Scores {
                name: name.to_string(),
                ndcg_at_10: mean(&v, |p| p.0),
                hr_at_10: mean(&v, |p| p.1),
            })
            .collect(),
    }
}

/// The baselines' counts over the training baskets.
struct Baseline {
    bought: HashMap<String, u32>,
    pairs: HashMap<String, HashMap<String, u32>>,
}

impl Baseline {
    /// Counts over baskets (or sessions) of item ids.
    fn of<'a>(baskets: impl Iterator<Item = Vec<&'a str>>) -> Baseline {
        let mut bought: HashMap<String, u32> = HashMap::new();
        let mut pairs: HashMap<String, HashMap<String, u32>> = HashMap::new();
        for basket in baskets {
            let items: HashSet<&str> = basket.into_iter().collect();
            for a in &items {
                *bought.entry(a.to_string()).or_default() += 1;
                for b in items.iter().filter(|b| *b != a) {
                    *(pairs.entry(a.to_string()).or_default())
                        .entry(b.to_string())
                        .or_default() += 1;
                }
            }
        }
        Baseline { bought, pairs }
    }

    fn top(scored: impl Iterator<Item = (String, f64)>, without: &HashSet<String>) -> Vec<String> {
        let mut all: Vec<(String, f64)> = scored.filter(|(id, _)| !without.contains(id)).collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.into_iter().take(10).map(|(id, _)| id).collect()
    }

    fn popular(&self, without: &HashSet<String>) -> Vec<String> {
        let scored = (self.bought.iter()).map(|(id, n)| (id.clone(), f64::from(*n)));
        Self::top(scored, without)
    }

    fn with(&self, item: &str, without: &HashSet<String>) -> Vec<String> {
        let n = |id: &str| f64::from(self.bought.get(id).copied().unwrap_or(1));
        let scored = (self.pairs.get(item).into_iter().flatten())
            .map(|(id, c)| (id.clone(), f64::from(*c) / (n(item) * n(id)).sqrt()));
        Self::top(scored, without)
    }
}

/// Epoch milliseconds of a `date_key` (`YYYYMMDDHHMM`), read as UTC.
fn epoch_ms(key: i64) -> i64 {
    let (date, minutes) = (key / 10_000, key % 10_000);
    let (y, m, d) = (date / 10_000, (date / 100) % 100, date % 100);
    let month = time::Month::try_from(m as u8).unwrap_or(time::Month::January);
    let day = time::Date::from_calendar_date(y as i32, month, d as u8)
        .unwrap_or(time::Date::MIN)
        .midnight()
        .assume_utc()
        .unix_timestamp();
    (day + (minutes / 100) * 3600 + (minutes % 100) * 60) * 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_key_is_read_as_utc_milliseconds() {
        // 2010-12-01 08:26 UTC.
        assert_eq!(epoch_ms(201_012_010_826), 1_291_191_960_000);
    }
}
