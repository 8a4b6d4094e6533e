//! What suggestions are made of, gathered at each rebuild: brands and every category level
//! with their product counts, past queries with the number of visitors who searched them
//! (kept only when they find products as typed), and product titles.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::collections::hash_map::Entry as Slot;

use tantivy::Searcher;
use tantivy::query::AllQuery;

use super::keys::Normalizer;
use super::{Candidate, Kind};
use crate::error::Result;
use crate::profiles::ProfileStore;
use crate::search::SearchIndex;
use crate::search::facets::FacetCounts;
use crate::search::{self, SearchRequest};
use crate::settings::{SearchConfig, SuggestConfig};

/// The brand and category of a query's best hit, for personal boosts.
#[derive(Debug, Clone, Default)]
struct Tags {
    brand: Option<String>,
    category: Vec<String>,
}

/// Which past queries find products, as of one index generation: a rebuild only searches
/// for queries it has not checked against the current catalog.
#[derive(Default)]
pub struct Verdicts {
    generation: Option<u64>,
    /// Query key → the tags of its best hit, or None when it finds nothing as typed.
    known: HashMap<String, Option<Tags>>,
}

/// Where suggestions come from, and the settings that choose them.
pub struct Sources<'a> {
    /// The catalog.
    pub index: &'a SearchIndex,
    /// The visitor profiles, with their recent searches.
    pub profiles: &'a ProfileStore,
    /// Search settings (past queries are checked with a search).
    pub search: &'a SearchConfig,
    /// Autocomplete settings.
    pub config: &'a SuggestConfig,
}

impl Sources<'_> {
    /// Every candidate suggestion of the current catalog and profiles.
    pub fn gather(&self, verdicts: &mut Verdicts) -> Result<Vec<Candidate>> {
        let searcher = self.index.searcher();
        let mut out = facets(self.index, &searcher)?;
        out.extend(titles(self.index, &searcher)?);
        out.extend(self.past_queries(verdicts)?);
        Ok(out)
    }

    /// Past queries searched by at least `min_visitors` visitors that find products as typed,
    /// the most searched `max_queries` of them, counted in distinct visitors.
    fn past_queries(&self, verdicts: &mut Verdicts) -> Result<Vec<Candidate>> {
        let generation = self.index.products().generation();
        let mut popular: Vec<(String, (u64, String))> = visitors_per_query(self.profiles)
            .into_iter()
            .filter(|(_, (visitors, _))| *visitors >= self.config.min_visitors)
            .collect();
        popular.sort_by(|a, b| (Reverse(a.1.0), &a.0).cmp(&(Reverse(b.1.0), &b.0)));
        popular.truncate(self.config.max_queries);
        if verdicts.generation != Some(generation) {
            verdicts.known.clear();
        }
        let mut known = HashMap::with_capacity(popular.len());
        let mut out = Vec::new();
        for (key, (visitors, text)) in popular {
            let tags = match verdicts.known.remove(&key) {
                Some(tags) => tags,
                None => finds_as_typed(self.index, self.search, &text)?,
            };
            if let Some(tags) = &tags {
                out.push(Candidate {
                    text,
                    kind: Kind::Query,
                    count: visitors,
                    brand: tags.brand.clone(),
                    category: tags.category.clone(),
                    ..Candidate::default()
                });
            }
            known.insert(key, tags);
        }
        *verdicts = Verdicts {
            generation: Some(generation),
            known,
        };
        Ok(out)
    }
}

/// Brands and category levels, counted over the whole catalog.
fn facets(index: &SearchIndex, searcher: &Searcher) -> Result<Vec<Candidate>> {
    let paths = index.facet_paths();
    let brands = searcher.search(&AllQuery, &FacetCounts::new("brand", paths.clone()))?;
    let categories = searcher.search(&AllQuery, &FacetCounts::new("category", paths))?;
    let brands = brands.into_iter().filter_map(|(path, count)| {
        let [brand] = &path[..] else {
            return None;
        };
        Some(Candidate {
            text: brand.clone(),
            kind: Kind::Brand,
            count,
            brand: Some(brand.clone()),
            ..Candidate::default()
        })
    });
    let categories = categories.into_iter().filter_map(|(path, count)| {
        Some(Candidate {
            text: path.last()?.clone(),
            kind: Kind::Category,
            count,
            category: path.to_vec(),
            ..Candidate::default()
        })
    });
    Ok(brands.chain(categories).collect())
}

/// Product titles, counted by popularity (at least 1), read from the hit tables (which a
/// rebuild after a write reads in for the searches to come).
fn titles(index: &SearchIndex, searcher: &Searcher) -> Result<Vec<Candidate>> {
    let mut out = Vec::new();
    for segment in searcher.segment_readers() {
        let popularity = segment.fast_fields().f64("popularity").ok();
        let table = index.hit_tables().of(segment)?;
        for doc in segment.doc_ids_alive() {
            let hit = table.hit(doc)?;
            let popularity = popularity.as_ref().and_then(|c| c.first(doc));
            out.push(Candidate {
                text: hit.title.into_owned(),
                kind: Kind::Product,
                count: popularity.map_or(1, |p| (p.round() as u64).max(1)),
                brand: hit.brand.map(|b| b.into_owned()),
                category: hit.category,
                id: Some(hit.id.into_owned()),
                url: hit.url.map(|u| u.into_owned()),
            });
        }
    }
    Ok(out)
}

/// Query key → (distinct visitors, the text shown). Visitors who opted out of
/// personalization are left out. The text shown is the typed query lowercased and
/// single-spaced (accents kept); of several spellings the first in sort order, so rebuilds
/// agree.
fn visitors_per_query(profiles: &ProfileStore) -> HashMap<String, (u64, String)> {
    let mut normalizer = Normalizer::default();
    let mut counts: HashMap<String, (u64, String)> = HashMap::new();
    profiles.for_each(|profile| {
        if profile.opted_out() {
            return;
        }
        let mut mine: Vec<(String, &str)> = profile
            .queries
            .iter()
            .map(|(typed, _)| (normalizer.key(typed), &**typed))
            .collect();
        mine.sort_unstable();
        mine.dedup_by(|a, b| a.0 == b.0);
        for (key, typed) in mine.drain(..).filter(|(key, _)| !key.is_empty()) {
            let shown = typed
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase();
            match counts.entry(key) {
                Slot::Vacant(slot) => {
                    slot.insert((1, shown));
                }
                Slot::Occupied(mut slot) => {
                    let (visitors, kept) = slot.get_mut();
                    *visitors += 1;
                    if shown < *kept {
                        *kept = shown;
                    }
                }
            }
        }
    });
    counts
}

/// Whether `text` finds products without relaxing or correcting anything (a misspelled query
/// that finds products only once corrected is not worth suggesting); the tags of its best hit.
fn finds_as_typed(index: &SearchIndex, config: &SearchConfig, text: &str) -> Result<Option<Tags>> {
    let pairs = vec![
        ("q".to_string(), text.to_string()),
        ("limit".into(), "1".into()),
    ];
    let req = SearchRequest::from_pairs(pairs, config)?;
    let answer = search::search(index, config, &req, &search::Personalization::plain())?;
    let q = &answer.query;
    if answer.total == 0 || q.terms.is_empty() || !q.relaxed.is_empty() || !q.corrections.is_empty()
    {
        return Ok(None);
    }
    Ok(Some(answer.hits.into_iter().next().map_or_else(
        Tags::default,
        |hit| Tags {
            brand: hit.brand,
            category: hit.category,
        },
    )))
}
