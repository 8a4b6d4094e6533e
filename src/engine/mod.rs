//! The engine: the framework-free facade the HTTP layer and the CLI call.
//!
//! It owns the product index, the catalog syncs, the visitor profiles with their journal and
//! the configuration, and the autocomplete suggestions. Broad searches and a visitor's
//! suggestion lookups run on its own threads behind a bounded queue (the `pool` module), so a
//! burst answers "busy" instead of piling up; narrow searches and lookups without a visitor,
//! which take tens of microseconds, run on the thread that received them
//! ([`Engine::search`], [`Engine::autocomplete`]).
//!
//! The configuration in force sits behind an [`ArcSwap`]: a search clones the `Arc` once and
//! keeps that configuration to its end, so a reload ([`Engine::reload`]) never waits for
//! searches nor makes one fail; it swaps in a configuration validated completely beforehand.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;

use crate::catalog::Product;
use crate::catalog::sync::{SyncInfo, SyncManager};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::group::Group;
use crate::index::writer::WriterConfig;
use crate::index::{DeleteReport, ProductIndex, ReplaceReport};
use crate::profiles::facts::FactsCache;
use crate::profiles::journal::Journal;
use crate::profiles::profile::secs;
use crate::profiles::profile::{Preferences, Profile};
use crate::profiles::view::{PriceTiersView, ProfileView, TierPreference};
use crate::profiles::{Entry, ProfileStore, now_ms};
use crate::rules::{Clock, SystemClock};
use crate::search::query::cost::Inline;
use crate::search::ranking::personalize::Taste;
use crate::search::ranking::tiers::{SnapshotTiers, TierTable};
use crate::search::{self, SearchIndex, SearchRequest, SearchResponse};
use crate::suggest::{AutocompleteRequest, AutocompleteResponse, BuildStats, Suggester};

mod admin;
mod ingest;
mod pool;
mod recommend;
mod tastes;
#[cfg(test)]
mod tests;

use pool::SearchPool;

pub use admin::{Preview, PreviewRequest, ReloadReport};

pub use ingest::{
    EventIngest, EventReport, Ingest, IngestReport, ItemSink, MAX_EVENTS_PER_ARRAY,
    MAX_LISTED_ERRORS,
};

/// The engine.
pub struct Engine {
    config: ArcSwap<Config>,
    /// Serializes reloads (searches never take it).
    reloading: Mutex<()>,
    clock: Arc<dyn Clock>,
    index: Arc<ProductIndex>,
    /// The same index with what search derives from its snapshots.
    search: SearchIndex,
    syncs: Arc<SyncManager>,
    facts: Arc<FactsCache>,
    profiles: Arc<ProfileStore>,
    journal: Journal,
    searches: SearchPool,
    suggester: Suggester,
    tastes: tastes::TasteCache,
    /// The catalog generation, profile entry and config counter the suggestions were last
    /// built from.
    suggested_from: Mutex<Option<(u64, u64, u64)>>,
}

impl Engine {
    /// Opens (or creates) the data directory named in the config.
    pub fn open(config: Config) -> Result<Arc<Engine>> {
        Engine::open_with_clock(config, Arc::new(SystemClock))
    }

    /// Opens the engine with a clock for rule windows and segments (tests pass a fixed one).
    pub fn open_with_clock(mut config: Config, clock: Arc<dyn Clock>) -> Result<Arc<Engine>> {
        config.version.loaded_at = admin::rfc3339(clock.now());
        let data = &config.server.data_dir;
        let search = SearchIndex::open(
            &data.join("products"),
            WriterConfig {
                threads: config.index.writer_threads,
                heap_bytes: config.index.writer_heap_bytes,
                languages: config.index.languages.clone(),
                ..WriterConfig::default()
            },
            &config.tiers,
            &config.cache,
        )?;
        let index = search.products().clone();
        let syncs = SyncManager::open(&data.join("syncs"), config.index.sync_ttl)?;
        let facts = Arc::new(FactsCache::new(index.clone(), config.cache.product_facts));
        let profiles = Arc::new(ProfileStore::new(config.profiles.clone(), facts.clone()));
        let journal = Journal::open(&data.join("profiles"), profiles.clone())?;
        let searches = SearchPool::new(
            config.server.search_concurrency.get(),
            config.server.search_queue,
        )?;
        Ok(Arc::new(Engine {
            index,
            search,
            syncs: Arc::new(syncs),
            facts,
            profiles,
            journal,
            searches,
            suggester: Suggester::new()?,
            tastes: tastes::TasteCache::new(config.cache.tastes),
            suggested_from: Mutex::new(None),
            config: ArcSwap::from_pointee(config),
            reloading: Mutex::new(()),
            clock,
        }))
    }

