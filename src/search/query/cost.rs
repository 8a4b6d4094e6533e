//! What a search is predicted to cost before it runs, so that a narrow one can run on the
//! thread that received it instead of being handed to a search thread and back.
//!
//! A search's time grows with the matches its collector visits: each is scored in every
//! field it matched, ranked against the page's floor and, per requested facet, counted. The
//! plan's words bound those matches: no more products match than have one of its words (the
//! sum of the words' document frequencies, which the planner has already read). A search
//! without words browses everything the filters let through, bounded by the whole catalog.
//! Filters only narrow the matches, so the prediction never falls short for want of them.

use super::Plan;

/// A search that was run, or declined before it ran because it was predicted broader than
/// the limit it was given.
#[derive(Debug)]
pub enum Inline<T> {
    /// The search ran.
    Answered(T),
    /// The search was predicted to visit `predicted` matches: more than its limit.
    Declined {
        /// The matches predicted, counting each facet's count as one more visit.
        predicted: u64,
    },
}

impl<T> Inline<T> {
    /// What a search without a limit answered (it is never declined).
    pub fn answered(self) -> crate::error::Result<T> {
        match self {
            Inline::Answered(answer) => Ok(answer),
            Inline::Declined { predicted } => Err(crate::error::Error::Internal(format!(
                "a search was declined ({predicted} matches predicted) where none may be"
            ))),
        }
    }
}

/// The match visits `plan` is predicted to cost: the products that have one of its words
/// (`doc_freq` of each, summed; the whole catalog of `num_docs` when it has no words), once
/// for ranking and once more for each of `facets` counted.
pub fn predicted_matches(
    plan: &Plan,
    doc_freq: impl Fn(&str) -> u64,
    num_docs: u64,
    facets: usize,
) -> u64 {
    let matches = if plan.has_text() {
        let synonyms = plan.synonyms.iter().flat_map(|s| &s.to);
        let completions = (plan.completion.iter()).flat_map(|c| c.to.iter().skip(1).chain(&c.also));
        plan.terms
            .iter()
            .chain(synonyms)
            .chain(completions)
            .flat_map(|words| words.split_whitespace())
            .map(&doc_freq)
            .sum::<u64>()
            .min(num_docs)
    } else {
        num_docs
    };
    matches.saturating_mul(1 + facets as u64)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tantivy::query::AllQuery;

    use super::*;
    use crate::search::query::Completion;
    use crate::search::query::synonyms::Expansion;
    use crate::text::Lang;

    fn plan(terms: &[&str]) -> Plan {
        Plan {
            query: Box::new(AllQuery),
            lang: Lang::ENGLISH,
            understood: Vec::new(),
            terms: terms.iter().map(|t| t.to_string()).collect(),
            negated: Vec::new(),
            corrections: Vec::new(),
            completion: None,
            synonyms: Vec::new(),
        }
    }

    fn frequencies(pairs: &[(&str, u64)]) -> impl Fn(&str) -> u64 {
        let map: HashMap<String, u64> = pairs.iter().map(|(w, n)| (w.to_string(), *n)).collect();
        move |w| map.get(w).copied().unwrap_or(0)
    }

    #[test]
    fn a_search_costs_the_products_that_have_one_of_its_words() {
        let df = frequencies(&[("red", 300), ("kettl", 40)]);
        assert_eq!(
            predicted_matches(&plan(&["red", "kettl"]), &df, 10_000, 0),
            340
        );
        assert_eq!(predicted_matches(&plan(&["kettl"]), &df, 10_000, 0), 40);
    }

    #[test]
    fn words_no_product_has_cost_nothing_and_no_word_costs_more_than_the_catalog() {
        let df = frequencies(&[("case", 9_000), ("cover", 4_000)]);
        assert_eq!(predicted_matches(&plan(&["zzyzx"]), &df, 10_000, 0), 0);
        assert_eq!(
            predicted_matches(&plan(&["case", "cover"]), &df, 10_000, 0),
            10_000
        );
    }

    #[test]
    fn a_search_without_words_browses_the_whole_catalog() {
        assert_eq!(
            predicted_matches(&plan(&[]), frequencies(&[]), 2_500, 0),
            2_500
        );
    }

    #[test]
    fn each_facet_counts_every_match_once_more() {
        let df = frequencies(&[("kettl", 40)]);
        assert_eq!(predicted_matches(&plan(&["kettl"]), &df, 10_000, 3), 160);
        assert_eq!(predicted_matches(&plan(&[]), &df, 1_000, 1), 2_000);
    }

    #[test]
    fn synonyms_and_other_completions_are_matched_too() {
        let df = frequencies(&[("sofa", 50), ("couch", 20), ("settee", 5), ("lamp", 7)]);
        let mut with = plan(&["sofa"]);
        with.synonyms.push(Expansion {
            from: "sofa".into(),
            to: vec!["couch".into(), "settee".into()],
        });
        assert_eq!(predicted_matches(&with, &df, 10_000, 0), 75);
        let mut typed = plan(&["lamp"]);
        typed.completion = Some(Completion {
            from: "la".into(),
            to: vec!["lamp".into(), "couch".into()],
            typed_is_word: false,
            also: vec!["settee".into()],
        });
        assert_eq!(predicted_matches(&typed, &df, 10_000, 0), 32);
    }
}
