//! Configuration: a TOML file read in two stages.
//!
//! [`RawConfig`] mirrors the file (`deny_unknown_fields`, every key optional) and
//! [`Config::from_raw`] validates it into typed values, naming the key at fault. Defaults live
//! in one place, the `Default` impls of the raw structs, and are listed in
//! `docs/configuration.md`. [`Config::parse`] also compiles the merchandising rules of the
//! file and of the files it includes ([`crate::rules`]), and reports every problem at its
//! file, line and column: a config replaced at run time is validated completely first.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::rules::raw::{RawRule, RawRulesFile, RuleError};
use crate::rules::{Rule, RuleSet};
use crate::search::tiers::TierSettings;
use crate::search::understand::{Mode, Modes};
use crate::text::{Lang, Languages};
use serde::Deserialize;
use toml::Spanned;

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
    pub weights: RawWeights,
    /// Synonyms, applied at query time.
    pub synonyms: RawSynonyms,
    /// Words never matched in a query, on top of each language's built-in list.
    pub stop_words: Vec<String>,
    /// How constraints read from the words are applied.
    pub understanding: RawUnderstanding,
}

/// The raw `[search.understanding]` table: filter or boost, per kind of constraint read
/// from a query's words.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawUnderstanding {
    /// A catalog brand named in the query.
    pub brand: Mode,
    /// A category name.
    pub category: Mode,
    /// An attribute value (colour, size, material…).
    pub attribute: Mode,
    /// A price read from the words ("under $50").
    pub price: Mode,
    /// Score added to a product that satisfies a boosted constraint (a matched query word
    /// is worth `weights.coverage` plus its BM25).
    pub boost: f32,
}

impl Default for RawUnderstanding {
    fn default() -> Self {
        RawUnderstanding {
            brand: Mode::Boost,
            category: Mode::Boost,
            attribute: Mode::Boost,
            price: Mode::Filter,
            boost: 2.0,
        }
    }
}

impl RawUnderstanding {
    /// The modes of the soft constraints.
    pub fn modes(&self) -> Modes {
        Modes {
            brand: self.brand,
            category: self.category,
            attribute: self.attribute,
        }
    }
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

/// Validated synonyms: (what the shopper typed, what it also finds) pairs. The search module
/// analyses them once per query language, on first use, into `analyzed`.
#[derive(Debug, Default)]
pub struct SynonymTable {
    /// Source phrase → alternative phrases, as written in the config.
    pub pairs: Vec<(String, Vec<String>)>,
    /// Analysed form, filled by the search module.
    pub analyzed: std::sync::RwLock<HashMap<Lang, std::sync::Arc<SynonymIndex>>>,
}

/// Analysed synonyms: the source's tokens joined by a space → the alternatives' tokens.
pub type SynonymIndex = HashMap<String, Vec<Vec<String>>>;

impl Default for RawSearch {
    fn default() -> Self {
        RawSearch {
            default_limit: 10,
            max_limit: 100,
            facet_limit: 20,
            price_ranges: vec![10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0],
            weights: RawWeights::default(),
            synonyms: RawSynonyms::default(),
            stop_words: Vec::new(),
            understanding: RawUnderstanding::default(),
        }
    }
}

/// Field weights and priors of the text ranking.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawWeights {
    /// BM25 weight of the title.
    pub title: f32,
    /// BM25 weight of the brand.
    pub brand: f32,
    /// BM25 weight of the category path.
    pub category: f32,
    /// BM25 weight of attribute values and tags.
    pub attributes: f32,
    /// BM25 weight of the description.
    pub description: f32,
    /// Weight of the bonus for the query's words found together, in order, in the title.
    pub phrase: f32,
    /// Bonus per query word a product has in any field: products with more of the words
    /// come first, then BM25 orders them.
    pub coverage: f32,
    /// Bonus for a title that has every word of the query.
    pub title_coverage: f32,
    /// Score factor for products that have a word the query negates ("without straw"):
    /// 1 leaves them alone, 0.5 halves their score (they still match).
    pub negated: f32,
    /// Weight of the popularity prior: the score is multiplied by up to `1 + popularity`.
    pub popularity: f32,
    /// Score factor for out-of-stock products.
    pub out_of_stock: f32,
    /// Recency prior of category pages: a product created now gains this share of its
    /// score, one created `recency_half_life_days` ago half of it.
    pub recency: f32,
    /// Half-life of the recency prior, in days.
    pub recency_half_life_days: f64,
    /// Weight of the popularity prior on category pages (where it orders, not text).
    pub browse_popularity: f32,
}

