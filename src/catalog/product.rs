//! The product model and its validation.
//!
//! Products arrive as loose JSON objects. [`Product::from_json`] checks every known field and
//! names the first one that is wrong; unknown fields are kept as given in [`Product::extra`]
//! and returned unchanged, but never searched. [`Product::to_json`] produces the canonical
//! form (category always a list, attributes always lists) that is stored and returned.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Error, Result};

/// Longest accepted product id, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// A validated catalog product. As JSON (what the catalog API takes and returns) only `id`
/// and `title` are required; fields attune does not know are kept and returned as given.
#[derive(Debug, Clone, PartialEq, utoipa::ToSchema)]
pub struct Product {
    /// Merchant's identifier, unique in the catalog.
    #[schema(max_length = 256)]
    pub id: String,
    /// Display title; the strongest text field.
    pub title: String,
    /// Free text description.
    pub description: Option<String>,
    /// Brand or manufacturer.
    pub brand: Option<String>,
    /// Category path from the root down (`["Home", "Kitchen", "Blenders"]`); taken as a
    /// `"Home > Kitchen > Blenders"` string too, always returned as a list.
    #[schema(required = false)]
    pub category: Vec<String>,
    /// Price in the store currency, never negative.
    #[schema(minimum = 0)]
    pub price: Option<f64>,
    /// ISO 4217 currency code as given.
    pub currency: Option<String>,
    /// Attribute name → values (`color` → `["red"]`); a single value is taken as a string
    /// too, always returned as a list.
    #[schema(required = false)]
    pub attributes: BTreeMap<String, Vec<String>>,
    /// Merchant tags (`clearance`, `new`).
    #[schema(required = false)]
    pub tags: Vec<String>,
    /// Whether the product can be bought now (default true).
    #[schema(required = false, default = true)]
    pub in_stock: bool,
    /// Merchant popularity score, any non-negative scale.
    pub popularity: Option<f64>,
    /// Average rating.
    pub rating: Option<f64>,
    /// Number of reviews behind the rating.
    pub review_count: Option<u64>,
    /// Image address.
    pub image_url: Option<String>,
    /// Product page address.
    pub url: Option<String>,
    /// Creation time as given (RFC 3339), with its epoch seconds for sorting.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub created_at: Option<(String, i64)>,
    /// ISO 639-1 language code, when the merchant knows it.
    #[schema(min_length = 2, max_length = 2)]
    pub lang: Option<String>,
    /// Fields attune does not know, stored and returned as given.
    #[schema(ignore)]
    pub extra: Map<String, Value>,
}

impl Product {
    /// Validates a JSON value into a product, naming the first invalid field.
    pub fn from_json(value: Value) -> Result<Product> {
        let Value::Object(mut obj) = value else {
            return Err(Error::invalid("", "a product must be a JSON object"));
        };
        let id = required_string(&mut obj, "id")?;
        if id.len() > MAX_ID_BYTES {
            return Err(Error::invalid(
                "id",
                format!("must be at most {MAX_ID_BYTES} bytes"),
            ));
        }
        let title = required_string(&mut obj, "title")?;
        let product = Product {
            id,
            title,
            description: optional_string(&mut obj, "description")?,
            brand: optional_string(&mut obj, "brand")?,
            category: category_path(obj.remove("category"))?,
            price: optional_number(&mut obj, "price")?,
            currency: optional_string(&mut obj, "currency")?,
            attributes: attributes(obj.remove("attributes"))?,
            tags: string_list(obj.remove("tags"), "tags")?,
            in_stock: optional_bool(&mut obj, "in_stock")?.unwrap_or(true),
            popularity: optional_number(&mut obj, "popularity")?,
            rating: optional_number(&mut obj, "rating")?,
            review_count: optional_count(&mut obj, "review_count")?,
            image_url: optional_string(&mut obj, "image_url")?,
            url: optional_string(&mut obj, "url")?,
            created_at: created_at(&mut obj)?,
            lang: language(&mut obj)?,
            extra: obj,
        };
        Ok(product)
    }

