//! Turns a validated request into a tantivy query: scored text clauses plus unscored filters.
//!
//! A product matches when it has any of the query's words (stop words aside). Each word scores
//! the weighted sum of its fields' BM25 scores (a disjunction-max was 40 % slower on the Best
//! Buy query mix for no measured gain) plus a coverage bonus, so products with more of the
//! words come first and BM25 orders products with the same coverage; the bonus is shared
//! out by how informative each word is, so the rarer words count for more. A phrase clause on
//! the title rewards the words found together and in order. Filters are wrapped to score zero so they
//! narrow the set without moving the order.
//!
//! This folder holds what reads a request into that query: [`request`] validates the
//! parameters, [`constraints`] reads price words and intent, [`understand`] brands,
//! categories and attribute values, [`synonyms`] the merchant's synonyms, [`typo`] and
//! [`surface`] correct and complete words, [`vocabulary`] is a snapshot's words as the planner
//! asks for them, [`terms`] keeps each word's weights per snapshot, and [`cost`] predicts how
//! many matches a plan visits.

pub mod constraints;
pub mod cost;
pub mod request;
pub mod surface;
pub mod synonyms;
pub mod terms;
pub mod typo;
pub mod understand;
pub mod vocabulary;

use std::ops::Bound;
use std::sync::Arc;

use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, Occur, PhraseQuery, Query, RangeQuery,
    TermQuery, TermSetQuery,
};
use tantivy::schema::{Facet, Field, IndexRecordOption};

use self::request::{Filters, SearchRequest};
use self::terms::{SnapshotTerm, TermWeights};
use self::understand::{Lexicon, Understood};
use crate::index::Fields;
use crate::index::schema::attr_key;
use crate::settings::Mode;
use crate::settings::{SearchConfig, Weights};
use crate::text::{self, Analyzer, Lang, Languages};

/// The query plan: what the engine will run, and how it read the request.
pub struct Plan {
    /// The tantivy query.
    pub query: Box<dyn Query>,
    /// The language the words were read in.
    pub lang: Lang,
    /// Constraints read from the words (brands, categories, attribute values).
    pub understood: Vec<Understood>,
    /// Analysed query words (deduplicated, in order).
    pub terms: Vec<String>,
    /// Negated words: not matched or scored (excluding them measured worse on the ESCI
    /// judgments, whose shoppers often accept products that mention them).
    pub negated: Vec<String>,
    /// Typo corrections applied.
    pub corrections: Vec<Correction>,
    /// The last word, still being typed, completed to words the index has.
    pub completion: Option<Completion>,
    /// Synonyms applied.
    pub synonyms: Vec<synonyms::Expansion>,
}

