//! Autocomplete: suggestions for what a shopper has typed so far.
//!
//! Suggestions are past queries that find products (first, counted in distinct visitors),
//! brands and category levels (counted in products) and product titles (counted by
//! popularity), each kind within its share of an answer ([`suggestions::quotas`]). [`sources`]
//! gathers them;
//! [`Suggestions`] stores them in an FST under their normalised text ([`keys`]) and every word
//! start inside it, and answers a prefix, exactly or within one edit ([`typo`]), reading the
//! keys best suggestion first and only as far as the page it answers, where reading every key
//! that matches takes milliseconds for a short prefix of a large catalog (figures:
//! `examples/autocomplete_cost.rs`, `benches/README.md`).
//!
//! A [`Suggester`] holds the current set behind an `ArcSwap`: a rebuild (on a timer, off the
//! request path) makes a whole new set and swaps it in, so lookups never wait on a rebuild.
//! A visitor's brand and category affinities boost matching suggestions by a bounded factor.

pub mod keys;
pub mod request;
pub mod sources;
pub mod suggestions;
pub mod typo;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arc_swap::ArcSwap;
use serde::Serialize;

use crate::error::Result;
use crate::profiles::ProfileStore;
use crate::profiles::view::{AffinityView, ProfileView};
use crate::search::SearchIndex;
use crate::settings::{SearchConfig, SuggestConfig, SynonymTable};
pub use request::{AutocompleteRequest, AutocompleteResponse};
pub use suggestions::Suggestions;

/// What a suggestion is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A past query that finds products.
    Query,
    /// A brand.
    Brand,
    /// A category (any level of a path).
    Category,
    /// A product title.
    #[default]
    Product,
}

impl Kind {
    /// Rank tier: queries first, then brands and categories, then product titles.
    pub fn tier(self) -> u8 {
        match self {
            Kind::Query => 0,
            Kind::Brand | Kind::Category => 1,
            Kind::Product => 2,
        }
    }
}

/// One suggestion, as answered.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Suggestion {
    /// The text to show (and search for).
    pub text: String,
    /// What it is.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// Visitors who searched it (queries), products (brands, categories) or popularity
    /// (product titles).
    pub count: u64,
    /// The product's id, for a product: a click can open its page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The product's page, for a product.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The category's path from the root, for a category: a click can open its page
    /// (`/v1/browse?category=` the levels joined by ` > `).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<Vec<String>>,
}

/// A suggestion before it is stored, with what personal boosts match it on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Candidate {
    /// The text to show.
    pub text: String,
    /// What it is.
    pub kind: Kind,
    /// Its count.
    pub count: u64,
    /// Its brand (a brand's own; a product's; a query's best hit's).
    pub brand: Option<String>,
    /// Its category path, likewise.
    pub category: Vec<String>,
    /// The product's id, for a product.
    pub id: Option<String>,
    /// The product's page, for a product.
    pub url: Option<String>,
}

/// A visitor's positive brand and category affinities, lowercased, as weights in (0, 1].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Affinity {
    /// Brand → weight.
    pub brands: HashMap<String, f32>,
    /// Category path (`a > b`, every level) → weight.
    pub categories: HashMap<String, f32>,
}

impl Affinity {
    /// The affinities of a profile, or None when the visitor opted out of personalization.
    pub fn of(view: &ProfileView) -> Option<Affinity> {
        let positive = |list: &[AffinityView]| {
            list.iter()
                .filter(|a| a.weight > 0.0)
                .map(|a| (a.value.to_lowercase(), a.weight.min(1.0)))
                .collect()
        };
        view.personalize.then(|| Affinity {
            brands: positive(&view.brands),
            categories: positive(&view.categories),
        })
    }
}

