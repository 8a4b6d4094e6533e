//! The engine's side of merchandising and configuration: which rules fire for a request,
//! reloading the configuration file, and previewing a candidate configuration.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Engine;
use crate::config::{Config, ConfigVersion};
use crate::error::{Error, Result};
use crate::profiles::view::Lifecycle;
use crate::rules::{Context, Outcome, Segment};
use crate::search::{Hit, SearchRequest};

/// What a reload did.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ReloadReport {
    /// The version now in force.
    pub version: ConfigVersion,
    /// Whether the files differed from the version before.
    pub changed: bool,
    /// Rules in force.
    pub rules: usize,
    /// Settings the file changes that only take effect at the next start.
    pub ignored_until_restart: Vec<&'static str>,
}

/// A candidate configuration and a query to try it on.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// The candidate configuration, as TOML text (included files are read relative to the
    /// configuration file in force).
    pub config: String,
    /// The shopper's words.
    #[serde(default)]
    pub q: String,
    /// A visitor, for segment conditions.
    #[serde(default)]
    pub visitor_id: Option<String>,
    /// Hits per side (default: the search default).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// The top hits under the configuration in force and under a candidate, on one snapshot.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Preview {
    /// Hits under the configuration in force.
    pub before: Vec<Hit>,
    /// Hits under the candidate.
    pub after: Vec<Hit>,
    /// The candidate's rules that fired, in order.
    pub fired: Vec<String>,
    /// The rules in force that fired.
    pub fired_before: Vec<String>,
    /// The candidate's redirect, if one fired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
}

/// A time as RFC 3339 text.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

impl Engine {
    /// The rules of `config` that fire for a request at `now`, combined.
    pub fn rules_for(&self, config: &Config, req: &SearchRequest, now: OffsetDateTime) -> Outcome {
        if config.rules.is_empty() {
            return Outcome::default();
        }
        let ctx = Context {
            query: &req.q,
            lang: config.search.languages.of_query(&req.q),
            category: &req.filters.category,
            filtered: !req.filters.is_empty(),
            visitor: self.segment(req.visitor_id.as_deref(), now),
            now,
            placement: (req.placement).unwrap_or(if req.browse { "browse" } else { "search" }),
        };
        config.rules.evaluate(&ctx)
    }

    /// The segment of a visitor at `now`; without a profile, [`Segment::unknown`].
    fn segment(&self, visitor_id: Option<&str>, now: OffsetDateTime) -> Segment {
        let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
        let profiles = &self.profiles;
        visitor_id
            .and_then(|id| {
                profiles.with(id, |p| Segment {
                    lifecycle: Lifecycle::of(p, now_ms, profiles.config()),
                    source: p.source.as_deref().map(str::to_lowercase),
                })
            })
            .unwrap_or_else(Segment::unknown)
    }

    /// Rereads the configuration file (and its included files) on the blocking pool and puts
    /// it in force once it is valid; an invalid one is rejected (logged, and returned with its
    /// file, line, column and reason) and the configuration in force stays.
    pub async fn reload(self: &Arc<Self>) -> Result<ReloadReport> {
        let engine = self.clone();
        tokio::task::spawn_blocking(move || engine.reload_now())
            .await
            .map_err(|e| Error::Internal(format!("reload task failed: {e}")))?
    }

    /// [`Engine::reload`], on the calling thread.
    pub fn reload_now(&self) -> Result<ReloadReport> {
        // A poisoned lock only means an earlier reload panicked; the swap is atomic anyway.
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let running = self.config();
        let path = running.version.path.clone().ok_or(Error::NoConfigFile)?;
        let mut next = Config::load(&path, true).map_err(|e| {
            tracing::warn!(error = %e, "configuration rejected; the previous one stays in force");
            Error::ConfigRejected(e.to_string())
        })?;
        let ignored = next.keep_restart_only(&running);
        let changed = next.version.hash != running.version.hash;
        next.version.counter = running.version.counter + 1;
        next.version.loaded_at = rfc3339(self.clock.now());
        let report = ReloadReport {
            version: next.version.clone(),
            changed,
            rules: next.rules.rules().len(),
            ignored_until_restart: ignored,
        };
        if next.tiers != running.tiers {
            // Built now rather than by the next search; a failure leaves that to the search.
            if let Err(e) = self.search.set_tier_settings(&next.tiers) {
                tracing::warn!(error = %e, "cannot build the price tiers of the new settings");
            }
        }
        self.config.store(Arc::new(next));
        tracing::info!(
            hash = %report.version.hash,
            counter = report.version.counter,
            rules = report.rules,
            ignored_until_restart = ?report.ignored_until_restart,
            "configuration reloaded"
        );
        Ok(report)
    }

    /// Runs a query under the configuration in force and under a candidate, on the same
    /// snapshot of the index and at the same time, without changing anything.
    pub async fn preview(self: &Arc<Self>, req: PreviewRequest) -> Result<Preview> {
        self.on_pool("preview", move |engine| engine.preview_now(&req))
            .await
    }

    fn preview_now(&self, req: &PreviewRequest) -> Result<Preview> {
        let running = self.config();
        let dir = running
            .version
            .path
            .as_deref()
            .and_then(Path::parent)
            .unwrap_or(Path::new(""));
        let mut candidate = Config::parse(&req.config, &dir.join("(preview)"))
            .map_err(|e| Error::ConfigRejected(e.to_string()))?;
        candidate.keep_restart_only(&running);
        let mut pairs = vec![("q".to_string(), req.q.clone())];
        pairs.extend(
            req.visitor_id
                .iter()
                .map(|v| ("visitor_id".to_string(), v.clone())),
        );
        pairs.extend(req.limit.map(|l| ("limit".to_string(), l.to_string())));
        let query = SearchRequest::from_pairs(pairs, &running.search)?;
        let (searcher, now) = (self.index.searcher(), self.clock.now());
        let run = |config: &Config| {
            self.search_under(config, &searcher, &query, now, None)?
                .answered()
        };
        let (before, after) = (run(&running)?, run(&candidate)?);
        Ok(Preview {
            before: before.hits,
            after: after.hits,
            fired: after.query.rules,
            fired_before: before.query.rules,
            redirect: after.redirect,
        })
    }
}
