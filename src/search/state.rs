//! What search derives from the index's snapshots, owned by search and built when a commit
//! brings a snapshot in.
//!
//! [`SearchIndex`] is the product index as search sees it: the index itself (which knows
//! nothing of search) and the state search keeps per segment or per snapshot: decoded facet
//! paths, ranking columns, hit tables, the catalog's lexicon, price tiers, term weights and
//! the memo of corrected words. All of it is built by tantivy warmers when a commit reloads
//! the reader, before the new snapshot is searched, so the first search after a commit finds
//! it ready instead of building it while other searches wait; what is read per segment is
//! forgotten once no searcher holds the segment.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tantivy::{Searcher, SearcherGeneration, Warmer};

use super::facets::FacetPaths;
use super::hits::HitTables;
use super::query::terms::TermWeights;
use super::query::typo::{WordMemo, WordMemoCache};
use super::query::understand::{Lexicon, LexiconCache};
use super::ranking::rank::ColumnCache;
use super::ranking::tiers::{SnapshotTiers, TierCache};
use crate::cache::{Bounded, CacheStats};
use crate::error::Result;
use crate::index::{Fields, ProductIndex, writer::WriterConfig};
use crate::settings::{CacheConfig, TierSettings};
use crate::text::Lang;

/// The best text score of queries in one snapshot, by the query's description.
pub type BestTexts = Bounded<String, f32>;
type BestTextCache = super::snapshot::SnapshotCache<(), BestTexts>;

/// The product index with what search derives from its snapshots.
#[derive(Clone)]
pub struct SearchIndex {
    index: Arc<ProductIndex>,
    state: Arc<SnapshotState>,
}

/// Per-segment and per-snapshot state; the index's reader holds it as a warmer.
struct SnapshotState {
    facet_paths: Arc<FacetPaths>,
    rank_columns: Arc<ColumnCache>,
    hit_tables: Arc<HitTables>,
    term_weights: Arc<TermWeights>,
    lexicons: LexiconCache,
    tiers: TierCache,
    words: WordMemoCache,
    /// Words each word memo keeps (`[cache] words`).
    words_kept: usize,
    best_texts: BestTextCache,
    /// Queries each best-text memo keeps (`[cache] queries`).
    queries_kept: usize,
    /// What a commit's warm-up builds the lexicon and the tiers with: the language queries
    /// are read in and the tier settings in force (a reload may change them).
    warm_with: Mutex<(Lang, TierSettings)>,
}

impl SearchIndex {
    /// Opens (or creates) the index in `dir` with search's warmers; `tiers` are the tier
    /// settings in force, `cache` the sizes of the caches.
    pub fn open(
        dir: &Path,
        config: WriterConfig,
        tiers: &TierSettings,
        cache: &CacheConfig,
    ) -> Result<SearchIndex> {
        let lang = config.languages.default_lang();
        let state = Arc::new(SnapshotState {
            facet_paths: Arc::default(),
            rank_columns: Arc::default(),
            hit_tables: Arc::default(),
            term_weights: Arc::default(),
            lexicons: LexiconCache::default(),
            tiers: TierCache::default(),
            words: WordMemoCache::default(),
            words_kept: cache.words,
            best_texts: BestTextCache::default(),
            queries_kept: cache.queries,
            warm_with: Mutex::new((lang, tiers.clone())),
        });
        // The per-segment tables first: the lexicon and the tiers read the facet paths.
        let warmers: Vec<Weak<dyn Warmer>> = vec![
            Arc::downgrade(&state.hit_tables) as Weak<dyn Warmer>,
            Arc::downgrade(&state.rank_columns) as Weak<dyn Warmer>,
            Arc::downgrade(&state.facet_paths) as Weak<dyn Warmer>,
            Arc::downgrade(&state) as Weak<dyn Warmer>,
        ];
        let index = Arc::new(ProductIndex::open_with_warmers(dir, config, warmers)?);
        Ok(SearchIndex { index, state })
    }

    /// The product index.
    pub fn products(&self) -> &Arc<ProductIndex> {
        &self.index
    }

    /// A consistent snapshot for reading.
    pub fn searcher(&self) -> Searcher {
        self.index.searcher()
    }

    /// The schema's field handles.
    pub fn fields(&self) -> &Fields {
        self.index.fields()
    }

    /// Decoded facet dictionaries of the index's segments.
    pub fn facet_paths(&self) -> Arc<FacetPaths> {
        self.state.facet_paths.clone()
    }

    /// The ranking columns of the index's segments.
    pub fn rank_columns(&self) -> Arc<ColumnCache> {
        self.state.rank_columns.clone()
    }

    /// The hit fields of the index's segments, in memory.
    pub fn hit_tables(&self) -> &HitTables {
        &self.state.hit_tables
    }

    /// The term weights of the latest snapshot searched.
    pub fn term_weights(&self) -> Arc<TermWeights> {
        self.state.term_weights.clone()
    }

    /// The catalog's names of a snapshot, analysed in `lang`, for reading queries.
    pub fn lexicon(&self, searcher: &Searcher, lang: Lang) -> Result<Arc<Lexicon>> {
        self.state.lexicon(searcher, lang)
    }

