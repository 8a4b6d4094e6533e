//! Highlighting: the words a search matched, marked in a hit's title and in a snippet of its
//! description, for a product card that shows why it was found.
//!
//! A word is marked when its stem, in the query's language, is one the search matched (the
//! query's words, the last word's completions, synonyms), so "running" is marked for a search
//! for "run". The text is HTML-escaped and the marks are `<em>`/`</em>`, so a storefront can
//! insert the result as HTML without the product text being able to inject markup.

use std::collections::HashSet;

use serde::Serialize;

use crate::text::Analyzer;

/// The marked texts of one hit.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Highlight {
    /// The title, escaped, its matched words in `<em>`.
    pub title: String,
    /// About [`SNIPPET_WORDS`] words of the description around its first matched word,
    /// escaped and marked, with `…` where it was cut; absent without a description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Words in a description snippet.
pub const SNIPPET_WORDS: usize = 24;
/// Words of the snippet before the first matched word.
const CONTEXT_BEFORE: usize = 6;

/// Marks `stems` in a hit's title and description.
pub fn highlight(
    title: &str,
    description: Option<&str>,
    stems: &HashSet<String>,
    analyzer: &mut Analyzer,
) -> Highlight {
    Highlight {
        title: mark(title, stems, analyzer, None),
        description: description.map(|d| mark(d, stems, analyzer, Some(SNIPPET_WORDS))),
    }
}

/// `text` escaped, with the words whose stem is in `stems` in `<em>`; with `window`, only
/// that many words around the first marked one (or from the start when none is).
fn mark(
    text: &str,
    stems: &HashSet<String>,
    analyzer: &mut Analyzer,
    window: Option<usize>,
) -> String {
    let words = analyzer.word_offsets(text);
    let matched: Vec<bool> = (words.iter())
        .map(|(_, _, folded)| stems.contains(&analyzer.stem(folded)))
        .collect();
    let (from_word, to_word) = match window {
        Some(n) if words.len() > n => {
            let first = matched.iter().position(|&m| m).unwrap_or(0);
            let start = first.saturating_sub(CONTEXT_BEFORE).min(words.len() - n);
            (start, start + n)
        }
        _ => (0, words.len()),
    };
    let start = if from_word == 0 {
        0
    } else {
        words[from_word].0
    };
    let end = if to_word == words.len() {
        text.len()
    } else {
        words[to_word - 1].1
    };
    let mut out = String::with_capacity(end - start + 16);
    if start > 0 {
        out.push('…');
    }
    let mut at = start;
    for ((from, to, _), &hit) in words[from_word..to_word].iter().zip(&matched[from_word..]) {
        if !hit {
            continue;
        }
        escape_into(&mut out, &text[at..*from]);
        out.push_str("<em>");
        escape_into(&mut out, &text[*from..*to]);
        out.push_str("</em>");
        at = *to;
    }
    escape_into(&mut out, &text[at..end]);
    if end < text.len() {
        out.push('…');
    }
    out
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Lang;

    fn stems(words: &[&str]) -> HashSet<String> {
        let analyzer = Analyzer::new(Lang::ENGLISH);
        words.iter().map(|w| analyzer.stem(w)).collect()
    }

    #[test]
    fn matched_words_are_marked_by_their_stem_and_the_rest_is_escaped() {
        let mut analyzer = Analyzer::new(Lang::ENGLISH);
        let h = highlight(
            "Trail Running Shoe <b>new</b> & light",
            None,
            &stems(&["run", "shoes"]),
            &mut analyzer,
        );
        assert_eq!(
            h.title,
            "Trail <em>Running</em> <em>Shoe</em> &lt;b&gt;new&lt;/b&gt; &amp; light"
        );
        assert_eq!(h.description, None);
    }

    #[test]
    fn a_long_description_is_cut_around_its_first_matched_word() {
        let mut analyzer = Analyzer::new(Lang::ENGLISH);
        let words: Vec<String> = (0..60).map(|i| format!("w{i}")).collect();
        let mut text = words.join(" ");
        text.push_str(" bottle");
        let h = highlight("T", Some(&text), &stems(&["w40"]), &mut analyzer);
        let snippet = h.description.unwrap();
        assert!(snippet.starts_with("…w34 "), "{snippet}");
        assert!(snippet.contains("<em>w40</em>"), "{snippet}");
        assert!(snippet.ends_with("w57…"), "{snippet}");
        let none = highlight("T", Some(&text), &stems(&["absent"]), &mut analyzer);
        assert!(none.description.unwrap().starts_with("w0 w1"));
    }
}