impl Default for RawWeights {
    fn default() -> Self {
        RawWeights {
            title: 4.0,
            brand: 3.0,
            category: 1.5,
            attributes: 0.5,
            description: 0.25,
            phrase: 3.0,
            coverage: 12.0,
            title_coverage: 8.0,
            negated: 1.0,
            popularity: 0.2,
            out_of_stock: 0.5,
            recency: 0.1,
            recency_half_life_days: 30.0,
            browse_popularity: 2.0,
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
    pub weights: RawEventWeights,
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
            weights: RawEventWeights::default(),
        }
    }
}

/// Affinity weight of each event type.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawEventWeights {
    /// Product page view.
    pub view: f32,
    /// Click.
    pub click: f32,
    /// Add to cart.
    pub add_to_cart: f32,
    /// Remove from cart.
    pub remove_from_cart: f32,
    /// Purchase.
    pub purchase: f32,
    /// Return.
    pub r#return: f32,
}

impl Default for RawEventWeights {
    fn default() -> Self {
        RawEventWeights {
            view: 1.0,
            click: 2.0,
            add_to_cart: 5.0,
            remove_from_cart: -3.0,
            purchase: 10.0,
            r#return: -8.0,
        }
    }
}

/// Per-profile caps.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileCaps {
    /// Category entries.
    pub categories: usize,
    /// Brand entries.
    pub brands: usize,
    /// Attribute entries.
    pub attributes: usize,
}

/// Validated profile settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfilesConfig {
    /// Half-life in milliseconds.
    pub half_life_ms: f64,
    /// Session timeout in milliseconds.
    pub session_timeout_ms: i64,
    /// Anonymous profile time-to-live in milliseconds.
    pub anonymous_ttl_ms: i64,
    /// Inactivity that makes a visitor lapsed, in milliseconds.
    pub lapsed_after_ms: i64,
    /// Most profiles in memory.
    pub max_profiles: usize,
    /// Time between snapshots.
    pub snapshot_interval: Duration,
    /// How long an event id is remembered, in milliseconds.
    pub event_id_window_ms: i64,
    /// Most event ids remembered.
    pub max_event_ids: usize,
    /// Whether API searches with a visitor are recorded as their search events.
    pub record_searches: bool,
    /// Caps.
    pub caps: ProfileCaps,
    /// Event weights.
    pub weights: RawEventWeights,
}

impl ProfilesConfig {
    /// The weight of an event type (searches carry none).
    pub fn weight(&self, kind: crate::profiles::event::EventType) -> f32 {
        use crate::profiles::event::EventType as E;
        let w = &self.weights;
        match kind {
            E::View => w.view,
            E::Click => w.click,
            E::AddToCart => w.add_to_cart,
            E::RemoveFromCart => w.remove_from_cart,
            E::Purchase => w.purchase,
            E::Return => w.r#return,
            E::Search => 0.0,
        }
    }
}

