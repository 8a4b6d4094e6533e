//! Why a filtered search found nothing, when a filter names something the catalog does not
//! have: a mistyped attribute (`attr.colour`), a category not written from the root
//! (`category=Shoes` for "Clothing > Shoes"), an unknown brand. Without them a storefront
//! developer sees 0 hits and no reason. Worked out only for answers without hits, from the
//! snapshot's facet dictionaries.

use std::collections::BTreeSet;

use super::facets::FacetPaths;
use super::query::request::Filters;

/// Names listed at most in a warning.
const MAX_LISTED: usize = 8;

/// The warnings about `filters` that no product of the snapshot can satisfy.
pub fn of(
    searcher: &tantivy::Searcher,
    paths: &FacetPaths,
    filters: &Filters,
) -> tantivy::Result<Vec<String>> {
    let mut warnings = Vec::new();
    if filters.attributes.is_empty() && filters.category.is_empty() && filters.brands.is_empty() {
        return Ok(warnings);
    }
    let lower = |s: &str| s.to_lowercase();
    let mut attributes = BTreeSet::new();
    let mut brands = BTreeSet::new();
    // Each path as written and lowercased.
    let mut categories: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for segment in searcher.segment_readers() {
        for path in paths.of(segment, "attr")?.iter() {
            if let Some(name) = path.first() {
                attributes.insert(lower(name));
            }
        }
        for path in paths.of(segment, "brand")?.iter() {
            if let Some(brand) = path.first() {
                brands.insert(lower(brand));
            }
        }
        if !filters.category.is_empty() {
            for path in paths.of(segment, "category")?.iter() {
                categories.push((path.to_vec(), path.iter().map(|l| lower(l)).collect()));
            }
        }
    }
    for (name, _) in &filters.attributes {
        if !attributes.contains(&lower(name)) {
            let known: Vec<&str> = attributes
                .iter()
                .take(MAX_LISTED)
                .map(String::as_str)
                .collect();
            warnings.push(format!(
                "attr.{name}: no product has this attribute (attributes: {})",
                known.join(", ")
            ));
        }
    }
    for brand in &filters.brands {
        if !brands.contains(&lower(brand)) {
            warnings.push(format!("brand: no product has the brand {brand:?}"));
        }
    }
    if !filters.category.is_empty() {
        let wanted: Vec<String> = filters.category.iter().map(|l| lower(l)).collect();
        let from_root = categories.iter().any(|(_, p)| p.starts_with(&wanted));
        if !from_root {
            let deeper = categories.iter().find_map(|(written, p)| {
                (1..p.len())
                    .find(|&at| p[at..].starts_with(&wanted))
                    .map(|at| written[..at + wanted.len()].join(" > "))
            });
            warnings.push(match deeper {
                Some(full) => format!(
                    "category: no path starts with {:?}; paths are written from the root, such as {full:?}",
                    filters.category.join(" > ")
                ),
                None => format!(
                    "category: no product is in {:?}",
                    filters.category.join(" > ")
                ),
            });
        }
    }
    Ok(warnings)
}
