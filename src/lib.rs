//! attune: a personalized product search server.
//!
//! # Map of the crate
//! Dependencies point one way, down these layers; a module uses only those of the layers
//! below its own (`tests/integration/layers.rs` reads every module's imports and holds them
//! to this table, and finds no loop among the files either):
//!
//! ```text
//! server · eval                 the process: listener, connection loop, shutdown; offline
//!                               evaluation (relevance, personalization, the BM25 baseline),
//!                               beside the server so nothing it runs imports evaluation
//! watch                         the config file watcher
//! http · demo                   axum router, extractors, one file per resource, errors, the
//!                               OpenAPI description derived from handlers and types;
//!                               the embedded demo catalog and importer
//! engine                        framework-free facade: search pool, ingestion, reloads,
//!                               tastes, suggestions' rebuilds
//! suggest · config · recommend  autocomplete (FSTs, rebuilt and swapped); the TOML loader
//!                               (raw tables → validation → settings and compiled rules);
//!                               recommendation requests and answers
//! search                        request → query plan → collect + rank → facets → hydrate;
//!                               what it derives from index snapshots (SearchIndex, warmers)
//! rules                         merchandising: `when` → `then`, compiled to index queries
//! profiles                      events, profiles, journal (WAL + snapshots), facts cache
//! index                         tantivy schema, the single writer thread, readers
//! catalog                       products, streamed bodies, syncs
//! settings                      validated settings types, shared by every layer above
//! text · durable · mailbox      languages and analyzers; fsync'd files; the writer mailbox
//! error · group · telemetry ·   the error type; the measurement group; logging; the one
//!   cache                       bounded cache policy every cache that evicts follows
//! ```
//!
//! `rules` sits below `search`: the engine evaluates the rules of the configuration in force
//! for a request, reading the visitor's segment from `profiles`, and `search` applies the
//! outcome. The index knows nothing of search: search hands it warmers that build what it
//! derives from each snapshot (facet paths, ranking columns, hit tables, the lexicon, price
//! tiers) when a commit brings the snapshot in.
//!
//! # A search, end to end
//! `GET /v1/search?q=…` → [`http::search`] reads the query pairs → [`search::SearchRequest`]
//! validates them → [`engine::Engine::search`] starts it on the async worker that received it
//! → price intent and price words are read ([`search::query::constraints`]) →
//! [`search::query::plan`] reads the words in the query's language ([`text::Languages`]),
//! completes the last word, corrects typos, reads brands, categories and attribute values
//! from the catalog's lexicon ([`search::query::understand`]) and builds a tantivy query (each
//! word's weight in each field kept for the index snapshot: [`search::query::terms`]) → a plan
//! predicted to visit more matches than `server.inline_search_matches` ([`search::query::cost`])
//! is declined there and the search runs anew on the search threads; a narrow one goes on →
//! the merchandising rules of the configuration in force are evaluated against the request
//! ([`rules::RuleSet::evaluate`]): their filters and hides join the query
//! ([`search::ranking::merchandise`]) →
//! one collector pass ranks every match (text score × priors × price intent × the visitor's
//! personalization × rule boosts: [`search::ranking`]: [`search::ranking::rank`],
//! [`search::ranking::rerank`] with the visitor's [`search::ranking::personalize::Taste`]
//! and the snapshot's [`search::ranking::tiers`]) and counts facets → pinned products take
//! their positions → the facets are shaped ([`search::Facet`]) → hits are hydrated from the
//! segment's hit table in memory ([`search::hits`], read when a commit brings the segment in).
//! Category pages (`GET /v1/browse`) take the same path without words, with popularity and
//! recency priors.
//!
//! # A recommendation, end to end
//! `GET /v1/recommendations?type=…` → [`http::recommend`] → [`recommend::RecommendRequest`]
//! validates it → [`engine::Engine::recommend`] runs it on the search threads: `similar`
//! searches the product's title within its category and then its parents (so rules, the
//! visitor's re-ranking and the control group apply as to any search), `recently_viewed`
//! reads the visitor's profile and hydrates the products from the catalog; `also_viewed`,
//! `bought_together`, `post_purchase`, `trending` and `for_you` read the related-products
//! counts the journal's thread keeps from every event ([`profiles::related`], saved with the
//! profile snapshots), and leave out what the merchandising rules hide for their placement.
//!
//! # A reload, end to end
//! The file changes ([`watch`]) or `POST /v1/admin/reload` arrives → [`Config::load`] parses
//! and validates the file and its included rule files completely (errors at file:line:column)
//! → [`engine::Engine::reload`] keeps the start-up-only settings and swaps the new
//! configuration in (an `ArcSwap`): searches already running keep the one they loaded.
//!
//! # An autocomplete, end to end
//! `GET /v1/autocomplete?q=…` → [`http::autocomplete`] → [`suggest::AutocompleteRequest`]
//! validates it → [`engine::Engine::autocomplete`] queues the lookup for the search threads →
//! [`suggest::Suggestions`] matches the prefix in an FST (exactly, then within one edit) and
//! ranks queries, brands, categories and titles, boosted by the visitor's affinities. The
//! set is rebuilt from the index and the profiles' recent searches in the background and
//! swapped in atomically ([`suggest::Suggester`]).
//!
//! # A write, end to end
//! `POST /v1/products` streams the body through [`catalog::BodySplitter`], validates each item,
//! and hands batches to the index writer thread ([`index::writer`]); the answer is sent once
//! the group commit that holds the last batch is fsync'd and the reader reloaded.
//!
//! # An event, end to end
//! `POST /v1/events` streams through the same splitter; each event is validated
//! ([`profiles::event::Event`]) and appended to the profile journal ([`profiles::journal`]),
//! which fsyncs a group of appends, applies them in order to the [`profiles::ProfileStore`]
//! (reading product facts through a cache over the index); a visitor whose taste a recent
//! search kept has it derived anew on the search threads ([`engine::Engine`]), so their next
//! search finds it ready; then the request is answered.

pub mod cache;
pub mod catalog;
pub mod config;
pub mod demo;
pub mod durable;
pub mod engine;
pub mod error;
pub mod eval;
pub mod group;
pub mod http;
pub mod index;
pub mod mailbox;
pub mod profiles;
pub mod recommend;
pub mod rules;
pub mod search;
pub mod server;
pub mod settings;
pub mod suggest;
pub mod telemetry;
pub mod text;
pub mod watch;

pub use config::Config;
pub use engine::Engine;
pub use error::{Error, Result};
