//! Search: plan the query, retrieve and rank in one collector pass, count facets, hydrate.
//!
//! [`search`] is synchronous and CPU-bound; the engine runs it on its search threads.

pub mod baseline;
pub mod collect;
pub mod constraints;
pub mod cost;
pub mod facets;
pub mod highlight;
pub mod hits;
pub mod merchandise;
pub mod ords;
pub mod personalize;
pub mod query;
pub mod rank;
mod refine;
pub mod request;
pub mod rerank;
pub mod snapshot;
pub mod state;
pub mod surface;
pub mod synonyms;
pub mod terms;
pub mod tiers;
pub mod typo;
pub mod understand;
pub mod warnings;

use std::borrow::Cow;
use std::time::Instant;

use serde::Serialize;
use serde_json::{Map, Value, json};
use tantivy::collector::MultiCollector;

use crate::error::Result;

use crate::index::schema::StoredHit;
use crate::rules::Outcome;
use crate::settings::SearchConfig;
use collect::{TopRanked, TopRankedCollector};
use cost::Inline;
use facets::{FacetCounts, FacetPaths, PathCounts, PriceRanges};
use merchandise::{Applied, Placed};
use rank::{Explain, Ranker, Stage};
pub use request::{FacetRequest, Filters, SearchRequest, Sort};
pub use state::SearchIndex;

use crate::group::Group;
use crate::settings::PersonalizationConfig;
use crate::settings::TierSettings;
use personalize::Taste;
use rerank::PersonalStage;
use std::sync::Arc;
use tiers::SnapshotTiers;

/// One search hit, as returned to the storefront.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Hit {
    /// Product id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Brand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// Category path.
    pub category: Vec<String>,
    /// Price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    /// Price tier within its category (none without a price).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Image address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// Product page address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// ISO 4217 currency of the price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Whether it can be bought now (absent for products indexed before hits carried it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_stock: Option<bool>,
    /// Average rating.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<f64>,
    /// Number of reviews.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_count: Option<u64>,
    /// Attributes (sizes, colours…): name → values.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub attributes: std::collections::BTreeMap<String, Vec<String>>,
    /// The matched words marked in the title and a snippet of the description, when asked
    /// for (`highlight=true`).
    #[serde(rename = "_highlight", skip_serializing_if = "Option::is_none")]
    pub highlight: Option<highlight::Highlight>,
    /// Relevance score after every ranking stage.
    pub score: f64,
    /// How the score was made, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explain>,
}

/// How the engine read the request.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QueryEcho {
    /// The words as sent.
    pub q: String,
    /// The language the words were read in (ISO 639-1).
    pub lang: crate::text::Lang,
    /// The analysed words matched and scored.
    pub terms: Vec<String>,
    /// Negated words ("without straw"), left out of matching and scoring.
    pub negated: Vec<String>,
    /// What was relaxed because the request found nothing (`price`, `typos`), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relaxed: Vec<&'static str>,
    /// Constraints read from the words (`under $50`), applied as filters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<constraints::PriceConstraint>,
    /// Price intent read from the words (`cheap`): a tier preference, not a filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_intent: Option<constraints::PriceIntent>,
    /// Brands, categories and attribute values read from the words, boosted or filtered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub understood: Vec<understand::Understood>,
    /// Synonyms that added alternatives.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub synonyms: Vec<synonyms::Expansion>,
    /// Words the index does not have, replaced by the closest word it has.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub corrections: Vec<query::Correction>,
    /// The query with its corrected words spelled as the catalog spells them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub did_you_mean: Option<String>,
    /// The last word completed as it is being typed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion: Option<query::Completion>,
    /// The filters in force.
    pub filters: Value,
    /// The order.
    pub sort: Sort,
    /// Merchandising rules that fired, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// Personalization strength (0–100) set by a rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strength: Option<u8>,
}

/// The answer to a search.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SearchResponse {
    /// The requested page of hits.
    pub hits: Vec<Hit>,
    /// Matching products in all.
    pub total: u64,
    /// With `page`: the page, its size and how many pages the matches fill.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub paging: Option<Paging>,
    /// Facet counts, by requested facet name.
    pub facets: Map<String, Value>,
    /// How the query was read.
    pub query: QueryEcho,
    /// Whether and how the order was personalized.
    pub personalization: PersonalizationEcho,
    /// Why a filtered search found nothing, when a filter names something no product has.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Where a merchandising rule sends the shopper instead (the hits are still there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
    /// Identifier of this search, for attributing later events to it.
    pub search_id: String,
    /// Time spent in the engine, in milliseconds.
    pub took_ms: f64,
}

