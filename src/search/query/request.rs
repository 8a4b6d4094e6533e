//! Search requests: read from query-string pairs or a JSON object, validated in one place.
//!
//! `GET /v1/search` and `POST /v1/search` accept the same fields; the JSON form is turned into
//! the same name/value pairs as a query string (lists become repeated pairs), so one parser
//! validates both and the errors are identical.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::settings::SearchConfig;

/// How hits are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Text relevance with the popularity and stock prior.
    Relevance,
    /// Cheapest first; products without price last.
    PriceAsc,
    /// Most expensive first; products without price last.
    PriceDesc,
    /// Most recently created first.
    Newest,
    /// Best rated first.
    Rating,
    /// Most popular first.
    Popularity,
}

impl Sort {
    fn parse(s: &str) -> Result<Sort> {
        Ok(match s {
            "relevance" => Sort::Relevance,
            "price_asc" => Sort::PriceAsc,
            "price_desc" => Sort::PriceDesc,
            "newest" => Sort::Newest,
            "rating" => Sort::Rating,
            "popularity" => Sort::Popularity,
            _ => {
                return Err(Error::invalid(
                    "sort",
                    "must be one of relevance, price_asc, price_desc, newest, rating, popularity",
                ));
            }
        })
    }
}

/// A facet the client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FacetRequest {
    /// Category counts by path level.
    Category,
    /// Brand counts.
    Brand,
    /// Price range counts.
    Price,
    /// Counts of one attribute's values.
    Attribute(String),
    /// Price tier counts.
    Tier,
}

/// Filters every hit must pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    /// Category path prefix.
    pub category: Vec<String>,
    /// Any of these brands.
    pub brands: Vec<String>,
    /// Lowest price, inclusive.
    pub price_min: Option<f64>,
    /// Highest price, inclusive.
    pub price_max: Option<f64>,
    /// Stock state.
    pub in_stock: Option<bool>,
    /// Attribute name → any of these values (all attributes must match).
    pub attributes: Vec<(String, Vec<String>)>,
    /// Any of these price tiers (by name).
    pub tiers: Vec<String>,
}

impl Filters {
    /// Whether no filter is set.
    pub fn is_empty(&self) -> bool {
        *self == Filters::default()
    }
}

/// A validated search request.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// The shopper's words (may be empty: browse).
    pub q: String,
    /// The visitor, for personalization.
    pub visitor_id: Option<String>,
    /// Filters.
    pub filters: Filters,
    /// Order.
    pub sort: Sort,
    /// Hits to skip.
    pub offset: usize,
    /// Hits to return.
    pub limit: usize,
    /// Facets to count.
    pub facets: Vec<FacetRequest>,
    /// Whether each hit explains its score.
    pub explain: bool,
    /// Personalization strength for this request (0–100; None: the configured default).
    pub personalization: Option<u8>,
    /// A category page: no words, a category, and newer products first too.
    pub browse: bool,
    /// The hit fields to return (None: all); `id` always comes.
    pub fields: Option<Vec<String>>,
    /// Whether hits carry their matched words marked (`_highlight`).
    pub highlight: bool,
    /// The page asked for with `page` (1-based; `offset` is derived from it).
    pub page: Option<usize>,
    /// Where the answer is shown, for the merchandising rules' `when.placement` (None:
    /// `search`, or `browse` for a category page); set by the engine, never a parameter.
    pub placement: Option<&'static str>,
}

/// The levels of a category path as sent, `A > B` (blank levels dropped).
pub fn category_path(value: &str) -> Vec<String> {
    (value.split('>'))
        .map(|level| level.trim().to_string())
        .filter(|level| !level.is_empty())
        .collect()
}

/// Every parameter a search takes, besides `attr.<name>`.
pub const PARAMETERS: &[&str] = &[
    "q",
    "visitor_id",
    "category",
    "tier",
    "brand",
    "price_min",
    "price_max",
    "in_stock",
    "sort",
    "offset",
    "limit",
    "page",
    "hits_per_page",
    "facets",
    "explain",
    "highlight",
    "fields",
    "personalization",
];

/// The fields a hit can return, for `fields=`.
pub const HIT_FIELDS: &[&str] = &[
    "id",
    "title",
    "brand",
    "category",
    "price",
    "currency",
    "tier",
    "image_url",
    "url",
    "in_stock",
    "rating",
    "review_count",
    "attributes",
    "score",
    "explain",
    "_highlight",
];

/// Largest `offset + limit` accepted: deep pagination is what sorts and filters are for.
pub const MAX_WINDOW: usize = 10_000;

impl SearchRequest {
    /// A category page request from query pairs: `category` is required and `q` is not
    /// accepted (a category page has no words; search within it with `/v1/search`).
    pub fn browse_from_pairs(
        pairs: Vec<(String, String)>,
        config: &SearchConfig,
    ) -> Result<SearchRequest> {
        if pairs.iter().any(|(name, _)| name == "q") {
            return Err(Error::invalid(
                "q",
                "is not accepted on category pages: search within a category with /v1/search?q=…&category=…",
            ));
        }
        let mut req = SearchRequest::from_pairs(pairs, config)?;
        if req.filters.category.is_empty() {
            return Err(Error::invalid("category", "is required"));
        }
        req.browse = true;
        Ok(req)
    }

