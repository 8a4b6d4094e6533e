//! Typo tolerance: a query word the index has never seen is replaced by the closest word it
//! has (one edit from 5 letters, two from 9; a swap of neighbours counts as one), preferring
//! the fewest edits, then the most frequent word. Words with digits (model codes, sizes) and
//! short words are never corrected, and a word the index knows is never touched, so exact
//! matches always win.

use std::collections::HashMap;

use levenshtein_automata::{DFA, Distance, LevenshteinAutomatonBuilder, SINK_STATE};
use tantivy::schema::Field;
use tantivy::{Searcher, Term};

/// Fewest letters a word needs before one typo is allowed.
pub const ONE_TYPO_FROM: usize = 5;
/// Fewest letters a word needs before two typos are allowed.
pub const TWO_TYPOS_FROM: usize = 9;

/// Walks the term dictionary with a Levenshtein automaton.
struct Within<'a>(&'a DFA);

impl tantivy_fst::Automaton for Within<'_> {
    type State = u32;

    fn start(&self) -> u32 {
        self.0.initial_state()
    }

    fn is_match(&self, state: &u32) -> bool {
        matches!(self.0.distance(*state), Distance::Exact(_))
    }

    fn can_match(&self, state: &u32) -> bool {
        *state != SINK_STATE
    }

    fn accept(&self, state: &u32, byte: u8) -> u32 {
        self.0.transition(*state, byte)
    }
}

/// The correction of `word` in `field`, if it needs one and the index has one.
pub fn correct(searcher: &Searcher, field: Field, word: &str) -> Option<String> {
    let letters = word.chars().count();
    if letters < ONE_TYPO_FROM || word.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    if searcher
        .doc_freq(&Term::from_field_text(field, word))
        .ok()?
        > 0
    {
        return None;
    }
    let edits = if letters >= TWO_TYPOS_FROM { 2 } else { 1 };
    let dfa = LevenshteinAutomatonBuilder::new(edits, true).build_dfa(word);
    let mut found: HashMap<String, (u8, u64)> = HashMap::new();
    for segment in searcher.segment_readers() {
        let inverted = segment.inverted_index(field).ok()?;
        let mut stream = inverted.terms().search(Within(&dfa)).into_stream().ok()?;
        while stream.advance() {
            let Ok(candidate) = std::str::from_utf8(stream.key()) else {
                continue;
            };
            let Distance::Exact(d) = dfa.eval(candidate) else {
                continue;
            };
            let entry = found.entry(candidate.to_string()).or_insert((d, 0));
            entry.1 += u64::from(stream.value().doc_freq);
        }
    }
    found
        .into_iter()
        .min_by(|a, b| {
            a.1.0
                .cmp(&b.1.0)
                .then(b.1.1.cmp(&a.1.1))
                .then(a.0.cmp(&b.0))
        })
        .map(|(candidate, _)| candidate)
}