impl Default for ProfilesConfig {
    fn default() -> Self {
        Config::default().profiles
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

/// Validated autocomplete settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SuggestConfig {
    /// Time between background rebuilds.
    pub rebuild_interval: Duration,
    /// Default number of suggestions.
    pub default_limit: usize,
    /// Largest number of suggestions.
    pub max_limit: usize,
    /// Fewest visitors behind a suggested query.
    pub min_visitors: u64,
    /// Most past queries kept.
    pub max_queries: usize,
    /// Largest personal boost (a factor of `1 + personal_boost`).
    pub personal_boost: f32,
}

impl Default for SuggestConfig {
    fn default() -> Self {
        Config::default().suggest
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawConfig {
    /// Rule files to read after this file's rules: paths relative to this file, `*` allowed
    /// in the file name (`rules/*.toml`, matches read in name order).
    pub include: Vec<Spanned<String>>,
    /// `[[rules]]`: merchandising rules, compiled by [`Config::parse`].
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
    pub personalization: RawPersonalization,
    /// `[tiers]`.
    pub tiers: RawTiers,
}

/// Validated server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Largest request body, in bytes.
    pub max_body_bytes: u64,
    /// Searches run at once.
    pub search_concurrency: NonZeroUsize,
    /// Searches allowed to wait.
    pub search_queue: usize,
    /// Largest number of predicted match visits of a search run on the receiving thread.
    pub inline_search_matches: u64,
    /// Time to send a request's head, and to stay idle between requests.
    pub header_timeout: Duration,
    /// Connections served at once (None: from the open-file limit at start).
    pub max_connections: Option<NonZeroUsize>,
    /// JSON logs instead of plain text.
    pub json_logs: bool,
}

/// Validated index settings.
#[derive(Debug, Clone)]
pub struct IndexConfig {
    /// Indexing threads.
    pub writer_threads: NonZeroUsize,
    /// Writer memory budget in bytes.
    pub writer_heap_bytes: usize,
    /// Idle time after which a sync expires.
    pub sync_ttl: Duration,
    /// The store's languages, the default first.
    pub languages: Languages,
}

/// Validated search settings.
#[derive(Debug, Clone)]
pub struct SearchConfig {
    /// Default page size.
    pub default_limit: usize,
    /// Largest page size.
    pub max_limit: usize,
    /// Values per facet.
    pub facet_limit: usize,
    /// Price facet range bounds, strictly ascending.
    pub price_ranges: Vec<f64>,
    /// Ranking weights.
    pub weights: RawWeights,
    /// Synonyms.
    pub synonyms: std::sync::Arc<SynonymTable>,
    /// The store's own stop words, lowercased and folded.
    pub stop_words: std::sync::Arc<std::collections::HashSet<String>>,
    /// The store's languages (a copy of the index's: queries are read in one of them).
    pub languages: Languages,
    /// How constraints read from the words are applied.
    pub understanding: RawUnderstanding,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Server settings.
    pub server: ServerConfig,
    /// Index settings.
    pub index: IndexConfig,
    /// Search settings.
    pub search: SearchConfig,
    /// Profile settings.
    pub profiles: ProfilesConfig,
    /// Autocomplete settings.
    pub suggest: SuggestConfig,
    /// Personalized ranking settings.
    pub personalization: PersonalizationConfig,
    /// Price tier settings.
    pub tiers: TierSettings,
    /// Merchandising rules, in evaluation order.
    pub rules: std::sync::Arc<RuleSet>,
    /// Which text this configuration was read from.
    pub version: ConfigVersion,
    /// Settings given on the command line, which win over the file's at every reload.
    pub overridden: Vec<&'static str>,
}

/// Which configuration is in force: where it was read from, a hash of its text, and (set by
/// the engine) when it was loaded and how many loads came before.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConfigVersion {
    /// The main file, when the configuration was read from one.
    pub path: Option<PathBuf>,
    /// CRC-32 of the main file and its included files, in reading order, in hex.
    pub hash: String,
    /// The files read, the main one first.
    pub files: Vec<PathBuf>,
    /// 1 for the configuration the server started with, then one more per reload.
    pub counter: u64,
    /// When it was put in force (RFC 3339).
    pub loaded_at: String,
}

impl ConfigVersion {
    fn of(path: Option<&Path>, texts: &[(PathBuf, String)]) -> ConfigVersion {
        let mut hasher = crc32fast::Hasher::new();
        for (_, text) in texts {
            hasher.update(text.as_bytes());
        }
        ConfigVersion {
            path: path.map(Path::to_path_buf),
            hash: format!("{:08x}", hasher.finalize()),
            files: texts.iter().map(|(p, _)| p.clone()).collect(),
            counter: 1,
            loaded_at: String::new(),
        }
    }
}

/// A configuration problem, naming the file and key or line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A problem at a place in a file: not valid TOML, an unknown key, a bad value or rule.
    #[error("{}:{line}:{column}: {message}", path.display())]
    At {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// What is wrong, naming the key.
        message: String,
    },
    /// A value is out of range.
    #[error("{key}: {message}")]
    Invalid {
        /// Dotted key (`server.listen`).
        key: &'static str,
        /// Why.
        message: String,
    },
}

impl Default for Config {
    fn default() -> Self {
        Config::from_raw(RawConfig::default()).expect("the defaults are valid")
    }
}

