//! The file as written: every table with its defaults, before validation.

use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use crate::rules::raw::RawRule;
use crate::settings::{
    CacheConfig, EventWeights, PersonalizationConfig, TierSettings, Understanding, Weights,
};

/// The raw `[server]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawServer {
    /// Address to listen on.
    pub listen: String,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Largest request body, in bytes.
    pub max_body_bytes: u64,
    /// Search threads: searches run at once (default: the cores this process may run
    /// on; searches are CPU-bound, and more at once only share the same cores).
    pub search_concurrency: usize,
    /// Searches allowed to wait for a slot before the server answers 503.
    pub search_queue: usize,
    /// Searches predicted to visit at most this many matches run on the thread that received
    /// them instead of a search thread (0: every search runs on a search thread).
    pub inline_search_matches: u64,
    /// Seconds a connection may take to send a request's head, and stay idle between
    /// requests, before it is closed.
    pub header_timeout_seconds: u64,
    /// Connections served at once; beyond, new ones are closed at once (0: the open-file
    /// limit less a reserve for the index's files).
    pub max_connections: usize,
    /// `plain` or `json` logs.
    pub log_format: String,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: "127.0.0.1:7150".into(),
            data_dir: PathBuf::from("index"),
            max_body_bytes: 256 << 20,
            search_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            search_queue: 256,
            inline_search_matches: 5_000,
            header_timeout_seconds: 10,
            max_connections: 0,
            log_format: "plain".into(),
        }
    }
}

/// The raw `[index]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawIndex {
    /// Indexing threads.
    pub writer_threads: usize,
    /// Writer memory budget in MiB.
    pub writer_heap_mb: usize,
    /// Seconds an idle catalog sync stays open.
    pub sync_ttl_seconds: u64,
    /// The store's languages (ISO 639-1), the default first.
    pub languages: Vec<String>,
}

impl Default for RawIndex {
    fn default() -> Self {
        RawIndex {
            writer_threads: 1,
            writer_heap_mb: 64,
            sync_ttl_seconds: 3600,
            languages: vec!["en".to_string()],
        }
    }
}

/// The raw `[search]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawSearch {
    /// Hits per page when `limit` is absent.
    pub default_limit: usize,
    /// Largest `limit` accepted.
    pub max_limit: usize,
    /// Values per facet.
    pub facet_limit: usize,
    /// Upper bounds of the price facet's ranges, ascending.
    pub price_ranges: Vec<f64>,
    /// Ranking weights.
    pub weights: Weights,
    /// Synonyms, applied at query time.
    pub synonyms: RawSynonyms,
    /// Words never matched in a query, on top of each language's built-in list.
    pub stop_words: Vec<String>,
    /// How constraints read from the words are applied.
    pub understanding: Understanding,
}

/// The raw `[search.synonyms]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawSynonyms {
    /// Two-way groups: any of the words or phrases of a group finds the others.
    pub groups: Vec<Vec<String>>,
    /// One-way: the key finds its values, not the other way round (`tee = ["t-shirt"]`).
    pub one_way: std::collections::BTreeMap<String, Vec<String>>,
}

impl Default for RawSearch {
    fn default() -> Self {
        RawSearch {
            default_limit: 10,
            max_limit: 100,
            facet_limit: 20,
            price_ranges: vec![10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0],
            weights: Weights::default(),
            synonyms: RawSynonyms::default(),
            stop_words: Vec::new(),
            understanding: Understanding::default(),
        }
    }
}

/// The raw `[profiles]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawProfiles {
    /// Days for an affinity to halve.
    pub half_life_days: f64,
    /// Minutes of inactivity that end a session.
    pub session_timeout_minutes: u64,
    /// Days after which an inactive anonymous profile is evicted.
    pub anonymous_ttl_days: u64,
    /// Days without activity after which a visitor is `lapsed`.
    pub lapsed_after_days: u64,
    /// Most profiles kept in memory; beyond, the least recently active anonymous ones go.
    pub max_profiles: usize,
    /// Seconds between background snapshots.
    pub snapshot_interval_seconds: u64,
    /// Hours an event's `event_id` is remembered, so a retried batch counts once.
    pub event_id_window_hours: u64,
    /// Most event ids remembered; beyond, the oldest are forgotten (0: none is).
    pub max_event_ids: usize,
    /// Whether a search with a `visitor_id` is recorded as the visitor's search event.
    pub record_searches: bool,
    /// Affinity entries kept per profile.
    pub max_categories: usize,
    /// Brand entries kept per profile.
    pub max_brands: usize,
    /// Attribute entries kept per profile.
    pub max_attributes: usize,
    /// Weight of each event type.
    pub weights: EventWeights,
}

impl Default for RawProfiles {
    fn default() -> Self {
        RawProfiles {
            half_life_days: 14.0,
            session_timeout_minutes: 30,
            anonymous_ttl_days: 30,
            lapsed_after_days: 90,
            max_profiles: 1_000_000,
            snapshot_interval_seconds: 300,
            event_id_window_hours: 24,
            max_event_ids: 200_000,
            record_searches: true,
            max_categories: 16,
            max_brands: 12,
            max_attributes: 16,
            weights: EventWeights::default(),
        }
    }
}

/// The raw `[suggest]` table (autocomplete).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawSuggest {
    /// Seconds between background rebuilds of the suggestions.
    pub rebuild_interval_seconds: u64,
    /// Suggestions per answer when `limit` is absent.
    pub default_limit: usize,
    /// Largest `limit` accepted.
    pub max_limit: usize,
    /// Fewest distinct visitors who searched a query before it is suggested to others.
    pub min_visitors: u64,
    /// Most past queries kept (the most searched), each checked against the index.
    pub max_queries: usize,
    /// A suggestion of a brand or category the visitor likes counts up to `1 + personal_boost`
    /// times its count.
    pub personal_boost: f32,
}

impl Default for RawSuggest {
    fn default() -> Self {
        RawSuggest {
            rebuild_interval_seconds: 60,
            default_limit: 8,
            max_limit: 20,
            min_visitors: 2,
            max_queries: 10_000,
            personal_boost: 1.0,
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawConfig {
    /// Rule files to read after this file's rules: paths relative to this file, `*` allowed
    /// in the file name (`rules/*.toml`, matches read in name order).
    pub include: Vec<Spanned<String>>,
    /// `[[rules]]`: merchandising rules, compiled by [`super::Config::parse`].
    pub rules: Vec<Spanned<RawRule>>,
    /// `[server]`.
    pub server: RawServer,
    /// `[index]`.
    pub index: RawIndex,
    /// `[search]`.
    pub search: RawSearch,
    /// `[profiles]`.
    pub profiles: RawProfiles,
    /// `[suggest]`.
    pub suggest: RawSuggest,
    /// `[personalization]`.
    pub personalization: PersonalizationConfig,
    /// `[tiers]`.
    pub tiers: RawTiers,
    /// `[cache]`.
    pub cache: CacheConfig,
}

/// The raw `[tiers]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawTiers {
    /// Tier names, cheapest first.
    pub names: Vec<String>,
    /// Fewest priced products a category needs for tiers of its own (else its parent's).
    pub min_products: usize,
}

impl Default for RawTiers {
    fn default() -> Self {
        let d = TierSettings::default();
        RawTiers {
            names: d.names,
            min_products: d.min_products,
        }
    }
}
