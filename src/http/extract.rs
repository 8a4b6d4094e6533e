//! Request readers that answer with our error body instead of axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::engine::{BodyFormat, BodySplitter, ItemSink};
use crate::error::Error;

/// Largest JSON body of the small endpoints (search, patch, delete), in bytes.
pub const SMALL_BODY_LIMIT: usize = 1 << 20;

/// A JSON body, read with our errors: 415 for another media type, 413 above 1 MiB, 400 for
/// malformed JSON.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if body_format(req.headers()).ok() != Some(BodyFormat::JsonArray) {
            return Err(unsupported(req.headers(), "application/json").into());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                Error::BodyTooLarge {
                    limit: SMALL_BODY_LIMIT as u64,
                }
            } else {
                Error::Malformed(format!("cannot read the body: {e}"))
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| Error::Malformed(format!("invalid JSON body: {e}")).into())
    }
}

/// The query string as name/value pairs, in order (repeated names kept).
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(query)
            .map(QueryPairs)
            .map_err(|e| Error::Malformed(format!("invalid query string: {e}")).into())
    }
}

/// Streams a body through a splitter into `sink`, enforcing `limit` bytes (413 above it,
/// checked against `Content-Length` before reading when there is one). An empty body is a 400.
pub async fn feed_body(
    request: Request,
    format: BodyFormat,
    limit: u64,
    sink: &mut impl ItemSink,
) -> Result<(), ApiError> {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(Error::BodyTooLarge { limit }.into());
    }
    let mut splitter = BodySplitter::new(format);
    let mut body = request.into_body().into_data_stream();
    let mut received: u64 = 0;
    let mut items = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Error::Malformed(format!("cannot read the body: {e}")))?;
        received += chunk.len() as u64;
        if received > limit {
            return Err(Error::BodyTooLarge { limit }.into());
        }
        splitter.feed(&chunk, &mut items);
        sink.push(std::mem::take(&mut items)).await?;
    }
    splitter.finish(&mut items);
    if !splitter.saw_content() {
        return Err(Error::Malformed("the body is empty".into()).into());
    }
    sink.push(items).await?;
    Ok(())
}

/// Which framing a body uses, from its `Content-Type`: JSON (`application/json` or any
/// `…+json` type, such as `application/merge-patch+json`) or NDJSON.
pub fn body_format(headers: &HeaderMap) -> Result<BodyFormat, Error> {
    let media = media_type(headers);
    match media.as_str() {
        "application/json" => Ok(BodyFormat::JsonArray),
        json if json.starts_with("application/") && json.ends_with("+json") => {
            Ok(BodyFormat::JsonArray)
        }
        "application/x-ndjson"
        | "application/ndjson"
        | "application/jsonl"
        | "application/x-jsonlines" => Ok(BodyFormat::Ndjson),
        _ => Err(unsupported(
            headers,
            "application/json or application/x-ndjson",
        )),
    }
}

/// The media type of the `Content-Type`, lowercased, without parameters ("" without one).
pub fn media_type(headers: &HeaderMap) -> String {
    let text = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    text.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The 415 of an endpoint that reads `expected`.
fn unsupported(headers: &HeaderMap, expected: &'static str) -> Error {
    let got = match headers.get(CONTENT_TYPE) {
        Some(value) => value.to_str().unwrap_or("(not text)").to_string(),
        None => "(none)".into(),
    };
    Error::UnsupportedMediaType { got, expected }
}

/// A `text/plain` body, as `navigator.sendBeacon` sends a string, read whole (at most
/// `limit` bytes) and framed by its content: JSON when it is one JSON value (an object, or an
/// array of them), NDJSON otherwise. Returns the framing and the request to feed on.
pub async fn sniff_plain_text(
    request: Request,
    limit: usize,
) -> Result<(BodyFormat, Request), Error> {
    let (parts, body) = request.into_parts();
    let mut bytes = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::Malformed(format!("cannot read the body: {e}")))?;
        if bytes.len() + chunk.len() > limit {
            return Err(Error::BodyTooLarge {
                limit: limit as u64,
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    let one_value = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok();
    let format = if one_value {
        BodyFormat::JsonArray
    } else {
        BodyFormat::Ndjson
    };
    Ok((
        format,
        Request::from_parts(parts, axum::body::Body::from(bytes)),
    ))
}

/// The `{id}` of a path, as the API description names it: a product, a sync or a visitor.
#[derive(utoipa::IntoParams)]
#[into_params(names("id"), parameter_in = Path)]
#[allow(dead_code)] // read by the API description, not by handlers (they take a `Path`)
pub struct IdInPath(#[param(max_length = 256)] String);
