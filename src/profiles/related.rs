//! Which products go together, learned from the events as the journal applies them: products
//! viewed in the same session ("also viewed") and bought in the same order ("bought
//! together"). No nightly job: each event updates the counts before it is acknowledged.
//!
//! Each relation keeps, per product, how many events named it and its co-occurrence counts
//! with other products, at most [`NEIGHBOURS`] of them: a full list forgets its weakest
//! neighbour for a new one, so memory is bounded by the catalog, not by traffic. A pair is
//! scored by the cosine of its counts, `c(a,b) / √(n(a) × n(b))`, so best-sellers do not top
//! every list, and needs [`MIN_SUPPORT`] co-occurrences.
//!
//! The counts are saved with the profile snapshot as they stood at its rotation (every entry
//! before it counted, none after), and recovery counts each replayed entry from there:
//! exactly once, whatever the profiles' snapshot already reflected. Its partners, though, are
//! read from the profile as recovered: an entry replayed over a profile that the snapshot
//! caught later may pair with products its visitor viewed after it in the session, or with
//! none when the visitor's profile was merged into another since; the pairs of the entries
//! written between a snapshot's rotation and a crash are approximate.

use std::sync::RwLock;

use rustc_hash::FxHashMap;

use serde::{Deserialize, Serialize};

use super::symbols::Sym;

/// Neighbours kept per product and relation.
pub const NEIGHBOURS: usize = 64;
/// Co-occurrences a pair needs to be recommended.
pub const MIN_SUPPORT: u32 = 2;
/// Earlier products of a session (or order) an event pairs with.
pub const PARTNERS: usize = 10;

/// The relations between products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Relation {
    /// Viewed in the same session.
    Viewed,
    /// Bought in the same order.
    Bought,
}

/// One relation's counts (Fx-hashed: every event looks up a dozen product symbols on the
/// journal's thread, and the keys are small integers no client chooses).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// Events per product.
    items: FxHashMap<Sym, u32>,
    /// Co-occurrences per product, at most [`NEIGHBOURS`] each.
    pairs: FxHashMap<Sym, Vec<(Sym, u32)>>,
}

impl Counts {
    fn add(&mut self, product: Sym, partners: &[Sym]) {
        *self.items.entry(product).or_default() += 1;
        for &partner in partners.iter().filter(|p| **p != product) {
            bump(self.pairs.entry(product).or_default(), partner);
            bump(self.pairs.entry(partner).or_default(), product);
        }
    }

    /// The neighbours of `product` with at least `min_support` co-occurrences, best first:
    /// (product, cosine, co-occurrences).
    fn neighbours(&self, product: Sym, min_support: u32) -> Vec<(Sym, f32, u32)> {
        let n = |p: Sym| self.items.get(&p).copied().unwrap_or(0).max(1) as f32;
        let mut found: Vec<(Sym, f32, u32)> = (self.pairs.get(&product).into_iter().flatten())
            .filter(|(_, c)| *c >= min_support)
            .map(|&(p, c)| (p, c as f32 / (n(product) * n(p)).sqrt(), c))
            .collect();
        found.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
        found
    }

    /// Removes a product from every list (it left the catalog).
    fn remove(&mut self, product: Sym) {
        self.items.remove(&product);
        if let Some(partners) = self.pairs.remove(&product) {
            for (partner, _) in partners {
                if let Some(list) = self.pairs.get_mut(&partner) {
                    list.retain(|(p, _)| *p != product);
                }
            }
        }
    }
}

/// One more co-occurrence with `partner`; a full list forgets its weakest neighbour (the
/// oldest of equals) for a new one.
fn bump(list: &mut Vec<(Sym, u32)>, partner: Sym) {
    if let Some(entry) = list.iter_mut().find(|(p, _)| *p == partner) {
        entry.1 += 1;
        return;
    }
    if list.len() >= NEIGHBOURS
        && let Some(weakest) = (0..list.len()).min_by_key(|&i| list[i].1)
    {
        list.remove(weakest);
    }
    list.push((partner, 1));
}

