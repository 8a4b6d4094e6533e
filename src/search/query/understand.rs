//! Soft constraints read from the words of a query: brands, categories and attribute values
//! (colours, sizes, materials…) that the catalog has, and price intent ("cheap", "luxury").
//!
//! The catalog's own names are the dictionary ([`Lexicon`], rebuilt when the index's
//! segments change): a query window of one to three words whose analysed form equals a
//! brand, a category name or an attribute value is read as that constraint. A built-in
//! lexicon of colours, materials and sizes in the supported languages only names the kind
//! of an attribute value for the answer. Each kind boosts by default or filters, per config.
//! The words stay in the text to match (a product that says "red" in its title without a
//! colour attribute still ranks), but are never required: matching is any-word.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;
use tantivy::{Searcher, Term};

use crate::index::Fields;
use crate::index::schema::attr_key;
use crate::search::facets::FacetPaths;
use crate::settings::{Mode, Modes};
use crate::text::{self, Analyzer, Lang};

/// Longest catalog name matched, in words.
const MAX_NAME_WORDS: usize = 3;

/// What a constraint applies to.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// A catalog brand.
    Brand {
        /// The brand as the catalog spells it.
        value: String,
    },
    /// A category: every path that has a level of that name.
    Category {
        /// The matching paths as the catalog spells them.
        paths: Vec<Vec<String>>,
    },
    /// An attribute value, under every attribute name that has it.
    Attribute {
        /// `color`, `material`, `size` when the built-in lexicon knows the word, else
        /// `attribute`.
        of: &'static str,
        /// (attribute name, value) pairs as the catalog spells them.
        values: Vec<(String, String)>,
    },
}

/// A constraint read from the query.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Understood {
    /// What it applies to.
    #[serde(flatten)]
    pub target: Target,
    /// The analysed words it was read from.
    pub words: String,
    /// Boost or filter.
    pub applied: Mode,
}

/// The catalog's names, analysed, for reading constraints from queries.
#[derive(Debug, Default)]
pub struct Lexicon {
    brands: HashMap<String, String>,
    categories: HashMap<String, Vec<Vec<String>>>,
    attributes: HashMap<String, Vec<(String, String)>>,
}

impl Lexicon {
    /// Builds the lexicon from the facet dictionaries of a snapshot, analysing names in
    /// `lang` (the store's default language).
    pub fn build(searcher: &Searcher, paths: &FacetPaths, lang: Lang) -> tantivy::Result<Lexicon> {
        let mut analyzer = Analyzer::new(lang);
        let mut lexicon = Lexicon::default();
        let mut key = |name: &str| {
            let terms = analyzer.terms(name);
            (!terms.is_empty() && terms.len() <= MAX_NAME_WORDS).then(|| terms.join(" "))
        };
        for segment in searcher.segment_readers() {
            for path in paths.of(segment, "brand")?.iter() {
                if let Some(k) = path.first().and_then(|b| key(b)) {
                    lexicon.brands.entry(k).or_insert_with(|| path[0].clone());
                }
            }
            for path in paths.of(segment, "category")?.iter() {
                if let Some(k) = path.last().and_then(|name| key(name)) {
                    push_new(lexicon.categories.entry(k).or_default(), path.clone());
                }
            }
            for path in paths.of(segment, "attr")?.iter() {
                let [name, value] = path.as_slice() else {
                    continue;
                };
                if !worth_reading(name, value) {
                    continue;
                }
                if let Some(k) = key(value) {
                    push_new(
                        lexicon.attributes.entry(k).or_default(),
                        (name.clone(), value.clone()),
                    );
                }
            }
        }
        Ok(lexicon)
    }

