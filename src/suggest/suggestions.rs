//! The suggestion set: entries in an FST keyed by their normalised text and by every word
//! start inside it, looked up by exact prefix and then by prefix within one edit, reading the
//! keys best entry first and only as far as the page asked for ([`Suggestions::lookup`]).
//!
//! Ranking: exact-prefix matches fill the answer first, typo matches only the slots they
//! leave; each is shared out by kind (queries, then brands and categories, then product
//! titles, each kind within its share of the answer, [`quotas`]), and within a kind by the
//! count (boosted for a visitor's brands and categories), then the text. Entries are stored by
//! kind, count and text, so an entry's number is its tie-break.
//!
//! Each kind tier has its own FST: the keys' order of best entries is then the order within
//! the kind, and a walk stops as soon as its kind's share is filled. (With one FST for all
//! kinds, finding the product titles of a short prefix meant walking every brand and
//! category key that prefix starts, since their best entries all come first.)

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use levenshtein_automata::DFA;
use tantivy_fst::automaton::AlwaysMatch;
use tantivy_fst::raw::CompiledAddr;
use tantivy_fst::{Automaton, Map};

use super::keys::{Normalizer, word_starts};
use super::typo::{MAX_TYPO_CHARS, one_edit, prefix_within};
use super::{Affinity, Candidate, Kind, Suggestion};
use crate::error::{Error, Result};

/// Shortest typed prefix (in characters) that gets typo tolerance.
pub const TYPO_FROM_CHARS: usize = 4;

/// Word starts inside one suggestion that get their own key: bounds the keys of long titles.
const MAX_WORD_KEYS: usize = 8;

/// One suggestion as stored.
#[derive(Debug, Clone)]
struct Entry {
    text: Box<str>,
    kind: Kind,
    count: u64,
    /// Lowercased brand, an index into `labels`.
    brand: Option<u32>,
    /// Lowercased category path `a > b`, an index into `labels`.
    category: Option<u32>,
    /// What a click opens: a product's id and page, a category's path as written.
    target: Option<Box<Target>>,
}

/// What a click on a suggestion opens.
#[derive(Debug, Clone)]
enum Target {
    Product { id: String, url: Option<String> },
    Category(Vec<String>),
}

/// An immutable, searchable set of suggestions.
pub struct Suggestions {
    /// The keys of each kind tier's entries.
    keys: [Keys; TIERS],
    entries: Vec<Entry>,
    labels: Vec<Box<str>>,
    /// The number of the first entry of each kind tier (entries are stored by tier).
    tier_starts: [u32; TIERS],
}

/// Kind tiers: queries, brands and categories, products ([`Kind::tier`]).
const TIERS: usize = 3;

/// The keys of one kind tier's entries, each with the entries under it.
struct Keys {
    /// A key's value: its best entry in the high half, its number in the low half.
    fst: Map<Vec<u8>>,
    /// The entries of key `i` are `postings[offsets[i]..offsets[i + 1]]`, best first.
    offsets: Vec<u32>,
    postings: Vec<u32>,
}

impl Keys {
    fn build(keyed: &BTreeMap<&str, Vec<u32>>) -> Result<Keys> {
        let mut offsets = Vec::with_capacity(keyed.len() + 1);
        let mut postings = Vec::new();
        offsets.push(0);
        for ids in keyed.values() {
            postings.extend_from_slice(ids);
            offsets.push(postings.len() as u32);
        }
        let values = keyed
            .iter()
            .enumerate()
            .map(|(i, (k, ids))| (*k, u64::from(ids[0]) << 32 | i as u64));
        let fst = Map::from_iter(values)
            .map_err(|e| Error::Internal(format!("cannot build the suggestion keys: {e}")))?;
        Ok(Keys {
            fst,
            offsets,
            postings,
        })
    }

    /// The entries under the key of `value`, best first.
    fn posting(&self, value: u64) -> &[u32] {
        let ord = (value & u64::from(u32::MAX)) as usize;
        match (self.offsets.get(ord), self.offsets.get(ord + 1)) {
            (Some(&from), Some(&to)) => &self.postings[from as usize..to as usize],
            _ => &[],
        }
    }