/// What was typed with a synonym in place of its whole text or its last words, for each
/// synonym of them in the configuration (compared lowercased, spaces single).
fn synonyms_of_typed(table: &SynonymTable, typed: &str) -> Vec<String> {
    let typed = typed
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let mut out = Vec::new();
    if typed.is_empty() {
        return out;
    }
    for (from, alternatives) in &table.pairs {
        let from = from
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        let Some(head) = typed.strip_suffix(from.as_str()) else {
            continue;
        };
        if !(head.is_empty() || head.ends_with(' ')) {
            continue;
        }
        for alternative in alternatives {
            let replaced = format!("{head}{}", alternative.to_lowercase());
            if !out.contains(&replaced) {
                out.push(replaced);
            }
        }
    }
    out
}

/// Counts of one rebuild, for the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildStats {
    /// Past queries kept.
    pub queries: usize,
    /// Brands, categories and product titles.
    pub catalog: usize,
    /// Suggestions after merging equal texts.
    pub suggestions: usize,
}

/// The current suggestions and what rebuilding them needs.
pub struct Suggester {
    current: ArcSwap<Suggestions>,
    /// Also serialises rebuilds; lookups never take it.
    verdicts: Mutex<sources::Verdicts>,
}

impl Suggester {
    /// A suggester with no suggestions yet.
    pub fn new() -> Result<Suggester> {
        Ok(Suggester {
            current: ArcSwap::from_pointee(Suggestions::build(Vec::new())?),
            verdicts: Mutex::default(),
        })
    }

    /// The suggestions in force.
    pub fn current(&self) -> Arc<Suggestions> {
        self.current.load_full()
    }

    /// Gathers the sources again, builds a new set and swaps it in.
    pub fn rebuild(
        &self,
        index: &SearchIndex,
        profiles: &ProfileStore,
        search: &SearchConfig,
        config: &SuggestConfig,
    ) -> Result<BuildStats> {
        let mut verdicts = self.verdicts.lock().unwrap_or_else(|p| p.into_inner());
        let sources = sources::Sources {
            index,
            profiles,
            search,
            config,
        };
        let candidates = sources.gather(&mut verdicts)?;
        let queries = candidates.iter().filter(|c| c.kind == Kind::Query).count();
        let catalog = candidates.len() - queries;
        let built = Suggestions::build(candidates)?;
        let stats = BuildStats {
            queries,
            catalog,
            suggestions: built.len(),
        };
        self.current.store(Arc::new(built));
        Ok(stats)
    }

    /// Answers a request from the suggestions in force; room left after what was typed is
    /// filled with the suggestions of its synonyms (`couch` → the sofa suggestions).
    pub fn lookup(
        &self,
        req: &AutocompleteRequest,
        visitor: Option<&ProfileView>,
        config: &SuggestConfig,
        synonyms: &SynonymTable,
    ) -> AutocompleteResponse {
        let started = Instant::now();
        let affinity = visitor.and_then(Affinity::of);
        let set = self.current();
        let boost = config.personal_boost;
        let mut suggestions = set.lookup(&req.q, req.limit, affinity.as_ref(), boost);
        for alternative in synonyms_of_typed(synonyms, &req.q) {
            if suggestions.len() >= req.limit {
                break;
            }
            for s in set.lookup(&alternative, req.limit, affinity.as_ref(), boost) {
                if suggestions.len() < req.limit && !suggestions.iter().any(|t| t.text == s.text) {
                    suggestions.push(s);
                }
            }
        }
        AutocompleteResponse {
            suggestions,
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_synonym_replaces_the_whole_text_or_its_last_words() {
        let table = SynonymTable {
            pairs: vec![
                ("couch".into(), vec!["sofa".into(), "settee".into()]),
                ("water bottle".into(), vec!["Tumbler".into()]),
            ],
            analyzed: Default::default(),
        };
        assert_eq!(synonyms_of_typed(&table, " Couch "), ["sofa", "settee"]);
        assert_eq!(
            synonyms_of_typed(&table, "red  couch"),
            ["red sofa", "red settee"]
        );
        assert_eq!(
            synonyms_of_typed(&table, "steel water bottle"),
            ["steel tumbler"]
        );
        assert!(synonyms_of_typed(&table, "slouch").is_empty());
        assert!(synonyms_of_typed(&table, "couches").is_empty());
        assert!(synonyms_of_typed(&table, "").is_empty());
    }
}
