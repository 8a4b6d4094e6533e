//! The one place where errors become HTTP answers: `{"error": {"code", "message"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use crate::error::{Error, ErrorKind};

/// An engine error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

/// The status each kind of error is answered with.
pub fn status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Malformed => StatusCode::BAD_REQUEST,
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = self.0.kind();
        let message = if kind == ErrorKind::Internal {
            tracing::error!(error = %self.0, "internal error");
            "internal error; see the server log".to_string()
        } else {
            self.0.to_string()
        };
        error_response(status(kind), self.0.code(), &message)
    }
}

/// Every error answer's body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// What went wrong.
    pub error: ErrorDetail<'a>,
}

/// What went wrong, for programs and for people.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail<'a> {
    /// Stable, for programs: `invalid_field`, `unknown_product`, `overloaded`…
    pub code: &'a str,
    /// For people: names the field or line at fault.
    pub message: &'a str,
}

/// Builds an error answer.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let error = ErrorDetail { code, message };
    (status, Json(ErrorBody { error })).into_response()
}

/// The answer to a batch of items: 200 with its report, or 422 when items were sent and every
/// one was rejected (nothing was recorded: a client that only checks the status must not take
/// that for success). The 422 carries the report beside an error naming the first problem.
pub fn batch_answer(
    report: impl serde::Serialize,
    failed: u64,
    recorded: u64,
    first: Option<&crate::catalog::ingest::ItemError>,
) -> Response {
    let mut body = serde_json::to_value(report).unwrap_or_default();
    if failed == 0 || recorded > 0 {
        return (StatusCode::OK, Json(body)).into_response();
    }
    let first = first.map_or(String::new(), |e| {
        format!("; the first, line {}: {}", e.line, e.message)
    });
    body["error"] =
        json!({"code": "invalid_items", "message": format!("every item was rejected{first}")});
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// Answer for unknown paths.
pub async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// Answer for known paths with the wrong method.
pub async fn method_not_allowed() -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not accept that method",
    )
}

/// Answer for a handler that panicked: logged, generic 500.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error; see the server log",
    )
}