    /// The node the keys starting with `prefix` are below, and the output of the path to it;
    /// None when no key starts with it.
    fn node_of(&self, prefix: &str) -> Option<(CompiledAddr, u64)> {
        let fst = self.fst.as_fst();
        let mut node = fst.root();
        let mut output = 0;
        for &byte in prefix.as_bytes() {
            let t = node.transition(node.find_input(byte)?);
            output += t.out.value();
            node = fst.node(t.addr);
        }
        Some((node.addr(), output))
    }

    /// Offers `pick` the entries under the keys below a node that `automaton` matches, best
    /// entry first, until no entry left can be picked.
    ///
    /// A key's value holds the best (lowest) entry under it in its high half, and the FST
    /// keeps on every transition the least value below it: the output of the path to a node
    /// is the least value of the keys below it. Taking nodes and keys from a queue ordered by
    /// that output visits keys in the order of their best entries, and stops at the first
    /// whose best entry cannot beat the page ([`Pick::closed`]) instead of reading every key
    /// that matches (thousands for a common prefix or one edit from one).
    fn walk<A: Automaton>(
        &self,
        automaton: &A,
        (from, output, state): (CompiledAddr, u64, A::State),
        pick: &mut Pick,
    ) {
        let fst = self.fst.as_fst();
        let mut queue = BinaryHeap::new();
        queue.push(Reverse(Step::Node(output, from, state)));
        while let Some(Reverse(step)) = queue.pop() {
            if pick.closed(best_entry(step.output())) {
                return;
            }
            match step {
                Step::Key(value) => pick.offer_in_order(self.posting(value).iter().copied()),
                Step::Node(output, addr, state) => {
                    let node = fst.node(addr);
                    if node.is_final() && automaton.is_match(&state) {
                        queue.push(Reverse(Step::Key(output + node.final_output().value())));
                    }
                    for t in node.transitions() {
                        let next = automaton.accept(&state, t.inp);
                        if automaton.can_match(&next) {
                            queue.push(Reverse(Step::Node(output + t.out.value(), t.addr, next)));
                        }
                    }
                }
            }
        }
    }

    /// Offers `pick` the entries under keys starting with `key`, best entry first.
    fn pick_prefixed(&self, key: &str, pick: &mut Pick) {
        if let Some((node, output)) = self.node_of(key) {
            self.walk(&AlwaysMatch, (node, output, ()), pick);
        }
    }

    /// Offers `pick` the entries under keys with a prefix one edit from what was typed
    /// (`dfa`), best entry first.
    fn pick_near(&self, dfa: &DFA, pick: &mut Pick) {
        let near = prefix_within(dfa);
        let start = (self.fst.as_fst().root().addr(), 0, near.start());
        self.walk(&near, start, pick);
    }
}

/// The share of an answer each kind tier may fill before the others have had theirs: half
/// for past queries, then half of the rest for brands and categories, the rest for products.
/// Slots a tier leaves empty go to the others, in tier order.
pub fn quotas(limit: usize) -> [usize; TIERS] {
    let queries = limit.div_ceil(2);
    let catalog = (limit - queries).div_ceil(2);
    [queries, catalog, limit - queries - catalog]
}

impl Suggestions {
    /// Builds the set. Candidates with the same normalised text become one entry: the higher
    /// kind (query, then brand or category, then product) wins; counts of the same kind add.
    pub fn build(candidates: Vec<Candidate>) -> Result<Suggestions> {
        let sorted = merged_in_rank_order(candidates);
        let mut labels = Labels::default();
        let mut keyed: [BTreeMap<&str, Vec<u32>>; TIERS] = Default::default();
        let mut entries = Vec::with_capacity(sorted.len());
        for (i, (key, c)) in sorted.iter().enumerate() {
            let keyed = &mut keyed[usize::from(c.kind.tier())];
            for start in word_starts(key).take(MAX_WORD_KEYS) {
                keyed.entry(&key[start..]).or_default().push(i as u32);
            }
            let target = match (c.kind, &c.id) {
                (Kind::Product, Some(id)) => Some(Box::new(Target::Product {
                    id: id.clone(),
                    url: c.url.clone(),
                })),
                (Kind::Category, _) => Some(Box::new(Target::Category(c.category.clone()))),
                _ => None,
            };
            entries.push(Entry {
                text: c.text.trim().into(),
                kind: c.kind,
                count: c.count,
                brand: c.brand.as_deref().map(|b| labels.intern(&b.to_lowercase())),
                category: (!c.category.is_empty())
                    .then(|| labels.intern(&c.category.join(" > ").to_lowercase())),
                target,
            });
        }
        let [queries, catalog, products] = &keyed;
        let keys = [
            Keys::build(queries)?,
            Keys::build(catalog)?,
            Keys::build(products)?,
        ];
        let tier_start = |t: u8| {
            entries
                .iter()
                .position(|e| e.kind.tier() >= t)
                .unwrap_or(entries.len()) as u32
        };
        let tier_starts = [tier_start(0), tier_start(1), tier_start(2)];
        Ok(Suggestions {
            keys,
            entries,
            labels: labels.names,
            tier_starts,
        })
    }