    /// The canonical JSON form: what is stored, returned and patched.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("id".into(), self.id.clone().into());
        obj.insert("title".into(), self.title.clone().into());
        put_opt(&mut obj, "description", &self.description);
        put_opt(&mut obj, "brand", &self.brand);
        if !self.category.is_empty() {
            obj.insert("category".into(), self.category.clone().into());
        }
        if let Some(price) = self.price {
            obj.insert("price".into(), price.into());
        }
        put_opt(&mut obj, "currency", &self.currency);
        if !self.attributes.is_empty() {
            let attrs: Map<String, Value> = self
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().into()))
                .collect();
            obj.insert("attributes".into(), attrs.into());
        }
        if !self.tags.is_empty() {
            obj.insert("tags".into(), self.tags.clone().into());
        }
        obj.insert("in_stock".into(), self.in_stock.into());
        if let Some(p) = self.popularity {
            obj.insert("popularity".into(), p.into());
        }
        if let Some(r) = self.rating {
            obj.insert("rating".into(), r.into());
        }
        if let Some(n) = self.review_count {
            obj.insert("review_count".into(), n.into());
        }
        put_opt(&mut obj, "image_url", &self.image_url);
        put_opt(&mut obj, "url", &self.url);
        if let Some((text, _)) = &self.created_at {
            obj.insert("created_at".into(), text.clone().into());
        }
        put_opt(&mut obj, "lang", &self.lang);
        for (k, v) in &self.extra {
            obj.insert(k.clone(), v.clone());
        }
        Value::Object(obj)
    }

    /// Every searched text of the product: title, brand, category levels, attribute values,
    /// tags, description.
    pub fn searchable_text(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.title.as_str())
            .chain(self.brand.as_deref())
            .chain(self.category.iter().map(String::as_str))
            .chain(self.attributes.values().flatten().map(String::as_str))
            .chain(self.tags.iter().map(String::as_str))
            .chain(self.description.as_deref())
    }
}

/// Applies a JSON merge patch (RFC 7396) to a product and validates the result.
///
/// Objects merge key by key (so `{"attributes": {"color": "red"}}` changes one attribute)
/// and `null` removes a field. The id cannot change.
pub fn apply_patch(current: &Product, patch: Value) -> Result<Product> {
    let Value::Object(ref fields) = patch else {
        return Err(Error::invalid("", "a patch must be a JSON object"));
    };
    if let Some(id) = fields.get("id")
        && id.as_str() != Some(current.id.as_str())
    {
        return Err(Error::invalid("id", "cannot be changed by a patch"));
    }
    let mut doc = current.to_json();
    merge_patch(&mut doc, patch);
    Product::from_json(doc)
}

fn merge_patch(target: &mut Value, patch: Value) {
    let Value::Object(patch) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(&key);
            } else {
                merge_patch(target.entry(key).or_insert(Value::Null), value);
            }
        }
    }
}

fn put_opt(obj: &mut Map<String, Value>, key: &str, value: &Option<String>) {
    if let Some(v) = value {
        obj.insert(key.into(), v.clone().into());
    }
}

fn required_string(obj: &mut Map<String, Value>, field: &str) -> Result<String> {
    match optional_string(obj, field)? {
        Some(s) => Ok(s),
        None => Err(Error::invalid(field, "is required")),
    }
}

fn optional_string(obj: &mut Map<String, Value>, field: &str) -> Result<Option<String>> {
    match obj.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let trimmed = s.trim();
            if trimmed.is_empty() {
                Ok(None)
            } else if trimmed.len() == s.len() {
                Ok(Some(s))
            } else {
                Ok(Some(trimmed.to_string()))
            }
        }
        Some(other) => Err(Error::invalid(
            field,
            format!("must be a string, got {}", type_name(&other)),
        )),
    }
}

