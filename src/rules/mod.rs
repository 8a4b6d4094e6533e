//! Merchandising rules: `when` a request looks like this, `then` pin, hide, boost, bury,
//! filter, redirect or set the personalization strength.
//!
//! Rules are read from the config file ([`raw`]) and evaluated here against a [`Context`]: a
//! request-like description (the words, the filters in force, the visitor's segment and the
//! time) that search builds today and browse and recommendations can build later. Evaluation
//! is pure: it never reads the wall clock (the time comes in the context) nor the index; the
//! search module turns the [`Outcome`] into query clauses, a ranking factor and pins.
//!
//! # Order and conflicts
//! Rules are evaluated in the order they appear (the main file's first, then each included
//! file in turn); every rule whose conditions all hold fires, and their consequences combine:
//! - filters all apply, hides all apply, boost and bury factors multiply;
//! - **hide wins over pin**: a product hidden by any fired rule is never pinned;
//! - for one position, the **earlier rule's pin wins**; a product pinned twice keeps its
//!   first position;
//! - the earlier rule's `redirect` and `strength` win.

pub mod expr;
pub mod files;
pub mod raw;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::profiles::view::Lifecycle;
use crate::text::{Analyzer, Lang};
use expr::Expr;

/// A validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique name.
    pub id: Arc<str>,
    /// Free text for people.
    pub description: Option<String>,
    /// Conditions, all required.
    pub when: When,
    /// Consequences.
    pub then: Then,
}

/// Phrases a query is compared with after analysis, in the query's language.
#[derive(Debug, Clone, PartialEq)]
pub struct Phrases(Vec<String>);

impl Phrases {
    /// Phrases as written.
    pub fn new(phrases: Vec<String>) -> Phrases {
        Phrases(phrases)
    }

    /// Whether any phrase, analysed like the query, satisfies `test` against the query's terms.
    fn any(&self, analyzer: &mut Analyzer, test: impl Fn(&[String]) -> bool) -> bool {
        self.0.iter().any(|p| {
            let terms = analyzer.terms(p);
            !terms.is_empty() && test(&terms)
        })
    }
}

/// The conditions of a rule; absent conditions always hold.
#[derive(Debug, Clone, Default)]
pub struct When {
    /// The analysed query equals a phrase.
    pub is: Option<Phrases>,
    /// The analysed query contains a phrase (consecutive words).
    pub contains: Option<Phrases>,
    /// The analysed query starts with a phrase.
    pub starts_with: Option<Phrases>,
    /// A regular expression on the raw query (case-insensitive).
    pub regex: Option<regex::Regex>,
    /// A category filter at or below this path (lowercased levels).
    pub category: Option<Vec<String>>,
    /// Some filter in force (or none).
    pub filtered: Option<bool>,
    /// Window start, inclusive.
    pub from: Option<OffsetDateTime>,
    /// Window end, exclusive.
    pub until: Option<OffsetDateTime>,
    /// Lifecycle stages targeted.
    pub lifecycle: Option<Vec<Lifecycle>>,
    /// Acquisition sources targeted (lowercased).
    pub source: Option<Vec<String>>,
    /// The places targeted ([`PLACEMENTS`]): search results, category pages, one widget.
    pub placement: Option<Vec<String>>,
}

/// Where a rule can take effect: `search`, `browse` (category pages) and each recommendation
/// widget.
pub const PLACEMENTS: &[&str] = &[
    "search",
    "browse",
    "similar",
    "recently_viewed",
    "also_viewed",
    "bought_together",
    "post_purchase",
    "trending",
    "for_you",
];

/// A product placed at a position.
#[derive(Debug, Clone, PartialEq)]
pub struct Pin {
    /// Product id.
    pub id: String,
    /// 1-based absolute position.
    pub position: usize,
}

/// A score factor for the products an expression holds for (> 1 boosts, < 1 buries).
#[derive(Debug, Clone)]
pub struct Boost {
    /// Which products.
    pub expr: Arc<Expr>,
    /// The factor.
    pub factor: f64,
}

/// The consequences of a rule.
#[derive(Debug, Clone, Default)]
pub struct Then {
    /// Pins.
    pub pins: Vec<Pin>,
    /// Hidden product ids.
    pub hide: Vec<String>,
    /// Boosts and buries.
    pub boosts: Vec<Boost>,
    /// A hard filter.
    pub filter: Option<Arc<Expr>>,
    /// A redirect address.
    pub redirect: Option<String>,
    /// Personalization strength, 0–100.
    pub strength: Option<u8>,
}

impl Then {
    /// Whether the rule does nothing.
    pub fn is_empty(&self) -> bool {
        self.pins.is_empty()
            && self.hide.is_empty()
            && self.boosts.is_empty()
            && self.filter.is_none()
            && self.redirect.is_none()
            && self.strength.is_none()
    }
}

/// Where a visitor stands, as rules target it.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Lifecycle stage.
    pub lifecycle: Lifecycle,
    /// First acquisition source, lowercased.
    pub source: Option<String>,
}

impl Segment {
    /// The segment of a visitor without a profile: new, from nowhere known.
    pub fn unknown() -> Segment {
        Segment {
            lifecycle: Lifecycle::New,
            source: None,
        }
    }
}

