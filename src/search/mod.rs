//! Search: plan the query, retrieve and rank in one collector pass, count facets, hydrate.
//!
//! [`search`] is synchronous and CPU-bound; the engine runs it on its search threads.

pub mod facets;
pub mod highlight;
pub mod hits;
pub mod query;
pub mod ranking;
mod refine;
mod response;
pub mod snapshot;
pub mod state;
pub mod warnings;

use std::sync::Arc;
use std::time::Instant;

use crate::error::Result;
use crate::group::Group;
use crate::rules::Outcome;
use crate::settings::{PersonalizationConfig, SearchConfig, TierSettings};
use collect::{TopRanked, TopRankedCollector};
use cost::Inline;
use merchandise::{Applied, Placed};
use personalize::Taste;
use query::{constraints, cost, typo};
use rank::{Explain, Ranker, Stage};
use ranking::{collect, merchandise, personalize, rank, rerank, tiers};
use rerank::PersonalStage;
use tiers::SnapshotTiers;

pub use query::request::{FacetRequest, Filters, SearchRequest, Sort};
pub use query::vocabulary::IndexVocabulary;
pub use response::{
    CategoryCount, Facet, FiltersEcho, Hit, Paging, PersonalizationEcho, QueryEcho, SearchResponse,
    ValueCount, hit_of,
};
pub use state::SearchIndex;

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
    let Constraints {
        intent,
        price_words,
        price_filters,
        price_boost,
        rewritten,
    } = read_constraints(req, config);
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
    // The request's own strength, else a rule's, else the configured default.
    let strength = (req.personalization)
        .or(outcome.strength)
        .unwrap_or(personal.config.strength);
    let stage = personal_stage(index, personal, strength, intent.as_ref(), &tiers);
    let snapshot = Snapshot {
        index,
        searcher,
        tiers: &tiers,
        applied: &applied,
    };
    let attempt = |req: &SearchRequest, budget: typo::Budget| -> Result<Inline<Attempt>> {
        run_once(&snapshot, config, req, budget, &reading, &stage, limit)
    };
    let relax_price = price_words.is_some() && price_filters;
    let Collected {
        attempt,
        req,
        budget,
        relaxed,
    } = answered!(collect_relaxing(
        &attempt,
        typed_req,
        req,
        relax_price,
        &mut dropped_price
    )?);
    let Attempt {
        plan,
        ranker,
        stage,
        ranked,
        mut counts,
    } = attempt;
    refine::refine(&snapshot, config, req, budget, &reading, &mut counts)?;
    let pins =
        merchandise::find_pins(searcher, fields, outcome, &req.filters, plan.query.as_ref())?;
    let total = ranked.total + pins.iter().filter(|p| !p.matches).count() as u64;
    let page = applied.page(ranked.hits, pins, req.offset, req.limit);
    let personalized = stage.applies_taste();
    let facets = response::facets(counts, req, config.facet_limit, personal.tiers);

    let hits = hydrate_page(
        &snapshot,
        page,
        &ranker,
        &stage,
        req.explain,
        personal.tiers,
    )?;
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
        paging: response::Paging::of(req.page, req.limit, total),
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
            filters: response::FiltersEcho::of(&req.filters),
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

/// What the words say besides what to match: a price intent ("cheap", a tier preference)
/// and price words ("under $50"); the request with them taken out of its text and, when
/// prices filter, the price words made its price bounds.
struct Constraints {
    intent: Option<constraints::PriceIntent>,
    price_words: Option<constraints::PriceConstraint>,
    /// Whether price words filter (else they boost).
    price_filters: bool,
    /// The price range to boost, when price words boost.
    price_boost: Option<(Option<f64>, Option<f64>)>,
    /// The request without those words (None: the words had none).
    rewritten: Option<SearchRequest>,
}

/// The understanding stage before planning: price words become a filter unless the request
/// sets price bounds itself or prices are configured to boost; intent words are read, not
/// matched.
fn read_constraints(req: &SearchRequest, config: &SearchConfig) -> Constraints {
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
    let price_boost = (price_words.as_ref())
        .filter(|_| !price_filters)
        .map(|c| (c.min, c.max));
    Constraints {
        intent,
        price_words,
        price_filters,
        price_boost,
        rewritten,
    }
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
    /// The personalization stage as this query ranked with it (its band measured from the
    /// query's best match).
    stage: Arc<PersonalStage>,
    ranked: TopRanked,
    counts: collect::FacetFruits,
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
    // Among the matches comparably relevant to the best one, the visitor's fit decides;
    // without words every match is as relevant as any other.
    let stage = if stage.applies_taste() && req.sort == Sort::Relevance {
        let best = match ranker.has_text {
            true => Some(best_text(index, searcher, plan.query.as_ref())?),
            false => None,
        };
        Arc::new(stage.banded(best, plan.named_categories()))
    } else {
        stage.clone()
    };
    let top =
        TopRankedCollector::new(ranker.clone(), offset, limit).with_stage(Some(stage.clone()));
    let (ranked, counts) = if req.facets.is_empty() {
        (
            searcher.search(plan.query.as_ref(), &top)?,
            collect::FacetFruits::default(),
        )
    } else {
        let paths = index.facet_paths();
        let (ranked, counts) = collect::collect_with_facets(
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
        stage,
        ranked,
        counts,
    }))
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

