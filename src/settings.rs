//! Validated settings: what each part of the server reads from the configuration.
//!
//! This module is a leaf: it knows nothing of the file's layout (that is [`crate::config`],
//! which reads the TOML, checks every value and builds these) nor of the parts that use
//! them, so every layer can take its settings from here without importing the layers that
//! load them. Tables that need no conversion (weights, modes) are read from the file as
//! they are and checked by the loader; the others have raw counterparts in the loader.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::text::{Lang, Languages};

/// How a constraint is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Matching products score higher; others still match.
    Boost,
    /// Only matching products match.
    Filter,
}

/// How each kind of constraint is applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Modes {
    /// Brands.
    pub brand: Mode,
    /// Categories.
    pub category: Mode,
    /// Attribute values.
    pub attribute: Mode,
}

/// The `[search.understanding]` table: filter or boost, per kind of constraint read
/// from a query's words.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Understanding {
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

impl Default for Understanding {
    fn default() -> Self {
        Understanding {
            brand: Mode::Boost,
            category: Mode::Boost,
            attribute: Mode::Boost,
            price: Mode::Filter,
            boost: 2.0,
        }
    }
}

impl Understanding {
    /// The modes of the soft constraints.
    pub fn modes(&self) -> Modes {
        Modes {
            brand: self.brand,
            category: self.category,
            attribute: self.attribute,
        }
    }
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

/// Field weights and priors of the text ranking.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
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

impl Default for Weights {
    fn default() -> Self {
        Weights {
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

/// Affinity weight of each event type.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventWeights {
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

impl Default for EventWeights {
    fn default() -> Self {
        EventWeights {
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
    pub weights: EventWeights,
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

/// Sizes of the caches that grow with traffic or with the catalog (`[cache]`). A full cache
/// forgets its least useful entries one at a time ([`crate::cache::Bounded`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Visitors whose taste is kept between their searches.
    pub tastes: usize,
    /// Products whose facts (category, brand, attributes, price) events read from memory.
    pub product_facts: usize,
    /// Words whose correction (and, apart, whose completion as a last word) is remembered
    /// for the catalog as it is, until a write changes it.
    pub words: usize,
    /// Queries whose best text score (where a personalized search's band of comparably
    /// relevant matches is measured from) is remembered for the catalog as it is.
    pub queries: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            tastes: 4096,
            product_facts: 500_000,
            words: 20_000,
            queries: 20_000,
        }
    }
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
    pub weights: Weights,
    /// Synonyms.
    pub synonyms: std::sync::Arc<SynonymTable>,
    /// The store's own stop words, lowercased and folded.
    pub stop_words: std::sync::Arc<std::collections::HashSet<String>>,
    /// The store's languages (a copy of the index's: queries are read in one of them).
    pub languages: Languages,
    /// How constraints read from the words are applied.
    pub understanding: Understanding,
}

/// The `[personalization]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PersonalizationConfig {
    /// Strength of a request that sets none (0: unpersonalized … 100: full).
    pub strength: u8,
    /// Largest share of its own score a product can gain (or lose) by personalization when
    /// it is not among the comparably relevant matches (outside the band).
    pub max_boost: f32,
    /// How far below the best text score of a search's matches a match still counts as
    /// comparably relevant (0.6: at least 40 % of the best; products of a category the
    /// whole query names always are): among those, the visitor's fit decides (`band_boost`).
    pub band: f32,
    /// How decisively the visitor's fit orders the comparably relevant matches: at full
    /// strength a match's score is multiplied by `exp(band_boost × boost)`.
    pub band_boost: f32,
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
    /// The visitor's affinity to the product's department (its top-level category), long-term
    /// or in the session: what chooses the reading of a query whose matches span departments.
    pub department: f32,
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
            department: 0.5,
        }
    }
}

impl Default for PersonalizationConfig {
    fn default() -> Self {
        PersonalizationConfig {
            strength: 100,
            max_boost: 0.5,
            band: 0.6,
            band_boost: 4.0,
            control_share: 5,
            weights: PersonalizationWeights::default(),
            price_intent: 0.3,
        }
    }
}

/// Tier settings: their names, cheapest first, and the fewest priced products a category
/// needs for cut-offs of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct TierSettings {
    /// Names, cheapest first (2 to 8).
    pub names: Vec<String>,
    /// Fewest priced products of a category for its own cut-offs.
    pub min_products: usize,
}

impl Default for TierSettings {
    fn default() -> Self {
        TierSettings {
            names: ["budget", "mid", "premium", "luxury"]
                .map(String::from)
                .to_vec(),
            min_products: 8,
        }
    }
}

impl TierSettings {
    /// Number of tiers.
    pub fn count(&self) -> u8 {
        self.names.len() as u8
    }

    /// The tier of a name (case-insensitive).
    pub fn by_name(&self, name: &str) -> Option<u8> {
        self.names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))
            .map(|i| i as u8)
    }

    /// The name of a tier.
    pub fn name(&self, tier: u8) -> Option<&str> {
        self.names.get(usize::from(tier)).map(String::as_str)
    }
}