    /// Validates query-string pairs.
    pub fn from_pairs(pairs: Vec<(String, String)>, config: &SearchConfig) -> Result<Self> {
        let mut req = SearchRequest {
            q: String::new(),
            visitor_id: None,
            filters: Filters::default(),
            sort: Sort::Relevance,
            offset: 0,
            limit: config.default_limit,
            facets: Vec::new(),
            explain: false,
            personalization: None,
            browse: false,
            fields: None,
            highlight: false,
            page: None,
            placement: None,
        };
        let given = |wanted: &str| pairs.iter().any(|(name, _)| name == wanted);
        for (a, b) in [("page", "offset"), ("hits_per_page", "limit")] {
            if given(a) && given(b) {
                return Err(Error::invalid(
                    a,
                    "use page and hits_per_page, or offset and limit, not both",
                ));
            }
        }
        for (name, value) in pairs {
            req.set(&name, value, config)?;
        }
        if let Some(page) = req.page {
            // Saturating: a huge page must not wrap around into a small offset.
            req.offset = (page - 1).saturating_mul(req.limit);
        }
        if let (Some(lo), Some(hi)) = (req.filters.price_min, req.filters.price_max)
            && lo > hi
        {
            return Err(Error::invalid("price_min", "must not exceed price_max"));
        }
        // Checked: an offset near usize::MAX must not wrap around into a small window.
        if req
            .offset
            .checked_add(req.limit)
            .is_none_or(|end| end > MAX_WINDOW)
        {
            return Err(Error::invalid(
                "offset",
                format!("offset + limit must be at most {MAX_WINDOW}"),
            ));
        }
        Ok(req)
    }

    /// Validates a JSON object with the same fields as the query string.
    pub fn from_json(value: Value, config: &SearchConfig) -> Result<Self> {
        let Value::Object(obj) = value else {
            return Err(Error::Malformed("the body must be a JSON object".into()));
        };
        let mut pairs = Vec::new();
        for (name, value) in obj {
            if name == "attr" {
                let Value::Object(attrs) = value else {
                    return Err(Error::invalid(
                        "attr",
                        "must be an object of name → value(s)",
                    ));
                };
                for (attr, v) in attrs {
                    push_json_pairs(&mut pairs, format!("attr.{attr}"), v)?;
                }
            } else {
                push_json_pairs(&mut pairs, name, value)?;
            }
        }
        SearchRequest::from_pairs(pairs, config)
    }

    fn set(&mut self, name: &str, value: String, config: &SearchConfig) -> Result<()> {
        match name {
            "q" => self.q = value,
            "visitor_id" => self.visitor_id = Some(value).filter(|v| !v.is_empty()),
            "category" => self.filters.category = category_path(&value),
            "tier" => {
                if !value.trim().is_empty() {
                    self.filters.tiers.push(value.trim().to_string());
                }
            }
            "brand" => {
                if !value.trim().is_empty() {
                    self.filters.brands.push(value);
                }
            }
            "price_min" => self.filters.price_min = Some(price(name, &value)?),
            "price_max" => self.filters.price_max = Some(price(name, &value)?),
            "in_stock" => self.filters.in_stock = Some(boolean(name, &value)?),
            "sort" => self.sort = Sort::parse(&value)?,
            "offset" => self.offset = count(name, &value)?,
            "page" => match count(name, &value)? {
                0 => return Err(Error::invalid(name, "must be a whole number >= 1")),
                page => self.page = Some(page),
            },
            "limit" | "hits_per_page" => {
                let limit = count(name, &value)?;
                if limit > config.max_limit {
                    return Err(Error::invalid(
                        name,
                        format!("must be between 0 and {}", config.max_limit),
                    ));
                }
                self.limit = limit;
            }
            "facets" => {
                for facet in value.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                    let parsed = parse_facet(facet)?;
                    if !self.facets.contains(&parsed) {
                        self.facets.push(parsed);
                    }
                }
            }
            "explain" => self.explain = boolean(name, &value)?,
            "highlight" => self.highlight = boolean(name, &value)?,
            "fields" => {
                let fields = self.fields.get_or_insert_with(|| vec!["id".into()]);
                for field in value.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                    if !HIT_FIELDS.contains(&field) {
                        return Err(Error::invalid(
                            "fields",
                            format!(
                                "unknown hit field {field:?}; one of {}",
                                HIT_FIELDS.join(", ")
                            ),
                        ));
                    }
                    if !fields.iter().any(|f| f == field) {
                        fields.push(field.to_string());
                    }
                }
            }
            "personalization" => {
                let strength = count(name, &value)?;
                if strength > 100 {
                    return Err(Error::invalid(name, "must be between 0 and 100"));
                }
                self.personalization = Some(strength as u8);
            }
            _ => match name.strip_prefix("attr.") {
                Some(attr) if !attr.is_empty() => {
                    match self.filters.attributes.iter_mut().find(|(n, _)| n == attr) {
                        Some((_, values)) => values.push(value),
                        None => self
                            .filters
                            .attributes
                            .push((attr.to_string(), vec![value])),
                    }
                }
                _ => return Err(Error::invalid(name, "unknown parameter")),
            },
        }
        Ok(())
    }
}