    /// The configuration in force: a cheap clone of an `Arc`, kept as long as the caller
    /// needs it whatever reloads happen meanwhile.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// The product index.
    pub fn index(&self) -> &ProductIndex {
        &self.index
    }

    /// The product index as search reads it.
    pub fn search_index(&self) -> &SearchIndex {
        &self.search
    }

    /// What every cache holds and how often it answered.
    pub fn cache_stats(&self) -> Result<Vec<crate::cache::CacheStats>> {
        let mut stats = vec![self.tastes.stats(), self.facts.stats()];
        stats.extend(self.search.cache_stats()?);
        Ok(stats)
    }

    /// Open catalog syncs.
    pub fn syncs(&self) -> &SyncManager {
        &self.syncs
    }

    /// Starts an ingestion of streamed items, into the catalog or into a sync.
    pub fn ingest(self: &Arc<Self>, sync_id: Option<String>) -> Result<Ingest> {
        if let Some(id) = &sync_id {
            self.syncs.check(id)?;
        }
        Ok(Ingest::new(self.clone(), sync_id))
    }

    /// Reads one product.
    pub fn product(&self, id: &str) -> Result<Product> {
        self.index
            .get(id)?
            .ok_or_else(|| Error::UnknownProduct(id.to_string()))
    }

    /// Applies a merge patch to one product.
    pub async fn patch_product(&self, id: &str, patch: serde_json::Value) -> Result<Product> {
        let product = self.index.patch(id.to_string(), patch).await?;
        self.facts.invalidate(id);
        Ok(product)
    }

    /// Deletes one product; unknown ids are an error.
    pub async fn delete_product(&self, id: &str) -> Result<()> {
        let report = self.index.delete(vec![id.to_string()]).await?;
        self.facts.invalidate(id);
        if report.deleted == 0 {
            return Err(Error::UnknownProduct(id.to_string()));
        }
        Ok(())
    }

    /// Deletes products in bulk; unknown ids are reported, not an error.
    pub async fn delete_products(&self, ids: Vec<String>) -> Result<DeleteReport> {
        let report = self.index.delete(ids.clone()).await?;
        for id in &ids {
            self.facts.invalidate(id);
        }
        Ok(report)
    }

    /// Opens a full catalog sync.
    pub fn begin_sync(&self) -> Result<SyncInfo> {
        self.syncs.begin(SystemTime::now())
    }

    /// Replaces the catalog with what a sync staged, atomically.
    pub async fn commit_sync(self: &Arc<Self>, sync_id: &str) -> Result<ReplaceReport> {
        let path: PathBuf = self.syncs.take(sync_id)?;
        match self.index.replace_all(path.clone()).await {
            Ok(report) => {
                self.syncs.finish(&path);
                self.facts.clear();
                self.suggest_new_catalog();
                Ok(report)
            }
            Err(e) => {
                // Leave the sync open so the job can retry the commit.
                self.syncs.reopen(sync_id, path, SystemTime::now())?;
                Err(e)
            }
        }
    }

    /// Abandons a sync.
    pub fn abort_sync(&self, sync_id: &str) -> Result<()> {
        self.syncs.abort(sync_id)
    }

    /// Runs a search: on the calling thread when its plan is predicted to visit at most
    /// `server.inline_search_matches` matches, else on the search pool (answering
    /// [`Error::Overloaded`] when its queue is full).
    ///
    /// A narrow search takes tens of microseconds, about what handing it to a search thread
    /// and its answer back costs on a busy core; planning it first tells a narrow search from
    /// a broad one, which would hold the async worker (and every request waiting on it) for
    /// milliseconds. A declined search is run anew on the pool: only its planning is spent
    /// twice.
    pub async fn search(self: &Arc<Self>, req: SearchRequest) -> Result<SearchResponse> {
        let config = self.config();
        let limit = config.server.inline_search_matches;
        if limit > 0 {
            let searcher = self.index.searcher();
            let now = self.clock.now();
            match self.search_under(&config, &searcher, &req, now, Some(limit))? {
                Inline::Answered(response) => return self.finish(&req, response),
                Inline::Declined { predicted } => tracing::trace!(predicted, "search on the pool"),
            }
        }
        self.on_pool("search", move |engine| engine.search_now(&req))
            .await
    }

