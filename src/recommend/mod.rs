//! Recommendations: what a product page, a cart or a visitor's pages show besides search
//! results, in the same hit shape.
//!
//! Built so far:
//! - `similar`: content-based alternatives to a product: its own title searched within its
//!   category, in stock only, widening to the parent categories (then the whole catalog)
//!   until the list is full. Being searches, they apply the merchandising rules (hidden
//!   products stay hidden), the visitor's re-ranking and the control group, and explain each
//!   item's score as search does.
//! - `recently_viewed`: the visitor's profile, newest first, in stock only, without the
//!   product being looked at.
//! - `also_viewed` and `bought_together`: the product's neighbours in the related-products
//!   counts the journal keeps ([`crate::profiles::related`]): viewed in the same session,
//!   bought in the same order, scored by cosine; a product nobody has paired yet gets its
//!   `similar` items instead.
//! - `for_you`: the visitor's next purchase: the neighbours (also viewed, bought together)
//!   of what they bought, carted and viewed, newest counting most ([`seeds`], [`blend`]),
//!   then what is trending; without what they bought, carted or viewed, at most a third of
//!   the list from one category; a visitor with no such neighbours gets what is trending (in
//!   `category`).
//! - `post_purchase`: the bought-together neighbours of the products bought, without those in
//!   the same category as one of them (alternatives to a purchase are not what its buyer
//!   needs next); what is trending outside those categories when they have none.
//! - `trending`: the products with the highest time-decayed sum of event weights (views,
//!   carts, purchases; half-life a day), overall or within `category`; a store without events
//!   yet gets its category page's first products.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::profiles::related::Relation;
use crate::search::query::request::category_path;
use crate::search::{Hit, PersonalizationEcho};

/// Most items one request returns.
pub const MAX_LIMIT: usize = 100;
/// Most products one request names (`product_ids`).
pub const MAX_PRODUCT_IDS: usize = 100;
/// Items returned without `limit`.
pub const DEFAULT_LIMIT: usize = 10;
/// Title words searched for `similar` (a title is a product's name, its first words the most
/// telling; more words only widen the matches).
pub const TITLE_WORDS: usize = 16;

/// Trending products examined for one request (in stock, in the category): beyond them the
/// category page stands in.
pub const TRENDING_CANDIDATES: usize = 1000;

/// The parameters a request reads.
pub const PARAMETERS: &[&str] = &[
    "type",
    "product_id",
    "product_ids",
    "visitor_id",
    "category",
    "limit",
    "explain",
];

/// A kind of recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = RecommendationKind)]
pub enum Kind {
    /// Alternatives to `product_id`: the same kind of product, by its title and category.
    Similar,
    /// What the visitor viewed, newest first.
    RecentlyViewed,
    /// What shoppers who viewed `product_id` viewed in the same session.
    AlsoViewed,
    /// What shoppers who bought `product_id` bought with it.
    BoughtTogether,
    /// What shoppers view, put in carts and buy most lately, overall or in `category`.
    Trending,
    /// The visitor's next purchase: neighbours of what they bought, carted and viewed.
    ForYou,
    /// Complements of what was just bought (`product_ids`): bought with them, not
    /// alternatives to them, for an order confirmation.
    PostPurchase,
}

impl Kind {
    const NAMES: &[(&str, Kind)] = &[
        ("similar", Kind::Similar),
        ("recently_viewed", Kind::RecentlyViewed),
        ("also_viewed", Kind::AlsoViewed),
        ("bought_together", Kind::BoughtTogether),
        ("trending", Kind::Trending),
        ("for_you", Kind::ForYou),
        ("post_purchase", Kind::PostPurchase),
    ];

    /// The type's name in requests (and in rules' `when.placement`).
    pub fn name(self) -> &'static str {
        (Kind::NAMES.iter())
            .find(|(_, k)| *k == self)
            .map_or("", |(n, _)| n)
    }

    fn parse(name: &str) -> Result<Kind> {
        let found = Self::NAMES.iter().find(|(n, _)| *n == name.trim());
        found.map(|(_, kind)| *kind).ok_or_else(|| {
            let names: Vec<&str> = Self::NAMES.iter().map(|(n, _)| *n).collect();
            Error::invalid("type", format!("must be one of {}", names.join(", ")))
        })
    }
}

/// A validated recommendation request.
#[derive(Debug, Clone, PartialEq)]
pub struct RecommendRequest {
    /// What to recommend.
    pub kind: Kind,
    /// The product the recommendations are for (required by `similar`).
    pub product_id: Option<String>,
    /// Several products (a cart, an order) for `also_viewed`, `bought_together` and
    /// `post_purchase`.
    pub product_ids: Vec<String>,
    /// The visitor they are for (required by `recently_viewed`).
    pub visitor_id: Option<String>,
    /// A category path the items must be in (`trending`; empty: anywhere).
    pub category: Vec<String>,
    /// Items to return.
    pub limit: usize,
    /// Whether each item explains its score.
    pub explain: bool,
}