impl Plan {
    /// The category paths that the query's words, all of them, name: the shopper asked for
    /// the category.
    pub fn named_categories(&self) -> Vec<Vec<String>> {
        let words = self.terms.join(" ");
        (self.understood.iter())
            .filter(|u| u.words == words)
            .filter_map(|u| match &u.target {
                understand::Target::Category { paths } => Some(paths.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Whether the request has words to score (otherwise it browses).
    pub fn has_text(&self) -> bool {
        !self.terms.is_empty()
    }
}

/// A query word replaced by the closest word of the index.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Correction {
    /// The analysed word as typed.
    pub from: String,
    /// The index word used instead.
    pub to: String,
}

/// What the planner asks of the index's vocabulary.
pub trait Vocabulary {
    /// Whether some product has the analysed word.
    fn has(&self, term: &str) -> bool;
    /// The closest word some product has, for a word none has (typo tolerance), or None.
    fn correct(&self, term: &str) -> Option<String>;
    /// Up to `limit` words some product has that start with `prefix`, most frequent first.
    fn complete(&self, prefix: &str, limit: usize) -> Vec<String>;
    /// The stems, in `lang`, of up to `limit` words of the catalog's product names as
    /// written (folded, not stemmed) that start with `prefix` and are longer, most frequent
    /// first, each once and only those the index has.
    fn complete_written(&self, _prefix: &str, _limit: usize, _lang: Lang) -> Vec<String> {
        Vec::new()
    }
    /// Whether the word (folded, not stemmed) is written in some product's name as it is.
    fn is_written(&self, _folded: &str) -> bool {
        true
    }
    /// The completion of a last word (analysed `term`, `folded` as typed) in `lang`, computed
    /// by `compute` unless the vocabulary remembers it for its snapshot.
    fn remembered_completion(
        &self,
        _term: &str,
        _folded: &str,
        _lang: Lang,
        compute: &mut dyn FnMut() -> Option<Completion>,
    ) -> Option<Completion> {
        compute()
    }
    /// How many products have the analysed word, when known.
    fn frequency(&self, _term: &str) -> Option<u64> {
        None
    }
    /// How informative a word is: its inverse document frequency, when known.
    fn idf(&self, _term: &str) -> Option<f32> {
        None
    }
}

/// A vocabulary that takes every word as typed: knows them all, corrects none (for tests
/// and benches that plan without an index).
pub struct AsTyped;

impl Vocabulary for AsTyped {
    fn has(&self, _: &str) -> bool {
        true
    }

    fn correct(&self, _: &str) -> Option<String> {
        None
    }

    fn complete(&self, _: &str, _: usize) -> Vec<String> {
        Vec::new()
    }
}

/// The last word of a query being typed, completed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Completion {
    /// The word as typed (lowercased, folded).
    pub from: String,
    /// The index words it may be, most frequent first; all are matched, the first in its
    /// place and the others as alternatives.
    pub to: Vec<String>,
    /// Whether the word as typed is a word the catalog has (then first in `to`).
    #[serde(skip)]
    pub typed_is_word: bool,
    /// The stems of the catalog's other, rarer words that start with it: matched so that
    /// every product with such a word is found, scored below every scored word.
    #[serde(skip)]
    pub also: Vec<String>,
}

/// Shortest prefix completed, in letters.
const MIN_PREFIX_LETTERS: usize = 2;

/// Index words a prefix may complete to, scored.
const MAX_COMPLETIONS: usize = 5;

/// Catalog words a prefix may complete to in all, matched (the commonest first).
const MAX_PREFIX_WORDS: usize = 256;

/// How many times more products its commonest completions must have than a word the catalog
/// has for the word's rarer completions to be matched too.
const RARE_PREFIX_RATIO: u64 = 10;

/// The score of a match through one of a prefix's rarer words only.
const RARE_COMPLETION_SCORE: f32 = 0.01;

/// Search as you type: when the query does not end with a space and its last word is a word
/// to match, that word may still be being typed. It is completed to the catalog's words that
/// start with it as written, each matched by its stem ("runni" → "running" → "run": the index
/// holds stems, and no stem starts with "runni"), and, when no product has the word itself,
/// to the index words it starts. This comes before any typo correction, which would turn
/// "bott" into "boot" or "runni" into "funny". A word some product has stays first, in its
/// place, and its completions are alternatives ("bow" also finds bowls).
fn complete_last_word(
    q: &str,
    words: &mut text::QueryWords,
    vocabulary: &dyn Vocabulary,
    analyzer: &Analyzer,
) -> Option<Completion> {
    if q.ends_with(char::is_whitespace) || words.sequence.last() != words.terms.last() {
        return None;
    }
    let (term, folded) = (words.terms.last()?, words.folded.last()?);
    if folded.chars().count() < MIN_PREFIX_LETTERS {
        return None;
    }
    let lang = analyzer.lang();
    let completion = vocabulary.remembered_completion(term, folded, lang, &mut || {
        completion_of(term, folded, vocabulary, lang)
    })?;
    let first = completion.to.first()?.clone();
    replace_in(&mut words.sequence, term, &first);
    if let Some(last) = words.terms.last_mut() {
        *last = first;
    }
    Some(completion)
}

/// What a last word being typed completes to (see [`complete_last_word`]): the same for a
/// snapshot of the index whatever the rest of the query.
fn completion_of(
    term: &str,
    folded: &str,
    vocabulary: &dyn Vocabulary,
    lang: Lang,
) -> Option<Completion> {
    // A word as the catalog writes it ("bow"), not one that only shares a stem with a
    // catalog word ("thermoe" of "thermoelectric", stemmed as "thermo").
    let known = vocabulary.has(term) && vocabulary.is_written(folded);
    let mut to: Vec<String> = Vec::new();
    if known {
        to.push(term.to_string());
    }
    let stems_of_written = vocabulary.complete_written(folded, MAX_PREFIX_WORDS, lang);
    let index_words = if known {
        Vec::new()
    } else {
        vocabulary.complete(folded, MAX_COMPLETIONS)
    };
    let mut also = Vec::new();
    for stem in stems_of_written.into_iter().chain(index_words) {
        if to.contains(&stem) || also.contains(&stem) {
            continue;
        }
        if to.len() < MAX_COMPLETIONS {
            to.push(stem);
        } else {
            also.push(stem);
        }
    }
    // A word the catalog has is meant as typed more often than not. The longer words it
    // starts are matched too only when its commonest ones have more products than the word
    // itself ("bow": bowls), and its rarer ones only when they have many times more ("flo", a
    // brand, for "flour"); not for a common word ("case", "pro"), where the alternatives would
    // cost every search that ends with it (a union of hundreds of postings for the rarer ones).
    let frequency = |t: &str| vocabulary.frequency(t).unwrap_or(0);
    let continued = to
        .get(1..)
        .unwrap_or_default()
        .iter()
        .map(|t| frequency(t))
        .sum::<u64>();
    if known && frequency(term).saturating_mul(RARE_PREFIX_RATIO) >= continued {
        also.clear();
    }
    if known && frequency(term) >= continued {
        return None;
    }
    if known && to.len() == 1 || to.is_empty() {
        return None;
    }
    Some(Completion {
        from: folded.to_string(),
        to,
        typed_is_word: known,
        also,
    })
}

/// What the planner reads constraints with: the catalog's names, and a price range read
/// from the words when prices boost rather than filter.
#[derive(Default)]
pub struct Reading<'a> {
    /// The catalog's brands, categories and attribute values.
    pub lexicon: Option<&'a Lexicon>,
    /// A price range to boost.
    pub price_boost: Option<(Option<f64>, Option<f64>)>,
    /// The request's tier filter.
    pub tier_filter: Option<super::ranking::tiers::TierQuery>,
    /// The snapshot's kept term weights (none: every term query is weighed anew).
    pub terms: Option<Arc<TermWeights>>,
}

/// Builds the plan for a request against the index's vocabulary.
pub fn plan(
    req: &SearchRequest,
    fields: &Fields,
    config: &SearchConfig,
    vocabulary: &dyn Vocabulary,
    reading: &Reading,
) -> Plan {
    let weights = &config.weights;
    let kept = reading.terms.as_ref();
    let lang = config.languages.of_query(&req.q);
    let mut analyzer = Analyzer::new(lang);
    let mut words = analyzer.query_words(&req.q, &config.stop_words);
    restem_unknown(&mut words, lang, &config.languages, vocabulary);
    let completion = complete_last_word(&req.q, &mut words, vocabulary, &analyzer);
    let mut corrections = Vec::new();
    let synonym_sources = synonyms::index(&config.synonyms, lang);
    let completed = completion.as_ref().map(|c| c.to[0].clone());
    for term in &mut words.terms {
        // A word the synonyms know is meant as typed, even if no product has it; a completed
        // word is one the index has.
        if synonym_sources.contains_key(term.as_str()) || completed.as_ref() == Some(term) {
            continue;
        }
        if let Some(to) = vocabulary.correct(term) {
            replace_in(&mut words.sequence, term, &to);
            corrections.push(Correction {
                from: std::mem::replace(term, to.clone()),
                to,
            });
        }
    }
    let mut seen = std::collections::HashSet::new();
    words.terms.retain(|t| seen.insert(t.clone()));
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut expansions = Vec::new();
    let mut understood = Vec::new();
    if !words.terms.is_empty() {
        // With one word every match has the same coverage: the bonus would change no order.
        let coverage = if words.terms.len() > 1 {
            weights.coverage
        } else {
            0.0
        };
        let shares = coverage_shares(&words.terms, vocabulary);
        let mut text: Vec<(Occur, Box<dyn Query>)> = words
            .terms
            .iter()
            .zip(shares)
            // Each word's fields join the text's clauses directly: the sum is the same as
            // per word, and one union over every field of every word costs tantivy less than
            // a union of per-word unions.
            .flat_map(|(term, share)| word_clauses(term, fields, weights, coverage * share, kept))
            .collect();
        if words.sequence.len() >= 2 && weights.phrase > 0.0 {
            text.push((
                Occur::Should,
                phrase_query(&words.sequence, fields, weights),
            ));
        }
        if words.terms.len() >= 2 && weights.title_coverage > 0.0 {
            text.push((
                Occur::Should,
                title_coverage_query(&words.terms, fields, weights.title_coverage),
            ));
        }
        for (expansion, alternatives) in synonyms::expand(&config.synonyms, lang, &words.terms) {
            for alternative in alternatives {
                text.push((
                    Occur::Should,
                    alternative_query(&alternative, fields, weights, kept, SYNONYM_WEIGHT),
                ));
            }
            expansions.push(expansion);
        }
        if let Some(c) = &completion {
            // Completions of a word the catalog has ("book" → "bookcase") find what the
            // shopper may still be typing, below the word as typed, which they most often mean.
            let weight = if c.typed_is_word {
                LONGER_WORD_WEIGHT
            } else {
                SYNONYM_WEIGHT
            };
            for other in &c.to[1..] {
                let one = std::slice::from_ref(other);
                let alternative = alternative_query(one, fields, weights, kept, weight);
                text.push((Occur::Should, alternative));
            }
            if !c.also.is_empty() {
                let terms = (c.also.iter()).map(|w| Term::from_field_text(fields.all_text, w));
                let any = Box::new(TermSetQuery::new(terms));
                let rare = ConstScoreQuery::new(any, RARE_COMPLETION_SCORE);
                text.push((Occur::Should, Box::new(rare)));
            }
        }
        // The words decide what matches; boosts only add to products the words found.
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(text))));
        let boost = config.understanding.boost;
        if let Some((min, max)) = reading.price_boost {
            let range = price_range(fields, min, max);
            clauses.push((Occur::Should, Box::new(ConstScoreQuery::new(range, boost))));
        }
        if let Some(lexicon) = reading.lexicon {
            understood = lexicon.read(&words.terms, &config.understanding.modes());
        }
        for constraint in &understood {
            let any = any_of(understand::terms(&constraint.target, fields).into_iter());
            let (occur, score) = match constraint.applied {
                Mode::Boost => (Occur::Should, boost),
                Mode::Filter => (Occur::Must, 0.0),
            };
            clauses.push((occur, Box::new(ConstScoreQuery::new(any, score))));
        }
    }
    let tier_filter = reading
        .tier_filter
        .as_ref()
        .map(|q| Box::new(q.clone()) as Box<dyn Query>);
    for filter in filter_queries(&req.filters, fields)
        .into_iter()
        .chain(tier_filter)
    {
        clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(filter, 0.0))));
    }
    let query: Box<dyn Query> = if clauses.is_empty() {
        Box::new(AllQuery)
    } else {
        Box::new(BooleanQuery::new(clauses))
    };
    Plan {
        query,
        lang,
        understood,
        completion,
        terms: words.terms,
        negated: words.negated,
        corrections,
        synonyms: expansions,
    }
}

