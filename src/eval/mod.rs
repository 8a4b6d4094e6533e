//! Offline relevance evaluation: NDCG@10 of attune's search against graded judgments, next to
//! plain BM25 on the same index in the same run.
//!
//! The corpus is the ESCI subset in `../shared/data/esci_srw150` (products, queries, graded
//! judgments 0–3). Every product is indexed, every query runs over the whole corpus, gains are
//! the grades, and unjudged products count as 0.
//!
//! Evaluation lives apart from the server's modules (nothing the server runs imports it):
//! [`personal`] measures personalization on simulated and replayed shoppers, [`baseline`] is
//! the plain BM25 both are compared with.

pub mod baseline;
pub mod personal;
pub mod recs;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use flate2::read::GzDecoder;
use serde::Serialize;

use crate::config::Config;
use crate::demo;
use crate::engine::{BodyFormat, Engine};
use crate::error::{Error, Result};
use crate::search::{SearchRequest, search};
use baseline::{Matching, PlainBm25};

/// Graded judgments: query → product id → grade.
pub type Judgments = HashMap<String, HashMap<String, u8>>;

/// NDCG@k of a ranked list of ids; gains are the grades, unjudged ids count 0.
pub fn ndcg(ranked: &[String], grades: &HashMap<String, u8>, k: usize) -> f64 {
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, id)| f64::from(*grades.get(id).unwrap_or(&0)) / (i as f64 + 2.0).log2())
        .sum();
    let mut ideal: Vec<u8> = grades.values().copied().collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, g)| f64::from(*g) / (i as f64 + 2.0).log2())
        .sum();
    if idcg == 0.0 { 0.0 } else { dcg / idcg }
}

/// Reads `qrels_dev.tsv` (`query, asin, grade, …` with a header line).
pub fn read_judgments(path: &Path) -> Result<Judgments> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = Judgments::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let grade = cols
            .get(2)
            .and_then(|g| g.parse::<u8>().ok())
            .ok_or_else(|| {
                Error::Malformed(format!("{}: line {}: no grade", path.display(), n + 1))
            })?;
        out.entry(cols[0].to_string())
            .or_default()
            .insert(cols[1].to_string(), grade);
    }
    Ok(out)
}

/// The scores of one system.
#[derive(Debug, Clone, Serialize)]
pub struct SystemScore {
    /// Mean NDCG@10 over the queries.
    pub ndcg_at_10: f64,
    /// Per query, in query order.
    pub per_query: Vec<(String, f64)>,
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Products indexed.
    pub products: u64,
    /// Queries evaluated.
    pub queries: usize,
    /// attune's search.
    pub attune: SystemScore,
    /// Plain BM25 on the same index.
    pub plain_bm25: SystemScore,
}

/// Indexes the corpus of `dir` into `data_dir` and scores both systems.
pub async fn evaluate(dir: &Path, data_dir: &Path, config: Config) -> Result<EvalReport> {
    let judgments = read_judgments(&dir.join("qrels_dev.tsv"))?;
    let mut queries: Vec<String> = judgments.keys().cloned().collect();
    queries.sort();
    let mut config = config;
    config.server.data_dir = data_dir.to_path_buf();
    let engine: Arc<Engine> = Engine::open(config)?;
    let products = dir.join("products.ndjson.gz");
    let file = std::fs::File::open(&products).map_err(|e| Error::io(&products, e))?;
    let report = demo::import(&engine, GzDecoder::new(file), BodyFormat::Ndjson, |_| {}).await?;
    let config = engine.config();
    let search_config = config.search.clone();
    let plain = PlainBm25::new(engine.index(), Matching::AnyWord);
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for q in &queries {
        let grades = &judgments[q];
        let req = SearchRequest::from_pairs(vec![("q".into(), q.clone())], &search_config)?;
        let ranked: Vec<String> = search(
            engine.search_index(),
            &search_config,
            &req,
            &crate::search::Personalization::none(&config.personalization, &config.tiers),
        )?
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect();
        ours.push((q.clone(), ndcg(&ranked, grades, 10)));
        let baseline = plain.top_ids(engine.index(), q, 10)?;
        theirs.push((q.clone(), ndcg(&baseline, grades, 10)));
    }
    engine.close();
    let mean = |v: &[(String, f64)]| v.iter().map(|x| x.1).sum::<f64>() / v.len().max(1) as f64;
    Ok(EvalReport {
        products: report.upserted,
        queries: queries.len(),
        attune: SystemScore {
            ndcg_at_10: mean(&ours),
            per_query: ours,
        },
        plain_bm25: SystemScore {
            ndcg_at_10: mean(&theirs),
            per_query: theirs,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grades(pairs: &[(&str, u8)]) -> HashMap<String, u8> {
        pairs.iter().map(|(id, g)| (id.to_string(), *g)).collect()
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ndcg_is_one_for_the_ideal_order_and_less_otherwise() {
        let g = grades(&[("a", 3), ("b", 2), ("c", 0)]);
        assert!((ndcg(&ids(&["a", "b"]), &g, 10) - 1.0).abs() < 1e-12);
        let swapped = ndcg(&ids(&["b", "a"]), &g, 10);
        let expected = (2.0 + 3.0 / 3f64.log2()) / (3.0 + 2.0 / 3f64.log2());
        assert!((swapped - expected).abs() < 1e-12);
        // Unjudged ids count as zero gain.
        assert!(ndcg(&ids(&["x", "a", "b"]), &g, 10) < 1.0);
        assert_eq!(ndcg(&ids(&["x"]), &g, 10), 0.0);
        assert_eq!(ndcg(&ids(&["a"]), &grades(&[("a", 0)]), 10), 0.0);
    }
}
