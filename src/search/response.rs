//! The answer to a search as the storefront receives it: hits, facet counts, how the query
//! was read and whether the order was personalized.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::facets::{PathCounts, PriceBucket};
use super::highlight;
use super::query::request::{FacetRequest, Filters, SearchRequest, Sort};
use super::query::{self, constraints, synonyms, understand};
use super::ranking::collect::FacetFruits;
use super::ranking::rank::Explain;
use crate::group::Group;
use crate::index::schema::StoredHit;
use crate::settings::TierSettings;

/// One search hit, as returned to the storefront. A request with `fields` gets only the fields
/// it names, and `id`.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Hit {
    /// Product id.
    pub id: String,
    /// Title.
    #[schema(required = false)]
    pub title: String,
    /// Brand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// Category path.
    #[schema(required = false)]
    pub category: Vec<String>,
    /// Price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    /// Price tier within its category (none without a price).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Image address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// Product page address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// ISO 4217 currency of the price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Whether it can be bought now (absent for products indexed before hits carried it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_stock: Option<bool>,
    /// Average rating.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<f64>,
    /// Number of reviews.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_count: Option<u64>,
    /// Attributes (sizes, colours…): name → values.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub attributes: std::collections::BTreeMap<String, Vec<String>>,
    /// The matched words marked in the title and a snippet of the description, when asked
    /// for (`highlight=true`).
    #[serde(rename = "_highlight", skip_serializing_if = "Option::is_none")]
    pub highlight: Option<highlight::Highlight>,
    /// Relevance score after every ranking stage.
    #[schema(required = false)]
    pub score: f64,
    /// How the score was made, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explain>,
}

/// How the engine read the request.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct QueryEcho {
    /// The words as sent.
    pub q: String,
    /// The language the words were read in (ISO 639-1).
    #[schema(value_type = String)]
    pub lang: crate::text::Lang,
    /// The analysed words matched and scored.
    pub terms: Vec<String>,
    /// Negated words ("without straw"), left out of matching and scoring.
    pub negated: Vec<String>,
    /// What was relaxed because the request found nothing (`price`, `typos`), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relaxed: Vec<&'static str>,
    /// Constraints read from the words (`under $50`), applied as filters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<constraints::PriceConstraint>,
    /// Price intent read from the words (`cheap`): a tier preference, not a filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_intent: Option<constraints::PriceIntent>,
    /// Brands, categories and attribute values read from the words, boosted or filtered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub understood: Vec<understand::Understood>,
    /// Synonyms that added alternatives.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub synonyms: Vec<synonyms::Expansion>,
    /// Words the index does not have, replaced by the closest word it has.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub corrections: Vec<query::Correction>,
    /// The query with its corrected words spelled as the catalog spells them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub did_you_mean: Option<String>,
    /// The last word completed as it is being typed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion: Option<query::Completion>,
    /// The filters in force.
    pub filters: FiltersEcho,
    /// The order.
    pub sort: Sort,
    /// Merchandising rules that fired, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// Personalization strength (0–100) set by a rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strength: Option<u8>,
}

/// The answer to a search.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SearchResponse {
    /// The requested page of hits.
    pub hits: Vec<Hit>,
    /// Matching products in all.
    pub total: u64,
    /// With `page`: the page, its size and how many pages the matches fill.
    #[serde(flatten)]
    pub paging: Paging,
    /// Facet counts, by requested facet name.
    pub facets: BTreeMap<String, Facet>,
    /// How the query was read.
    pub query: QueryEcho,
    /// Whether and how the order was personalized.
    pub personalization: PersonalizationEcho,
    /// Why a filtered search found nothing, when a filter names something no product has.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Where a merchandising rule sends the shopper instead (the hits are still there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
    /// Identifier of this search, for attributing later events to it.
    pub search_id: String,
    /// Time spent in the engine, in milliseconds.
    pub took_ms: f64,
}

impl SearchResponse {
    /// The answer as JSON, each hit with only `fields` (all without).
    pub fn to_json(&self, fields: Option<&[String]>) -> Value {
        let mut answer = serde_json::to_value(self).unwrap_or_default();
        if let (Some(fields), Some(hits)) = (fields, answer["hits"].as_array_mut()) {
            for hit in hits.iter_mut().filter_map(Value::as_object_mut) {
                hit.retain(|name, _| fields.iter().any(|f| f == name));
            }
        }
        answer
    }
}

/// Where a page sits among the matches, for a request made with `page` and `hits_per_page`
/// (none of it otherwise).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Paging {
    /// The page (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<usize>,
    /// Hits per page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hits_per_page: Option<usize>,
    /// Pages the matches fill (0 without matches).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_pages: Option<u64>,
}

