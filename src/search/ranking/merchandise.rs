//! Merchandising rules in the ranking chain: text relevance → personalization → rules → pins.
//!
//! A rule's outcome ([`crate::rules::Outcome`]) reaches a search three ways:
//! - filters and hides become clauses of the tantivy query ([`restrict`]), so they narrow the
//!   matches, the total and the facets like any filter;
//! - boosts and buries become a ranking stage: each expression is compiled to a tantivy
//!   weight once per search, its matching documents are read per segment into a bit set
//!   ([`super::rank::RuleBoosts`]) and the score of a matching document is multiplied by the
//!   factor inside the collector;
//! - pins are placed after ranking ([`place`]), at absolute 1-based positions across pages.

use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, ConstScoreQuery, EnableScoring, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, Searcher, Term};

use super::rank::{RankKey, RuleBoost, RuleBoosts};
use crate::error::Result;
use crate::index::Fields;
use crate::rules::{FiredPin, Outcome};
use crate::search::query::filter_queries;
use crate::search::query::request::Filters;

/// Adds the rules' filters (required, unscored) and hidden ids (excluded) to a query.
pub fn restrict(query: Box<dyn Query>, outcome: &Outcome, fields: &Fields) -> Box<dyn Query> {
    if !outcome.restricts() {
        return query;
    }
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, query)];
    for (_, expr) in &outcome.filters {
        let filter = Box::new(ConstScoreQuery::new(expr.query(fields), 0.0));
        clauses.push((Occur::Must, filter));
    }
    for id in &outcome.hidden {
        clauses.push((Occur::MustNot, id_query(fields, id)));
    }
    Box::new(BooleanQuery::new(clauses))
}

fn id_query(fields: &Fields, id: &str) -> Box<dyn Query> {
    let term = Term::from_field_text(fields.id, id);
    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
}

/// Compiles the outcome's boosts and buries against a snapshot.
pub fn boosts(outcome: &Outcome, searcher: &Searcher, fields: &Fields) -> Result<RuleBoosts> {
    let mut out = Vec::with_capacity(outcome.boosts.len());
    for boost in &outcome.boosts {
        let weight = boost
            .expr
            .query(fields)
            .weight(EnableScoring::disabled_from_searcher(searcher))?;
        out.push(RuleBoost {
            stage: "rule",
            rule: boost.rule.clone(),
            factor: boost.factor,
            weight: weight.into(),
        });
    }
    Ok(RuleBoosts::new(out))
}

/// A pinned product found in the snapshot.
#[derive(Debug, Clone)]
pub struct FoundPin {
    /// The pin.
    pub pin: FiredPin,
    /// Where the product is.
    pub address: DocAddress,
    /// Whether the product also matches the request (otherwise it adds one to the total).
    pub matches: bool,
}

/// Looks up each pinned product by id; products missing from the index or failing the
/// request's and the rules' filters are skipped (a pin never overrides a filter).
pub fn find_pins(
    searcher: &Searcher,
    fields: &Fields,
    outcome: &Outcome,
    filters: &Filters,
    query: &dyn Query,
) -> Result<Vec<FoundPin>> {
    let mut found = Vec::new();
    for pin in &outcome.pins {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Must, id_query(fields, &pin.id))];
        clauses.extend(
            filter_queries(filters, fields)
                .into_iter()
                .map(|q| (Occur::Must, q)),
        );
        clauses.extend(
            outcome
                .filters
                .iter()
                .map(|(_, e)| (Occur::Must, e.query(fields))),
        );
        let eligible = BooleanQuery::new(clauses);
        let top = TopDocs::with_limit(1).order_by_score();
        let Some((_, address)) = searcher.search(&eligible, &top)?.into_iter().next() else {
            continue;
        };
        let matching = BooleanQuery::new(vec![
            (Occur::Must, id_query(fields, &pin.id)),
            (Occur::Must, query.box_clone()),
        ]);
        found.push(FoundPin {
            pin: pin.clone(),
            address,
            matches: searcher.search(&matching, &Count)? > 0,
        });
    }
    Ok(found)
}

/// One entry of a page once pins are placed.
#[derive(Debug, Clone)]
pub struct Placed {
    /// The document.
    pub address: DocAddress,
    /// Its ranking key when it was among the ranked hits.
    pub key: Option<RankKey>,
    /// The pin that placed it, if any.
    pub pin: Option<FiredPin>,
}

