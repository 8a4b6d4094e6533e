//! Visitor endpoints: read, identify, preferences, forget.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::error::ApiError;
use super::extract::JsonBody;
use crate::engine::Engine;
use crate::error::Error;
use crate::profiles::profile::Preferences;
use crate::profiles::view::ProfileView;

/// `GET /v1/visitors/{id}`: the profile ranking uses, decayed to now.
pub async fn get_visitor(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
) -> Result<Json<ProfileView>, ApiError> {
    Ok(Json(engine.visitor(&id)?))
}

/// `POST /v1/visitors/{id}/identify`: merges the anonymous profile into the user's (or, for
/// a device already merged into another user, hands the device to this one).
pub async fn identify_visitor(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let Value::Object(mut body) = body else {
        return Err(Error::Malformed("the body must be a JSON object".into()).into());
    };
    let user = match body.remove("user_id") {
        Some(Value::String(user)) => user,
        Some(_) => return Err(Error::invalid("user_id", "must be a string").into()),
        None => return Err(Error::invalid("user_id", "is required").into()),
    };
    if let Some(unknown) = body.keys().next() {
        return Err(Error::invalid(unknown.clone(), "unknown field").into());
    }
    let user = user.trim();
    if user.is_empty() || user.len() > crate::catalog::product::MAX_ID_BYTES {
        return Err(
            Error::invalid("user_id", "must be a non-empty id of at most 256 bytes").into(),
        );
    }
    let profile_id = engine.identify(&id, user).await?;
    Ok(Json(json!({"visitor_id": id, "profile_id": profile_id})))
}

/// `PUT /v1/visitors/{id}/preferences`: replaces the stated preferences.
pub async fn put_preferences(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<ProfileView>, ApiError> {
    let body = merged_preferences(&engine, &id, body)?;
    let preferences: Preferences =
        serde_json::from_value(body).map_err(|e| Error::invalid("preferences", e.to_string()))?;
    if let (Some(lo), Some(hi)) = (preferences.price_min, preferences.price_max)
        && lo > hi
    {
        return Err(Error::invalid("price_min", "must not exceed price_max").into());
    }
    Ok(Json(engine.set_preferences(&id, preferences).await?))
}

/// Fields a preferences body may have.
const PREFERENCE_FIELDS: &[&str] = &[
    "categories",
    "brands",
    "price_min",
    "price_max",
    "sizes",
    "colors",
    "personalize",
];

/// The stated preferences after `body`: the fields it has replace those stated before (`null`
/// clears one), the fields it leaves out stay, so `{"personalize": false}` opts out without
/// losing what the shopper told us.
fn merged_preferences(engine: &Engine, id: &str, body: Value) -> Result<Value, Error> {
    let Value::Object(body) = body else {
        return Err(Error::Malformed("the body must be a JSON object".into()));
    };
    if let Some(unknown) = body
        .keys()
        .find(|k| !PREFERENCE_FIELDS.contains(&k.as_str()))
    {
        return Err(Error::invalid(unknown.clone(), "unknown field"));
    }
    let stated = engine.visitor(id).ok().and_then(|v| v.preferences);
    let mut merged = match serde_json::to_value(stated) {
        Ok(Value::Object(stated)) => stated,
        _ => serde_json::Map::new(),
    };
    for (name, value) in body {
        if value.is_null() {
            merged.remove(&name);
        } else {
            merged.insert(name, value);
        }
    }
    Ok(Value::Object(merged))
}

/// `DELETE /v1/visitors/{id}`: erases the profile, its aliases and its events (idempotent:
/// `found` says whether there was anything left in memory).
pub async fn delete_visitor(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let found = engine.forget_visitor(&id).await?;
    Ok(Json(json!({"deleted": id, "found": found})))
}