impl RecommendRequest {
    /// Reads a request from query-string pairs; an unknown, invalid or missing parameter is
    /// an error naming it (a 422).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<RecommendRequest> {
        let mut kind = None;
        let mut product_id = None;
        let mut product_ids: Vec<String> = Vec::new();
        let mut visitor_id = None;
        let mut category = Vec::new();
        let mut limit = DEFAULT_LIMIT;
        let mut explain = false;
        for (name, value) in pairs {
            let text = || Some(value.trim().to_string()).filter(|v| !v.is_empty());
            match name.as_str() {
                "type" => kind = Some(Kind::parse(&value)?),
                "product_id" => product_id = text(),
                "product_ids" => {
                    let ids = value.split(',').map(str::trim).filter(|id| !id.is_empty());
                    product_ids.extend(ids.map(str::to_string));
                    if product_ids.len() > MAX_PRODUCT_IDS {
                        let message = format!("at most {MAX_PRODUCT_IDS} products");
                        return Err(Error::invalid("product_ids", message));
                    }
                }
                "visitor_id" => visitor_id = text(),
                "category" => category = category_path(&value),
                "limit" => {
                    limit = (value.trim().parse::<usize>().ok())
                        .filter(|l| *l <= MAX_LIMIT)
                        .ok_or_else(|| {
                            Error::invalid("limit", format!("must be between 0 and {MAX_LIMIT}"))
                        })?;
                }
                "explain" => {
                    explain = value
                        .trim()
                        .parse()
                        .map_err(|_| Error::invalid("explain", "must be true or false"))?;
                }
                _ => return Err(Error::invalid(name, "unknown parameter")),
            }
        }
        let kind = kind.ok_or_else(|| Error::invalid("type", "is required"))?;
        match kind {
            Kind::Similar if product_id.is_none() => {
                return Err(Error::invalid("product_id", "is required by type=similar"));
            }
            Kind::AlsoViewed | Kind::BoughtTogether | Kind::PostPurchase
                if product_id.is_none() && product_ids.is_empty() =>
            {
                let name = kind.name();
                let message = format!("product_id or product_ids is required by type={name}");
                return Err(Error::invalid("product_ids", message));
            }
            Kind::RecentlyViewed | Kind::ForYou if visitor_id.is_none() => {
                let name = kind.name();
                return Err(Error::invalid(
                    "visitor_id",
                    format!("is required by type={name}"),
                ));
            }
            _ => {}
        }
        Ok(RecommendRequest {
            kind,
            product_id,
            product_ids,
            visitor_id,
            category,
            limit,
            explain,
        })
    }

    /// Reads a request from a JSON body: the query string's parameters as fields,
    /// `product_ids` a list.
    pub fn from_json(body: serde_json::Value) -> Result<RecommendRequest> {
        let serde_json::Value::Object(fields) = body else {
            return Err(Error::Malformed("the body must be a JSON object".into()));
        };
        let mut pairs = Vec::new();
        for (name, value) in fields {
            let text = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Array(items) if name == "product_ids" => {
                    let ids: Option<Vec<&str>> = items.iter().map(|i| i.as_str()).collect();
                    ids.ok_or_else(|| Error::invalid("product_ids", "must be a list of ids"))?
                        .join(",")
                }
                serde_json::Value::Number(_) | serde_json::Value::Bool(_) => value.to_string(),
                _ => return Err(Error::invalid(name, "must be a string, number or boolean")),
            };
            pairs.push((name, text));
        }
        RecommendRequest::from_pairs(pairs)
    }

    /// The products asked about: `product_id`, then `product_ids`, each once.
    pub fn products(&self) -> Vec<&str> {
        let mut seen = std::collections::HashSet::new();
        (self.product_id.iter().chain(&self.product_ids))
            .map(String::as_str)
            .filter(|id| seen.insert(*id))
            .collect()
    }
}

/// Recommended items.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Recommendations {
    /// What was recommended.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// The items, best first, in the hit shape of search (`score` is the search score for
    /// `similar`; the cosine of the co-occurrence counts, added over the products asked about,
    /// for `also_viewed`, `bought_together` and `post_purchase`; the weighted cosines for
    /// `for_you`, 0 for what trends after them; the decayed event weights for `trending`; 0
    /// for `recently_viewed`, which is in recency order).
    pub items: Vec<Hit>,
    /// Whether the visitor's profile re-ranked the items.
    pub personalization: PersonalizationEcho,
}

