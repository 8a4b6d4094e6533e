//! Typo-tolerant prefix search over the keys: a key matches when one of its prefixes is within
//! one edit of what the shopper typed (`runing` finds `running shoes`, `shoe` finds `shoes`).
//!
//! fst's Levenshtein automaton matches whole keys; wrapped in `starts_with`, it matches the
//! keys that start with something it matches, which is exactly a prefix within one edit. The
//! DFA is the one search's typo correction walks term dictionaries with (levenshtein_automata:
//! characters, not bytes; a swap of neighbours is one edit), and `starts_with` stops testing
//! bytes below the first close-enough prefix.

use levenshtein_automata::DFA;
use tantivy_fst::Automaton;
use tantivy_fst::automaton::StartsWith;

use crate::search::query::typo::{Within, builders};

/// The most characters a typed prefix may have to get typo tolerance: longer input is
/// specific enough for the exact prefix, and the automaton grows with the input.
pub const MAX_TYPO_CHARS: usize = 64;

/// The automaton of the strings within one edit of `key`.
pub fn one_edit(key: &str) -> DFA {
    builders().0.build_dfa(key)
}

/// Matches the keys with a prefix within the DFA's distance.
pub(crate) fn prefix_within(dfa: &DFA) -> StartsWith<Within<'_>> {
    Within(dfa).starts_with()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tantivy_fst::{IntoStreamer, Map, Streamer};

    /// Optimal string alignment distance (edits and swaps of neighbours), the naive way.
    fn osa(a: &[char], b: &[char]) -> usize {
        let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for (i, row) in d.iter_mut().enumerate() {
            row[0] = i;
        }
        d[0] = (0..=b.len()).collect();
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                d[i][j] = (d[i - 1][j] + 1)
                    .min(d[i][j - 1] + 1)
                    .min(d[i - 1][j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
                }
            }
        }
        d[a.len()][b.len()]
    }

    /// The oracle: some prefix of `key` is within one edit of `typed`.
    fn naive(typed: &str, key: &str) -> bool {
        let typed: Vec<char> = typed.chars().collect();
        let key: Vec<char> = key.chars().collect();
        (0..=key.len()).any(|i| osa(&typed, &key[..i]) <= 1)
    }

    fn matched(map: &Map<Vec<u8>>, typed: &str) -> Vec<String> {
        let dfa = one_edit(typed);
        let mut stream = map.search(prefix_within(&dfa)).into_stream();
        let mut out = Vec::new();
        while let Some((key, _)) = stream.next() {
            out.push(String::from_utf8(key.to_vec()).unwrap());
        }
        out
    }

    #[test]
    fn a_missing_extra_wrong_or_swapped_letter_still_finds_the_key() {
        let keys = ["running shoes", "road bike", "ruby ring", "shoes"];
        let mut sorted = keys.to_vec();
        sorted.sort();
        let map = Map::from_iter(sorted.iter().map(|k| (*k, 0))).unwrap();
        assert_eq!(matched(&map, "runing"), vec!["running shoes"]);
        assert_eq!(matched(&map, "runnning"), vec!["running shoes"]);
        assert_eq!(matched(&map, "rnuning"), vec!["running shoes"]);
        assert_eq!(matched(&map, "shoez"), vec!["shoes"]);
        assert!(matched(&map, "xyzzy").is_empty());
    }

    proptest! {
        #[test]
        fn the_fst_walk_matches_the_naive_oracle(
            keys in proptest::collection::btree_set("[abcé ]{0,7}", 0..40),
            typed in "[abcé]{1,5}",
        ) {
            let map = Map::from_iter(keys.iter().map(|k| (k.as_str(), 0))).unwrap();
            let expected: Vec<String> =
                keys.iter().filter(|k| naive(&typed, k)).cloned().collect();
            prop_assert_eq!(matched(&map, &typed), expected);
        }
    }
}