/// A word the index lacks in the query's language may be there in another store language
/// (a short query is read in the default language, its products in theirs): the first
/// other stem the index has replaces it.
fn restem_unknown(
    words: &mut text::QueryWords,
    lang: Lang,
    languages: &Languages,
    vocabulary: &dyn Vocabulary,
) {
    if languages.all().len() < 2 {
        return;
    }
    for (term, folded) in words.terms.iter_mut().zip(&words.folded) {
        if vocabulary.has(term) {
            continue;
        }
        let other = languages
            .all()
            .iter()
            .filter(|l| **l != lang)
            .map(|l| l.stem(folded))
            .find(|stem| stem != term && vocabulary.has(stem));
        if let Some(stem) = other {
            replace_in(&mut words.sequence, term, &stem);
            *term = stem;
        }
    }
}

/// Replaces every `from` token of a sequence by `to`.
fn replace_in(sequence: &mut [String], from: &str, to: &str) {
    for token in sequence.iter_mut().filter(|t| *t == from) {
        to.clone_into(token);
    }
}

/// Weight of a synonym's words relative to the words typed.
const SYNONYM_WEIGHT: f32 = 0.8;

/// Weight of the longer words a word the catalog has may be the start of.
const LONGER_WORD_WEIGHT: f32 = 0.1;

