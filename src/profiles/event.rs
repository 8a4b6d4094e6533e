//! Visitor events: the model and its validation.
//!
//! One event stream feeds profiles now and recommendations and analytics later, so an event
//! keeps everything the storefront sent that later consumers need (search attribution, order
//! lines, acquisition source) in one validated shape.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::catalog::product::MAX_ID_BYTES;
use crate::error::{Error, Result};
use crate::settings::EventWeights;

/// What the visitor did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// Looked at a product page.
    View,
    /// Clicked a product (in results, a widget…).
    Click,
    /// Put a product in the cart.
    AddToCart,
    /// Took a product out of the cart.
    RemoveFromCart,
    /// Bought a product.
    Purchase,
    /// Returned a bought product.
    Return,
    /// Searched.
    Search,
}

impl EventType {
    /// The affinity weight of this type of event (searches carry none).
    pub fn weight(self, weights: &EventWeights) -> f32 {
        match self {
            EventType::View => weights.view,
            EventType::Click => weights.click,
            EventType::AddToCart => weights.add_to_cart,
            EventType::RemoveFromCart => weights.remove_from_cart,
            EventType::Purchase => weights.purchase,
            EventType::Return => weights.r#return,
            EventType::Search => 0.0,
        }
    }

    fn parse(s: &str) -> Result<EventType> {
        Ok(match s {
            "view" => EventType::View,
            "click" => EventType::Click,
            "add_to_cart" => EventType::AddToCart,
            "remove_from_cart" => EventType::RemoveFromCart,
            "purchase" => EventType::Purchase,
            "return" => EventType::Return,
            "search" => EventType::Search,
            _ => {
                return Err(Error::invalid(
                    "type",
                    "must be one of view, click, add_to_cart, remove_from_cart, purchase, return, search",
                ));
            }
        })
    }

    /// Whether the event is about one product (and needs `product_id`).
    pub fn is_product_event(self) -> bool {
        self != EventType::Search
    }
}

/// A validated event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The anonymous (cookie) id.
    pub visitor_id: String,
    /// The logged-in id, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The product, for product events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// The query, for searches (and clicks attributed to one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// 1-based position of the clicked product in the results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
    /// The `search_id` of the answer the event follows from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_id: Option<String>,
    /// Order id, for purchases and returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Unit price paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    /// Units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    /// When it happened, epoch milliseconds.
    #[schema(required = false, schema_with = timestamp_schema)]
    pub timestamp: i64,
    /// Acquisition source (campaign, referrer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The client's id for this event: a repeat within the configured window is ignored, so
    /// a batch retried after a failure counts once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The visitor's measurement group when the event arrived (set by the server, not
    /// the storefront), so lift can be computed from the event stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub group: Option<crate::group::Group>,
}

/// An event's time as a storefront sends it (the API description's view of `timestamp`).
fn timestamp_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
    let text = ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)));
    let epoch_ms = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .description(Some("epoch milliseconds"));
    OneOfBuilder::new()
        .item(text)
        .item(epoch_ms)
        .description(Some("When it happened (default: when it arrived)."))
        .build()
        .into()
}

/// How far in the future a timestamp may be (clock skew of storefronts), in milliseconds.
pub const MAX_FUTURE_MS: i64 = 5 * 60 * 1000;

impl Event {
    /// Validates a JSON event; `now_ms` fills a missing timestamp and bounds future ones.
    pub fn from_json(value: Value, now_ms: i64) -> Result<Event> {
        let Value::Object(mut obj) = value else {
            return Err(Error::invalid("", "an event must be a JSON object"));
        };
        let kind_text =
            string(&mut obj, "type")?.ok_or_else(|| Error::invalid("type", "is required"))?;
        let kind = EventType::parse(&kind_text)?;
        let visitor_id = id(&mut obj, "visitor_id")?
            .ok_or_else(|| Error::invalid("visitor_id", "is required"))?;
        let event = Event {
            kind,
            visitor_id,
            user_id: id(&mut obj, "user_id")?,
            product_id: id(&mut obj, "product_id")?,
            query: string(&mut obj, "query")?,
            position: count(&mut obj, "position")?,
            search_id: id(&mut obj, "search_id")?,
            order_id: id(&mut obj, "order_id")?,
            price: price(&mut obj)?,
            quantity: count(&mut obj, "quantity")?,
            timestamp: timestamp(&mut obj, now_ms)?,
            source: string(&mut obj, "source")?,
            event_id: id(&mut obj, "event_id")?,
            group: None,
        };
        if let Some(unknown) = obj.keys().next() {
            return Err(Error::invalid(unknown.clone(), "unknown field"));
        }
        if kind.is_product_event() && event.product_id.is_none() {
            return Err(Error::invalid(
                "product_id",
                format!("is required for {kind_text} events"),
            ));
        }
        if kind == EventType::Search && event.query.is_none() {
            return Err(Error::invalid("query", "is required for search events"));
        }
        Ok(event)
    }

    /// A search a visitor made, as the server records it for them.
    pub fn search(
        visitor_id: String,
        query: String,
        search_id: String,
        now_ms: i64,
        group: crate::group::Group,
    ) -> Event {
        Event {
            kind: EventType::Search,
            visitor_id,
            user_id: None,
            product_id: None,
            query: Some(query),
            position: None,
            search_id: Some(search_id),
            order_id: None,
            price: None,
            quantity: None,
            timestamp: now_ms,
            source: None,
            event_id: None,
            group: Some(group),
        }
    }