impl Config {
    /// Reads and validates a file. A missing file is an error only when `required`.
    pub fn load(path: &Path, required: bool) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                // A server started without a file has none to reload or watch: a file that
                // appears in the working directory later is not put in force behind the
                // operator's back (the reference promises `no_config_file`).
                return Ok(Config::default());
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        Config::parse(&text, path)
    }

    /// Parses and validates TOML text read from `path` (named in messages; included rule
    /// files are found relative to it).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = from_toml(text, path)?;
        let mut texts = vec![(path.to_path_buf(), text.to_string())];
        let mut seen = HashSet::new();
        let mut rules = compile_rules(&raw.rules, text, path, &mut seen)?;
        for include in &raw.include {
            let files = crate::rules::files::resolve(path, include.get_ref())
                .map_err(|message| at(path, text, include.span(), format!("include: {message}")))?;
            for file in files {
                let included =
                    std::fs::read_to_string(&file).map_err(|source| ConfigError::Read {
                        path: file.clone(),
                        source,
                    })?;
                let raw_file: RawRulesFile = from_toml(&included, &file)?;
                rules.extend(compile_rules(&raw_file.rules, &included, &file, &mut seen)?);
                texts.push((file, included));
            }
        }
        let mut config = Config::from_raw(raw).map_err(|e| locate(e, text, path))?;
        config.rules = std::sync::Arc::new(RuleSet::new(rules));
        config.version = ConfigVersion::of(Some(path), &texts);
        Ok(config)
    }

    /// Keeps the settings in force that only take effect at start-up (the listener, the data
    /// directory, the index writer and languages, the search pool, the profile store, the
    /// background intervals) and names those this config would have changed.
    /// Settings overridden on the command line are kept silently.
    pub fn keep_restart_only(&mut self, running: &Config) -> Vec<&'static str> {
        let mut ignored = Vec::new();
        let (new, old) = (&mut self.server, &running.server);
        keep(&mut ignored, "server.listen", &mut new.listen, &old.listen);
        keep(
            &mut ignored,
            "server.data_dir",
            &mut new.data_dir,
            &old.data_dir,
        );
        let (slots, old_slots) = (&mut new.search_concurrency, &old.search_concurrency);
        keep(&mut ignored, "server.search_concurrency", slots, old_slots);
        keep(
            &mut ignored,
            "server.search_queue",
            &mut new.search_queue,
            &old.search_queue,
        );
        let (timeout, old_timeout) = (&mut new.header_timeout, &old.header_timeout);
        keep(
            &mut ignored,
            "server.header_timeout_seconds",
            timeout,
            old_timeout,
        );
        let (cap, old_cap) = (&mut new.max_connections, &old.max_connections);
        keep(&mut ignored, "server.max_connections", cap, old_cap);
        keep(
            &mut ignored,
            "server.log_format",
            &mut new.json_logs,
            &old.json_logs,
        );
        let (new, old) = (&mut self.index, &running.index);
        keep(
            &mut ignored,
            "index.writer_threads",
            &mut new.writer_threads,
            &old.writer_threads,
        );
        let (heap, old_heap) = (&mut new.writer_heap_bytes, &old.writer_heap_bytes);
        keep(&mut ignored, "index.writer_heap_mb", heap, old_heap);
        keep(
            &mut ignored,
            "index.sync_ttl_seconds",
            &mut new.sync_ttl,
            &old.sync_ttl,
        );
        if new.languages.all() != old.languages.all() {
            ignored.push("index.languages");
        }
        new.languages = old.languages.clone();
        self.search.languages = old.languages.clone();
        keep(
            &mut ignored,
            "profiles",
            &mut self.profiles,
            &running.profiles,
        );
        let (every, old_every) = (
            &mut self.suggest.rebuild_interval,
            &running.suggest.rebuild_interval,
        );
        keep(
            &mut ignored,
            "suggest.rebuild_interval_seconds",
            every,
            old_every,
        );
        self.overridden.clone_from(&running.overridden);
        ignored.retain(|key| !self.overridden.contains(key));
        ignored
    }

    /// Sets the listen address from the command line.
    pub fn override_listen(&mut self, listen: SocketAddr) {
        self.server.listen = listen;
        self.overridden.push("server.listen");
    }

    /// Sets the data directory from the command line.
    pub fn override_data_dir(&mut self, dir: PathBuf) {
        self.server.data_dir = dir;
        self.overridden.push("server.data_dir");
    }

    /// Validates raw values. Rules are left out: [`Config::parse`] compiles them, as it knows
    /// where each one is in which file.
    pub fn from_raw(raw: RawConfig) -> Result<Config, ConfigError> {
        let invalid = |key, message: &str| ConfigError::Invalid {
            key,
            message: message.to_string(),
        };
        let listen =
            raw.server.listen.parse().map_err(|_| {
                invalid("server.listen", "must be an address such as 127.0.0.1:7150")
            })?;
        let log_format = match raw.server.log_format.as_str() {
            "plain" => false,
            "json" => true,
            _ => {
                return Err(invalid(
                    "server.log_format",
                    "must be \"plain\" or \"json\"",
                ));
            }
        };
        let search_concurrency = NonZeroUsize::new(raw.server.search_concurrency)
            .ok_or_else(|| invalid("server.search_concurrency", "must be at least 1"))?;
        if raw.server.header_timeout_seconds == 0 {
            return Err(invalid(
                "server.header_timeout_seconds",
                "must be at least 1",
            ));
        }
        let writer_threads = NonZeroUsize::new(raw.index.writer_threads)
            .ok_or_else(|| invalid("index.writer_threads", "must be at least 1"))?;
        if raw.index.writer_heap_mb < 15 * raw.index.writer_threads {
            return Err(invalid(
                "index.writer_heap_mb",
                "must be at least 15 per writer thread",
            ));
        }
        let s = &raw.search;
        if s.max_limit == 0 || s.default_limit == 0 || s.default_limit > s.max_limit {
            return Err(invalid(
                "search.default_limit",
                "must be between 1 and search.max_limit",
            ));
        }
        if !s.price_ranges.windows(2).all(|w| w[0] < w[1])
            || s.price_ranges.iter().any(|b| !b.is_finite() || *b <= 0.0)
        {
            return Err(invalid(
                "search.price_ranges",
                "must be positive and strictly ascending",
            ));
        }
        let w = &s.weights;
        let weights = [
            w.title,
            w.brand,
            w.category,
            w.attributes,
            w.description,
            w.phrase,
            w.coverage,
            w.title_coverage,
            w.popularity,
            w.recency,
            w.browse_popularity,
        ];
        if weights.iter().any(|x| !x.is_finite() || *x < 0.0) {
            return Err(invalid("search.weights", "weights must be numbers >= 0"));
        }
        if !(w.recency_half_life_days.is_finite() && w.recency_half_life_days > 0.0) {
            return Err(invalid(
                "search.weights",
                "recency_half_life_days must be a number > 0",
            ));
        }
        if !(0.0..=1.0).contains(&w.negated) {
            return Err(invalid("search.weights", "negated must be between 0 and 1"));
        }
        if !(0.0..=1.0).contains(&w.out_of_stock) {
            return Err(invalid(
                "search.weights",
                "out_of_stock must be between 0 and 1",
            ));
        }
        let boost = s.understanding.boost;
        if !boost.is_finite() || boost < 0.0 {
            return Err(invalid(
                "search.understanding.boost",
                "must be a number >= 0",
            ));
        }
        let profiles = profiles_config(&raw.profiles)?;
        let languages = languages(&raw.index.languages)?;
        let suggest = suggest_config(&raw.suggest)?;
        let personalization = personalization_config(&raw.personalization)?;
        let tiers = tier_settings(&raw.tiers)?;
        Ok(Config {
            profiles,
            suggest,
            personalization,
            tiers,
            rules: std::sync::Arc::default(),
            version: ConfigVersion::of(None, &[]),
            overridden: Vec::new(),
            server: ServerConfig {
                listen,
                data_dir: raw.server.data_dir,
                max_body_bytes: raw.server.max_body_bytes,
                search_concurrency,
                search_queue: raw.server.search_queue,
                inline_search_matches: raw.server.inline_search_matches,
                header_timeout: Duration::from_secs(raw.server.header_timeout_seconds),
                max_connections: NonZeroUsize::new(raw.server.max_connections),
                json_logs: log_format,
            },
            index: IndexConfig {
                writer_threads,
                writer_heap_bytes: raw.index.writer_heap_mb << 20,
                sync_ttl: Duration::from_secs(raw.index.sync_ttl_seconds),
                languages: languages.clone(),
            },
            search: SearchConfig {
                default_limit: s.default_limit,
                max_limit: s.max_limit,
                facet_limit: s.facet_limit,
                price_ranges: s.price_ranges.clone(),
                weights: s.weights.clone(),
                synonyms: std::sync::Arc::new(synonym_table(&s.synonyms)?),
                stop_words: std::sync::Arc::new(
                    s.stop_words.iter().map(|w| crate::text::fold(w)).collect(),
                ),
                languages,
                understanding: s.understanding,
            },
        })
    }
}