/// A synonym alternative: all its words, scored like query words, slightly discounted.
fn alternative_query(
    words: &[String],
    fields: &Fields,
    weights: &Weights,
    kept: Option<&Arc<TermWeights>>,
    weight: f32,
) -> Box<dyn Query> {
    let all: Vec<(Occur, Box<dyn Query>)> = words
        .iter()
        .map(|w| {
            let word: Box<dyn Query> = Box::new(BooleanQuery::new(word_clauses(
                w, fields, weights, 0.0, kept,
            )));
            (Occur::Must, word)
        })
        .collect();
    Box::new(BoostQuery::new(Box::new(BooleanQuery::new(all)), weight))
}

/// Each word's share of the coverage bonus: its informativeness relative to the query's
/// other words (shares average 1, so a product with every word gets the same bonus as with
/// equal shares; one with only the rarer words gets more than one with only the common ones).
fn coverage_shares(terms: &[String], vocabulary: &dyn Vocabulary) -> Vec<f32> {
    let idfs: Option<Vec<f32>> = terms.iter().map(|t| vocabulary.idf(t)).collect();
    match idfs {
        Some(idfs) if idfs.iter().sum::<f32>() > 0.0 => {
            let mean = idfs.iter().sum::<f32>() / idfs.len() as f32;
            idfs.iter().map(|idf| idf / mean).collect()
        }
        _ => vec![1.0; terms.len()],
    }
}

