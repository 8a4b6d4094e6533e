//! The words of a segment's product names as written (lowercased and folded, not stemmed), so
//! search-as-you-type completes what the shopper is typing to the catalog's words.
//!
//! The index holds stems: "running" is indexed as "run", so no index word starts with "runni"
//! and completing against stems alone found nothing (and typo correction then made "runni"
//! into "funny"). A prefix is completed against these surface words instead, and each
//! completion is stemmed to the word the index has. Built from a segment's hit table (titles,
//! brands, category names) when the table is read.

/// A segment's surface words, sorted, each with the number of documents that have it.
#[derive(Default)]
pub struct SurfaceWords {
    words: Vec<(Box<str>, u32)>,
}

impl SurfaceWords {
    /// The words of each document's texts (`docs` yields one list of words per document).
    pub fn of(docs: impl Iterator<Item = Vec<String>>) -> SurfaceWords {
        let mut all: Vec<Box<str>> = Vec::new();
        for mut words in docs {
            words.sort_unstable();
            words.dedup();
            all.extend(words.into_iter().map(String::into_boxed_str));
        }
        all.sort_unstable();
        let mut words: Vec<(Box<str>, u32)> = Vec::new();
        for word in all {
            match words.last_mut() {
                Some((last, n)) if *last == word => *n += 1,
                _ => words.push((word, 1)),
            }
        }
        words.shrink_to_fit();
        SurfaceWords { words }
    }

    /// The words that start with `prefix` and are longer, with their document counts.
    pub fn starting_with<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, u32)> {
        let from = self.words.partition_point(|(w, _)| &**w < prefix);
        self.words[from..]
            .iter()
            .take_while(move |(w, _)| w.starts_with(prefix))
            .filter(move |(w, _)| w.len() > prefix.len())
            .map(|(w, n)| (&**w, *n))
    }

    /// Whether the segment has the word.
    pub fn contains(&self, word: &str) -> bool {
        self.words
            .binary_search_by(|(w, _)| (**w).cmp(word))
            .is_ok()
    }

    /// How many distinct words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

/// The `limit` words of several segments that start with `prefix`, most documents first (ties
/// alphabetically).
pub fn complete<'a>(
    segments: impl Iterator<Item = &'a SurfaceWords>,
    prefix: &str,
    limit: usize,
) -> Vec<String> {
    let mut found: rustc_hash::FxHashMap<&str, u64> = Default::default();
    for words in segments {
        for (word, n) in words.starting_with(prefix) {
            *found.entry(word).or_default() += u64::from(n);
        }
    }
    let mut ranked: Vec<(&str, u64)> = found.into_iter().collect();
    ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    ranked
        .into_iter()
        .take(limit)
        .map(|(w, _)| w.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(docs: &[&str]) -> SurfaceWords {
        SurfaceWords::of(
            docs.iter()
                .map(|d| d.split(' ').map(str::to_string).collect()),
        )
    }

    #[test]
    fn a_word_counts_once_per_document_that_has_it() {
        let w = words(&["running shoe running", "running sock", "runner"]);
        let found: Vec<(&str, u32)> = w.starting_with("runn").collect();
        assert_eq!(found, [("runner", 1), ("running", 2)]);
        assert_eq!(w.len(), 4);
    }

    #[test]
    fn completions_exclude_the_prefix_itself_and_rank_by_documents_across_segments() {
        let a = words(&["run runner", "running"]);
        let b = words(&["running", "runway", "running"]);
        assert_eq!(
            complete([&a, &b].into_iter(), "run", 5),
            ["running", "runner", "runway"]
        );
        assert_eq!(complete([&a, &b].into_iter(), "run", 1), ["running"]);
        assert!(complete([&a].into_iter(), "zz", 5).is_empty());
    }
}