fn optional_number(obj: &mut Map<String, Value>, field: &str) -> Result<Option<f64>> {
    match obj.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
            _ => Err(Error::invalid(field, "must be a number >= 0")),
        },
        Some(other) => Err(Error::invalid(
            field,
            format!("must be a number >= 0, got {}", type_name(&other)),
        )),
    }
}

fn optional_count(obj: &mut Map<String, Value>, field: &str) -> Result<Option<u64>> {
    match obj.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| Error::invalid(field, "must be a whole number >= 0")),
        Some(other) => Err(Error::invalid(
            field,
            format!("must be a whole number >= 0, got {}", type_name(&other)),
        )),
    }
}

fn optional_bool(obj: &mut Map<String, Value>, field: &str) -> Result<Option<bool>> {
    match obj.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(other) => Err(Error::invalid(
            field,
            format!("must be true or false, got {}", type_name(&other)),
        )),
    }
}

/// Accepts `["Home", "Kitchen"]` or `"Home > Kitchen"`; empty levels are dropped.
fn category_path(value: Option<Value>) -> Result<Vec<String>> {
    let levels: Vec<String> = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) => s.split('>').map(|l| l.trim().to_string()).collect(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.trim().to_string()),
                other => Err(Error::invalid(
                    format!("category[{i}]"),
                    format!("must be a string, got {}", type_name(&other)),
                )),
            })
            .collect::<Result<_>>()?,
        Some(other) => {
            return Err(Error::invalid(
                "category",
                format!(
                    "must be a path list or a \"A > B\" string, got {}",
                    type_name(&other)
                ),
            ));
        }
    };
    Ok(levels.into_iter().filter(|l| !l.is_empty()).collect())
}

fn attributes(value: Option<Value>) -> Result<BTreeMap<String, Vec<String>>> {
    let obj = match value {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(obj)) => obj,
        Some(other) => {
            return Err(Error::invalid(
                "attributes",
                format!("must be an object, got {}", type_name(&other)),
            ));
        }
    };
    let mut attrs = BTreeMap::new();
    for (name, value) in obj {
        let key = name.trim();
        if key.is_empty() {
            return Err(Error::invalid("attributes", "names must not be empty"));
        }
        let values = string_list(Some(value), &format!("attributes.{key}"))?;
        if !values.is_empty() {
            attrs.insert(key.to_string(), values);
        }
    }
    Ok(attrs)
}

/// A string, number or boolean, or a list of them, as strings; empty strings dropped.
fn string_list(value: Option<Value>, field: &str) -> Result<Vec<String>> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(single) => vec![single],
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let text = match item {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                return Err(Error::invalid(
                    field,
                    format!(
                        "must be a string or a list of strings, got {}",
                        type_name(&other)
                    ),
                ));
            }
        };
        if !text.is_empty() {
            out.push(text);
        }
    }
    Ok(out)
}

fn created_at(obj: &mut Map<String, Value>) -> Result<Option<(String, i64)>> {
    let Some(text) = optional_string(obj, "created_at")? else {
        return Ok(None);
    };
    let parsed = OffsetDateTime::parse(&text, &Rfc3339).map_err(|_| {
        Error::invalid(
            "created_at",
            "must be an RFC 3339 date-time such as 2024-05-01T12:00:00Z",
        )
    })?;
    Ok(Some((text, parsed.unix_timestamp())))
}