/// Puts `running` back into `new` and records `name` when they differed.
fn keep<T: PartialEq + Clone>(
    ignored: &mut Vec<&'static str>,
    name: &'static str,
    new: &mut T,
    running: &T,
) {
    if new != running {
        ignored.push(name);
        new.clone_from(running);
    }
}

/// Deserializes TOML text, reporting a problem at its line and column.
fn from_toml<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        at(
            path,
            text,
            e.span().unwrap_or(0..0),
            e.message().trim().to_string(),
        )
    })
}

/// Compiles rules, checking their ids are unique across every file read (`seen`).
fn compile_rules(
    raw: &[Spanned<RawRule>],
    text: &str,
    path: &Path,
    seen: &mut HashSet<String>,
) -> Result<Vec<Rule>, ConfigError> {
    let mut rules = Vec::with_capacity(raw.len());
    for rule in raw {
        let compiled = rule
            .get_ref()
            .compile()
            .map_err(|RuleError { span, message }| at(path, text, span, message))?;
        if !seen.insert(compiled.id.to_string()) {
            let message = format!("rule {:?}: id: another rule has this id", &*compiled.id);
            return Err(at(path, text, rule.get_ref().id.span(), message));
        }
        rules.push(compiled);
    }
    Ok(rules)
}

/// An error at a byte span of a file's text.
fn at(path: &Path, text: &str, span: std::ops::Range<usize>, message: String) -> ConfigError {
    let (line, column) = line_column(text, span.start);
    ConfigError::At {
        path: path.to_path_buf(),
        line,
        column,
        message,
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Places a value error (`search.default_limit`) at its key in the text: the key's line in
/// its table, else the table's header, else the start of the file.
fn locate(error: ConfigError, text: &str, path: &Path) -> ConfigError {
    let ConfigError::Invalid { key, message } = error else {
        return error;
    };
    let (table, name) = key.rsplit_once('.').unwrap_or(("", key));
    let mut in_table = table.is_empty();
    let mut offset = 0;
    let mut found = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[') {
            let header = header.trim_end_matches(']').trim();
            if header == key {
                found = Some(offset + line.len() - line.trim_start().len());
                break;
            }
            in_table = header == table;
            if in_table && found.is_none() {
                found = Some(offset + line.len() - line.trim_start().len());
            }
        } else if in_table
            && trimmed
                .strip_prefix(name)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        {
            found = Some(offset + line.len() - line.trim_start().len());
            break;
        }
        offset += line.len();
    }
    at(
        path,
        text,
        found.unwrap_or(0)..0,
        format!("{key}: {message}"),
    )
}

fn languages(codes: &[String]) -> Result<Languages, ConfigError> {
    let mut langs = Vec::with_capacity(codes.len());
    for code in codes {
        let lang = Lang::from_code(code).ok_or_else(|| ConfigError::Invalid {
            key: "index.languages",
            message: format!(
                "{code:?} is not a language attune can stem (one of {})",
                Lang::all().map(Lang::code).collect::<Vec<_>>().join(", ")
            ),
        })?;
        langs.push(lang);
    }
    if langs.is_empty() {
        return Err(ConfigError::Invalid {
            key: "index.languages",
            message: "must name at least one language".to_string(),
        });
    }
    Ok(Languages::new(langs))
}

fn synonym_table(raw: &RawSynonyms) -> Result<SynonymTable, ConfigError> {
    let invalid = |message: &str| ConfigError::Invalid {
        key: "search.synonyms",
        message: message.to_string(),
    };
    let mut pairs = Vec::new();
    for group in &raw.groups {
        let words: Vec<String> = group.iter().map(|w| w.trim().to_string()).collect();
        if words.len() < 2 || words.iter().any(String::is_empty) {
            return Err(invalid(
                "each group needs at least two non-empty words or phrases",
            ));
        }
        for (i, word) in words.iter().enumerate() {
            let others = words
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, w)| w.clone());
            pairs.push((word.clone(), others.collect()));
        }
    }
    for (from, to) in &raw.one_way {
        let to: Vec<String> = to.iter().map(|w| w.trim().to_string()).collect();
        if from.trim().is_empty() || to.is_empty() || to.iter().any(String::is_empty) {
            return Err(invalid(
                "one_way entries map a non-empty phrase to non-empty phrases",
            ));
        }
        pairs.push((from.trim().to_string(), to));
    }
    Ok(SynonymTable {
        pairs,
        analyzed: std::sync::RwLock::default(),
    })
}

