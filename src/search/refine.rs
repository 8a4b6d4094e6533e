//! Facets for multi-select filters (disjunctive faceting): a facet whose own filter is set is
//! counted as if that filter were not, so a shopper who ticked one brand still sees the other
//! brands with their counts and can tick a second (filters of one facet are OR-ed). Every
//! other filter, the words and the merchandising rules still apply. The price facet's lowest
//! and highest price, for a slider, likewise ignore the request's price bounds.
//!
//! Each such facet costs one more pass over its matches, counting only.

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
        let mut loose = req.clone();
        let mut tier_filter = reading.tier_filter.clone();
        let own_filter_set = match facet {
            FacetRequest::Brand => !std::mem::take(&mut loose.filters.brands).is_empty(),
            FacetRequest::Attribute(name) => {
                let before = loose.filters.attributes.len();
                let wanted = name.to_lowercase();
                (loose.filters.attributes).retain(|(n, _)| n.to_lowercase() != wanted);
                loose.filters.attributes.len() != before
            }
            FacetRequest::Tier => tier_filter.take().is_some(),
            FacetRequest::Price => {
                let set = loose.filters.price_min.is_some() || loose.filters.price_max.is_some();
                (loose.filters.price_min, loose.filters.price_max) = (None, None);
                set
            }
            // Category counts follow the filtered path down its levels already.
            FacetRequest::Category => false,
        };
        if !own_filter_set {
            continue;
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
    let Snapshot {
        index,
        searcher,
        tiers,
        applied,
    } = *snapshot;
    let fields = index.fields();
    let vocabulary = IndexVocabulary::new(searcher, index, budget, index.words(searcher)?);
    let plan = query::plan(req, fields, config, &vocabulary, reading);
    let query = merchandise::restrict(plan.query, applied.outcome, fields);
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