impl Paging {
    /// The paging of `total` matches by `hits_per_page`, when a `page` was asked for.
    pub(super) fn of(page: Option<usize>, hits_per_page: usize, total: u64) -> Paging {
        let Some(page) = page else {
            return Paging::default();
        };
        let per = hits_per_page.max(1) as u64;
        Paging {
            page: Some(page),
            hits_per_page: Some(hits_per_page),
            total_pages: Some(total.div_ceil(per)),
        }
    }
}

/// What the answer says of personalization.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, utoipa::ToSchema)]
pub struct PersonalizationEcho {
    /// Whether the order was personalized.
    pub applied: bool,
    /// The visitor's group, when a visitor was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<Group>,
    /// The strength asked for (or the configured default).
    pub strength: u8,
}

/// The hit of a product read from the catalog rather than found by a search (a
/// recommendation from a profile's history): score 0, no explain.
pub fn hit_of(product: &crate::catalog::Product, tier: Option<String>) -> Hit {
    let mut hit = hydrate(crate::index::schema::StoredHit::of(product), 0.0, None);
    hit.tier = tier;
    hit
}

/// Builds a hit from the document's stored hit fields.
pub(super) fn hydrate(stored: StoredHit<'_>, score: f64, explain: Option<Explain>) -> Hit {
    Hit {
        id: stored.id.into_owned(),
        title: stored.title.into_owned(),
        brand: stored.brand.map(Cow::into_owned),
        category: stored.category,
        price: stored.price,
        tier: None,
        image_url: stored.image_url.map(Cow::into_owned),
        url: stored.url.map(Cow::into_owned),
        currency: stored.currency.map(Cow::into_owned),
        in_stock: stored.in_stock,
        rating: stored.rating,
        review_count: stored.review_count,
        attributes: stored.attributes,
        highlight: None,
        score,
        explain,
    }
}

/// The counts of one requested facet.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Facet {
    /// Categories: the top level, then the children of each level of the filtered path.
    Levels(Vec<CategoryCount>),
    /// Values and their counts: brands, an attribute's values, tiers.
    Values(Vec<ValueCount>),
    /// The matches' prices in ranges.
    Prices(Vec<PriceBucket>),
    /// The lowest and highest price among the matches (for a slider; fields in name order,
    /// as the answer has always listed them).
    PriceStats {
        /// Highest price.
        max: f64,
        /// Lowest price.
        min: f64,
    },
}

/// A category of a facet, with its full path and depth. (Fields in name order, as the
/// answer has always listed them.)
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct CategoryCount {
    /// Matching products in the category.
    pub count: u64,
    /// Depth: 1 for a top-level category.
    pub level: usize,
    /// The path from the root, as the catalog writes it.
    pub path: Vec<String>,
    /// The category's own name (the path's last part).
    pub value: String,
}

/// A facet value and how many matching products have it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ValueCount {
    /// Matching products.
    pub count: u64,
    /// The value as the catalog writes it.
    pub value: String,
}

/// The filters in force, as the answer echoes them. (Fields in name order, as the answer has
/// always listed them: `attr.<name>` keys come first.)
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct FiltersEcho {
    /// `attr.<name>` → the values asked for.
    #[serde(flatten)]
    pub attributes: BTreeMap<String, Vec<String>>,
    /// Brands.
    #[serde(rename = "brand", skip_serializing_if = "Vec::is_empty")]
    pub brands: Vec<String>,
    /// Category path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub category: Vec<String>,
    /// Only products in stock (or out of stock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_stock: Option<bool>,
    /// Highest price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_max: Option<f64>,
    /// Lowest price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_min: Option<f64>,
    /// Price tiers.
    #[serde(rename = "tier", skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<String>,
}

impl FiltersEcho {
    pub(super) fn of(f: &Filters) -> FiltersEcho {
        FiltersEcho {
            attributes: (f.attributes.iter())
                .map(|(name, values)| (format!("attr.{name}"), values.clone()))
                .collect(),
            brands: f.brands.clone(),
            category: f.category.clone(),
            in_stock: f.in_stock,
            price_max: f.price_max,
            price_min: f.price_min,
            tiers: f.tiers.clone(),
        }
    }
}