impl SearchResponse {
    /// The answer as JSON, each hit with only `fields` (all without).
    pub fn to_json(&self, fields: Option<&[String]>) -> Value {
        let mut answer = serde_json::to_value(self).unwrap_or_default();
        if let (Some(fields), Some(hits)) = (fields, answer["hits"].as_array_mut()) {
            for hit in hits.iter_mut().filter_map(Value::as_object_mut) {
                hit.retain(|name, _| fields.iter().any(|f| f == name));
            }
        }
        answer
    }
}

/// Where a page sits among the matches, for a request made with `page` and `hits_per_page`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Paging {
    /// The page (1-based).
    pub page: usize,
    /// Hits per page.
    pub hits_per_page: usize,
    /// Pages the matches fill (0 without matches).
    pub total_pages: u64,
}

impl Paging {
    fn of(page: usize, hits_per_page: usize, total: u64) -> Paging {
        let per = hits_per_page.max(1) as u64;
        Paging {
            page,
            hits_per_page,
            total_pages: total.div_ceil(per),
        }
    }
}

/// Who is searching, for personalization, and the settings it follows.
pub struct Personalization<'a> {
    /// Personalization settings.
    pub config: &'a PersonalizationConfig,
    /// Tier settings.
    pub tiers: &'a TierSettings,
    /// The visitor's measurement group, when a visitor is known.
    pub group: Option<Group>,
    /// Reads the visitor's taste given the snapshot's tiers (None: nothing to personalize
    /// with: no visitor, control group, opted out).
    pub taste: Option<&'a TasteReader<'a>>,
}

/// Reads a visitor's taste given a snapshot's tiers.
pub type TasteReader<'a> = dyn Fn(&Arc<SnapshotTiers>) -> Option<Arc<Taste>> + 'a;

impl<'a> Personalization<'a> {
    /// No visitor, under these settings: the plain order (price intent still applies).
    pub fn none(config: &'a PersonalizationConfig, tiers: &'a TierSettings) -> Personalization<'a> {
        Personalization {
            config,
            tiers,
            group: None,
            taste: None,
        }
    }
}

impl Personalization<'static> {
    /// No visitor, under the default settings (for checks that only count matches).
    pub fn plain() -> Personalization<'static> {
        static DEFAULTS: std::sync::LazyLock<(PersonalizationConfig, TierSettings)> =
            std::sync::LazyLock::new(Default::default);
        Personalization {
            config: &DEFAULTS.0,
            tiers: &DEFAULTS.1,
            group: None,
            taste: None,
        }
    }
}

/// What the answer says of personalization.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct PersonalizationEcho {
    /// Whether the order was personalized.
    pub applied: bool,
    /// The visitor's group, when a visitor was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<Group>,
    /// The strength asked for (or the configured default).
    pub strength: u8,
}

/// The attempt an [`Inline`] holds, or a return of the whole search declined likewise.
macro_rules! answered {
    ($attempt:expr) => {
        match $attempt {
            Inline::Answered(attempt) => attempt,
            Inline::Declined { predicted } => return Ok(Inline::Declined { predicted }),
        }
    };
}

/// Runs a search against the current snapshot of the index, without merchandising rules.
pub fn search(
    index: &SearchIndex,
    config: &SearchConfig,
    req: &SearchRequest,
    personal: &Personalization,
) -> Result<SearchResponse> {
    let outcome = Outcome::default();
    search_with_rules(
        index,
        &index.searcher(),
        config,
        req,
        personal,
        &outcome,
        None,
    )?
    .answered()
}

