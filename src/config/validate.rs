//! From the file's raw tables to validated settings, naming the key at fault.

use std::num::NonZeroUsize;
use std::path::Path;
use std::time::Duration;

use super::raw::{RawConfig, RawProfiles, RawSuggest, RawSynonyms, RawTiers};
use super::{Config, ConfigError, ConfigVersion, at};
use crate::settings::{
    CacheConfig, IndexConfig, PersonalizationConfig, ProfileCaps, ProfilesConfig, SearchConfig,
    ServerConfig, SuggestConfig, SynonymTable, TierSettings,
};
use crate::text::{Lang, Languages};

impl Config {
    /// Validates raw values. Rules are left out: [`Config::parse`] compiles them, as it knows
    /// where each one is in which file.
    pub fn from_raw(raw: RawConfig) -> Result<Config, ConfigError> {
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
        let cache = cache_config(&raw.cache)?;
        Ok(Config {
            cache,
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

/// Places a value error (`search.default_limit`) at its key in the text: the key's line in
/// its table, else the table's header, else the start of the file.
pub(super) fn locate(error: ConfigError, text: &str, path: &Path) -> ConfigError {
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

/// A setting's value is out of bounds: `key` names it.
fn invalid(key: &'static str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.to_string(),
    }
}

fn cache_config(c: &CacheConfig) -> Result<CacheConfig, ConfigError> {
    for (key, size) in [
        ("cache.tastes", c.tastes),
        ("cache.product_facts", c.product_facts),
        ("cache.words", c.words),
        ("cache.queries", c.queries),
    ] {
        if size == 0 {
            return Err(invalid(key, "must be at least 1"));
        }
    }
    Ok(c.clone())
}

fn suggest_config(s: &RawSuggest) -> Result<SuggestConfig, ConfigError> {
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

fn personalization_config(p: &PersonalizationConfig) -> Result<PersonalizationConfig, ConfigError> {
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
    for (key, value, highest) in [
        ("personalization.max_boost", p.max_boost, 1.0),
        ("personalization.price_intent", p.price_intent, 1.0),
        ("personalization.band", p.band, 1.0),
        ("personalization.band_boost", p.band_boost, 10.0),
    ] {
        if !(0.0..=highest).contains(&value) {
            return Err(invalid(key, &format!("must be between 0 and {highest}")));
        }
    }
    let w = p.weights;
    let all = [
        w.category,
        w.brand,
        w.attribute,
        w.tier,
        w.session_category,
        w.session_brand,
        w.price,
        w.department,
    ];
    if all.iter().any(|x| !x.is_finite() || *x < 0.0) {
        return Err(invalid(
            "personalization.weights",
            "weights must be numbers >= 0",
        ));
    }
    Ok(p.clone())
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
