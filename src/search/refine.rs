//! Facets for multi-select filters (disjunctive faceting): a facet whose own filter is set is
//! counted as if that filter were not, so a shopper who ticked one brand still sees the other
//! brands with their counts and can tick a second (filters of one facet are OR-ed). Every
//! other filter, the words and the merchandising rules still apply. The price facet's lowest
//! and highest price, for a slider, likewise ignore the request's price bounds.
//!
//! Each such facet costs one more pass over its matches, counting only.

use super::ranking::collect::{FacetFruits, collect_with_facets};
use super::*;

/// Counts again, each without its own filter, the requested facets whose filter the request
/// sets, and puts the counts in `counts`.
pub(super) fn refine(
    snapshot: &Snapshot,
    config: &SearchConfig,
    req: &SearchRequest,
    budget: typo::Budget,
    reading: &query::Reading,
    counts: &mut FacetFruits,
) -> Result<()> {
    for facet in &req.facets {
        let filters = &req.filters;
        let wanted = match facet {
            FacetRequest::Attribute(name) => name.to_lowercase(),
            _ => String::new(),
        };
        let own_attribute = |(n, _): &(String, Vec<String>)| n.to_lowercase() == wanted;
        let own_filter_set = match facet {
            FacetRequest::Brand => !filters.brands.is_empty(),
            FacetRequest::Attribute(_) => filters.attributes.iter().any(own_attribute),
            FacetRequest::Tier => reading.tier_filter.is_some(),
            FacetRequest::Price => filters.price_min.is_some() || filters.price_max.is_some(),
            // Category counts follow the filtered path down its levels already.
            FacetRequest::Category => false,
        };
        if !own_filter_set {
            continue;
        }
        // Only now the request is copied: most facets of most searches have no filter of
        // their own, and this runs for every faceted search.
        let mut loose = req.clone();
        let mut tier_filter = reading.tier_filter.clone();
        match facet {
            FacetRequest::Brand => loose.filters.brands.clear(),
            FacetRequest::Attribute(_) => loose.filters.attributes.retain(|a| !own_attribute(a)),
            FacetRequest::Tier => tier_filter = None,
            FacetRequest::Price => {
                (loose.filters.price_min, loose.filters.price_max) = (None, None)
            }
            FacetRequest::Category => {}
        }
        loose.facets = vec![facet.clone()];
        let loose_reading = query::Reading {
            lexicon: reading.lexicon,
            price_boost: reading.price_boost,
            tier_filter,
            terms: reading.terms.clone(),
        };
        let counted = count(snapshot, config, &loose, budget, &loose_reading)?;
        match facet {
            FacetRequest::Brand => counts.brand = counted.brand,
            FacetRequest::Attribute(name) => {
                if let Some(attrs) = counted.attrs {
                    counts.attr_overrides.push((name.clone(), attrs));
                }
            }
            FacetRequest::Tier => counts.tier = counted.tier,
            FacetRequest::Price => counts.price = counted.price,
            FacetRequest::Category => {}
        }
    }
    Ok(())
}

/// The facet counts of a request's matches, without ranking them.
fn count(
    snapshot: &Snapshot,
    config: &SearchConfig,
    req: &SearchRequest,
    budget: typo::Budget,
    reading: &query::Reading,
) -> Result<FacetFruits> {
    let (plan, _) = snapshot.plan(config, req, budget, reading)?;
    let Snapshot {
        index,
        searcher,
        tiers,
        applied,
    } = *snapshot;
    let query = merchandise::restrict(plan.query, applied.outcome, index.fields());
    let paths = index.facet_paths();
    let (_, counts) = collect_with_facets(
        searcher,
        query.as_ref(),
        None,
        req,
        config,
        paths,
        tiers.clone(),
    )?;
    Ok(counts)
}