/// Runs a search against a snapshot of the index with what the merchandising rules decided
/// for it (see [`merchandise`]), unless its plan is predicted to visit more than `limit`
/// matches ([`cost::predicted_matches`]; None: no limit): then it is declined as soon as it
/// is planned, before it visits any.
pub fn search_with_rules(
    index: &SearchIndex,
    searcher: &tantivy::Searcher,
    config: &SearchConfig,
    req: &SearchRequest,
    personal: &Personalization,
    outcome: &Outcome,
    limit: Option<u64>,
) -> Result<Inline<SearchResponse>> {
    let started = Instant::now();
    let fields = index.fields();
    let typed_req = req;
    let mut dropped_price = None;
    // Price words ("under $50") become a filter unless the request sets price bounds itself
    // or prices are configured to boost; intent words ("cheap") are read, not matched.
    let explicit_price = req.filters.price_min.is_some() || req.filters.price_max.is_some();
    let (text, intent) = constraints::intent(&req.q);
    let (text, price_words) = match constraints::extract(&text) {
        (rest, Some(constraint)) if !explicit_price => (rest, Some(constraint)),
        _ => (text, None),
    };
    let price_filters = config.understanding.price == crate::settings::Mode::Filter;
    let rewritten = (intent.is_some() || price_words.is_some()).then(|| {
        let mut rewritten = req.clone();
        rewritten.q.clone_from(&text);
        if let Some(c) = price_words.as_ref().filter(|_| price_filters) {
            rewritten.filters.price_min = c.min;
            rewritten.filters.price_max = c.max;
        }
        rewritten
    });
    let price_boost = price_words
        .as_ref()
        .filter(|_| !price_filters)
        .map(|c| (c.min, c.max));
    let req = rewritten.as_ref().unwrap_or(req);
    let lexicon = index.lexicon(searcher, config.languages.default_lang())?;
    let tiers = index.tiers(searcher, personal.tiers)?;
    let applied = Applied::new(outcome, searcher, fields)?;
    let reading = query::Reading {
        lexicon: Some(&lexicon),
        price_boost,
        tier_filter: tier_filter(&req.filters.tiers, personal.tiers, &tiers)?,
        terms: Some(index.term_weights()),
    };
    let taste = personal.taste.and_then(|read| read(&tiers));
    // The request's own strength, else a rule's, else the configured default.
    let strength = req
        .personalization
        .or(outcome.strength)
        .unwrap_or(personal.config.strength);
    let stage = Arc::new(PersonalStage {
        taste: taste.map(|t| (t, strength)),
        intent: intent
            .as_ref()
            .map(|i| tier_target(i.tier, tiers.table.tiers())),
        config: personal.config.clone(),
        tiers: tiers.clone(),
        paths: index.facet_paths(),
    });
    let snapshot = Snapshot {
        index,
        searcher,
        tiers: &tiers,
        applied: &applied,
    };
    let attempt = |req: &SearchRequest, budget: typo::Budget| -> Result<Inline<Attempt>> {
        run_once(&snapshot, config, req, budget, &reading, &stage, limit)
    };
    // Zero results: relax step by step, never touching the filters the request set itself.
    let mut relaxed = Vec::new();
    let mut req = req;
    let mut budget = typo::NORMAL;
    let mut found = answered!(attempt(req, typo::NORMAL)?);
    if found.ranked.total == 0 && price_words.is_some() && price_filters {
        req = original_with_text(&mut dropped_price, typed_req, req);
        found = answered!(attempt(req, typo::NORMAL)?);
        relaxed.push("price");
    }
    if found.ranked.total == 0 && found.plan.has_text() {
        budget = typo::WIDE;
        found = answered!(attempt(req, typo::WIDE)?);
        if !found.plan.corrections.is_empty() {
            relaxed.push("typos");
        }
    }
    let Attempt {
        plan,
        ranker,
        ranked,
        mut counts,
    } = found;
    refine::refine(&snapshot, config, req, budget, &reading, &mut counts)?;
    let FacetFruits {
        category,
        brand,
        attrs,
        price,
        tier,
        attr_overrides,
    } = counts;
    let pins =
        merchandise::find_pins(searcher, fields, outcome, &req.filters, plan.query.as_ref())?;
    let total = ranked.total + pins.iter().filter(|p| !p.matches).count() as u64;
    let page = applied.page(ranked.hits, pins, req.offset, req.limit);
    let personalized = stage.applies_taste();
    let mut facets = Map::new();
    for facet in &req.facets {
        let (name, value) = match facet {
            FacetRequest::Category => (
                "category".to_string(),
                category_levels(category.as_ref(), &req.filters.category, config.facet_limit),
            ),
            FacetRequest::Brand => (
                "brand".to_string(),
                children(brand.as_ref(), &[], config.facet_limit),
            ),
            FacetRequest::Price => {
                let price = price.clone().unwrap_or_default();
                if let Some((min, max)) = price.range {
                    facets.insert("price_stats".into(), json!({"min": min, "max": max}));
                }
                ("price".to_string(), json!(price.buckets))
            }
            FacetRequest::Attribute(name) => {
                let own = attr_overrides.iter().find(|(n, _)| n == name);
                let counts = own.map(|(_, c)| c).or(attrs.as_ref());
                let values = attribute_values(counts, name, config.facet_limit);
                (format!("attr.{name}"), values)
            }
            FacetRequest::Tier => (
                "tier".to_string(),
                tier_counts(tier.as_deref(), personal.tiers),
            ),
        };
        facets.insert(name, value);
    }

    let mut hits = Vec::with_capacity(page.len());
    for placed in page {
        let address = placed.address;
        let score = placed.key.map_or(0.0, |k| k.secondary);
        let segment = searcher.segment_reader(address.segment_ord);
        let explain = if req.explain {
            let mut explain = explain_hit(&ranker, searcher, &placed)?;
            if stage.is_active() && placed.key.is_some() {
                let (intent, personal) = stage.for_segment(segment)?.explain(address.doc_id);
                explain.stages.extend(intent);
                explain.personalization = personal;
            }
            explain.score = score;
            Some(explain)
        } else {
            None
        };
        let mut shown = index
            .hit_tables()
            .show(searcher, address, |stored| hydrate(stored, score, explain))?;
        shown.tier = personal
            .tiers
            .name(tiers.of(segment.segment_id(), address.doc_id))
            .map(str::to_string);
        hits.push(shown);
    }
    let did_you_mean = did_you_mean(&typed_req.q, plan.lang, &plan.corrections, &hits);
    let warnings = if total == 0 {
        warnings::of(searcher, &index.facet_paths(), &req.filters)?
    } else {
        Vec::new()
    };
    Ok(Inline::Answered(SearchResponse {
        hits,
        total,
        warnings,
        paging: req.page.map(|page| Paging::of(page, req.limit, total)),
        facets,
        query: QueryEcho {
            q: typed_req.q.clone(),
            lang: plan.lang,
            terms: plan.terms,
            negated: plan.negated,
            did_you_mean,
            corrections: plan.corrections,
            completion: plan.completion,
            synonyms: plan.synonyms,
            price: price_words.filter(|_| !relaxed.contains(&"price")),
            price_intent: intent,
            understood: plan.understood,
            relaxed,
            filters: filters_json(&req.filters),
            sort: req.sort,
            rules: outcome.fired.iter().map(|r| r.to_string()).collect(),
            strength: outcome.strength,
        },
        redirect: outcome.redirect.clone(),
        personalization: PersonalizationEcho {
            applied: personalized,
            group: personal.group,
            strength,
        },
        search_id: uuid::Uuid::new_v4().simple().to_string(),
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
    }))
}

