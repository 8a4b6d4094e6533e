//! The domain error type and the transport-free kinds it maps to.
//!
//! Every fallible engine call returns [`Error`]. The HTTP layer never matches on the
//! variants: it asks for [`Error::kind`] and [`Error::code`] and turns those into a status
//! and a JSON body in one place (`http::error`). Internal causes are logged there and never
//! sent to clients.

use std::path::PathBuf;

/// What went wrong, named for what happened rather than for a status code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request body or query string is not well-formed (bad JSON, bad encoding).
    #[error("{0}")]
    Malformed(String),
    /// A field holds a value the engine cannot accept; `field` names it.
    #[error("{}", field_message(field, message))]
    InvalidField {
        /// The offending field, as a dotted path (`price`, `attributes.color`).
        field: String,
        /// Why the value was rejected.
        message: String,
    },
    /// No product has this id.
    #[error("no product with id {0:?}")]
    UnknownProduct(String),
    /// No profile exists for this visitor or user id.
    #[error("no profile for visitor {0:?}")]
    UnknownVisitor(String),
    /// No open catalog sync has this id (never opened, committed, or expired).
    #[error("no open catalog sync with id {0:?}")]
    UnknownSync(String),
    /// The body is larger than the configured limit.
    #[error("request body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The configured limit in bytes.
        limit: u64,
    },
    /// The body's media type is not one the endpoint reads.
    #[error("unsupported content type {got:?}: send {expected}")]
    UnsupportedMediaType {
        /// The `Content-Type` received.
        got: String,
        /// What the endpoint reads.
        expected: &'static str,
    },
    /// A configuration was rejected; the message names the file, line, column and reason.
    /// The configuration in force is unchanged.
    #[error("configuration rejected: {0}")]
    ConfigRejected(String),
    /// A reload was asked of a server started without a configuration file.
    #[error("the server was started without a configuration file: nothing to reload")]
    NoConfigFile,
    /// Too many searches are already queued; the client should retry.
    #[error("the server is busy: too many requests in flight, retry shortly")]
    Overloaded,
    /// The writer is gone (shutting down or crashed).
    #[error("the index writer is not running")]
    WriterGone,
    /// The search index failed.
    #[error("index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// A file of the data directory could not be read or written.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Anything else that should never happen; the message is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Transport-free classes of error; the HTTP layer maps each to one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request could not be read (400).
    Malformed,
    /// The request was read but a value is invalid (422).
    Invalid,
    /// The thing addressed does not exist (404).
    NotFound,
    /// The body is too large (413).
    TooLarge,
    /// The media type is not supported (415).
    UnsupportedMediaType,
    /// The server is saturated or stopping (503).
    Unavailable,
    /// A fault of the server (500).
    Internal,
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Malformed(_) => ErrorKind::Malformed,
            Error::InvalidField { .. } | Error::ConfigRejected(_) | Error::NoConfigFile => {
                ErrorKind::Invalid
            }
            Error::UnknownProduct(_) | Error::UnknownSync(_) | Error::UnknownVisitor(_) => {
                ErrorKind::NotFound
            }
            Error::BodyTooLarge { .. } => ErrorKind::TooLarge,
            Error::UnsupportedMediaType { .. } => ErrorKind::UnsupportedMediaType,
            Error::Overloaded | Error::WriterGone => ErrorKind::Unavailable,
            Error::Index(_) | Error::Io { .. } | Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// A stable machine-readable code for clients (`invalid_field`, `unknown_product`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Malformed(_) => "malformed_request",
            Error::InvalidField { .. } => "invalid_field",
            Error::ConfigRejected(_) => "invalid_config",
            Error::NoConfigFile => "no_config_file",
            Error::UnknownProduct(_) => "unknown_product",
            Error::UnknownSync(_) => "unknown_sync",
            Error::UnknownVisitor(_) => "unknown_visitor",
            Error::BodyTooLarge { .. } => "body_too_large",
            Error::UnsupportedMediaType { .. } => "unsupported_media_type",
            Error::Overloaded => "overloaded",
            Error::WriterGone => "unavailable",
            Error::Index(_) | Error::Io { .. } | Error::Internal(_) => "internal",
        }
    }

    /// Shorthand for an [`Error::InvalidField`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidField {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

fn field_message(field: &str, message: &str) -> String {
    if field.is_empty() {
        message.to_string()
    } else {
        format!("{field}: {message}")
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