fn profiles_config(p: &RawProfiles) -> Result<ProfilesConfig, ConfigError> {
    let invalid = |key, message: &str| ConfigError::Invalid {
        key,
        message: message.to_string(),
    };
    if !(p.half_life_days.is_finite() && p.half_life_days > 0.0) {
        return Err(invalid("profiles.half_life_days", "must be a number > 0"));
    }
    if p.session_timeout_minutes == 0 {
        return Err(invalid(
            "profiles.session_timeout_minutes",
            "must be at least 1",
        ));
    }
    if p.snapshot_interval_seconds == 0 {
        return Err(invalid(
            "profiles.snapshot_interval_seconds",
            "must be at least 1",
        ));
    }
    if p.max_categories == 0 || p.max_brands == 0 || p.max_attributes == 0 || p.max_profiles == 0 {
        return Err(invalid(
            "profiles.max_categories",
            "caps must be at least 1",
        ));
    }
    let w = &p.weights;
    if [
        w.view,
        w.click,
        w.add_to_cart,
        w.remove_from_cart,
        w.purchase,
        w.r#return,
    ]
    .iter()
    .any(|x| !x.is_finite())
    {
        return Err(invalid("profiles.weights", "weights must be numbers"));
    }
    const MS_PER_DAY: f64 = 86_400_000.0;
    Ok(ProfilesConfig {
        half_life_ms: p.half_life_days * MS_PER_DAY,
        session_timeout_ms: p.session_timeout_minutes as i64 * 60_000,
        anonymous_ttl_ms: p.anonymous_ttl_days as i64 * 86_400_000,
        lapsed_after_ms: p.lapsed_after_days as i64 * 86_400_000,
        max_profiles: p.max_profiles,
        snapshot_interval: Duration::from_secs(p.snapshot_interval_seconds),
        event_id_window_ms: (p.event_id_window_hours.min(24 * 365) * 3_600_000) as i64,
        max_event_ids: p.max_event_ids,
        record_searches: p.record_searches,
        caps: ProfileCaps {
            categories: p.max_categories,
            brands: p.max_brands,
            attributes: p.max_attributes,
        },
        weights: p.weights.clone(),
    })
}

