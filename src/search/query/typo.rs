//! Typo tolerance: a query word the index has never seen is replaced by the closest word it
//! has (one edit from 5 letters, two from 9; a swap of neighbours counts as one), preferring
//! the fewest edits, then the most frequent word. Words with digits (model codes, sizes) and
//! short words are never corrected, and a word the index knows is never touched, so exact
//! matches always win.

use std::collections::HashMap;
use std::sync::OnceLock;

use levenshtein_automata::{DFA, Distance, LevenshteinAutomatonBuilder, SINK_STATE};
use tantivy::Searcher;
use tantivy::schema::Field;

use crate::cache::Bounded;

/// How many typos a word may have, by its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Budget {
    /// Fewest letters a word needs before one typo is allowed.
    pub one_from: usize,
    /// Fewest letters a word needs before two typos are allowed.
    pub two_from: usize,
}

/// The usual budget: one typo from 5 letters, two from 9.
pub const NORMAL: Budget = Budget {
    one_from: 5,
    two_from: 9,
};

/// The budget of a search that found nothing: one typo from 4 letters, two from 7.
pub const WIDE: Budget = Budget {
    one_from: 4,
    two_from: 7,
};

/// Walks a dictionary (terms, suggestion keys) with a Levenshtein automaton.
pub(crate) struct Within<'a>(pub(crate) &'a DFA);

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

/// The automaton builders for one and two edits: costly to make (they precompute the
/// parametric tables), cheap to use, so made once.
pub(crate) fn builders() -> &'static (LevenshteinAutomatonBuilder, LevenshteinAutomatonBuilder) {
    static BUILDERS: OnceLock<(LevenshteinAutomatonBuilder, LevenshteinAutomatonBuilder)> =
        OnceLock::new();
    BUILDERS.get_or_init(|| {
        (
            LevenshteinAutomatonBuilder::new(1, true),
            LevenshteinAutomatonBuilder::new(2, true),
        )
    })
}

/// The correction of `word`, a word no product has, if the vocabularies of `fields` have a
/// close word (the caller knows whether a product has it: that check is the planner's).
/// Candidates come from fewer fields than a product's whole text (titles, brands,
/// categories, attributes, not descriptions): walking dictionaries is the cost of a
/// correction, and shoppers type product names.
pub fn correct(
    searcher: &Searcher,
    fields: &[Field],
    word: &str,
    budget: Budget,
) -> Option<String> {
    let letters = word.chars().count();
    if letters < budget.one_from || word.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    let builder = if letters >= budget.two_from {
        &builders().1
    } else {
        &builders().0
    };
    let dfa = builder.build_dfa(word);
    let mut found: HashMap<String, (u8, u64)> = HashMap::new();
    for (segment, &field) in searcher
        .segment_readers()
        .iter()
        .flat_map(|s| fields.iter().map(move |f| (s, f)))
    {
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

/// Up to `limit` words of `field` that start with `prefix` (and are longer), most frequent
/// first (document frequency summed over segments), then in byte order.
pub fn complete(searcher: &Searcher, field: Field, prefix: &str, limit: usize) -> Vec<String> {
    let mut found: HashMap<String, u64> = HashMap::new();
    for segment in searcher.segment_readers() {
        let Ok(inverted) = segment.inverted_index(field) else {
            continue;
        };
        let Ok(mut stream) = inverted.terms().range().ge(prefix.as_bytes()).into_stream() else {
            continue;
        };
        while stream.advance() {
            let Ok(word) = std::str::from_utf8(stream.key()) else {
                continue;
            };
            if !word.starts_with(prefix) {
                break;
            }
            if word.len() > prefix.len() {
                *found.entry(word.to_string()).or_default() += u64::from(stream.value().doc_freq);
            }
        }
    }
    let mut ranked: Vec<(String, u64)> = found.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.into_iter().take(limit).map(|(w, _)| w).collect()
}

/// The corrections and completions of one snapshot's vocabulary, remembered: each costs
/// walks of term dictionaries (a tenth of a search's time on the Best Buy query mix), and
/// shoppers' words repeat. Kept per snapshot, so a write that changes the vocabulary starts
/// it over.
pub struct WordMemo {
    corrections: Bounded<(String, Budget), Option<String>>,
    last_words: Bounded<(String, String, crate::text::Lang), Option<super::Completion>>,
}

impl WordMemo {
    /// An empty memo keeping at most `words` words of each kind (`[cache] words`).
    pub fn new(words: usize) -> WordMemo {
        WordMemo {
            corrections: Bounded::new(words),
            last_words: Bounded::new(words),
        }
    }

    /// What the memos hold and how often they answered.
    pub fn stats(&self) -> [crate::cache::CacheStats; 2] {
        [
            self.corrections.stats("corrections"),
            self.last_words.stats("last_word_completions"),
        ]
    }

    /// The correction of `word` within `budget`, computed by `correct` the first time.
    pub fn correction(
        &self,
        word: &str,
        budget: Budget,
        correct: impl FnOnce() -> Option<String>,
    ) -> Option<String> {
        self.corrections.get_or((word.to_string(), budget), correct)
    }

    /// The completion of a last word being typed, computed by `compute` the first time.
    pub fn last_word(
        &self,
        term: &str,
        folded: &str,
        lang: crate::text::Lang,
        compute: &mut dyn FnMut() -> Option<super::Completion>,
    ) -> Option<super::Completion> {
        let key = (term.to_string(), folded.to_string(), lang);
        self.last_words.get_or(key, compute)
    }
}

/// The word memo of the latest snapshot.
pub type WordMemoCache = crate::search::snapshot::SnapshotCache<(), WordMemo>;
