//! Synonyms at query time: a change to the config needs no re-index.
//!
//! Each configured source phrase is analysed once per query language into its tokens. A query whose words
//! contain a source (one to three consecutive words) also finds the source's alternatives:
//! each alternative becomes an extra, slightly discounted clause (all its words required), so
//! a product that says "television" is found for "tv" without outranking one that says "tv".

use serde::Serialize;

use std::sync::Arc;

use crate::settings::{SynonymIndex, SynonymTable};
use crate::text::{Analyzer, Lang};

/// Longest source phrase matched, in words.
const MAX_PHRASE_WORDS: usize = 3;

/// A synonym applied to a query.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Expansion {
    /// The analysed words of the query that matched a source.
    pub from: String,
    /// The alternatives added, as analysed words.
    pub to: Vec<String>,
}

/// The synonym index of a table analysed in `lang` (built on first use).
pub fn index(table: &SynonymTable, lang: Lang) -> Arc<SynonymIndex> {
    // A poisoned lock only means another thread panicked while inserting: the map is whole.
    if let Some(found) = table
        .analyzed
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&lang)
    {
        return found.clone();
    }
    let built = Arc::new(analyse(table, lang));
    let mut map = table.analyzed.write().unwrap_or_else(|e| e.into_inner());
    map.entry(lang).or_insert(built).clone()
}

fn analyse(table: &SynonymTable, lang: Lang) -> SynonymIndex {
    let mut analyzer = Analyzer::new(lang);
    let mut out = SynonymIndex::new();
    for (from, to) in &table.pairs {
        let key = analyzer.terms(from).join(" ");
        if key.is_empty() {
            continue;
        }
        let alternatives = out.entry(key).or_default();
        for phrase in to {
            let tokens = analyzer.terms(phrase);
            if !tokens.is_empty() && !alternatives.contains(&tokens) {
                alternatives.push(tokens);
            }
        }
    }
    out
}

/// The synonyms that apply to a query's words, analysed in `lang`.
pub fn expand(
    table: &SynonymTable,
    lang: Lang,
    words: &[String],
) -> Vec<(Expansion, Vec<Vec<String>>)> {
    let index = index(table, lang);
    if index.is_empty() {
        return Vec::new();
    }
    let mut found = Vec::new();
    for n in 1..=MAX_PHRASE_WORDS.min(words.len()) {
        for window in words.windows(n) {
            let key = window.join(" ");
            if let Some(alternatives) = index.get(&key) {
                let expansion = Expansion {
                    from: key,
                    to: alternatives.iter().map(|a| a.join(" ")).collect(),
                };
                found.push((expansion, alternatives.clone()));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn table(toml: &str) -> std::sync::Arc<SynonymTable> {
        Config::parse(toml, Path::new("t.toml"))
            .unwrap()
            .search
            .synonyms
    }

    #[test]
    fn two_way_groups_work_both_ways_and_one_way_only_one_way() {
        let t = table(
            "[search.synonyms]\ngroups = [[\"tv\", \"television\"]]\none_way = { tee = [\"t-shirt\"] }\n",
        );
        let words = |q: &str| Analyzer::new(Lang::ENGLISH).terms(q);
        let to = |q: &str| {
            expand(&t, Lang::ENGLISH, &words(q))
                .into_iter()
                .map(|(e, _)| e.to)
                .collect::<Vec<_>>()
        };
        assert_eq!(to("tv stand"), vec![vec!["televis"]]);
        assert_eq!(to("television"), vec![vec!["tv"]]);
        assert_eq!(to("tee"), vec![vec!["t shirt"]]);
        assert!(to("t-shirt").is_empty());
    }

    #[test]
    fn multi_word_sources_match_consecutive_words() {
        let t = table("[search.synonyms]\ngroups = [[\"flat screen\", \"lcd tv\"]]\n");
        let words = Analyzer::new(Lang::ENGLISH).terms("cheap flat screen");
        let found = expand(&t, Lang::ENGLISH, &words);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0.from, "flat screen");
        assert_eq!(found[0].1, vec![vec!["lcd".to_string(), "tv".to_string()]]);
    }
}