    /// Number of suggestions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The best `limit` suggestions for what was typed (empty: the most popular ones), with
    /// the visitor's affinities boosting their brands and categories by up to `1 + boost`:
    /// past queries, then brands and categories, then products, each kind within its share of
    /// the answer ([`quotas`]) unless the others leave room; matches within one edit (typed
    /// 4+ characters) only where exact-prefix matches leave room, shared out the same way.
    pub fn lookup(
        &self,
        typed: &str,
        limit: usize,
        affinity: Option<&Affinity>,
        boost: f32,
    ) -> Vec<Suggestion> {
        let key = Normalizer::default().key(typed);
        let exact = Picks::new(self, limit, affinity, boost, None).fill(|tier, pick| {
            if key.is_empty() {
                // Stored best first: without a boost the first ones of the kind are the best.
                pick.offer_in_order(self.entries_of(tier));
            } else {
                self.keys[tier].pick_prefixed(&key, pick);
            }
        });
        let mut answer = share(exact, limit);
        let left = limit - answer.iter().map(Vec::len).sum::<usize>();
        let letters = key.chars().count();
        if left > 0 && (TYPO_FROM_CHARS..=MAX_TYPO_CHARS).contains(&letters) {
            // The exact answer is short: it holds every exact match, which the typo walks
            // (whose automaton also accepts them) skip.
            let dfa = one_edit(&key);
            let near = Picks::new(self, left, affinity, boost, Some(&answer))
                .fill(|tier, pick| self.keys[tier].pick_near(&dfa, pick));
            for (exact, near) in answer.iter_mut().zip(share(near, left)) {
                exact.extend(near);
            }
        }
        answer
            .into_iter()
            .flatten()
            .map(|i| self.suggestion(i))
            .collect()
    }

    fn suggestion(&self, i: u32) -> Suggestion {
        let e = &self.entries[i as usize];
        let (id, url, path) = match e.target.as_deref() {
            Some(Target::Product { id, url }) => (Some(id.clone()), url.clone(), None),
            Some(Target::Category(path)) => (None, None, Some(path.clone())),
            None => (None, None, None),
        };
        Suggestion {
            text: e.text.to_string(),
            kind: e.kind,
            count: e.count,
            id,
            url,
            path,
        }
    }

    /// The numbers of the entries of a kind tier, in order.
    fn entries_of(&self, tier: usize) -> std::ops::Range<u32> {
        let end = self.tier_starts.get(tier + 1).copied();
        self.tier_starts[tier]..end.unwrap_or(self.entries.len() as u32)
    }

    /// The visitor's affinity for an entry, in [0, 1]: the stronger of its brand's and its
    /// category's (a category's ancestors count in proportion to the depth they cover).
    fn affinity_of(&self, e: &Entry, a: &Affinity) -> f32 {
        let brand = e
            .brand
            .and_then(|b| a.brands.get(&*self.labels[b as usize]))
            .copied()
            .unwrap_or(0.0);
        let category = e.category.map_or(0.0, |c| {
            let path = &*self.labels[c as usize];
            let depth = path.split(" > ").count();
            let mut best = 0.0f32;
            for (level, (end, _)) in path
                .match_indices(" > ")
                .chain(std::iter::once((path.len(), "")))
                .enumerate()
            {
                if let Some(w) = a.categories.get(&path[..end]) {
                    best = best.max(w * (level + 1) as f32 / depth as f32);
                }
            }
            best
        });
        brand.max(category).clamp(0.0, 1.0)
    }
}

/// The best entry under the keys below a node reached with `output`, or under a key of value
/// `output` (see [`Suggestions::walk`]).
fn best_entry(output: u64) -> u32 {
    (output >> 32) as u32
}