    /// Runs a search on the calling thread: the merchandising rules that fire for it, and
    /// personalization for the request's visitor unless the visitor is in the control group
    /// or opted out.
    pub fn search_now(&self, req: &SearchRequest) -> Result<SearchResponse> {
        let searcher = self.index.searcher();
        let now = self.clock.now();
        let response =
            (self.search_under(&self.config(), &searcher, req, now, None)?).answered()?;
        self.finish(req, response)
    }

    /// What a search adds to its ranked page on request: each hit's matched words marked
    /// (`highlight=true`), from the product's title and description.
    fn finish(&self, req: &SearchRequest, mut response: SearchResponse) -> Result<SearchResponse> {
        if !req.highlight {
            return Ok(response);
        }
        let echo = &response.query;
        let completions = echo.completion.iter().flat_map(|c| c.to.iter());
        let synonyms = echo.synonyms.iter().flat_map(|s| s.to.iter());
        let stems: std::collections::HashSet<String> = (echo.terms.iter())
            .chain(completions)
            .chain(synonyms)
            .flat_map(|words| words.split_whitespace())
            .map(str::to_string)
            .collect();
        let mut analyzer = crate::text::Analyzer::new(echo.lang);
        for hit in &mut response.hits {
            let description = self.index.get(&hit.id)?.and_then(|p| p.description);
            hit.highlight = Some(search::highlight::highlight(
                &hit.title,
                description.as_deref(),
                &stems,
                &mut analyzer,
            ));
        }
        Ok(response)
    }

    /// Runs a search under a configuration (the one in force, or a previewed one) on a
    /// snapshot, at an instant; declined when predicted to visit more than `limit` matches.
    fn search_under(
        &self,
        config: &Config,
        searcher: &tantivy::Searcher,
        req: &SearchRequest,
        now: time::OffsetDateTime,
        limit: Option<u64>,
    ) -> Result<Inline<SearchResponse>> {
        let outcome = self.rules_for(config, req, now);
        let group = req
            .visitor_id
            .as_deref()
            .map(|v| Group::of(v, config.personalization.control_share));
        let read_taste = |tiers: &Arc<SnapshotTiers>| -> Option<Arc<Taste>> {
            self.taste_of(config, req.visitor_id.as_deref()?, tiers)
        };
        let personal = search::Personalization {
            config: &config.personalization,
            tiers: &config.tiers,
            group,
            taste: (group == Some(Group::Personalized))
                .then_some(&read_taste as &search::TasteReader),
        };
        search::search_with_rules(
            &self.search,
            searcher,
            &config.search,
            req,
            &personal,
            &outcome,
            limit,
        )
    }

    /// Suggests completions. A lookup without a visitor reads only as far as the page it
    /// answers (tens of microseconds at most over 46k products: see [`crate::suggest`]), so it
    /// runs on the calling thread; a visitor's boosts can make it read many more suggestions,
    /// so it runs on the search pool, behind the same queue as searches. An unknown visitor
    /// gets the suggestions everyone gets.
    pub async fn autocomplete(
        self: &Arc<Self>,
        req: AutocompleteRequest,
    ) -> Result<AutocompleteResponse> {
        if req.visitor_id.is_none() {
            return Ok(self.suggest_now(&req));
        }
        self.on_pool("autocomplete", move |engine| Ok(engine.suggest_now(&req)))
            .await
    }

    /// Suggests completions on this thread.
    fn suggest_now(&self, req: &AutocompleteRequest) -> AutocompleteResponse {
        let visitor = (req.visitor_id.as_deref()).and_then(|id| self.visitor(id).ok());
        let config = self.config();
        let synonyms = &config.search.synonyms;
        (self.suggester).lookup(req, visitor.as_ref(), &config.suggest, synonyms)
    }

    /// Rebuilds the suggestions unless the catalog, the profiles and the configuration are
    /// the ones they were last built from (a rebuild over 46k products costs the better part
    /// of a second of a core); None when nothing changed.
    pub async fn refresh_suggestions(self: &Arc<Self>) -> Result<Option<BuildStats>> {
        let sources = (
            self.index.generation(),
            self.profiles.applied(),
            self.config().version.counter,
        );
        if *self
            .suggested_from
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            == Some(sources)
        {
            return Ok(None);
        }
        let stats = self.rebuild_suggestions().await?;
        *self
            .suggested_from
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(sources);
        Ok(Some(stats))
    }