/// Both relations' counts and the trending scores, as saved in a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RelatedCounts {
    viewed: Counts,
    bought: Counts,
    #[serde(default)]
    trending: FxHashMap<Sym, Decayed>,
}

/// Half-life of a product's trending score: a day (yesterday's events count half).
pub const TRENDING_HALF_LIFE_SECS: f64 = 86_400.0;

/// A score decaying by half every [`TRENDING_HALF_LIFE_SECS`]: its value at `at` (seconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Decayed {
    value: f32,
    at: u32,
}

impl Decayed {
    fn decay(seconds: f64) -> f32 {
        (0.5f64).powf(seconds / TRENDING_HALF_LIFE_SECS) as f32
    }

    /// Adds `weight` at `at` (an event may come late: it adds what it is worth now).
    fn add(&mut self, weight: f32, at: u32) {
        if at >= self.at {
            self.value = self.value * Self::decay(f64::from(at - self.at)) + weight;
            self.at = at;
        } else {
            self.value += weight * Self::decay(f64::from(self.at - at));
        }
    }

    /// The value at `now`.
    fn at(&self, now: u32) -> f32 {
        self.value * Self::decay(f64::from(now.saturating_sub(self.at)))
    }
}

impl RelatedCounts {
    fn of(&self, relation: Relation) -> &Counts {
        match relation {
            Relation::Viewed => &self.viewed,
            Relation::Bought => &self.bought,
        }
    }

    fn of_mut(&mut self, relation: Relation) -> &mut Counts {
        match relation {
            Relation::Viewed => &mut self.viewed,
            Relation::Bought => &mut self.bought,
        }
    }
}

/// The related-products model: written by the journal's thread, read by recommendations.
#[derive(Debug, Default)]
pub struct Related {
    counts: RwLock<RelatedCounts>,
}

impl Related {
    /// Counts one event of `relation` on `product`, paired with the `partners` that came
    /// before it in the same session or order.
    pub fn add(&self, relation: Relation, product: Sym, partners: &[Sym]) {
        let mut counts = self.counts.write().unwrap_or_else(|p| p.into_inner());
        counts.of_mut(relation).add(product, partners);
    }

    /// The neighbours of a product in a relation, best first: (product, cosine,
    /// co-occurrences).
    pub fn neighbours(&self, relation: Relation, product: Sym) -> Vec<(Sym, f32, u32)> {
        let counts = self.counts.read().unwrap_or_else(|p| p.into_inner());
        counts.of(relation).neighbours(product, MIN_SUPPORT)
    }

    /// Events on a product in a relation (the `n` of the cosine).
    pub fn events(&self, relation: Relation, product: Sym) -> u32 {
        let counts = self.counts.read().unwrap_or_else(|p| p.into_inner());
        counts
            .of(relation)
            .items
            .get(&product)
            .copied()
            .unwrap_or(0)
    }

    /// A product's co-occurrence counts in a relation, whatever their support.
    pub fn pairs(&self, relation: Relation, product: Sym) -> Vec<(Sym, u32)> {
        let counts = self.counts.read().unwrap_or_else(|p| p.into_inner());
        counts
            .of(relation)
            .pairs
            .get(&product)
            .cloned()
            .unwrap_or_default()
    }

    /// Removes a product from every list.
    pub fn remove(&self, product: Sym) {
        let mut counts = self.counts.write().unwrap_or_else(|p| p.into_inner());
        counts.viewed.remove(product);
        counts.bought.remove(product);
        counts.trending.remove(&product);
    }

    /// Adds an event of `weight` at `at` (seconds) to a product's trending score.
    pub fn trend(&self, product: Sym, weight: f32, at: u32) {
        if weight <= 0.0 {
            return;
        }
        let mut counts = self.counts.write().unwrap_or_else(|p| p.into_inner());
        counts.trending.entry(product).or_default().add(weight, at);
    }