/// The tier a price intent asks for: the cheapest, or the dearest.
fn tier_target(tier: constraints::Tier, tiers: u8) -> u8 {
    match tier {
        constraints::Tier::Budget => 0,
        constraints::Tier::Premium => tiers.saturating_sub(1),
    }
}

/// The typed query with each corrected word replaced by a word of the hits' titles that
/// analyses to the correction (so "blendr" reads "blender", not the stem), else the stem.
fn did_you_mean(
    q: &str,
    lang: crate::text::Lang,
    corrections: &[query::Correction],
    hits: &[Hit],
) -> Option<String> {
    if corrections.is_empty() {
        return None;
    }
    let mut analyzer = crate::text::Analyzer::new(lang);
    let spelling = |stem: &str, analyzer: &mut crate::text::Analyzer| {
        hits.iter()
            .flat_map(|h| h.title.split_whitespace())
            .find(|w| analyzer.terms(w).first().map(String::as_str) == Some(stem))
            .map(|w| {
                w.trim_matches(|c: char| !c.is_alphanumeric())
                    .to_lowercase()
            })
            .unwrap_or_else(|| stem.to_string())
    };
    let words: Vec<String> = q
        .split_whitespace()
        .map(|raw| {
            let analysed = analyzer.terms(raw);
            match corrections
                .iter()
                .find(|c| analysed.first() == Some(&c.from))
            {
                Some(c) => spelling(&c.to, &mut analyzer),
                None => raw.to_string(),
            }
        })
        .collect();
    Some(words.join(" "))
}