    /// Units, one when not given.
    pub fn units(&self) -> u32 {
        self.quantity.unwrap_or(1).max(1)
    }
}

fn string(obj: &mut Map<String, Value>, field: &str) -> Result<Option<String>> {
    match obj.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(_) => Err(Error::invalid(field, "must be a string")),
    }
}

fn id(obj: &mut Map<String, Value>, field: &str) -> Result<Option<String>> {
    let value = string(obj, field)?;
    if value.as_ref().is_some_and(|v| v.len() > MAX_ID_BYTES) {
        return Err(Error::invalid(
            field,
            format!("must be at most {MAX_ID_BYTES} bytes"),
        ));
    }
    Ok(value)
}

fn count(obj: &mut Map<String, Value>, field: &str) -> Result<Option<u32>> {
    match obj.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(x) if x >= 1 && x <= u64::from(u32::MAX) => Ok(Some(x as u32)),
            _ => Err(Error::invalid(field, "must be a whole number >= 1")),
        },
        Some(_) => Err(Error::invalid(field, "must be a whole number >= 1")),
    }
}

fn price(obj: &mut Map<String, Value>) -> Result<Option<f64>> {
    match obj.remove("price") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
            _ => Err(Error::invalid("price", "must be a number >= 0")),
        },
        Some(_) => Err(Error::invalid("price", "must be a number >= 0")),
    }
}

fn timestamp(obj: &mut Map<String, Value>, now_ms: i64) -> Result<i64> {
    let ms = match obj.remove("timestamp") {
        None | Some(Value::Null) => return Ok(now_ms),
        Some(Value::Number(n)) => n.as_i64().filter(|ms| *ms >= 0).ok_or_else(|| {
            Error::invalid(
                "timestamp",
                "epoch milliseconds must be a whole number >= 0",
            )
        })?,
        Some(Value::String(s)) => {
            let t = OffsetDateTime::parse(s.trim(), &Rfc3339).map_err(|_| {
                Error::invalid("timestamp", "must be RFC 3339 or epoch milliseconds")
            })?;
            (t.unix_timestamp_nanos() / 1_000_000) as i64
        }
        Some(_) => {
            return Err(Error::invalid(
                "timestamp",
                "must be RFC 3339 or epoch milliseconds",
            ));
        }
    };
    if ms > now_ms + MAX_FUTURE_MS {
        return Err(Error::invalid("timestamp", "is in the future"));
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000_000;

    fn field(err: Error) -> String {
        match err {
            Error::InvalidField { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_event_type_is_read() {
        for kind in [
            "view",
            "click",
            "add_to_cart",
            "remove_from_cart",
            "purchase",
            "return",
        ] {
            let e = Event::from_json(
                json!({"type": kind, "visitor_id": "v", "product_id": "p"}),
                NOW,
            )
            .unwrap();
            assert_eq!(serde_json::to_value(e.kind).unwrap(), json!(kind));
        }
        let e = Event::from_json(
            json!({"type": "search", "visitor_id": "v", "query": "red shoes"}),
            NOW,
        )
        .unwrap();
        assert_eq!(e.kind, EventType::Search);
    }

    #[test]
    fn timestamps_are_rfc3339_or_epoch_ms_and_default_to_now() {
        let e = Event::from_json(
            json!({"type": "view", "visitor_id": "v", "product_id": "p"}),
            NOW,
        )
        .unwrap();
        assert_eq!(e.timestamp, NOW);
        let e = Event::from_json(
            json!({"type": "view", "visitor_id": "v", "product_id": "p",
            "timestamp": "2023-11-14T22:13:20Z"}),
            NOW,
        )
        .unwrap();
        assert_eq!(e.timestamp, 1_700_000_000_000);
        let e = Event::from_json(
            json!({"type": "view", "visitor_id": "v", "product_id": "p", "timestamp": 123}),
            NOW,
        )
        .unwrap();
        assert_eq!(e.timestamp, 123);
    }

    #[test]
    fn invalid_events_name_the_field() {
        for (event, expected) in [
            (json!({"visitor_id": "v"}), "type"),
            (json!({"type": "like", "visitor_id": "v"}), "type"),
            (json!({"type": "view", "product_id": "p"}), "visitor_id"),
            (json!({"type": "view", "visitor_id": "v"}), "product_id"),
            (json!({"type": "search", "visitor_id": "v"}), "query"),
            (
                json!({"type": "view", "visitor_id": "v", "product_id": "p", "timestamp": NOW + 3_600_000}),
                "timestamp",
            ),
            (
                json!({"type": "view", "visitor_id": "v", "product_id": "p", "timestamp": "soon"}),
                "timestamp",
            ),
            (
                json!({"type": "purchase", "visitor_id": "v", "product_id": "p", "price": -1}),
                "price",
            ),
            (
                json!({"type": "purchase", "visitor_id": "v", "product_id": "p", "quantity": 0}),
                "quantity",
            ),
            (
                json!({"type": "view", "visitor_id": "v", "product_id": "p", "colour": "red"}),
                "colour",
            ),
            (
                json!({"type": "view", "visitor_id": 7, "product_id": "p"}),
                "visitor_id",
            ),
        ] {
            assert_eq!(
                field(Event::from_json(event.clone(), NOW).unwrap_err()),
                expected,
                "{event}"
            );
        }
    }
}