/// The best text score among a query's matches, remembered per snapshot: measuring it is a
/// scoring pass of its own over the matches, as costly as ranking them, while a store's
/// queries repeat (the description of the planned query is the key, so anything that changes
/// the plan, from a synonym to a filter, is another query).
fn best_text(
    index: &SearchIndex,
    searcher: &tantivy::Searcher,
    query: &dyn tantivy::query::Query,
) -> Result<f32> {
    let memo = index.best_texts(searcher)?;
    let key = format!("{query:?}");
    if let Some(best) = memo.get(&key) {
        return Ok(best);
    }
    let best = collect::best_text(searcher, query)?;
    memo.insert(key, best);
    Ok(best)
}

/// The personalization stage of a request: the visitor's taste (None: nothing to
/// personalize with) at `strength`, and the tier a price intent asks for.
fn personal_stage(
    index: &SearchIndex,
    personal: &Personalization,
    strength: u8,
    intent: Option<&constraints::PriceIntent>,
    tiers: &Arc<SnapshotTiers>,
) -> Arc<PersonalStage> {
    let taste = personal.taste.and_then(|read| read(tiers));
    Arc::new(PersonalStage {
        taste: taste.map(|t| (t, strength)),
        intent: intent.map(|i| tier_target(i.tier, tiers.table.tiers())),
        config: personal.config.clone(),
        tiers: tiers.clone(),
        paths: index.facet_paths(),
        band: None,
    })
}

/// What the collection stage found: the attempt that answered, the request it answered (the
/// price words taken back out of the filters when that relaxed it), its typo budget and what
/// was relaxed, in order.
struct Collected<'r> {
    attempt: Attempt,
    req: &'r SearchRequest,
    budget: typo::Budget,
    relaxed: Vec<&'static str>,
}

/// The collection stage: plans and collects the request, and when it finds nothing relaxes
/// it step by step, never touching the filters the request set itself: first the price read
/// from its words (`relax_price`), then a wider typo budget.
fn collect_relaxing<'r>(
    attempt: &dyn Fn(&SearchRequest, typo::Budget) -> Result<Inline<Attempt>>,
    typed: &'r SearchRequest,
    req: &'r SearchRequest,
    relax_price: bool,
    dropped_price: &'r mut Option<SearchRequest>,
) -> Result<Inline<Collected<'r>>> {
    let mut relaxed = Vec::new();
    let mut req = req;
    let mut budget = typo::NORMAL;
    let mut found = answered!(attempt(req, typo::NORMAL)?);
    if found.ranked.total == 0 && relax_price {
        req = original_with_text(dropped_price, typed, req);
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
    Ok(Inline::Answered(Collected {
        attempt: found,
        req,
        budget,
        relaxed,
    }))
}

/// The hydration stage: the page's hits from the snapshot's hit tables, each with its tier
/// and, when asked for, how its score was made.
fn hydrate_page(
    snapshot: &Snapshot,
    page: Vec<Placed>,
    ranker: &Ranker,
    stage: &PersonalStage,
    explain: bool,
    names: &TierSettings,
) -> Result<Vec<Hit>> {
    let mut hits = Vec::with_capacity(page.len());
    for placed in page {
        let address = placed.address;
        let score = placed.key.map_or(0.0, |k| k.secondary);
        let segment = snapshot.searcher.segment_reader(address.segment_ord);
        let explained = if explain {
            let mut explain = explain_hit(ranker, snapshot.searcher, &placed)?;
            if let (true, Some(key)) = (stage.is_active(), placed.key) {
                let (intent, personal) = stage
                    .for_segment(segment)?
                    .explain(address.doc_id, key.text);
                explain.stages.extend(intent);
                explain.personalization = personal;
            }
            explain.score = score;
            Some(explain)
        } else {
            None
        };
        let mut shown = snapshot
            .index
            .hit_tables()
            .show(snapshot.searcher, address, |stored| {
                response::hydrate(stored, score, explained)
            })?;
        shown.tier = names
            .name(snapshot.tiers.of(segment.segment_id(), address.doc_id))
            .map(str::to_string);
        hits.push(shown);
    }
    Ok(hits)
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
