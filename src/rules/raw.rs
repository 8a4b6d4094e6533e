//! Rules as written in the config file, and their validation into [`Rule`]s.
//!
//! Every value that can be wrong is read with its span in the file, so a rejected rule is
//! reported at the line and column of the offending key, not just by name.

use std::ops::Range;
use std::sync::Arc;

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use toml::Spanned;

use super::expr::Expr;
use super::{Boost, Phrases, Pin, Rule, Then, When};
use crate::profiles::view::Lifecycle;

/// One `[[rules]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// Unique name, reported in `query.rules` and `explain`.
    pub id: Spanned<String>,
    /// Free text for people.
    #[serde(default)]
    pub description: Option<String>,
    /// Conditions, all required; absent: always.
    #[serde(default)]
    pub when: RawWhen,
    /// Consequences.
    pub then: Spanned<RawThen>,
}

/// A string or a list of strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// The `when` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawWhen {
    /// The analysed query equals one of these phrases.
    pub is: Option<Spanned<OneOrMany>>,
    /// The analysed query contains one of these phrases.
    pub contains: Option<Spanned<OneOrMany>>,
    /// The analysed query starts with one of these phrases.
    pub starts_with: Option<Spanned<OneOrMany>>,
    /// A regular expression on the raw query.
    pub regex: Option<Spanned<String>>,
    /// A category filter at or below this path is in force.
    pub category: Option<Spanned<String>>,
    /// Some filter is in force (`true`) or none is (`false`).
    pub filtered: Option<bool>,
    /// Start of the window (RFC 3339), inclusive.
    pub from: Option<Spanned<String>>,
    /// End of the window (RFC 3339), exclusive.
    pub until: Option<Spanned<String>>,
    /// The visitor's lifecycle stage is one of these.
    pub lifecycle: Option<Spanned<OneOrMany>>,
    /// The visitor's acquisition source is one of these.
    pub source: Option<Spanned<OneOrMany>>,
    /// Where the answer is shown is one of these (`search`, `browse`, a widget type).
    pub placement: Option<Spanned<OneOrMany>>,
}

/// The `then` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawThen {
    /// Products placed at positions.
    pub pin: Vec<Spanned<RawPin>>,
    /// Products left out.
    pub hide: Vec<String>,
    /// Score raised for products an expression holds for.
    pub boost: Vec<Spanned<RawBoost>>,
    /// Score lowered for products an expression holds for.
    pub bury: Vec<Spanned<RawBoost>>,
    /// An expression every hit must satisfy.
    pub filter: Option<Spanned<String>>,
    /// Where the storefront should send the shopper.
    pub redirect: Option<Spanned<String>>,
    /// Personalization strength, 0–100.
    pub strength: Option<Spanned<i64>>,
}

/// One pin.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPin {
    /// Product id.
    pub id: String,
    /// 1-based absolute position.
    pub position: Spanned<i64>,
}

/// One boost or bury.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBoost {
    /// The filter expression.
    pub filter: Spanned<String>,
    /// The score factor.
    pub factor: Spanned<f64>,
}

/// A file of rules only, included from the main config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawRulesFile {
    /// The rules.
    pub rules: Vec<Spanned<RawRule>>,
}

/// A rule problem at a byte range of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleError {
    /// Where in the file.
    pub span: Range<usize>,
    /// What is wrong, naming the rule and key.
    pub message: String,
}

/// Largest pin position.
pub const MAX_POSITION: i64 = 10_000;

impl RawRule {
    /// Validates the rule.
    pub fn compile(&self) -> Result<Rule, RuleError> {
        let id = self.id.get_ref().trim();
        let fail = |span: Range<usize>, key: &str, message: String| RuleError {
            span,
            message: format!("rule {id:?}: {key}: {message}"),
        };
        if id.is_empty() {
            return Err(fail(self.id.span(), "id", "must not be empty".into()));
        }
        let when = self.when.compile(&fail)?;
        let then = self.then.get_ref().compile(&fail)?;
        if then.is_empty() {
            return Err(fail(
                self.then.span(),
                "then",
                "names no consequence".into(),
            ));
        }
        Ok(Rule {
            id: Arc::from(id),
            description: self.description.clone(),
            when,
            then,
        })
    }
}

type Fail<'a> = dyn Fn(Range<usize>, &str, String) -> RuleError + 'a;