    /// Suggests a catalog's first products right after the commit that brought them, in the
    /// background, instead of at the next periodic rebuild up to a minute later.
    pub(crate) fn suggest_new_catalog(self: &Arc<Self>) {
        if !self.suggester.current().is_empty() {
            return;
        }
        let engine = self.clone();
        tokio::spawn(async move {
            if let Err(e) = engine.refresh_suggestions().await {
                tracing::warn!(error = %e, "cannot suggest the new catalog");
            }
        });
    }

    /// Rebuilds the suggestions from the catalog and the profiles on the blocking pool and
    /// swaps them in; lookups go on meanwhile with the previous ones.
    pub async fn rebuild_suggestions(self: &Arc<Self>) -> Result<BuildStats> {
        let engine = self.clone();
        tokio::task::spawn_blocking(move || {
            let c = engine.config();
            let profiles = &engine.profiles;
            (engine.suggester).rebuild(&engine.search, profiles, &c.search, &c.suggest)
        })
        .await
        .map_err(|e| Error::Internal(format!("suggestion rebuild failed: {e}")))?
    }

    /// Runs `work` on the search pool, or answers [`Error::Overloaded`] when its queue is full.
    async fn on_pool<T: Send + 'static>(
        self: &Arc<Self>,
        what: &'static str,
        work: impl FnOnce(&Engine) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let engine = self.clone();
        self.searches.run(what, move || work(&engine)).await
    }

    /// Commits pending writes, stops the writer and the journal (graceful shutdown).
    pub fn close(&self) {
        self.index.close();
        self.journal.close();
    }

    /// The visitor profiles.
    pub fn profiles(&self) -> &ProfileStore {
        &self.profiles
    }

    /// Starts an ingestion of streamed events.
    pub fn events(self: &Arc<Self>, format: BodyFormat) -> EventIngest {
        EventIngest::new(self.clone(), format)
    }

    /// Records a search a visitor made through the API as their `search` event, carrying its
    /// `search_id`, unless `profiles.record_searches` is off: profiles and analytics see
    /// searches without the storefront sending them. In the background: the answer does not
    /// wait for the journal, and a search is not an acknowledged write.
    pub fn record_search(self: &Arc<Self>, visitor_id: String, q: &str, answer: &SearchResponse) {
        let config = self.config();
        if !config.profiles.record_searches || q.trim().is_empty() {
            return;
        }
        let group = Group::of(&visitor_id, config.personalization.control_share);
        let event = crate::profiles::event::Event::search(
            visitor_id,
            q.trim().to_string(),
            answer.search_id.clone(),
            now_ms(),
            group,
        );
        let engine = self.clone();
        tokio::spawn(async move {
            if let Err(e) = engine.journal.append(vec![Entry::Event { event }]).await {
                tracing::warn!(error = %e, "cannot record a search event");
            }
        });
    }

    /// Merges an anonymous visitor into a user, durably.
    pub async fn identify(&self, visitor_id: &str, user_id: &str) -> Result<String> {
        let entry = Entry::Identify {
            visitor_id: visitor_id.to_string(),
            user_id: user_id.to_string(),
        };
        self.journal.append(vec![entry]).await?;
        Ok(self.profiles.resolve(visitor_id))
    }

    /// Replaces a visitor's stated preferences, durably.
    pub async fn set_preferences(&self, id: &str, preferences: Preferences) -> Result<ProfileView> {
        let entry = Entry::Preferences {
            id: id.to_string(),
            preferences,
        };
        self.journal.append(vec![entry]).await?;
        self.visitor(id)
    }

    /// The profile ranking uses for a visitor or user id, decayed to now.
    pub fn visitor(&self, id: &str) -> Result<ProfileView> {
        let profile = self
            .profiles
            .get(id)
            .ok_or_else(|| Error::UnknownVisitor(id.to_string()))?;
        let aliases = self.profiles.aliases_of(&profile.id);
        let mut view = ProfileView::of(&profile, aliases, now_ms(), &self.profiles);
        // The tier signal's targets, read the way search reads them.
        let config = self.config();
        let tiers = self.search.tiers(&self.search.searcher(), &config.tiers)?;
        let taste = self.taste(&config, &profile, &tiers.table, now_ms());
        let (overall, categories) = taste.tier_preferences();
        let named = |mean: f32| TierPreference {
            tier: config
                .tiers
                .name(mean.round().clamp(0.0, 255.0) as u8)
                .unwrap_or_default()
                .to_string(),
            mean,
        };
        view.price_tiers = Some(PriceTiersView {
            overall: overall.map(named),
            categories: categories
                .into_iter()
                .map(|(path, mean)| (path.join(" > "), named(mean)))
                .collect(),
        });
        Ok(view)
    }

    /// A visitor's taste under a configuration and a snapshot's tiers: the one kept from an
    /// earlier search or event while the profile is unchanged, else derived anew (None for
    /// an unknown or opted-out visitor).
    fn taste_of(
        &self,
        config: &Config,
        visitor_id: &str,
        tiers: &Arc<SnapshotTiers>,
    ) -> Option<Arc<Taste>> {
        let now = now_ms();
        self.profiles
            .with(visitor_id, |p| {
                (!p.opted_out()).then(|| {
                    let half_life_ms = config.profiles.half_life_ms;
                    self.tastes.get(p, tiers, half_life_ms, now, || {
                        self.taste(config, p, &tiers.table, now)
                    })
                })
            })
            .flatten()
    }

    /// How many visitor tastes were derived from profiles so far (a taste is kept until the
    /// visitor's profile changes).
    pub fn tastes_derived(&self) -> u64 {
        self.tastes.derived()
    }

    /// Derives anew, right after their events were applied, the tastes of the visitors whose
    /// taste a recent search kept: their next search finds the taste (and its ordinals in
    /// each segment) ready instead of deriving it first (with 44 affinities, the first
    /// search after a visitor's own view cost about twice the personalization of the next;
    /// benches/README.md). Other visitors are left alone: most events come from visitors
    /// who are not searching. Best effort, on the search pool: skipped when its queue is full.
    pub(crate) async fn refresh_tastes(self: &Arc<Self>, mut visitors: Vec<String>) {
        visitors.sort_unstable();
        visitors.dedup();
        visitors.retain(|v| self.tastes.holds(&self.profiles.resolve(v)));
        if visitors.is_empty() {
            return;
        }
        let refreshed = self
            .on_pool("taste refresh", move |engine| {
                let config = engine.config();
                let searcher = engine.index.searcher();
                let tiers = engine.search.tiers(&searcher, &config.tiers)?;
                let paths = engine.search.facet_paths();
                for visitor in &visitors {
                    if let Some(taste) = engine.taste_of(&config, visitor, &tiers) {
                        search::ranking::rerank::prepare(&taste, &searcher, &paths)?;
                    }
                }
                Ok(())
            })
            .await;
        if let Err(e) = refreshed {
            tracing::debug!(error = %e, "taste refresh skipped");
        }
    }

    /// What a profile says the visitor likes, now, as personalization reads it.
    fn taste(&self, config: &Config, profile: &Profile, tiers: &TierTable, now_ms: i64) -> Taste {
        let half_life_s = config.profiles.half_life_ms / 1000.0;
        Taste::of(
            profile,
            self.profiles.symbols(),
            self.tastes.keys(),
            half_life_s,
            secs(now_ms),
            tiers,
        )
    }

    /// Erases a profile, its aliases and its events from memory and disk; returns whether
    /// the id was known. Idempotent: repeated for an id already erased, it finishes purging
    /// the log if an earlier attempt's snapshot failed.
    pub async fn forget_visitor(&self, id: &str) -> Result<bool> {
        let known = self.profiles.get(id).is_some();
        if known {
            let canonical = self.profiles.resolve(id);
            self.journal
                .append(vec![Entry::Forget { id: id.to_string() }])
                .await?;
            // After the profile is gone, so no search can build its taste again.
            self.tastes.forget(&canonical);
        }
        if known || self.journal.erasure_pending() {
            // The events are in the log until a snapshot replaces it.
            self.journal.snapshot().await?;
        }
        Ok(known)
    }

    /// Snapshots the profiles and truncates their log.
    pub async fn snapshot_profiles(&self) -> Result<()> {
        self.journal.snapshot().await
    }
}

/// Re-exported so callers can build splitters without reaching into the catalog module.
pub use crate::catalog::ingest::{BodyFormat, BodySplitter};