/// Merges ranked hits (from the first rank on) with pins and returns the page
/// `offset..offset + limit`. A pinned product takes its position and leaves its ranked
/// place; a pin beyond the end of the ranked hits comes right after them.
pub fn place(
    ranked: Vec<(RankKey, DocAddress)>,
    pins: Vec<FoundPin>,
    offset: usize,
    limit: usize,
) -> Vec<Placed> {
    let keys: std::collections::HashMap<DocAddress, RankKey> =
        ranked.iter().map(|(k, a)| (*a, *k)).collect();
    let pinned: std::collections::HashSet<DocAddress> = pins.iter().map(|p| p.address).collect();
    let mut organic = ranked.into_iter().filter(|(_, a)| !pinned.contains(a));
    let mut pins = pins.into_iter().peekable();
    let as_pin = |p: FoundPin| Placed {
        address: p.address,
        key: keys.get(&p.address).copied(),
        pin: Some(p.pin),
    };
    let mut out = Vec::new();
    while out.len() < offset + limit {
        let position = out.len() + 1;
        if let Some(p) = pins.next_if(|p| p.pin.position == position) {
            out.push(as_pin(p));
        } else if let Some((key, address)) = organic.next() {
            out.push(Placed {
                address,
                key: Some(key),
                pin: None,
            });
        } else if let Some(p) = pins.next() {
            out.push(as_pin(p));
        } else {
            break;
        }
    }
    out.into_iter().skip(offset).collect()
}

/// The rules' part of one search: the outcome and its compiled boosts.
pub struct Applied<'a> {
    /// What fired.
    pub outcome: &'a Outcome,
    /// Boosts compiled for the snapshot.
    pub boosts: RuleBoosts,
}

impl<'a> Applied<'a> {
    /// Compiles an outcome against a snapshot.
    pub fn new(outcome: &'a Outcome, searcher: &Searcher, fields: &Fields) -> Result<Self> {
        Ok(Applied {
            outcome,
            boosts: boosts(outcome, searcher, fields)?,
        })
    }

    /// The page of hits: the ranked hits as they are without pins (they are the page
    /// already), else the ranked hits from the first rank merged with the pins.
    pub fn page(
        &self,
        ranked: Vec<(RankKey, DocAddress)>,
        pins: Vec<FoundPin>,
        offset: usize,
        limit: usize,
    ) -> Vec<Placed> {
        if self.outcome.pins.is_empty() {
            return ranked
                .into_iter()
                .map(|(key, address)| Placed {
                    address,
                    key: Some(key),
                    pin: None,
                })
                .collect();
        }
        place(ranked, pins, offset, limit)
    }

    /// How many ranked hits to collect for a page: from the first rank, with room for the
    /// pinned products that leave their ranked place.
    pub fn window(&self, offset: usize, limit: usize) -> (usize, usize) {
        match self.outcome.pins.len() {
            0 => (offset, limit),
            pins => (0, offset + limit + pins),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn key(score: f64) -> RankKey {
        RankKey {
            primary: score,
            secondary: score,
            tiebreak: 0,
            text: 0.0,
        }
    }

    fn doc(n: u32) -> DocAddress {
        DocAddress::new(0, n)
    }

    fn pin(n: u32, position: usize) -> FoundPin {
        FoundPin {
            pin: FiredPin {
                id: format!("p{n}"),
                position,
                rule: Arc::from("r"),
            },
            address: doc(n),
            matches: true,
        }
    }

    fn docs(placed: &[Placed]) -> Vec<u32> {
        placed.iter().map(|p| p.address.doc_id).collect()
    }

    fn ranked(n: u32) -> Vec<(RankKey, DocAddress)> {
        (0..n).map(|i| (key(f64::from(100 - i)), doc(i))).collect()
    }

    #[test]
    fn a_pin_takes_its_position_and_leaves_its_ranked_place() {
        let page = place(ranked(5), vec![pin(3, 1)], 0, 5);
        assert_eq!(docs(&page), [3, 0, 1, 2, 4]);
        assert!(page[0].pin.is_some() && page[0].key.is_some());
    }

    #[test]
    fn positions_are_absolute_across_pages() {
        let pins = || vec![pin(9, 2), pin(8, 4)];
        assert_eq!(docs(&place(ranked(6), pins(), 0, 3)), [0, 9, 1]);
        assert_eq!(docs(&place(ranked(6), pins(), 3, 3)), [8, 2, 3]);
    }

    #[test]
    fn a_pin_past_the_last_hit_comes_right_after_it() {
        let page = place(ranked(2), vec![pin(7, 10)], 0, 10);
        assert_eq!(docs(&page), [0, 1, 7]);
        assert!(page[2].key.is_none());
    }
}