/// The score breakdown of a hit; a pinned hit adds a `pin` stage (and, when it was not among
/// the ranked hits, has no other).
///
/// The text score is the one the collector saw: asking tantivy to explain the query again
/// cost a second evaluation and, for phrase clauses, tripped a debug assertion of tantivy's
/// phrase scorer when the document came before the segment's first phrase match.
fn explain_hit(ranker: &Ranker, searcher: &tantivy::Searcher, placed: &Placed) -> Result<Explain> {
    let address = placed.address;
    let mut explain = if let Some(key) = placed.key {
        let segment = searcher.segment_reader(address.segment_ord);
        let cols = ranker.columns(segment)?;
        ranker.explain(&cols, address.doc_id, key.text)
    } else {
        Explain {
            text: 0.0,
            stages: Vec::new(),
            personalization: None,
            score: 0.0,
        }
    };
    if let Some(pin) = &placed.pin {
        explain.stages.push(Stage {
            stage: "pin",
            rule: Some(pin.rule.clone()),
            value: Some(pin.position as f64),
            factor: 1.0,
        });
    }
    Ok(explain)
}

/// One run of a search: its plan, ranker, top hits and facet counts.
struct Attempt {
    plan: query::Plan,
    ranker: Ranker,
    ranked: TopRanked,
    counts: FacetFruits,
}

/// One snapshot of the index with what searches read beside it.
struct Snapshot<'a> {
    index: &'a SearchIndex,
    searcher: &'a tantivy::Searcher,
    tiers: &'a Arc<tiers::SnapshotTiers>,
    applied: &'a Applied<'a>,
}

impl<'a> Snapshot<'a> {
    /// A request's plan under a typo budget, with the vocabulary it was read against.
    fn plan(
        &self,
        config: &SearchConfig,
        req: &SearchRequest,
        budget: typo::Budget,
        reading: &query::Reading,
    ) -> Result<(query::Plan, IndexVocabulary<'a>)> {
        let words = self.index.words(self.searcher)?;
        let vocabulary = IndexVocabulary::new(self.searcher, self.index, budget, words);
        let plan = query::plan(req, self.index.fields(), config, &vocabulary, reading);
        Ok((plan, vocabulary))
    }
}

/// Plans and runs a request once, with a typo budget, ranking through `stage` too; declined
/// after planning when the plan is predicted to visit more than `limit` matches.
fn run_once(
    snapshot: &Snapshot,
    config: &SearchConfig,
    req: &SearchRequest,
    budget: typo::Budget,
    reading: &query::Reading,
    stage: &Arc<PersonalStage>,
    limit: Option<u64>,
) -> Result<Inline<Attempt>> {
    let Snapshot {
        index,
        searcher,
        tiers,
        applied,
    } = *snapshot;
    let fields = index.fields();
    let (mut plan, vocabulary) = snapshot.plan(config, req, budget, reading)?;
    if let Some(limit) = limit {
        let doc_freq = |word: &str| vocabulary.doc_freq(word);
        let facets = req.facets.len();
        let predicted = cost::predicted_matches(&plan, doc_freq, searcher.num_docs(), facets);
        if predicted > limit {
            return Ok(Inline::Declined { predicted });
        }
    }
    let recency = req.browse.then(|| rank::Recency {
        now_s: crate::profiles::now_ms() / 1000,
        weight: config.weights.recency,
        half_life_s: config.weights.recency_half_life_days * 86_400.0,
        popularity: config.weights.browse_popularity,
    });
    plan.query = merchandise::restrict(plan.query, applied.outcome, fields);
    let rules = match negation_demotion(&plan.negated, config.weights.negated, searcher, fields)? {
        Some(demotion) => applied.boosts.with(demotion),
        None => applied.boosts.clone(),
    };
    let ranker = Ranker {
        weights: config.weights.clone(),
        has_text: plan.has_text(),
        sort: req.sort,
        recency,
        rules,
        columns: index.rank_columns(),
    };
    let (offset, limit) = applied.window(req.offset, req.limit);
    let top =
        TopRankedCollector::new(ranker.clone(), offset, limit).with_stage(Some(stage.clone()));
    let (ranked, counts) = if req.facets.is_empty() {
        (
            searcher.search(plan.query.as_ref(), &top)?,
            FacetFruits::default(),
        )
    } else {
        let paths = index.facet_paths();
        let (ranked, counts) = collect_with_facets(
            searcher,
            plan.query.as_ref(),
            Some(top),
            req,
            config,
            paths,
            tiers.clone(),
        )?;
        let ranked = ranked.ok_or_else(|| crate::Error::Internal("no ranked hits".into()))?;
        (ranked, counts)
    };
    Ok(Inline::Answered(Attempt {
        plan,
        ranker,
        ranked,
        counts,
    }))
}