fn language(obj: &mut Map<String, Value>) -> Result<Option<String>> {
    let Some(code) = optional_string(obj, "lang")? else {
        return Ok(None);
    };
    if code.len() == 2 && code.chars().all(|c| c.is_ascii_alphabetic()) {
        Ok(Some(code.to_ascii_lowercase()))
    } else {
        Err(Error::invalid(
            "lang",
            "must be a two-letter ISO 639-1 code such as \"en\"",
        ))
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(err: Error) -> String {
        match err {
            Error::InvalidField { field, .. } => field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn a_category_string_is_split_into_a_path() {
        let p = Product::from_json(
            json!({"id": "1", "title": "Blender", "category": "Home > Kitchen >  Blenders"}),
        )
        .unwrap();
        assert_eq!(p.category, vec!["Home", "Kitchen", "Blenders"]);
    }

    #[test]
    fn unknown_fields_are_kept_and_returned_as_given() {
        let p = Product::from_json(
            json!({"id": "1", "title": "T", "gtin": ["0123"], "meta": {"a": 1}}),
        )
        .unwrap();
        let back = p.to_json();
        assert_eq!(back["gtin"], json!(["0123"]));
        assert_eq!(back["meta"], json!({"a": 1}));
    }

    #[test]
    fn each_invalid_field_is_named() {
        let cases = [
            (json!({"title": "T"}), "id"),
            (json!({"id": "1"}), "title"),
            (json!({"id": "1", "title": "T", "price": -1}), "price"),
            (json!({"id": "1", "title": "T", "price": "12"}), "price"),
            (
                json!({"id": "1", "title": "T", "in_stock": "yes"}),
                "in_stock",
            ),
            (
                json!({"id": "1", "title": "T", "attributes": {"color": {"x": 1}}}),
                "attributes.color",
            ),
            (
                json!({"id": "1", "title": "T", "category": ["A", 3]}),
                "category[1]",
            ),
            (
                json!({"id": "1", "title": "T", "created_at": "yesterday"}),
                "created_at",
            ),
            (json!({"id": "1", "title": "T", "lang": "english"}), "lang"),
            (
                json!({"id": "1", "title": "T", "review_count": 1.5}),
                "review_count",
            ),
            (json!({"id": "x".repeat(257), "title": "T"}), "id"),
        ];
        for (input, field) in cases {
            let err = Product::from_json(input.clone()).unwrap_err();
            assert_eq!(field_of(err), field, "for {input}");
        }
    }

    #[test]
    fn a_patch_merges_attributes_and_null_removes_a_field() {
        let p = Product::from_json(
            json!({"id": "1", "title": "T", "price": 10, "brand": "Acme",
            "attributes": {"color": "red", "size": "M"}}),
        )
        .unwrap();
        let patched = apply_patch(
            &p,
            json!({"price": 12.5, "brand": null, "attributes": {"color": "blue"}}),
        )
        .unwrap();
        assert_eq!(patched.price, Some(12.5));
        assert_eq!(patched.brand, None);
        assert_eq!(patched.attributes["color"], vec!["blue"]);
        assert_eq!(patched.attributes["size"], vec!["M"]);
    }

    #[test]
    fn a_patch_cannot_change_the_id_or_break_validation() {
        let p = Product::from_json(json!({"id": "1", "title": "T"})).unwrap();
        assert_eq!(
            field_of(apply_patch(&p, json!({"id": "2"})).unwrap_err()),
            "id"
        );
        assert_eq!(
            field_of(apply_patch(&p, json!({"price": -3})).unwrap_err()),
            "price"
        );
        assert_eq!(
            field_of(apply_patch(&p, json!({"title": null})).unwrap_err()),
            "title"
        );
    }

    #[test]
    fn canonical_json_round_trips() {
        let input = json!({"id": "1", "title": "T", "category": "A > B", "price": 3.5,
            "attributes": {"color": ["red", "blue"]}, "tags": "sale", "in_stock": false,
            "created_at": "2024-01-02T03:04:05Z", "lang": "DE"});
        let p = Product::from_json(input).unwrap();
        let again = Product::from_json(p.to_json()).unwrap();
        assert_eq!(p, again);
        assert_eq!(p.lang.as_deref(), Some("de"));
        assert_eq!(p.tags, vec!["sale"]);
    }
}