/// A bonus for a title that has every word of the query (in any order): shoppers' words
/// all found in the product's name mark the product they mean more surely than the same
/// words spread over the description and attributes.
fn title_coverage_query(terms: &[String], fields: &Fields, bonus: f32) -> Box<dyn Query> {
    let all: Vec<(Occur, Box<dyn Query>)> = terms
        .iter()
        .map(|t| {
            let q: Box<dyn Query> = Box::new(TermQuery::new(
                Term::from_field_text(fields.title, t),
                IndexRecordOption::Basic,
            ));
            (Occur::Must, q)
        })
        .collect();
    Box::new(ConstScoreQuery::new(
        Box::new(BooleanQuery::new(all)),
        bonus,
    ))
}

/// The query's words together, in order, in the title (one word in between allowed).
fn phrase_query(sequence: &[String], fields: &Fields, weights: &Weights) -> Box<dyn Query> {
    let phrase: Vec<(usize, Term)> = sequence
        .iter()
        .enumerate()
        .map(|(i, t)| (i, Term::from_field_text(fields.title, t)))
        .collect();
    let mut query = PhraseQuery::new_with_offset(phrase);
    // Slop 1 allows one word in between ("bottle of water") but not a swap, which costs 2.
    query.set_slop(1);
    Box::new(BoostQuery::new(Box::new(query), weights.phrase))
}

/// A word in each field with a weight (BM25, scaled by the field's weight), and anywhere
/// for the coverage bonus: the word matches when any clause does.
fn word_clauses(
    term: &str,
    f: &Fields,
    w: &Weights,
    coverage: f32,
    kept: Option<&Arc<TermWeights>>,
) -> Vec<(Occur, Box<dyn Query>)> {
    let per_field: [(Field, f32); 5] = [
        (f.title, w.title),
        (f.brand_text, w.brand),
        (f.category_text, w.category),
        (f.attrs_text, w.attributes),
        (f.description, w.description),
    ];
    let fields: Vec<(Occur, Box<dyn Query>)> = per_field
        .iter()
        .filter(|(_, weight)| *weight > 0.0)
        .map(|(field, weight)| {
            let term = Term::from_field_text(*field, term);
            let q: Box<dyn Query> = match kept {
                Some(kept) => Box::new(SnapshotTerm::new(
                    term,
                    IndexRecordOption::WithFreqs,
                    kept.clone(),
                )),
                None => Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
            };
            let boosted: Box<dyn Query> = Box::new(BoostQuery::new(q, *weight));
            (Occur::Should, boosted)
        })
        .collect();
    let mut fields = fields;
    if coverage > 0.0 {
        let any = TermQuery::new(
            Term::from_field_text(f.all_text, term),
            IndexRecordOption::Basic,
        );
        fields.push((
            Occur::Should,
            Box::new(ConstScoreQuery::new(Box::new(any), coverage)),
        ));
    }
    fields
}

/// One query per filter; a document must match all of them.
pub fn filter_queries(filters: &Filters, f: &Fields) -> Vec<Box<dyn Query>> {
    let mut out: Vec<Box<dyn Query>> = Vec::new();
    if !filters.category.is_empty() {
        let path: Vec<String> = filters.category.iter().map(|l| text::keyword(l)).collect();
        let term = Term::from_facet(f.category_key, &Facet::from_path(path.iter()));
        out.push(Box::new(TermQuery::new(term, IndexRecordOption::Basic)));
    }
    if !filters.brands.is_empty() {
        let terms = filters
            .brands
            .iter()
            .map(|b| Term::from_field_text(f.brand_key, &text::keyword(b)));
        out.push(any_of(terms));
    }
    if filters.price_min.is_some() || filters.price_max.is_some() {
        out.push(price_range(f, filters.price_min, filters.price_max));
    }
    if let Some(in_stock) = filters.in_stock {
        let term = Term::from_field_bool(f.in_stock, in_stock);
        out.push(Box::new(TermQuery::new(term, IndexRecordOption::Basic)));
    }
    for (name, values) in &filters.attributes {
        let terms = values
            .iter()
            .map(|v| Term::from_field_text(f.attr_key, &attr_key(name, v)));
        out.push(any_of(terms));
    }
    out
}