    /// The `top` products with the highest trending score at `now` (seconds), highest first.
    /// A linear selection, then a sort of those only: a catalog's every product can have a
    /// score.
    pub fn trending(&self, now: u32, top: usize) -> Vec<(Sym, f32)> {
        let counts = self.counts.read().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<(Sym, f32)> = (counts.trending.iter())
            .map(|(p, d)| (*p, d.at(now)))
            .filter(|(_, v)| *v > 0.0)
            .collect();
        drop(counts);
        let order = |a: &(Sym, f32), b: &(Sym, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if all.len() > top && top > 0 {
            all.select_nth_unstable_by(top - 1, order);
        }
        all.truncate(top);
        all.sort_by(order);
        all
    }

    /// A copy of the counts (for a snapshot).
    pub fn snapshot(&self) -> RelatedCounts {
        self.counts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Puts saved counts in place (recovery).
    pub fn restore(&self, saved: RelatedCounts) {
        *self.counts.write().unwrap_or_else(|p| p.into_inner()) = saved;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn co_occurrence_is_scored_by_cosine_so_a_best_seller_does_not_top_every_list() {
        let related = Related::default();
        // 1 and 2 go together twice; 1 and the best-seller 9 twice, but 9 is in 20 sessions.
        for _ in 0..2 {
            related.add(Relation::Viewed, 1, &[]);
            related.add(Relation::Viewed, 2, &[1]);
            related.add(Relation::Viewed, 9, &[1]);
        }
        for _ in 0..18 {
            related.add(Relation::Viewed, 9, &[]);
        }
        let found = related.neighbours(Relation::Viewed, 1);
        let ids: Vec<Sym> = found.iter().map(|n| n.0).collect();
        assert_eq!(ids, [2, 9]);
        assert_eq!(found[0].2, 2);
        // Symmetric, and the other relation knows nothing of it.
        assert_eq!(related.neighbours(Relation::Viewed, 2)[0].0, 1);
        assert!(related.neighbours(Relation::Bought, 1).is_empty());
    }

    #[test]
    fn a_trending_score_halves_every_day_and_late_events_count_what_they_are_worth() {
        let related = Related::default();
        let day = TRENDING_HALF_LIFE_SECS as u32;
        related.trend(1, 4.0, 10 * day);
        related.trend(2, 1.0, 11 * day);
        related.trend(2, 1.0, 11 * day);
        // On day 11, product 1's 4 is worth 2: a tie broken by id.
        assert_eq!(related.trending(11 * day, 10), [(1, 2.0), (2, 2.0)]);
        assert_eq!(related.trending(11 * day, 1), [(1, 2.0)]);
        // A late event on 2, from day 10, is worth half of it on day 11.
        related.trend(2, 1.0, 10 * day);
        assert_eq!(related.trending(12 * day, 10), [(2, 1.25), (1, 1.0)]);
        related.trend(3, 0.0, 12 * day);
        assert_eq!(
            related.trending(12 * day, 10).len(),
            2,
            "no weight, no trend"
        );
    }

    #[test]
    fn a_pair_seen_once_lacks_support() {
        let related = Related::default();
        related.add(Relation::Bought, 1, &[]);
        related.add(Relation::Bought, 2, &[1]);
        assert!(related.neighbours(Relation::Bought, 1).is_empty());
        related.add(Relation::Bought, 2, &[1]);
        assert_eq!(related.neighbours(Relation::Bought, 1).len(), 1);
    }

    #[test]
    fn a_full_list_forgets_its_weakest_neighbour() {
        let mut list = Vec::new();
        for p in 0..NEIGHBOURS as Sym {
            bump(&mut list, p);
        }
        bump(&mut list, 0);
        bump(&mut list, 1000);
        assert_eq!(list.len(), NEIGHBOURS);
        assert!(list.contains(&(0, 2)));
        assert!(list.contains(&(1000, 1)));
        assert!(
            !list.iter().any(|(p, _)| *p == 1),
            "the oldest of the weakest goes"
        );
    }

    #[test]
    fn a_removed_product_leaves_every_list() {
        let related = Related::default();
        for _ in 0..2 {
            related.add(Relation::Bought, 2, &[1, 3]);
        }
        related.remove(1);
        let left: Vec<Sym> = (related.neighbours(Relation::Bought, 3).iter())
            .map(|n| n.0)
            .collect();
        assert_eq!(left, [2]);
        assert!(related.neighbours(Relation::Bought, 1).is_empty());
    }
}