/// A step of a walk: a node reached with an output and the automaton's state there, or a
/// key's value. Ordered by that output (the least value below), keys first.
enum Step<S> {
    Key(u64),
    Node(u64, CompiledAddr, S),
}

impl<S> Step<S> {
    fn output(&self) -> u64 {
        match self {
            Step::Key(output) | Step::Node(output, ..) => *output,
        }
    }

    fn order(&self) -> (u64, bool) {
        (self.output(), matches!(self, Step::Node(..)))
    }
}

impl<S> PartialEq for Step<S> {
    fn eq(&self, other: &Self) -> bool {
        self.order() == other.order()
    }
}

impl<S> Eq for Step<S> {}

impl<S> PartialOrd for Step<S> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<S> Ord for Step<S> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.order().cmp(&other.order())
    }
}

/// An entry's place within its kind, lower first: count (boosted), then the entry's number.
type Place = (Reverse<OrdF64>, u32);

/// The place of entry `i` (`e`), its count multiplied by `factor`: a visitor's boost for
/// [`Pick::place`], the largest boost for the bound of [`Pick::closed`].
fn placed(e: &Entry, i: u32, factor: f32) -> Place {
    (Reverse(OrdF64(e.count as f64 * f64::from(factor))), i)
}

/// What an answer of `limit` takes of the best entries of each kind tier: each tier up to its
/// quota, then the slots left to the tiers with more, in tier order.
fn share(mut picked: [Vec<u32>; TIERS], limit: usize) -> [Vec<u32>; TIERS] {
    let taken = allotment(std::array::from_fn(|t| picked[t].len()), limit);
    for (picked, taken) in picked.iter_mut().zip(taken) {
        picked.truncate(taken);
    }
    picked
}

/// How many of `counts` entries of each tier an answer of `limit` takes ([`share`]).
fn allotment(counts: [usize; TIERS], limit: usize) -> [usize; TIERS] {
    let mut taken: [usize; TIERS] = std::array::from_fn(|t| counts[t].min(quotas(limit)[t]));
    let mut left = limit - taken.iter().sum::<usize>();
    for t in 0..TIERS {
        let more = (counts[t] - taken[t]).min(left);
        taken[t] += more;
        left -= more;
    }
    taken
}

/// The picks of every kind tier, each filled by a walk of its own keys.
struct Picks<'s> {
    tiers: [Pick<'s>; TIERS],
    /// The answer's size.
    limit: usize,
}

impl<'s> Picks<'s> {
    /// Picks of `limit` entries per tier, none of the `answered` ones.
    fn new(
        set: &'s Suggestions,
        limit: usize,
        affinity: Option<&'s Affinity>,
        boost: f32,
        answered: Option<&'s [Vec<u32>; TIERS]>,
    ) -> Self {
        Picks {
            tiers: std::array::from_fn(|t| Pick {
                answered: answered.map_or(&[], |a| &a[t]),
                ..Pick::new(set, limit, affinity, boost)
            }),
            limit,
        }
    }

    /// Fills each tier's pick with `walk`, tier by tier, each walk stopping at its tier's
    /// room (which the tiers walked before narrow); the entries each tier picked, best first.
    fn fill(mut self, mut walk: impl FnMut(usize, &mut Pick)) -> [Vec<u32>; TIERS] {
        for tier in 0..TIERS {
            self.tighten();
            walk(tier, &mut self.tiers[tier]);
        }
        self.tiers.map(Pick::finish)
    }

    /// Lowers each tier's room to the most the answer can still give it: what it would take
    /// were its own matches endless and the others' as many as picked so far. The others'
    /// picks only grow, so the room only shrinks; entries beyond it can never be answered.
    fn tighten(&mut self) {
        let picked: [usize; TIERS] = std::array::from_fn(|t| self.tiers[t].best.len());
        for t in 0..TIERS {
            let mut supply = picked;
            supply[t] = self.limit;
            let room = allotment(supply, self.limit)[t];
            self.tiers[t].shrink_to(room);
        }
    }
}

/// The best `limit` entries of one kind tier offered so far.
struct Pick<'s> {
    set: &'s Suggestions,
    limit: usize,
    affinity: Option<&'s Affinity>,
    boost: f32,
    /// The most a visitor's affinity multiplies a count by.
    most: f32,
    /// The places picked, the worst on top.
    best: BinaryHeap<Place>,
    /// Entries already in the answer, never picked again.
    answered: &'s [u32],
}

