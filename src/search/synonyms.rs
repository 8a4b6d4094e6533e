//! Synonyms at query time: a change to the config needs no re-index.
//!
//! Each configured source phrase is analysed once into its tokens. A query whose words
//! contain a source (one to three consecutive words) also finds the source's alternatives:
//! each alternative becomes an extra, slightly discounted clause (all its words required), so
//! a product that says "television" is found for "tv" without outranking one that says "tv".

use serde::Serialize;

use crate::config::{SynonymIndex, SynonymTable};
use crate::text;

/// Longest source phrase matched, in words.
const MAX_PHRASE_WORDS: usize = 3;

/// A synonym applied to a query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expansion {
    /// The analysed words of the query that matched a source.
    pub from: String,
    /// The alternatives added, as analysed words.
    pub to: Vec<String>,
}

/// The analysed synonym index of a table (built on first use).
pub fn index(table: &SynonymTable) -> &SynonymIndex {
    table.analyzed.get_or_init(|| {
        let mut analyzer = text::analyzer();
        let mut out = SynonymIndex::new();
        for (from, to) in &table.pairs {
            let key = text::terms(&mut analyzer, from).join(" ");
            if key.is_empty() {
                continue;
            }
            let alternatives = out.entry(key).or_default();
            for phrase in to {
                let tokens = text::terms(&mut analyzer, phrase);
                if !tokens.is_empty() && !alternatives.contains(&tokens) {
                    alternatives.push(tokens);
                }
            }
        }
        out
    })
}

/// The synonyms that apply to a query's words.
pub fn expand(table: &SynonymTable, words: &[String]) -> Vec<(Expansion, Vec<Vec<String>>)> {
    let index = index(table);
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
        let words = |q: &str| text::terms(&mut text::analyzer(), q);
        let to = |q: &str| {
            expand(&t, &words(q))
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
        let words = text::terms(&mut text::analyzer(), "cheap flat screen");
        let found = expand(&t, &words);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0.from, "flat screen");
        assert_eq!(found[0].1, vec![vec!["lcd".to_string(), "tv".to_string()]]);
    }
}