    /// Reads the constraints of a query's analysed words, longest windows first, each word
    /// used once; brands before categories before attributes for the same words.
    pub fn read(&self, terms: &[String], modes: &Modes) -> Vec<Understood> {
        let mut used = vec![false; terms.len()];
        let mut out = Vec::new();
        for n in (1..=MAX_NAME_WORDS.min(terms.len())).rev() {
            for start in 0..=terms.len() - n {
                if used[start..start + n].iter().any(|u| *u) {
                    continue;
                }
                let words = terms[start..start + n].join(" ");
                let Some((target, applied)) = self.lookup(&words, modes) else {
                    continue;
                };
                used[start..start + n].iter_mut().for_each(|u| *u = true);
                out.push(Understood {
                    target,
                    words,
                    applied,
                });
            }
        }
        out
    }

    fn lookup(&self, words: &str, modes: &Modes) -> Option<(Target, Mode)> {
        if let Some(brand) = self.brands.get(words) {
            let target = Target::Brand {
                value: brand.clone(),
            };
            return Some((target, modes.brand));
        }
        if let Some(paths) = self.categories.get(words) {
            let target = Target::Category {
                paths: paths.clone(),
            };
            return Some((target, modes.category));
        }
        let values = self.attributes.get(words)?;
        let target = Target::Attribute {
            of: kind_of(words),
            values: values.clone(),
        };
        Some((target, modes.attribute))
    }
}

/// Whether an attribute value is worth reading from queries: names, not numbers or flags
/// ("42" is read only as a size).
fn worth_reading(name: &str, value: &str) -> bool {
    let value = value.trim();
    if value.chars().count() < 2 || matches!(value.to_lowercase().as_str(), "yes" | "no") {
        return false;
    }
    let numeric = value.chars().all(|c| c.is_ascii_digit() || c == '.');
    !numeric || text::keyword(name).contains("size")
}

fn push_new<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// The kind of an attribute word, from the built-in lexicon (analysed English forms and
/// the commonest German, French and Spanish ones).
fn kind_of(words: &str) -> &'static str {
    static KINDS: std::sync::OnceLock<HashMap<String, &'static str>> = std::sync::OnceLock::new();
    let kinds = KINDS.get_or_init(|| {
        let mut map = HashMap::new();
        for (kind, list) in [("color", COLORS), ("material", MATERIALS), ("size", SIZES)] {
            for lang in ["en", "de", "fr", "es"] {
                let Some(lang) = Lang::from_code(lang) else {
                    continue;
                };
                let mut analyzer = Analyzer::new(lang);
                for word in list {
                    map.entry(analyzer.terms(word).join(" ")).or_insert(kind);
                }
            }
        }
        map
    });
    kinds.get(words).copied().unwrap_or("attribute")
}

const COLORS: &[&str] = &[
    "red", "blue", "green", "yellow", "black", "white", "grey", "gray", "pink", "purple", "orange",
    "brown", "beige", "navy", "gold", "silver", "rot", "blau", "grün", "gelb", "schwarz", "weiß",
    "grau", "rosa", "lila", "braun", "rouge", "bleu", "vert", "jaune", "noir", "blanc", "gris",
    "rose", "violet", "marron", "rojo", "azul", "verde", "amarillo", "negro", "blanco", "morado",
    "marrón",
];
const MATERIALS: &[&str] = &[
    "leather",
    "cotton",
    "wool",
    "silk",
    "linen",
    "denim",
    "polyester",
    "nylon",
    "steel",
    "stainless steel",
    "wood",
    "wooden",
    "bamboo",
    "glass",
    "ceramic",
    "plastic",
    "silicone",
    "aluminum",
    "cast iron",
    "leder",
    "baumwolle",
    "wolle",
    "edelstahl",
    "holz",
    "glas",
    "cuir",
    "coton",
    "laine",
    "bois",
    "verre",
    "acier",
    "cuero",
    "algodón",
    "lana",
    "madera",
    "vidrio",
];
const SIZES: &[&str] = &[
    "xs",
    "xl",
    "xxl",
    "small",
    "medium",
    "large",
    "extra large",
    "petite",
    "plus size",
];