fn parse_facet(name: &str) -> Result<FacetRequest> {
    Ok(match name {
        "category" => FacetRequest::Category,
        "brand" => FacetRequest::Brand,
        "price" => FacetRequest::Price,
        "tier" => FacetRequest::Tier,
        _ => match name.strip_prefix("attr.") {
            Some(attr) if !attr.is_empty() => FacetRequest::Attribute(attr.to_string()),
            _ => {
                return Err(Error::invalid(
                    "facets",
                    format!(
                        "unknown facet {name:?}: use category, brand, price, tier or attr.<name>"
                    ),
                ));
            }
        },
    })
}

fn push_json_pairs(pairs: &mut Vec<(String, String)>, name: String, value: Value) -> Result<()> {
    if !PARAMETERS.contains(&name.as_str()) && !name.starts_with("attr.") {
        return Err(Error::invalid(name, "unknown parameter"));
    }
    match value {
        Value::Null => {}
        Value::Array(items)
            if name == "facets"
                || name == "fields"
                || name == "brand"
                || name == "tier"
                || name.starts_with("attr.") =>
        {
            for item in items {
                pairs.push((name.clone(), scalar(&name, item)?));
            }
        }
        other => pairs.push((name.clone(), scalar(&name, other)?)),
    }
    Ok(())
}

fn scalar(name: &str, value: Value) -> Result<String> {
    match value {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(Error::invalid(name, "must be a string, number or boolean")),
    }
}

fn price(name: &str, value: &str) -> Result<f64> {
    match value.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(Error::invalid(name, "must be a number >= 0")),
    }
}

fn count(name: &str, value: &str) -> Result<usize> {
    value
        .trim()
        .parse::<usize>()
        .map_err(|_| Error::invalid(name, "must be a whole number >= 0"))
}

fn boolean(name: &str, value: &str) -> Result<bool> {
    match value.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::invalid(name, "must be true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use serde_json::json;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn field(err: Error) -> String {
        match err {
            Error::InvalidField { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn query_string_and_json_read_the_same_request() {
        let cfg = Config::default().search;
        let a = SearchRequest::from_pairs(
            pairs(&[
                ("q", "shoe"),
                ("brand", "Acme"),
                ("brand", "Zed"),
                ("attr.color", "red"),
                ("price_max", "50"),
                ("facets", "brand,attr.color"),
                ("limit", "5"),
            ]),
            &cfg,
        )
        .unwrap();
        let b = SearchRequest::from_json(
            json!({"q": "shoe", "brand": ["Acme", "Zed"], "attr": {"color": "red"}, "price_max": 50,
                   "facets": ["brand", "attr.color"], "limit": 5}),
            &cfg,
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(
            a.filters.attributes,
            vec![("color".to_string(), vec!["red".to_string()])]
        );
    }

    #[test]
    fn a_limit_above_the_maximum_is_rejected_not_clamped() {
        let cfg = Config::default().search;
        let err = SearchRequest::from_pairs(pairs(&[("limit", "101")]), &cfg).unwrap_err();
        assert_eq!(field(err), "limit");
    }

    #[test]
    fn an_offset_near_the_largest_number_is_rejected_not_wrapped_around() {
        // Regression: `offset + limit` wrapped around and u64::MAX answered 200 with no hits.
        let cfg = Config::default().search;
        for offset in [
            usize::MAX.to_string(),
            (usize::MAX - 5).to_string(),
            "9991".into(),
        ] {
            let err =
                SearchRequest::from_pairs(pairs(&[("offset", &offset), ("limit", "10")]), &cfg)
                    .unwrap_err();
            assert_eq!(field(err), "offset", "offset {offset}");
        }
        let ok = SearchRequest::from_pairs(pairs(&[("offset", "9990"), ("limit", "10")]), &cfg);
        assert_eq!(ok.unwrap().offset, 9990);
    }

    #[test]
    fn bad_values_name_their_parameter() {
        let cfg = Config::default().search;
        for (name, value) in [
            ("price_min", "cheap"),
            ("in_stock", "maybe"),
            ("sort", "random"),
            ("offset", "-1"),
            ("facets", "colour"),
            ("pricemin", "3"),
        ] {
            let err = SearchRequest::from_pairs(pairs(&[(name, value)]), &cfg).unwrap_err();
            let expected = if name == "facets" { "facets" } else { name };
            assert_eq!(field(err), expected);
        }
        let err = SearchRequest::from_pairs(pairs(&[("price_min", "9"), ("price_max", "3")]), &cfg)
            .unwrap_err();
        assert_eq!(field(err), "price_min");
    }
}