impl RawWhen {
    fn compile(&self, fail: &Fail) -> Result<When, RuleError> {
        let phrases = |value: &Option<Spanned<OneOrMany>>, key: &str| {
            let Some(value) = value else {
                return Ok(None);
            };
            let list = value.get_ref().clone().into_vec();
            if list.is_empty() || list.iter().any(|p| p.trim().is_empty()) {
                return Err(fail(value.span(), key, "phrases must not be empty".into()));
            }
            Ok(Some(Phrases::new(list)))
        };
        let regex = match &self.regex {
            Some(r) => Some(
                regex::RegexBuilder::new(r.get_ref())
                    .case_insensitive(true)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| fail(r.span(), "when.regex", one_line(&e.to_string())))?,
            ),
            None => None,
        };
        let time = |value: &Option<Spanned<String>>, key: &str| match value {
            Some(v) => OffsetDateTime::parse(v.get_ref(), &Rfc3339)
                .map(Some)
                .map_err(|e| {
                    fail(
                        v.span(),
                        key,
                        format!("must be an RFC 3339 date-time such as 2025-11-28T00:00:00Z ({e})"),
                    )
                }),
            None => Ok(None),
        };
        let from = time(&self.from, "when.from")?;
        let until = time(&self.until, "when.until")?;
        if let (Some(f), Some(u), Some(span)) =
            (from, until, self.until.as_ref().map(Spanned::span))
            && f >= u
        {
            return Err(fail(span, "when.until", "must be after when.from".into()));
        }
        let lifecycle = match &self.lifecycle {
            Some(value) => {
                let mut stages = Vec::new();
                for name in value.get_ref().clone().into_vec() {
                    stages.push(lifecycle(&name).ok_or_else(|| {
                        fail(
                            value.span(),
                            "when.lifecycle",
                            format!(
                                "unknown stage {name:?}: use new, returning, customer or lapsed"
                            ),
                        )
                    })?);
                }
                Some(stages)
            }
            None => None,
        };
        let placement = match &self.placement {
            Some(value) => {
                let names = value.get_ref().clone().into_vec();
                let names: Vec<String> = names.iter().map(|n| n.trim().to_string()).collect();
                if let Some(unknown) = names
                    .iter()
                    .find(|n| !super::PLACEMENTS.contains(&n.as_str()))
                {
                    let known = super::PLACEMENTS.join(", ");
                    let message = format!("unknown placement {unknown:?}: use {known}");
                    return Err(fail(value.span(), "when.placement", message));
                }
                Some(names)
            }
            None => None,
        };
        let category = self.category.as_ref().map(|c| {
            c.get_ref()
                .split('>')
                .map(|l| crate::text::keyword(l.trim()))
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
        });
        if let (Some(path), Some(span)) = (&category, self.category.as_ref().map(Spanned::span))
            && path.is_empty()
        {
            return Err(fail(
                span,
                "when.category",
                "must name a category path".into(),
            ));
        }
        Ok(When {
            is: phrases(&self.is, "when.is")?,
            contains: phrases(&self.contains, "when.contains")?,
            starts_with: phrases(&self.starts_with, "when.starts_with")?,
            regex,
            category,
            filtered: self.filtered,
            from,
            until,
            lifecycle,
            source: self.source.as_ref().map(|s| {
                s.get_ref()
                    .clone()
                    .into_vec()
                    .iter()
                    .map(|s| s.trim().to_lowercase())
                    .collect()
            }),
            placement,
        })
    }
}

fn lifecycle(name: &str) -> Option<Lifecycle> {
    Some(match name.trim() {
        "new" => Lifecycle::New,
        "returning" => Lifecycle::Returning,
        "customer" => Lifecycle::Customer,
        "lapsed" => Lifecycle::Lapsed,
        _ => return None,
    })
}

/// Error texts of the regex crate span several lines; the config error is one line.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn expr(value: &Spanned<String>, key: &str, fail: &Fail) -> Result<Arc<Expr>, RuleError> {
    Expr::parse(value.get_ref())
        .map(Arc::new)
        .map_err(|e| fail(value.span(), key, e.to_string()))
}

impl RawThen {
    fn compile(&self, fail: &Fail) -> Result<Then, RuleError> {
        let mut pins = Vec::new();
        for pin in &self.pin {
            let p = pin.get_ref();
            if p.id.trim().is_empty() {
                return Err(fail(pin.span(), "then.pin.id", "must not be empty".into()));
            }
            let position = *p.position.get_ref();
            if !(1..=MAX_POSITION).contains(&position) {
                let message = format!("must be between 1 and {MAX_POSITION}");
                return Err(fail(p.position.span(), "then.pin.position", message));
            }
            pins.push(Pin {
                id: p.id.trim().to_string(),
                position: position as usize,
            });
        }
        let boosts = |list: &[Spanned<RawBoost>], key: &str, ok: fn(f64) -> bool, range: &str| {
            let mut out = Vec::new();
            for b in list {
                let raw = b.get_ref();
                let factor = *raw.factor.get_ref();
                if !factor.is_finite() || !ok(factor) {
                    return Err(fail(
                        raw.factor.span(),
                        &format!("{key}.factor"),
                        format!("must be {range}"),
                    ));
                }
                out.push(Boost {
                    expr: expr(&raw.filter, &format!("{key}.filter"), fail)?,
                    factor,
                });
            }
            Ok(out)
        };
        let mut weights = boosts(
            &self.boost,
            "then.boost",
            |f| f >= 1.0,
            "a number >= 1 (use bury to lower)",
        )?;
        weights.extend(boosts(
            &self.bury,
            "then.bury",
            |f| f > 0.0 && f <= 1.0,
            "a number > 0 and <= 1",
        )?);
        let filter = match &self.filter {
            Some(f) => Some(expr(f, "then.filter", fail)?),
            None => None,
        };
        let redirect = match &self.redirect {
            Some(r) => {
                let url = r.get_ref().trim();
                let absolute = url.starts_with("https://") || url.starts_with("http://");
                if !(absolute || url.starts_with('/')) || url.contains(char::is_whitespace) {
                    let message = "must be an http(s) URL or a path starting with /".into();
                    return Err(fail(r.span(), "then.redirect", message));
                }
                Some(url.to_string())
            }
            None => None,
        };
        let strength = match &self.strength {
            Some(s) => {
                let value = *s.get_ref();
                Some(
                    u8::try_from(value)
                        .ok()
                        .filter(|v| *v <= 100)
                        .ok_or_else(|| {
                            fail(
                                s.span(),
                                "then.strength",
                                "must be between 0 and 100".into(),
                            )
                        })?,
                )
            }
            None => None,
        };
        Ok(Then {
            pins,
            hide: self
                .hide
                .iter()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .collect(),
            boosts: weights,
            filter,
            redirect,
            strength,
        })
    }
}