/// The words of a snapshot of the index, as the query planner sees them. Each word's
/// document frequency is read once per plan (the planner asks whether a word is known, how
/// informative it is, and whether to correct it).
pub struct IndexVocabulary<'a> {
    searcher: &'a tantivy::Searcher,
    fields: &'a crate::index::Fields,
    hits: &'a hits::HitTables,
    budget: typo::Budget,
    doc_freqs: std::cell::RefCell<std::collections::HashMap<String, u64>>,
    words: Arc<typo::WordMemo>,
}

impl<'a> IndexVocabulary<'a> {
    /// The vocabulary of a snapshot, correcting words within `budget`, with the snapshot's
    /// remembered corrections and completions.
    pub fn new(
        searcher: &'a tantivy::Searcher,
        index: &'a SearchIndex,
        budget: typo::Budget,
        words: Arc<typo::WordMemo>,
    ) -> Self {
        IndexVocabulary {
            searcher,
            fields: index.fields(),
            hits: index.hit_tables(),
            budget,
            doc_freqs: Default::default(),
            words,
        }
    }

    /// The hit tables of the snapshot's segments (where the words of product names are).
    fn hit_tables(&self) -> Vec<Arc<hits::HitTable>> {
        (self.searcher.segment_readers().iter())
            .filter_map(|segment| self.hits.of(segment).ok())
            .collect()
    }

    /// How many products have the analysed word.
    fn doc_freq(&self, term: &str) -> u64 {
        if let Some(&n) = self.doc_freqs.borrow().get(term) {
            return n;
        }
        let key = tantivy::Term::from_field_text(self.fields.all_text, term);
        let n = self.searcher.doc_freq(&key).unwrap_or(0);
        self.doc_freqs.borrow_mut().insert(term.to_string(), n);
        n
    }
}

impl query::Vocabulary for IndexVocabulary<'_> {
    fn has(&self, term: &str) -> bool {
        self.doc_freq(term) > 0
    }

    fn correct(&self, term: &str) -> Option<String> {
        if self.has(term) {
            return None;
        }
        let f = self.fields;
        let candidates = [f.title, f.brand_text, f.category_text, f.attrs_text];
        self.words.correction(term, self.budget, || {
            typo::correct(self.searcher, &candidates, term, self.budget)
        })
    }

    fn complete(&self, prefix: &str, limit: usize) -> Vec<String> {
        // Not kept itself, like `complete_written`: the completion it serves is.
        typo::complete(self.searcher, self.fields.all_text, prefix, limit)
    }

    fn complete_written(&self, prefix: &str, limit: usize, lang: crate::text::Lang) -> Vec<String> {
        // Not kept itself: it serves only the last word's completion, which is kept whole
        // for the snapshot (`remembered_completion`).
        let tables = self.hit_tables();
        let words = surface::complete(tables.iter().map(|t| t.surface()), prefix, limit);
        let mut stems: Vec<String> = Vec::with_capacity(words.len());
        for word in words {
            let stem = lang.stem(&word);
            if !stems.contains(&stem) && self.doc_freq(&stem) > 0 {
                stems.push(stem);
            }
        }
        stems
    }

    fn remembered_completion(
        &self,
        term: &str,
        folded: &str,
        lang: crate::text::Lang,
        compute: &mut dyn FnMut() -> Option<query::Completion>,
    ) -> Option<query::Completion> {
        // A search ending with the same word plans it the same way until the next commit:
        // the check against the catalog's words and their counts is made once.
        self.words.last_word(term, folded, lang, compute)
    }

    fn is_written(&self, folded: &str) -> bool {
        (self.hit_tables().iter()).any(|table| table.surface().contains(folded))
    }

    fn frequency(&self, term: &str) -> Option<u64> {
        Some(self.doc_freq(term))
    }

    fn idf(&self, term: &str) -> Option<f32> {
        let df = self.doc_freq(term) as f32;
        let n = self.searcher.num_docs() as f32;
        Some((1.0 + (n - df + 0.5) / (df + 0.5)).ln())
    }
}

/// Products that have a word the query negates ("without straw") are demoted by `factor`
/// (1: left alone), as a ranking stage like a rule's bury: they still match.
fn negation_demotion(
    negated: &[String],
    factor: f32,
    searcher: &tantivy::Searcher,
    fields: &crate::index::Fields,
) -> Result<Option<rank::RuleBoost>> {
    if negated.is_empty() || factor >= 1.0 {
        return Ok(None);
    }
    let any: Vec<(tantivy::query::Occur, Box<dyn tantivy::query::Query>)> = negated
        .iter()
        .map(|word| {
            let term = tantivy::Term::from_field_text(fields.all_text, word);
            let q: Box<dyn tantivy::query::Query> = Box::new(tantivy::query::TermQuery::new(
                term,
                tantivy::schema::IndexRecordOption::Basic,
            ));
            (tantivy::query::Occur::Should, q)
        })
        .collect();
    let query = tantivy::query::BooleanQuery::new(any);
    let weight = tantivy::query::Query::weight(
        &query,
        tantivy::query::EnableScoring::disabled_from_searcher(searcher),
    )?;
    Ok(Some(rank::RuleBoost {
        stage: "negation",
        rule: negated.join(" ").into(),
        factor: f64::from(factor),
        weight: weight.into(),
    }))
}

