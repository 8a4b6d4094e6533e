//! Autocomplete requests, read from query-string pairs and validated in one place.

use serde::Serialize;

use super::Suggestion;
use crate::error::{Error, Result};
use crate::settings::SuggestConfig;

/// A validated autocomplete request (its fields are the query-string parameters).
#[derive(Debug, Clone, PartialEq, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AutocompleteRequest {
    /// What the shopper has typed so far (empty: the most popular suggestions).
    #[param(required = false)]
    pub q: String,
    /// The visitor, whose brands and categories are boosted (unknown ids get no boost).
    pub visitor_id: Option<String>,
    /// Suggestions to return (default 8, at most 20 unless configured otherwise).
    #[param(required = false, minimum = 1)]
    pub limit: usize,
}

impl AutocompleteRequest {
    /// Validates query-string pairs; unknown parameters are rejected like search's.
    pub fn from_pairs(pairs: Vec<(String, String)>, config: &SuggestConfig) -> Result<Self> {
        let mut req = AutocompleteRequest {
            q: String::new(),
            visitor_id: None,
            limit: config.default_limit,
        };
        for (name, value) in pairs {
            match name.as_str() {
                "q" => req.q = value,
                "visitor_id" => req.visitor_id = Some(value).filter(|v| !v.is_empty()),
                "limit" => {
                    req.limit = match value.trim().parse::<usize>() {
                        Ok(n) if (1..=config.max_limit).contains(&n) => n,
                        _ => {
                            return Err(Error::invalid(
                                "limit",
                                format!("must be between 1 and {}", config.max_limit),
                            ));
                        }
                    }
                }
                _ => return Err(Error::invalid(name, "unknown parameter")),
            }
        }
        Ok(req)
    }
}

/// The answer to an autocomplete request.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct AutocompleteResponse {
    /// Best first.
    pub suggestions: Vec<Suggestion>,
    /// Time spent in the engine, in milliseconds.
    pub took_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: &str, value: &str) -> Result<AutocompleteRequest> {
        let pairs = vec![(name.to_string(), value.to_string())];
        AutocompleteRequest::from_pairs(pairs, &crate::config::Config::default().suggest)
    }

    #[test]
    fn the_limit_defaults_to_the_config_and_is_bounded_by_it() {
        let req = read("q", "ru").unwrap();
        assert_eq!((req.q.as_str(), req.limit, req.visitor_id), ("ru", 8, None));
        assert_eq!(read("limit", "20").unwrap().limit, 20);
        for bad in ["21", "0", "-1", "many"] {
            let message = read("limit", bad).unwrap_err().to_string();
            assert!(message.starts_with("limit: "), "{bad}: {message}");
        }
        let message = read("qq", "x").unwrap_err().to_string();
        assert_eq!(message, "qq: unknown parameter");
    }
}
