//! Visitor endpoints: read, identify, preferences, forget.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::Value;

use super::error::{ApiError, ErrorBody};
use super::extract::{IdInPath, JsonBody};
use crate::engine::Engine;
use crate::error::Error;
use crate::profiles::profile::Preferences;
use crate::profiles::view::ProfileView;

/// The profile ranking uses, decayed to now
#[utoipa::path(get, path = "/v1/visitors/{id}", params(IdInPath),
    responses(
        (status = 200, description = "the profile", body = ProfileView),
        (status = 404, description = "unknown visitor", body = ErrorBody)))]
pub async fn get_visitor(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
) -> Result<Json<ProfileView>, ApiError> {
    Ok(Json(engine.visitor(&id)?))
}

/// Merge an anonymous visitor into a user
///
/// The anonymous profile's history joins the user's (or, for a device already merged into
/// another user, the device is handed to this one).
#[utoipa::path(post, path = "/v1/visitors/{id}/identify", params(IdInPath),
    request_body = IdentifyBody,
    responses(
        (status = 200, description = "merged", body = Identified),
        (status = 415, description = "unsupported content type", body = ErrorBody)))]
pub async fn identify_visitor(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Identified>, ApiError> {
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
    Ok(Json(Identified {
        profile_id,
        visitor_id: id,
    }))
}

/// The body of `POST /v1/visitors/{id}/identify` (read field by field, to name the one at
/// fault).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // read by the API description
struct IdentifyBody {
    /// The user the visitor logged in as.
    #[schema(min_length = 1, max_length = 256)]
    user_id: String,
}

/// The answer of `POST /v1/visitors/{id}/identify`. (Fields in name order, as the answer has
/// always listed them.)
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Identified {
    /// The profile the visitor's events now go to (the user's).
    pub profile_id: String,
    /// The visitor id from the path.
    pub visitor_id: String,
}

/// Replace stated preferences (zero-party data)
///
/// The fields sent replace those stated before (`null` clears one) and the others stay, so
/// `{"personalize": false}` opts out without losing what the shopper told us.
#[utoipa::path(put, path = "/v1/visitors/{id}/preferences", params(IdInPath),
    request_body = Preferences,
    responses(
        (status = 200, description = "the profile", body = ProfileView),
        (status = 415, description = "unsupported content type", body = ErrorBody)))]
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

/// Erase the profile, its aliases and its events from memory and disk
///
/// Idempotent: `found` says whether there was anything left in memory.
#[utoipa::path(delete, path = "/v1/visitors/{id}", params(IdInPath),
    responses((status = 200, description = "erased; found is false when nothing was left", body = Forgotten)))]
pub async fn delete_visitor(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
) -> Result<Json<Forgotten>, ApiError> {
    let found = engine.forget_visitor(&id).await?;
    Ok(Json(Forgotten { deleted: id, found }))
}

/// The answer of `DELETE /v1/visitors/{id}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Forgotten {
    /// The visitor id from the path.
    pub deleted: String,
    /// Whether there was anything left in memory to erase.
    pub found: bool,
}