fn suggest_config(s: &RawSuggest) -> Result<SuggestConfig, ConfigError> {
    let invalid = |key, message: &str| ConfigError::Invalid {
        key,
        message: message.to_string(),
    };
    if s.rebuild_interval_seconds == 0 {
        return Err(invalid(
            "suggest.rebuild_interval_seconds",
            "must be at least 1",
        ));
    }
    if s.max_limit == 0 || s.default_limit == 0 || s.default_limit > s.max_limit {
        return Err(invalid(
            "suggest.default_limit",
            "must be between 1 and suggest.max_limit",
        ));
    }
    if s.min_visitors == 0 {
        return Err(invalid("suggest.min_visitors", "must be at least 1"));
    }
    if !(0.0..=10.0).contains(&s.personal_boost) {
        return Err(invalid(
            "suggest.personal_boost",
            "must be between 0 and 10",
        ));
    }
    Ok(SuggestConfig {
        rebuild_interval: Duration::from_secs(s.rebuild_interval_seconds),
        default_limit: s.default_limit,
        max_limit: s.max_limit,
        min_visitors: s.min_visitors,
        max_queries: s.max_queries,
        personal_boost: s.personal_boost,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("attune.toml"))
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.server.listen.port(), 7150);
        assert_eq!(c.search.max_limit, 100);
    }

    #[test]
    fn an_unknown_key_is_rejected_with_its_line() {
        let err = parse("[server]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("attune.toml:3:1: unknown field `lisen`"),
            "{text}"
        );
    }

    #[test]
    fn a_toml_syntax_error_is_reported_at_its_line_and_column() {
        let err = parse("[search]\ndefault_limit = = 3\n").unwrap_err();
        assert!(err.to_string().starts_with("attune.toml:2:17: "), "{err}");
    }

    #[test]
    fn a_bad_value_is_reported_at_its_key_or_else_its_table() {
        let err = parse("[server]\n\n  listen = \"nowhere\"\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("attune.toml:3:3: server.listen: must be"),
            "{err}"
        );
        let err = parse("# weights\n[search.weights]\ntitle = -1\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("attune.toml:2:1: search.weights:"),
            "{err}"
        );
        let err = parse("[search]\nmax_limit = 5\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("attune.toml:1:1: search.default_limit:"),
            "{err}"
        );
    }

    #[test]
    fn a_reload_keeps_the_settings_that_need_a_restart_and_names_them() {
        let running = parse("").unwrap();
        let mut next = parse("[server]\nlisten = \"127.0.0.1:9\"\n[index]\nlanguages = [\"fr\"]\n[search]\nmax_limit = 50\n").unwrap();
        let ignored = next.keep_restart_only(&running);
        assert_eq!(ignored, ["server.listen", "index.languages"]);
        assert_eq!(next.server.listen, running.server.listen);
        assert_eq!(next.search.languages.all(), running.search.languages.all());
        assert_eq!(next.search.max_limit, 50);
    }

    #[test]
    fn the_version_hashes_the_text() {
        let a = parse("").unwrap().version;
        let b = parse("[search]\nmax_limit = 50\n").unwrap().version;
        assert_ne!(a.hash, b.hash);
        assert_eq!(a.hash, parse("").unwrap().version.hash);
    }

    #[test]
    fn invalid_values_name_their_key() {
        for (text, key) in [
            ("[server]\nlisten = \"nowhere\"", "server.listen"),
            ("[server]\nlog_format = \"xml\"", "server.log_format"),
            ("[search]\nprice_ranges = [10, 5]", "search.price_ranges"),
            ("[search]\ndefault_limit = 500", "search.default_limit"),
            ("[search.weights]\ntitle = -1", "search.weights"),
            ("[index]\nwriter_threads = 0", "index.writer_threads"),
            ("[suggest]\nmax_limit = 5", "suggest.default_limit"),
            ("[suggest]\npersonal_boost = -1", "suggest.personal_boost"),
            (
                "[suggest]\nrebuild_interval_seconds = 0",
                "suggest.rebuild_interval_seconds",
            ),
            ("[search.synonyms]\ngroups = [[\"tv\"]]", "search.synonyms"),
            (
                "[search.synonyms]\none_way = { tee = [] }",
                "search.synonyms",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(
                err.to_string().contains(&format!(": {key}: ")),
                "{text}: {err}"
            );
        }
    }
}