/// The facets stage: the counts of each requested facet, shaped for the answer (the price
/// facet adds `price_stats` when some match has a price).
pub(super) fn facets(
    counts: FacetFruits,
    req: &SearchRequest,
    limit: usize,
    tiers: &TierSettings,
) -> BTreeMap<String, Facet> {
    let FacetFruits {
        category,
        brand,
        attrs,
        price,
        tier,
        attr_overrides,
    } = counts;
    let mut facets = BTreeMap::new();
    for facet in &req.facets {
        let (name, value) = match facet {
            FacetRequest::Category => (
                "category".to_string(),
                category_levels(category.as_ref(), &req.filters.category, limit),
            ),
            FacetRequest::Brand => ("brand".to_string(), children(brand.as_ref(), &[], limit)),
            FacetRequest::Price => {
                let price = price.clone().unwrap_or_default();
                if let Some((min, max)) = price.range {
                    facets.insert("price_stats".into(), Facet::PriceStats { min, max });
                }
                ("price".to_string(), Facet::Prices(price.buckets))
            }
            FacetRequest::Attribute(name) => {
                let own = attr_overrides.iter().find(|(n, _)| n == name);
                let counts = own.map(|(_, c)| c).or(attrs.as_ref());
                let values = attribute_values(counts, name, limit);
                (format!("attr.{name}"), values)
            }
            FacetRequest::Tier => ("tier".to_string(), tier_counts(tier.as_deref(), tiers)),
        };
        facets.insert(name, value);
    }
    facets
}

/// Category counts: the top level, then the children of each level of the filtered path.
pub(super) fn category_levels(
    counts: Option<&PathCounts>,
    filter: &[String],
    limit: usize,
) -> Facet {
    let Some(counts) = counts else {
        return Facet::Levels(Vec::new());
    };
    let mut out = Vec::new();
    let mut parent: Vec<String> = Vec::new();
    for depth in 0..=filter.len() {
        out.extend(level_entries(counts, &parent, limit));
        let Some(wanted) = filter.get(depth) else {
            break;
        };
        // Follow the filter down in the merchant's spelling (the filter is case-insensitive).
        let next = counts.iter().map(|(p, _)| p).find(|p| {
            p.len() == depth + 1
                && p[..depth] == parent[..]
                && p[depth].to_lowercase() == wanted.to_lowercase()
        });
        match next {
            Some(p) => parent = p.to_vec(),
            None => break,
        }
    }
    Facet::Levels(out)
}

pub(super) fn level_entries(
    counts: &PathCounts,
    parent: &[String],
    limit: usize,
) -> Vec<CategoryCount> {
    let mut level: Vec<(&[String], u64)> = counts
        .iter()
        .filter(|(p, _)| p.len() == parent.len() + 1 && p[..parent.len()] == *parent)
        .map(|(p, n)| (&p[..], *n))
        .collect();
    // Most frequent first, ties by path: only the first `limit` need sorting (a broad match
    // meets thousands of brands).
    let order = |a: &(&[String], u64), b: &(&[String], u64)| b.1.cmp(&a.1).then(a.0.cmp(b.0));
    if level.len() > limit {
        if let Some(last) = limit.checked_sub(1) {
            level.select_nth_unstable_by(last, order);
        }
        level.truncate(limit);
    }
    level.sort_unstable_by(order);
    (level.into_iter().take(limit))
        .map(|(p, n)| CategoryCount {
            count: n,
            level: p.len(),
            path: p.to_vec(),
            value: p[p.len() - 1].clone(),
        })
        .collect()
}

/// Counts of the children of `parent`, most frequent first.
pub(super) fn children(counts: Option<&PathCounts>, parent: &[String], limit: usize) -> Facet {
    let entries = counts.map(|counts| {
        (level_entries(counts, parent, limit).into_iter())
            .map(|e| ValueCount {
                count: e.count,
                value: e.value,
            })
            .collect()
    });
    Facet::Values(entries.unwrap_or_default())
}

/// Counts of one attribute's values; the name matches case-insensitively, like the filter.
pub(super) fn attribute_values(counts: Option<&PathCounts>, name: &str, limit: usize) -> Facet {
    let wanted = name.to_lowercase();
    let stored = counts.and_then(|c| {
        c.iter()
            .map(|(p, _)| p)
            .find(|p| p.len() == 1 && p[0].to_lowercase() == wanted)
            .cloned()
    });
    match stored {
        Some(parent) => children(counts, &parent, limit),
        None => Facet::Values(Vec::new()),
    }
}

/// Tier counts, cheapest first, tiers with no match left out.
pub(super) fn tier_counts(counts: Option<&[u64]>, settings: &TierSettings) -> Facet {
    let entries = (counts.unwrap_or_default().iter().enumerate())
        .filter(|(_, n)| **n > 0)
        .filter_map(|(t, &count)| {
            let value = settings.name(t as u8)?.to_string();
            Some(ValueCount { count, value })
        })
        .collect();
    Facet::Values(entries)
}