    /// The remembered corrections and completions of a snapshot's vocabulary.
    pub fn words(&self, searcher: &Searcher) -> Result<Arc<WordMemo>> {
        Ok(self.state.words(searcher)?)
    }

    /// The best text score of each query searched with a band in a snapshot, by the query's
    /// description: a visitor's search of a query searched before knows its band before
    /// ranking (see [`crate::search::ranking::rerank::Band`]).
    pub fn best_texts(&self, searcher: &Searcher) -> Result<Arc<BestTexts>> {
        Ok(self.state.best_texts(searcher)?)
    }

    /// What search's caches hold and how often they answered (the word memos and the best
    /// text scores: the latest snapshot's).
    pub fn cache_stats(&self) -> Result<Vec<CacheStats>> {
        let searcher = self.searcher();
        let mut stats = self.state.facet_paths.stats().to_vec();
        stats.push(self.state.rank_columns.stats());
        stats.push(self.state.hit_tables.stats());
        stats.extend(self.words(&searcher)?.stats());
        stats.push(self.best_texts(&searcher)?.stats("best_text_scores"));
        Ok(stats)
    }

    /// The price tiers of a snapshot.
    pub fn tiers(
        &self,
        searcher: &Searcher,
        settings: &TierSettings,
    ) -> Result<Arc<SnapshotTiers>> {
        self.state.tiers(searcher, settings)
    }

    /// Puts new tier settings in force: the latest snapshot's tiers are built with them now,
    /// and each later snapshot's when a commit brings it in.
    pub fn set_tier_settings(&self, settings: &TierSettings) -> Result<()> {
        self.state.warm_with().1 = settings.clone();
        self.tiers(&self.searcher(), settings).map(drop)
    }
}

impl SnapshotState {
    fn lexicon(&self, searcher: &Searcher, lang: Lang) -> Result<Arc<Lexicon>> {
        let paths = &self.facet_paths;
        Ok((self.lexicons).get(searcher, &lang, || Lexicon::build(searcher, paths, lang))?)
    }

    fn tiers(&self, searcher: &Searcher, settings: &TierSettings) -> Result<Arc<SnapshotTiers>> {
        let paths = &self.facet_paths;
        Ok((self.tiers).get(searcher, settings, || {
            SnapshotTiers::build(searcher, paths, settings)
        })?)
    }

    fn words(&self, searcher: &Searcher) -> tantivy::Result<Arc<WordMemo>> {
        (self.words).get(searcher, &(), || Ok(WordMemo::new(self.words_kept)))
    }

    fn best_texts(&self, searcher: &Searcher) -> tantivy::Result<Arc<BestTexts>> {
        (self.best_texts).get(searcher, &(), || Ok(BestTexts::new(self.queries_kept)))
    }

    fn warm_with(&self) -> MutexGuard<'_, (Lang, TierSettings)> {
        self.warm_with.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Warmer for SnapshotState {
    fn warm(&self, searcher: &Searcher) -> tantivy::Result<()> {
        let (lang, tiers) = self.warm_with().clone();
        let built = (self.lexicon(searcher, lang)).and_then(|_| self.tiers(searcher, &tiers));
        if let Err(e) = built {
            // The commit stands: the first search of the snapshot builds what failed here.
            tracing::warn!(error = %e, "cannot prepare the new snapshot's lexicon and tiers");
        }
        self.words(searcher).map(drop)
    }

    fn garbage_collect(&self, _live: &[&SearcherGeneration]) {
        // Each of these caches keeps the latest snapshot's value only: nothing older to forget.
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Product;

    fn lamps(ids: std::ops::Range<usize>) -> Vec<Product> {
        ids.map(|i| {
            let json = serde_json::json!({"id": format!("p{i}"), "title": "lamp",
                "brand": "Acme", "price": 10 + i, "category": ["Home", "Lamps"]});
            Product::from_json(json).unwrap()
        })
        .collect()
    }

    /// Every commit's new snapshot comes with its lexicon and price tiers already built (by
    /// the warmer, under the tier settings in force), so no search builds them; new tier
    /// settings are built when they are put in force.
    #[test]
    fn a_commit_builds_the_snapshot_state_before_any_search() {
        let dir = tempfile::tempdir().unwrap();
        let settings = TierSettings::default();
        let search = SearchIndex::open(
            dir.path(),
            WriterConfig::default(),
            &settings,
            &Default::default(),
        )
        .unwrap();
        let lang = WriterConfig::default().languages.default_lang();
        for batch in [lamps(0..10), lamps(10..20)] {
            search.products().commit_now(batch);
            let searcher = search.searcher();
            assert!(search.state.lexicons.holds(&searcher, &lang));
            assert!(search.state.tiers.holds(&searcher, &settings));
        }

        let mut other = settings.clone();
        other.min_products = 3;
        let searcher = search.searcher();
        assert!(!search.state.tiers.holds(&searcher, &other));
        search.set_tier_settings(&other).unwrap();
        assert!(search.state.tiers.holds(&searcher, &other));
        search.products().commit_now(lamps(20..30));
        assert!((search.state.tiers).holds(&search.searcher(), &other));
    }
}