/// The raw `[personalization]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawPersonalization {
    /// Strength of a request that sets none (0: unpersonalized … 100: full).
    pub strength: u8,
    /// Largest share of its own score a product can gain (or lose) by personalization.
    pub max_boost: f32,
    /// Percentage of visitors in the control group (always unpersonalized).
    pub control_share: u8,
    /// Signal weights.
    pub weights: PersonalizationWeights,
    /// Weight of the price intent read from the words ("cheap"): a product on the asked tier
    /// gains this share of its score, falling linearly to 0 at the farthest tier.
    pub price_intent: f32,
}

/// Weights of the personalization signals (`[personalization.weights]`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PersonalizationWeights {
    /// Long-term category affinity.
    pub category: f32,
    /// Long-term brand affinity.
    pub brand: f32,
    /// Attribute value affinity (colour, size…).
    pub attribute: f32,
    /// Price tier fit.
    pub tier: f32,
    /// The current session's category affinity.
    pub session_category: f32,
    /// The current session's brand affinity.
    pub session_brand: f32,
    /// Fit of a product's price to the range the visitor stated.
    pub price: f32,
}

impl Default for PersonalizationWeights {
    fn default() -> Self {
        PersonalizationWeights {
            category: 0.25,
            brand: 0.2,
            attribute: 0.1,
            tier: 0.2,
            session_category: 0.3,
            session_brand: 0.15,
            price: 0.4,
        }
    }
}

impl Default for RawPersonalization {
    fn default() -> Self {
        RawPersonalization {
            strength: 100,
            max_boost: 0.5,
            control_share: 5,
            weights: PersonalizationWeights::default(),
            price_intent: 0.3,
        }
    }
}

/// Validated personalization settings (the same values, checked).
pub type PersonalizationConfig = RawPersonalization;

fn personalization_config(p: &RawPersonalization) -> Result<PersonalizationConfig, ConfigError> {
    let invalid = |key, message: &str| ConfigError::Invalid {
        key,
        message: message.to_string(),
    };
    if p.strength > 100 {
        return Err(invalid(
            "personalization.strength",
            "must be between 0 and 100",
        ));
    }
    if p.control_share > 100 {
        return Err(invalid(
            "personalization.control_share",
            "must be a percentage between 0 and 100",
        ));
    }
    if !(0.0..=1.0).contains(&p.max_boost) {
        return Err(invalid(
            "personalization.max_boost",
            "must be between 0 and 1",
        ));
    }
    if !(0.0..=1.0).contains(&p.price_intent) {
        return Err(invalid(
            "personalization.price_intent",
            "must be between 0 and 1",
        ));
    }
    let w = p.weights;
    let all = [
        w.category,
        w.brand,
        w.attribute,
        w.tier,
        w.session_category,
        w.session_brand,
    ];
    if all.iter().any(|x| !x.is_finite() || *x < 0.0) {
        return Err(invalid(
            "personalization.weights",
            "weights must be numbers >= 0",
        ));
    }
    Ok(p.clone())
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

fn tier_settings(t: &RawTiers) -> Result<TierSettings, ConfigError> {
    let mut seen = std::collections::HashSet::new();
    let distinct = t.names.iter().all(|n| seen.insert(n.to_lowercase()));
    if !(2..=8).contains(&t.names.len()) || !distinct || t.names.iter().any(|n| n.trim().is_empty())
    {
        return Err(ConfigError::Invalid {
            key: "tiers.names",
            message: "must be 2 to 8 distinct, non-empty names, cheapest first".to_string(),
        });
    }
    if t.min_products == 0 {
        return Err(ConfigError::Invalid {
            key: "tiers.min_products",
            message: "must be at least 1".to_string(),
        });
    }
    Ok(TierSettings {
        names: t.names.clone(),
        min_products: t.min_products,
    })
}