impl<'s> Pick<'s> {
    fn new(set: &'s Suggestions, limit: usize, affinity: Option<&'s Affinity>, boost: f32) -> Self {
        Pick {
            set,
            limit,
            affinity,
            boost,
            most: if affinity.is_some() {
                1.0 + boost.max(0.0)
            } else {
                1.0
            },
            best: BinaryHeap::with_capacity(limit + 1),
            answered: &[],
        }
    }

    fn place(&self, i: u32) -> Place {
        let e = &self.set.entries[i as usize];
        let factor = self
            .affinity
            .map_or(1.0, |a| 1.0 + self.boost * self.set.affinity_of(e, a));
        placed(e, i, factor)
    }

    fn is_full(&self) -> bool {
        self.best.len() >= self.limit
    }

    /// Keeps at most `room` entries, the best, and takes no more.
    fn shrink_to(&mut self, room: usize) {
        if room < self.limit {
            self.limit = room;
            while self.best.len() > room {
                self.best.pop();
            }
        }
    }

    /// Whether no entry of this pick's kind numbered `from` or later can be picked any more. Entries are stored best first: none of the kind after `from` has a
    /// higher count, and a boost multiplies a count by at most `most`.
    fn closed(&self, from: u32) -> bool {
        let Some(e) = self.set.entries.get(from as usize) else {
            return true;
        };
        let best_after = placed(e, from, self.most);
        self.limit == 0 || (self.is_full() && self.best.peek().is_some_and(|w| *w < best_after))
    }

    /// Offers entries of this pick's kind in ascending order (of their numbers), stopping
    /// where none left can be picked. An entry already picked keeps its place.
    fn offer_in_order(&mut self, entries: impl IntoIterator<Item = u32>) {
        for i in entries {
            if self.closed(i) {
                return;
            }
            self.offer(i);
        }
    }

    /// Takes entry `i` of this pick's kind if it beats the worst picked (or there is room),
    /// unless it was picked or answered already.
    fn offer(&mut self, i: u32) {
        if self.best.iter().any(|p| p.1 == i) || self.answered.contains(&i) {
            return;
        }
        let place = self.place(i);
        if !self.is_full() {
            self.best.push(place);
        } else if let Some(mut worst) = self.best.peek_mut()
            && place < *worst
        {
            *worst = place;
        }
    }

    /// The entries picked, best first.
    fn finish(self) -> Vec<u32> {
        let mut best = self.best.into_vec();
        best.sort_unstable();
        best.into_iter().map(|p| p.1).collect()
    }
}

/// Candidates under their keys, one per key, in static rank order (kind, count, key).
fn merged_in_rank_order(candidates: Vec<Candidate>) -> Vec<(String, Candidate)> {
    let mut normalizer = Normalizer::default();
    let mut merged: HashMap<String, Candidate> = HashMap::new();
    for c in candidates {
        let key = normalizer.key(&c.text);
        if key.is_empty() {
            continue;
        }
        match merged.get_mut(&key) {
            None => {
                merged.insert(key, c);
            }
            Some(kept) => merge_into(kept, c),
        }
    }
    let rank = |(key, c): &(String, Candidate)| (c.kind.tier(), Reverse(c.count), key.clone());
    let mut sorted: Vec<(String, Candidate)> = merged.into_iter().collect();
    sorted.sort_by_cached_key(rank);
    sorted
}

/// Folds a candidate into the kept one of the same normalised text.
fn merge_into(kept: &mut Candidate, c: Candidate) {
    if c.kind.tier() < kept.kind.tier() {
        *kept = c;
    } else if c.kind.tier() == kept.kind.tier() {
        let total = kept.count.saturating_add(c.count);
        if c.count > kept.count {
            *kept = c;
        }
        kept.count = total;
    }
}

/// Interned lowercased brand names and category paths.
#[derive(Default)]
struct Labels {
    ids: HashMap<String, u32>,
    names: Vec<Box<str>>,
}

impl Labels {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.into());
        self.ids.insert(name.to_string(), id);
        id
    }
}

/// A total order on scores (they are finite and non-negative).
#[derive(Debug, Clone, Copy, PartialEq)]
struct OrdF64(f64);

impl Eq for OrdF64 {}

impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrdF64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[cfg(test)]
mod tests;