/// The request as sent but with the price words taken out of its text (relaxing a price
/// that was read from the words leaves the words out: they were never meant as text).
fn original_with_text<'a>(
    slot: &'a mut Option<SearchRequest>,
    typed: &SearchRequest,
    rewritten: &SearchRequest,
) -> &'a SearchRequest {
    let mut relaxed = typed.clone();
    relaxed.q.clone_from(&rewritten.q);
    slot.insert(relaxed)
}

/// Facet counts of one search, each present when requested.
#[derive(Default)]
struct FacetFruits {
    category: Option<PathCounts>,
    brand: Option<PathCounts>,
    attrs: Option<PathCounts>,
    price: Option<facets::PriceFacet>,
    tier: Option<Vec<u64>>,
    /// Counts of attributes whose own filter is set, counted without it.
    attr_overrides: Vec<(String, PathCounts)>,
}

/// Runs the top-k collector and the requested facet collectors in one pass.
fn collect_with_facets(
    searcher: &tantivy::Searcher,
    query: &dyn tantivy::query::Query,
    top: Option<TopRankedCollector>,
    req: &SearchRequest,
    config: &SearchConfig,
    paths: Arc<FacetPaths>,
    tiers: Arc<tiers::SnapshotTiers>,
) -> Result<(Option<TopRanked>, FacetFruits)> {
    let mut collectors = MultiCollector::new();
    let top = top.map(|top| collectors.add_collector(top));
    let wants = |f: &FacetRequest| req.facets.contains(f);
    let wants_attrs = req
        .facets
        .iter()
        .any(|f| matches!(f, FacetRequest::Attribute(_)));
    let category = wants(&FacetRequest::Category)
        .then(|| collectors.add_collector(FacetCounts::new("category", paths.clone())));
    let brand = wants(&FacetRequest::Brand)
        .then(|| collectors.add_collector(FacetCounts::new("brand", paths.clone())));
    let attrs =
        wants_attrs.then(|| collectors.add_collector(FacetCounts::new("attr", paths.clone())));
    let price = wants(&FacetRequest::Price)
        .then(|| collectors.add_collector(PriceRanges::new(config.price_ranges.clone())));
    let tier =
        wants(&FacetRequest::Tier).then(|| collectors.add_collector(tiers::TierCounts::new(tiers)));
    let mut fruits = searcher.search(query, &collectors)?;
    let ranked = top.map(|h| h.extract(&mut fruits));
    let counts = FacetFruits {
        category: category.map(|h| h.extract(&mut fruits)),
        brand: brand.map(|h| h.extract(&mut fruits)),
        attrs: attrs.map(|h| h.extract(&mut fruits)),
        price: price.map(|h| h.extract(&mut fruits)),
        tier: tier.map(|h| h.extract(&mut fruits)),
        attr_overrides: Vec::new(),
    };
    Ok((ranked, counts))
}

/// Builds a hit from the document's stored hit fields.
fn hydrate(stored: StoredHit<'_>, score: f64, explain: Option<Explain>) -> Hit {
    Hit {
        id: stored.id.into_owned(),
        title: stored.title.into_owned(),
        brand: stored.brand.map(Cow::into_owned),
        category: stored.category,
        price: stored.price,
        tier: None,
        image_url: stored.image_url.map(Cow::into_owned),
        url: stored.url.map(Cow::into_owned),
        currency: stored.currency.map(Cow::into_owned),
        in_stock: stored.in_stock,
        rating: stored.rating,
        review_count: stored.review_count,
        attributes: stored.attributes,
        highlight: None,
        score,
        explain,
    }
}