/// Lexicons kept per snapshot and language.
pub type LexiconCache = crate::search::snapshot::SnapshotCache<Lang, Lexicon>;

/// The filter terms of a constraint: a product with any of them satisfies it.
pub fn terms(target: &Target, fields: &Fields) -> Vec<Term> {
    match target {
        Target::Brand { value } => vec![Term::from_field_text(
            fields.brand_key,
            &text::keyword(value),
        )],
        Target::Category { paths } => paths
            .iter()
            .map(|path| {
                let lower: Vec<String> = path.iter().map(|l| text::keyword(l)).collect();
                Term::from_facet(
                    fields.category_key,
                    &tantivy::schema::Facet::from_path(lower.iter()),
                )
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        Target::Attribute { values, .. } => values
            .iter()
            .map(|(name, value)| Term::from_field_text(fields.attr_key, &attr_key(name, value)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon() -> Lexicon {
        let mut l = Lexicon::default();
        l.brands.insert("acm".into(), "Acme".into());
        l.brands.insert("north face".into(), "North Face".into());
        l.categories
            .insert("shoe".into(), vec![vec!["Shoes".into()]]);
        l.attributes
            .insert("red".into(), vec![("color".into(), "Red".into())]);
        l.attributes.insert(
            "leather".into(),
            vec![("material".into(), "Leather".into())],
        );
        l
    }

    const BOOST: Modes = Modes {
        brand: Mode::Boost,
        category: Mode::Boost,
        attribute: Mode::Boost,
    };

    fn words(q: &str) -> Vec<String> {
        Analyzer::new(Lang::ENGLISH).terms(q)
    }

    #[test]
    fn brands_categories_and_attribute_values_are_read_from_the_words() {
        let found = lexicon().read(&words("red acme shoes"), &BOOST);
        let kinds: Vec<&Target> = found.iter().map(|u| &u.target).collect();
        assert_eq!(found.len(), 3);
        assert!(kinds.contains(&&Target::Brand {
            value: "Acme".into()
        }));
        assert!(kinds.contains(&&Target::Attribute {
            of: "color",
            values: vec![("color".into(), "Red".into())]
        }));
        assert!(found.iter().all(|u| u.applied == Mode::Boost));
    }

    #[test]
    fn the_longest_name_wins_and_each_word_is_read_once() {
        let found = lexicon().read(&words("the north face jacket"), &BOOST);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].words, "north face");
    }

    #[test]
    fn each_kind_follows_its_configured_mode() {
        let modes = Modes {
            brand: Mode::Filter,
            ..BOOST
        };
        let found = lexicon().read(&words("acme leather"), &modes);
        let brand = found.iter().find(|u| u.words == "acm").unwrap();
        assert_eq!(brand.applied, Mode::Filter);
        let material = found.iter().find(|u| u.words == "leather").unwrap();
        assert_eq!(material.applied, Mode::Boost);
        assert!(matches!(
            material.target,
            Target::Attribute { of: "material", .. }
        ));
    }

    #[test]
    fn numbers_and_flags_are_not_read_as_attribute_values() {
        assert!(!worth_reading("color", "x"));
        assert!(!worth_reading("waterproof", "Yes"));
        assert!(!worth_reading("weight", "12"));
        assert!(worth_reading("size", "42"));
        assert!(worth_reading("color", "Red"));
    }

    #[test]
    fn colour_words_of_every_language_are_named_as_colours() {
        for word in ["red", "rot", "rouge", "rojo"] {
            let lang = match word {
                "rot" => "de",
                "rouge" => "fr",
                "rojo" => "es",
                _ => "en",
            };
            let key = Analyzer::new(Lang::from_code(lang).unwrap())
                .terms(word)
                .join(" ");
            assert_eq!(kind_of(&key), "color", "{word}");
        }
        assert_eq!(kind_of("acm"), "attribute");
    }
}
