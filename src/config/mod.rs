//! Configuration: a TOML file read in two stages.
//!
//! [`RawConfig`] mirrors the file (`deny_unknown_fields`, every key optional, in `raw`) and
//! [`Config::from_raw`] validates it (in `validate`) into the typed values of
//! [`crate::settings`], naming the key at fault. Defaults live
//! in one place, the `Default` impls of the raw structs, and are listed in
//! `docs/configuration.md`. [`Config::parse`] also compiles the merchandising rules of the
//! file and of the files it includes ([`crate::rules`]), and reports every problem at its
//! file, line and column: a config replaced at run time is validated completely first.

mod raw;
mod validate;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use toml::Spanned;

pub use raw::RawConfig;
use validate::locate;

use crate::rules::raw::{RawRule, RawRulesFile, RuleError};
use crate::rules::{Rule, RuleSet};
use crate::settings::{
    CacheConfig, IndexConfig, PersonalizationConfig, ProfilesConfig, SearchConfig, ServerConfig,
    SuggestConfig, TierSettings,
};

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
    /// Cache sizes.
    pub cache: CacheConfig,
    /// Merchandising rules, in evaluation order.
    pub rules: std::sync::Arc<RuleSet>,
    /// Which text this configuration was read from.
    pub version: ConfigVersion,
    /// Settings given on the command line, which win over the file's at every reload.
    pub overridden: Vec<&'static str>,
}

/// Which configuration is in force: where it was read from, a hash of its text, and (set by
/// the engine) when it was loaded and how many loads came before.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct ConfigVersion {
    /// The main file, when the configuration was read from one.
    #[schema(value_type = Option<String>)]
    pub path: Option<PathBuf>,
    /// CRC-32 of the main file and its included files, in reading order, in hex.
    pub hash: String,
    /// The files read, the main one first.
    #[schema(value_type = Vec<String>)]
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
        keep(&mut ignored, "cache", &mut self.cache, &running.cache);
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
pub(super) fn at(
    path: &Path,
    text: &str,
    span: std::ops::Range<usize>,
    message: String,
) -> ConfigError {
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
            ("[cache]\ntastes = 0", "cache.tastes"),
            ("[cache]\nproduct_facts = 0", "cache.product_facts"),
            ("[cache]\nwords = 0", "cache.words"),
            ("[personalization]\nband = 1.5", "personalization.band"),
            (
                "[personalization]\nband_boost = -1",
                "personalization.band_boost",
            ),
            (
                "[personalization.weights]\ndepartment = -1",
                "personalization.weights",
            ),
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