/// What rules are evaluated against: a search today, a browse or a recommendation later.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The shopper's words as typed (empty when browsing).
    pub query: &'a str,
    /// The language the words are read in.
    pub lang: Lang,
    /// The category filter in force (levels, as sent).
    pub category: &'a [String],
    /// Whether any filter is in force.
    pub filtered: bool,
    /// The visitor's segment.
    pub visitor: Segment,
    /// The time the request is served at.
    pub now: OffsetDateTime,
    /// Where the answer is shown (one of [`PLACEMENTS`]).
    pub placement: &'a str,
}

/// What reads the time for rule windows: the system clock in the server, a fixed one in tests.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock stopped at one moment (an offline evaluation replaying old events, a test).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub OffsetDateTime);

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
    }
}

/// A pin that survived the conflicts, with the rule that set it.
#[derive(Debug, Clone, PartialEq)]
pub struct FiredPin {
    /// Product id.
    pub id: String,
    /// 1-based absolute position.
    pub position: usize,
    /// The rule.
    pub rule: Arc<str>,
}

/// A boost or bury of a fired rule.
#[derive(Debug, Clone)]
pub struct FiredBoost {
    /// The rule.
    pub rule: Arc<str>,
    /// Which products.
    pub expr: Arc<Expr>,
    /// The factor.
    pub factor: f64,
}

/// The combined consequences of every rule that fired for one request.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Ids of the rules that fired, in order.
    pub fired: Vec<Arc<str>>,
    /// Pins by position, conflicts resolved, hidden products removed.
    pub pins: Vec<FiredPin>,
    /// Hidden product ids.
    pub hidden: Vec<String>,
    /// Boosts and buries, in rule order.
    pub boosts: Vec<FiredBoost>,
    /// Hard filters, with their rules.
    pub filters: Vec<(Arc<str>, Arc<Expr>)>,
    /// Where to send the shopper.
    pub redirect: Option<String>,
    /// Personalization strength.
    pub strength: Option<u8>,
}

impl Outcome {
    /// Whether the outcome changes which products match.
    pub fn restricts(&self) -> bool {
        !self.hidden.is_empty() || !self.filters.is_empty()
    }
}

/// The rules in force, in order.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

impl RuleSet {
    /// A set of rules, in evaluation order (ids are checked unique by the config loader).
    pub fn new(rules: Vec<Rule>) -> RuleSet {
        RuleSet { rules }
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Evaluates every rule against a request and combines what fired.
    pub fn evaluate(&self, ctx: &Context) -> Outcome {
        let mut out = Outcome::default();
        if self.rules.is_empty() {
            return out;
        }
        let mut analyzer = Analyzer::new(ctx.lang);
        let terms = analyzer.terms(ctx.query);
        let mut taken = HashSet::new();
        let mut pinned = HashSet::new();
        for rule in &self.rules {
            if !rule.when.holds(ctx, &terms, &mut analyzer) {
                continue;
            }
            let then = &rule.then;
            out.fired.push(rule.id.clone());
            for pin in &then.pins {
                // The earlier rule keeps a position and a product keeps its first position.
                if !taken.contains(&pin.position) && !pinned.contains(&pin.id) {
                    taken.insert(pin.position);
                    pinned.insert(pin.id.clone());
                    out.pins.push(FiredPin {
                        id: pin.id.clone(),
                        position: pin.position,
                        rule: rule.id.clone(),
                    });
                }
            }
            out.hidden.extend(then.hide.iter().cloned());
            out.boosts.extend(then.boosts.iter().map(|b| FiredBoost {
                rule: rule.id.clone(),
                expr: b.expr.clone(),
                factor: b.factor,
            }));
            if let Some(filter) = &then.filter {
                out.filters.push((rule.id.clone(), filter.clone()));
            }
            if out.redirect.is_none() {
                out.redirect.clone_from(&then.redirect);
            }
            out.strength = out.strength.or(then.strength);
        }
        // Hide wins over pin, whichever rule came first.
        out.pins.retain(|p| !out.hidden.contains(&p.id));
        out.pins.sort_by_key(|p| p.position);
        out
    }
}

impl When {
    fn holds(&self, ctx: &Context, terms: &[String], analyzer: &mut Analyzer) -> bool {
        let phrase = |phrases: &Option<Phrases>,
                      analyzer: &mut Analyzer,
                      test: fn(&[String], &[String]) -> bool| {
            phrases
                .as_ref()
                .is_none_or(|p| p.any(analyzer, |phrase| test(terms, phrase)))
        };
        phrase(&self.is, analyzer, |q, p| q == p)
            && phrase(&self.contains, analyzer, |q, p| {
                q.windows(p.len()).any(|w| w == p)
            })
            && phrase(&self.starts_with, analyzer, |q, p| q.starts_with(p))
            && self.regex.as_ref().is_none_or(|r| r.is_match(ctx.query))
            && self.category.as_ref().is_none_or(|path| {
                ctx.category.len() >= path.len()
                    && path
                        .iter()
                        .zip(ctx.category)
                        .all(|(want, have)| *want == crate::text::keyword(have.trim()))
            })
            && self.filtered.is_none_or(|f| f == ctx.filtered)
            && (self.placement.as_ref()).is_none_or(|p| p.iter().any(|p| p == ctx.placement))
            && self.from.is_none_or(|from| ctx.now >= from)
            && self.until.is_none_or(|until| ctx.now < until)
            && self
                .lifecycle
                .as_ref()
                .is_none_or(|stages| stages.contains(&ctx.visitor.lifecycle))
            && self.source.as_ref().is_none_or(|sources| {
                ctx.visitor
                    .source
                    .as_ref()
                    .is_some_and(|s| sources.contains(s))
            })
    }
}
