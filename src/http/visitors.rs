//! Visitor endpoints: read, identify, preferences, forget.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
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

/// Body of the identify call.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identify {
    /// The logged-in id.
    pub user_id: String,
}

/// `POST /v1/visitors/{id}/identify`: merges the anonymous profile into the user's.
pub async fn identify_visitor(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Identify>,
) -> Result<Json<Value>, ApiError> {
    let user = body.user_id.trim();
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
    let preferences: Preferences =
        serde_json::from_value(body).map_err(|e| Error::invalid("preferences", e.to_string()))?;
    if let (Some(lo), Some(hi)) = (preferences.price_min, preferences.price_max)
        && lo > hi
    {
        return Err(Error::invalid("price_min", "must not exceed price_max").into());
    }
    Ok(Json(engine.set_preferences(&id, preferences).await?))
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