/// Products priced within the bounds (inclusive).
fn price_range(f: &Fields, min: Option<f64>, max: Option<f64>) -> Box<dyn Query> {
    let bound = |v: Option<f64>| match v {
        Some(x) => Bound::Included(Term::from_field_f64(f.price, x)),
        None => Bound::Unbounded,
    };
    Box::new(RangeQuery::new(bound(min), bound(max)))
}

fn any_of(terms: impl Iterator<Item = Term>) -> Box<dyn Query> {
    let clauses: Vec<(Occur, Box<dyn Query>)> = terms
        .map(|t| {
            let q: Box<dyn Query> = Box::new(TermQuery::new(t, IndexRecordOption::Basic));
            (Occur::Should, q)
        })
        .collect();
    Box::new(BooleanQuery::new(clauses))
}

#[cfg(test)]
mod tests {
    use tantivy::collector::TopDocs;

    use super::*;
    use crate::catalog::product::Product;
    use crate::config::Config;
    use crate::index::ProductIndex;
    use crate::index::writer::WriterConfig;

    /// Every product's score under `query`, by id.
    fn scores(index: &ProductIndex, query: &dyn Query) -> Vec<(String, f32)> {
        let searcher = index.searcher();
        let mut scored: Vec<(String, f32)> = searcher
            .search(query, &TopDocs::with_limit(100).order_by_score())
            .unwrap()
            .into_iter()
            .map(|(score, address)| {
                let hit: crate::index::schema::HitBytes = searcher.doc(address).unwrap();
                (hit.parse().unwrap().id.into_owned(), score)
            })
            .collect();
        scored.sort_by(|a, b| a.0.cmp(&b.0));
        scored
    }

    /// The text clauses put every field of every word in one union (cheaper for tantivy than
    /// a union of per-word unions); each product must score what the per-word unions give.
    #[test]
    fn one_union_of_every_word_s_fields_scores_as_a_union_of_per_word_unions() {
        let dir = tempfile::tempdir().unwrap();
        let index = ProductIndex::open(dir.path(), WriterConfig::default()).unwrap();
        let products = [
            (
                "a",
                "red running shoe",
                "Acme",
                "Shoes > Running",
                "a light shoe",
            ),
            (
                "b",
                "blue trail shoe",
                "Red Fox",
                "Shoes > Trail",
                "for running on trails",
            ),
            ("c", "red kettle", "Acme", "Kitchen", "boils water"),
            (
                "d",
                "running socks",
                "Stride",
                "Shoes > Socks",
                "red and blue",
            ),
        ]
        .map(|(id, title, brand, category, description)| {
            let json = serde_json::json!({"id": id, "title": title, "brand": brand,
                "category": category, "description": description});
            Product::from_json(json).unwrap()
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let ticket = index.begin();
            index.upsert(products.to_vec()).await.unwrap();
            index.commit(ticket).await.unwrap();
        });
        let weights = Config::default().search.weights;
        let fields = index.fields();
        for (words, coverage) in [(&["red"][..], 0.0), (&["red", "run", "shoe"][..], 0.5)] {
            let flat: Vec<(Occur, Box<dyn Query>)> = words
                .iter()
                .flat_map(|w| word_clauses(w, fields, &weights, coverage, None))
                .collect();
            let per_word: Vec<(Occur, Box<dyn Query>)> = words
                .iter()
                .map(|w| {
                    let word = BooleanQuery::new(word_clauses(w, fields, &weights, coverage, None));
                    (Occur::Should, Box::new(word) as Box<dyn Query>)
                })
                .collect();
            let flat = scores(&index, &BooleanQuery::new(flat));
            let nested = scores(&index, &BooleanQuery::new(per_word));
            assert!(!flat.is_empty(), "{words:?} matched nothing");
            assert_eq!(flat.len(), nested.len(), "{words:?}");
            for ((id, f), (nested_id, n)) in flat.iter().zip(&nested) {
                assert_eq!(id, nested_id);
                assert!(
                    (f - n).abs() <= 1e-5 * n.abs(),
                    "{words:?} {id}: {f} vs {n}"
                );
            }
        }
    }
}