/// How much each list of a profile counts as a seed of `for_you`, and how fast an older item
/// of a list fades (its `i`-th newest counts `FADE^i`).
pub const SEED_WEIGHTS: [(Relation, f32); 3] = [
    (Relation::Bought, 1.0),
    (Relation::Bought, 0.8),
    (Relation::Viewed, 0.5),
];
/// See [`SEED_WEIGHTS`].
pub const FADE: f32 = 0.85;
/// Items of a profile's lists used as seeds.
pub const SEEDS_PER_LIST: usize = 10;

/// The seeds of `for_you` from a profile's lists, newest first each: bought, cart, viewed.
/// Each seed: the product, the relation whose neighbours it brings, and its weight.
pub fn seeds(lists: [&[String]; 3]) -> Vec<(&str, Relation, f32)> {
    let mut seeds = Vec::new();
    for (list, (relation, weight)) in lists.iter().zip(SEED_WEIGHTS) {
        let mut w = weight;
        for id in list.iter().take(SEEDS_PER_LIST) {
            seeds.push((id.as_str(), relation, w));
            w *= FADE;
        }
    }
    seeds
}

/// Candidates from the seeds' neighbours: each scores the sum of its seeds' weight times its
/// cosine with them; best first, without the `excluded`.
pub fn blend(
    neighbours: impl IntoIterator<Item = (f32, Vec<(String, f32)>)>,
    excluded: &std::collections::HashSet<String>,
) -> Vec<(String, f32)> {
    let mut scores: std::collections::HashMap<String, f32> = Default::default();
    for (weight, list) in neighbours {
        for (id, cosine) in list {
            if !excluded.contains(&id) {
                *scores.entry(id).or_default() += weight * cosine;
            }
        }
    }
    let mut ranked: Vec<(String, f32)> = scores.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
}

/// The words of a title searched for products similar to it.
pub fn title_query(title: &str) -> String {
    let words: Vec<&str> = title.split_whitespace().take(TITLE_WORDS).collect();
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        (list.iter())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_request_names_its_type_and_what_the_type_needs() {
        let similar =
            RecommendRequest::from_pairs(pairs(&[("type", "similar"), ("product_id", "p1")]))
                .unwrap();
        assert_eq!(similar.kind, Kind::Similar);
        assert_eq!(similar.limit, DEFAULT_LIMIT);
        let error = |list: &[(&str, &str)]| match RecommendRequest::from_pairs(pairs(list)) {
            Err(Error::InvalidField { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(error(&[("product_id", "p1")]), "type");
        assert_eq!(error(&[("type", "trendy")]), "type");
        assert_eq!(error(&[("type", "similar")]), "product_id");
        assert_eq!(error(&[("type", "recently_viewed")]), "visitor_id");
        assert_eq!(
            error(&[("type", "similar"), ("product_id", "p"), ("limit", "101")]),
            "limit"
        );
        assert_eq!(
            error(&[("type", "similar"), ("product_id", "p"), ("colour", "red")]),
            "colour"
        );
    }

    #[test]
    fn for_you_blends_the_seeds_neighbours_newest_first_without_the_excluded() {
        let bought = ["b1".to_string(), "b2".to_string()];
        let viewed = ["v1".to_string()];
        let seeds = seeds([&bought, &[], &viewed]);
        assert_eq!(
            seeds,
            [
                ("b1", Relation::Bought, 1.0),
                ("b2", Relation::Bought, FADE),
                ("v1", Relation::Viewed, 0.5)
            ]
        );
        let list = |items: &[(&str, f32)]| -> Vec<(String, f32)> {
            items.iter().map(|(i, c)| (i.to_string(), *c)).collect()
        };
        let excluded = std::collections::HashSet::from(["b2".to_string()]);
        let ranked = blend(
            [
                (1.0, list(&[("x", 0.5), ("b2", 0.9)])),
                (0.5, list(&[("y", 0.8), ("x", 0.2)])),
            ],
            &excluded,
        );
        assert_eq!(ranked, list(&[("x", 0.6), ("y", 0.4)]));
    }

    #[test]
    fn every_parameter_named_is_read() {
        for name in PARAMETERS {
            let value = match *name {
                "type" => "similar",
                "limit" => "5",
                "explain" => "true",
                _ => "x",
            };
            let list = [("type", "similar"), ("product_id", "p"), (name, value)];
            assert!(RecommendRequest::from_pairs(pairs(&list)).is_ok(), "{name}");
        }
    }

    #[test]
    fn a_long_title_is_searched_by_its_first_words() {
        let title = (0..40)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(title_query(&title).split(' ').count(), TITLE_WORDS);
        assert_eq!(title_query("  Chef   Knife "), "Chef Knife");
    }
}