/// Category counts: the top level, then the children of each level of the filtered path.
fn category_levels(counts: Option<&PathCounts>, filter: &[String], limit: usize) -> Value {
    let Some(counts) = counts else {
        return json!([]);
    };
    let mut out = Vec::new();
    let mut parent: Vec<String> = Vec::new();
    for depth in 0..=filter.len() {
        out.extend(level_entries(counts, &parent, limit));
        let Some(wanted) = filter.get(depth) else {
            break;
        };
        // Follow the filter down in the merchant's spelling (the filter is case-insensitive).
        let next = counts.iter().map(|(p, _)| p).find(|p| {
            p.len() == depth + 1
                && p[..depth] == parent[..]
                && p[depth].to_lowercase() == wanted.to_lowercase()
        });
        match next {
            Some(p) => parent = p.to_vec(),
            None => break,
        }
    }
    Value::Array(out)
}

fn level_entries(counts: &PathCounts, parent: &[String], limit: usize) -> Vec<Value> {
    let mut level: Vec<(&[String], u64)> = counts
        .iter()
        .filter(|(p, _)| p.len() == parent.len() + 1 && p[..parent.len()] == *parent)
        .map(|(p, n)| (&p[..], *n))
        .collect();
    // Most frequent first, ties by path: only the first `limit` need sorting (a broad match
    // meets thousands of brands).
    let order = |a: &(&[String], u64), b: &(&[String], u64)| b.1.cmp(&a.1).then(a.0.cmp(b.0));
    if level.len() > limit {
        if let Some(last) = limit.checked_sub(1) {
            level.select_nth_unstable_by(last, order);
        }
        level.truncate(limit);
    }
    level.sort_unstable_by(order);
    level
        .into_iter()
        .take(limit)
        .map(|(p, n)| json!({"value": p[p.len() - 1], "path": p, "level": p.len(), "count": n}))
        .collect()
}

/// Counts of the children of `parent` as `{"value", "count"}`, most frequent first.
fn children(counts: Option<&PathCounts>, parent: &[String], limit: usize) -> Value {
    let Some(counts) = counts else {
        return json!([]);
    };
    let entries: Vec<Value> = level_entries(counts, parent, limit)
        .into_iter()
        .map(|e| json!({"value": e["value"], "count": e["count"]}))
        .collect();
    Value::Array(entries)
}

/// Counts of one attribute's values; the name matches case-insensitively, like the filter.
fn attribute_values(counts: Option<&PathCounts>, name: &str, limit: usize) -> Value {
    let wanted = name.to_lowercase();
    let stored = counts.and_then(|c| {
        c.iter()
            .map(|(p, _)| p)
            .find(|p| p.len() == 1 && p[0].to_lowercase() == wanted)
            .cloned()
    });
    match stored {
        Some(parent) => children(counts, &parent, limit),
        None => json!([]),
    }
}

/// The tier filter of a request, its names checked against the configured tiers.
fn tier_filter(
    names: &[String],
    settings: &TierSettings,
    tiers: &Arc<tiers::SnapshotTiers>,
) -> Result<Option<tiers::TierQuery>> {
    if names.is_empty() {
        return Ok(None);
    }
    let wanted = names
        .iter()
        .map(|name| {
            settings.by_name(name).ok_or_else(|| {
                crate::error::Error::invalid(
                    "tier",
                    format!(
                        "unknown tier {name:?}: use one of {}",
                        settings.names.join(", ")
                    ),
                )
            })
        })
        .collect::<Result<Vec<u8>>>()?;
    Ok(Some(tiers::TierQuery::new(tiers.clone(), wanted)))
}

/// Tier counts as `{"value", "count"}`, cheapest first, tiers with no match left out.
fn tier_counts(counts: Option<&[u64]>, settings: &TierSettings) -> Value {
    let entries: Vec<Value> = counts
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .filter_map(|(t, n)| Some(json!({"value": settings.name(t as u8)?, "count": n})))
        .collect();
    Value::Array(entries)
}

fn filters_json(f: &Filters) -> Value {
    let mut m = Map::new();
    if !f.category.is_empty() {
        m.insert("category".into(), json!(f.category));
    }
    if !f.brands.is_empty() {
        m.insert("brand".into(), json!(f.brands));
    }
    if let Some(x) = f.price_min {
        m.insert("price_min".into(), json!(x));
    }
    if let Some(x) = f.price_max {
        m.insert("price_max".into(), json!(x));
    }
    if let Some(x) = f.in_stock {
        m.insert("in_stock".into(), json!(x));
    }
    for (name, values) in &f.attributes {
        m.insert(format!("attr.{name}"), json!(values));
    }
    if !f.tiers.is_empty() {
        m.insert("tier".into(), json!(f.tiers));
    }
    Value::Object(m)
}
