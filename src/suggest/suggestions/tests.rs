use super::*;

fn candidate(text: &str, kind: Kind, count: u64) -> Candidate {
    Candidate {
        text: text.into(),
        kind,
        count,
        ..Candidate::default()
    }
}

fn texts(found: &[Suggestion]) -> Vec<&str> {
    found.iter().map(|s| s.text.as_str()).collect()
}

fn set(candidates: Vec<Candidate>) -> Suggestions {
    Suggestions::build(candidates).unwrap()
}

/// Regression: short prefixes read every key they start, which made autocomplete slower
/// than search at 46k products; the walk reads those keys best entry first and stops at
/// the page, which must give what reading them all gave.
#[test]
fn short_prefixes_give_the_best_of_every_key_they_start() {
    let candidates: Vec<Candidate> = (0..500u64)
        .map(|i| candidate(&format!("item {i} sample"), Kind::Product, 1000 - i))
        .chain([candidate("samsung", Kind::Brand, 3)])
        .collect();
    let s = set(candidates);
    // The brand ranks above products; then the highest counts, whichever key matched
    // ("sa" starts "samsung" and the word "sample" inside every title).
    assert_eq!(
        texts(&s.lookup("sa", 4, None, 0.0)),
        vec!["samsung", "item 0 sample", "item 1 sample", "item 2 sample"]
    );
    assert_eq!(
        texts(&s.lookup("it", 2, None, 0.0)),
        vec!["item 0 sample", "item 1 sample"]
    );
    assert!(s.lookup("zz", 5, None, 0.0).is_empty());
}

/// The oracle: every entry under a key that matches (by streaming the keys in order),
/// ranked, the best `limit` kept; as lookups read before the best-first walk.
fn ranking_every_match(
    s: &Suggestions,
    typed: &str,
    limit: usize,
    affinity: Option<&Affinity>,
    boost: f32,
) -> Vec<String> {
    use tantivy_fst::{IntoStreamer, Streamer};
    let key = Normalizer::default().key(typed);
    let pick = Pick::new(s, limit, affinity, boost);
    // The entries of a tier among `found`, but not `answered`, ranked.
    let ranked = |tier: usize, mut found: Vec<u32>, answered: &[u32]| {
        found.retain(|&i| {
            s.entries[i as usize].kind.tier() as usize == tier && !answered.contains(&i)
        });
        found.sort_unstable();
        found.dedup();
        let mut places: Vec<Place> = found.iter().map(|&i| pick.place(i)).collect();
        places.sort_unstable();
        places.iter().map(|p| p.1).collect::<Vec<u32>>()
    };
    let exact: [Vec<u32>; TIERS] = std::array::from_fn(|tier| {
        let keys = &s.keys[tier];
        let mut found = Vec::new();
        if key.is_empty() {
            found.extend(0..s.entries.len() as u32);
        } else {
            let mut upper = key.as_bytes().to_vec();
            upper.push(0xFF);
            let mut stream = keys.fst.range().ge(&key).lt(&upper).into_stream();
            while let Some((_, value)) = stream.next() {
                found.extend_from_slice(keys.posting(value));
            }
        }
        ranked(tier, found, &[])
    });
    let mut answer = share(exact, limit);
    let left = limit - answer.iter().map(Vec::len).sum::<usize>();
    let letters = key.chars().count();
    if left > 0 && (TYPO_FROM_CHARS..=MAX_TYPO_CHARS).contains(&letters) {
        let dfa = one_edit(&key);
        let near: [Vec<u32>; TIERS] = std::array::from_fn(|tier| {
            let keys = &s.keys[tier];
            let mut found = Vec::new();
            let mut stream = keys.fst.search(prefix_within(&dfa)).into_stream();
            while let Some((_, value)) = stream.next() {
                found.extend_from_slice(keys.posting(value));
            }
            ranked(tier, found, &answer[tier])
        });
        for (exact, near) in answer.iter_mut().zip(share(near, left)) {
            exact.extend(near);
        }
    }
    (answer.iter().flatten())
        .map(|&i| s.entries[i as usize].text.to_string())
        .collect()
}

fn kind_of(n: u8) -> Kind {
    [Kind::Query, Kind::Brand, Kind::Category, Kind::Product][n as usize % 4]
}

proptest::proptest! {
    /// The walk reads keys best entry first and stops once no entry left can reach the
    /// page: it must pick what ranking every match picks, typos, boosts and ties included.
    #[test]
    fn the_best_first_walk_picks_what_ranking_every_match_picks(
        made in proptest::collection::vec(
            ("[abc]{1,5}( [abc]{1,4}){0,3}", 0u8..4, 0u64..6, 0u8..3, 0u8..3),
            0..60,
        ),
        typed in "[abc ]{0,7}",
        limit in 0usize..7,
        likes in proptest::option::of((0u8..3, 0u8..3)),
        boost in 0.0f32..3.0,
    ) {
        let brand = |n: u8| ["acme", "bolt", "cask"][n as usize].to_string();
        let candidates = made
            .iter()
            .map(|(text, kind, count, b, c)| Candidate {
                text: text.clone(),
                kind: kind_of(*kind),
                count: *count,
                brand: Some(brand(*b)),
                category: vec!["Home".into(), format!("Room {c}")],
                ..Candidate::default()
            })
            .collect();
        let s = set(candidates);
        let affinity = likes.map(|(b, c)| Affinity {
            brands: [(brand(b), 0.5 + f32::from(b) / 4.0)].into(),
            categories: [(format!("home > room {c}"), 1.0)].into(),
        });
        let walked = s.lookup(&typed, limit, affinity.as_ref(), boost);
        proptest::prop_assert_eq!(
            texts(&walked),
            ranking_every_match(&s, &typed, limit, affinity.as_ref(), boost)
        );
    }
}

#[test]
fn a_prefix_finds_every_suggestion_starting_with_it_or_with_a_word_starting_with_it() {
    let s = set(vec![
        candidate("running shoes", Kind::Query, 5),
        candidate("trail running shoe", Kind::Product, 9),
        candidate("rugs", Kind::Category, 3),
        candidate("shoes", Kind::Category, 7),
    ]);
    assert_eq!(
        texts(&s.lookup("run", 8, None, 1.0)),
        ["running shoes", "trail running shoe"]
    );
    assert_eq!(
        texts(&s.lookup("ru", 8, None, 1.0)),
        ["running shoes", "rugs", "trail running shoe"]
    );
    assert_eq!(
        texts(&s.lookup("shoe", 8, None, 1.0)),
        ["running shoes", "shoes", "trail running shoe"]
    );
    assert!(
        s.lookup("unn", 8, None, 1.0).is_empty(),
        "only word starts match"
    );
}

#[test]
fn input_is_normalised_like_the_keys() {
    let s = set(vec![candidate("Crème Brûlée", Kind::Query, 2)]);
    for typed in ["crem", "CRÈME  BR", "  creme brulee"] {
        assert_eq!(
            texts(&s.lookup(typed, 8, None, 1.0)),
            ["Crème Brûlée"],
            "{typed}"
        );
    }
}

#[test]
fn the_quotas_give_queries_half_then_catalog_names_half_of_the_rest() {
    assert_eq!(quotas(8), [4, 2, 2]);
    assert_eq!(quotas(5), [3, 1, 1]);
    assert_eq!(quotas(1), [1, 0, 0]);
    assert_eq!(quotas(0), [0, 0, 0]);
    // Slots a kind leaves empty go to the others, in order.
    assert_eq!(
        share([vec![1], vec![], vec![7, 8, 9]], 4),
        [vec![1], vec![], vec![7, 8, 9]]
    );
    assert_eq!(
        share([vec![1, 2, 3, 4, 5], vec![6], vec![]], 4),
        [vec![1, 2, 3], vec![6], vec![]]
    );
}

#[test]
fn typos_are_forgiven_from_four_letters_and_rank_below_exact_prefixes_of_their_kind() {
    let s = set(vec![
        candidate("running shoes", Kind::Query, 5),
        candidate("runic stones", Kind::Category, 1),
        candidate("rung ladder", Kind::Product, 1),
    ]);
    assert_eq!(texts(&s.lookup("runing", 8, None, 1.0)), ["running shoes"]);
    // "runi" is an exact prefix of "runic stones", one edit from "runn…" and "rung"; each
    // kind keeps its section of the answer.
    assert_eq!(
        texts(&s.lookup("runi", 8, None, 1.0)),
        ["running shoes", "runic stones", "rung ladder"]
    );
    let s = set(vec![
        candidate("running shoes", Kind::Query, 5),
        candidate("runic shoes", Kind::Query, 1),
    ]);
    assert_eq!(
        texts(&s.lookup("runi", 8, None, 1.0)),
        ["runic shoes", "running shoes"]
    );
    assert!(
        s.lookup("rnu", 8, None, 1.0).is_empty(),
        "no typos under four letters"
    );
    // Typos fill only what exact matches leave: of 4 slots, the brand's share goes to
    // the exact product titles, not to a brand one edit away.
    let shoes = (0..4u64).map(|n| candidate(&format!("running shoe {n}"), Kind::Product, 9 - n));
    let s = set(shoes.chain([candidate("Runa", Kind::Brand, 9)]).collect());
    let found = s.lookup("runn", 4, None, 1.0);
    assert!(found.iter().all(|s| s.kind == Kind::Product), "{found:?}");
    assert_eq!(texts(&s.lookup("runn", 5, None, 1.0))[0], "Runa");
}

#[test]
fn queries_come_before_brands_and_categories_before_titles_each_within_its_share() {
    let s = set(vec![
        candidate("mixo blender", Kind::Product, 5000),
        candidate("mixo", Kind::Brand, 2),
        candidate("mixing bowls", Kind::Category, 9),
        candidate("mixer", Kind::Query, 3),
        candidate("mixer tap", Kind::Query, 4),
    ]);
    assert_eq!(
        texts(&s.lookup("mix", 8, None, 1.0)),
        ["mixer tap", "mixer", "mixing bowls", "mixo", "mixo blender"]
    );
    // Regression: one qualifying past query pushed every product suggestion out. Of 2
    // slots, past queries have 1 and brands and categories 1 (quotas(2)).
    assert_eq!(
        texts(&s.lookup("mix", 2, None, 1.0)),
        ["mixer tap", "mixing bowls"]
    );
    assert_eq!(
        texts(&s.lookup("mix", 4, None, 1.0)),
        ["mixer tap", "mixer", "mixing bowls", "mixo blender"]
    );
    assert_eq!(
        texts(&s.lookup("", 3, None, 1.0)),
        ["mixer tap", "mixer", "mixing bowls"]
    );
}

#[test]
fn equal_texts_are_one_suggestion_of_the_higher_kind() {
    let s = set(vec![
        candidate("Acme", Kind::Brand, 3),
        candidate("acme", Kind::Query, 2),
        candidate("Running", Kind::Category, 4),
        candidate("running", Kind::Category, 1),
    ]);
    let found = s.lookup("", 8, None, 1.0);
    assert_eq!(found.len(), 2);
    assert_eq!((found[0].kind, found[0].count), (Kind::Query, 2));
    assert_eq!((found[1].text.as_str(), found[1].count), ("Running", 5));
}

#[test]
fn a_visitors_brands_and_categories_lift_suggestions_by_a_bounded_factor() {
    let mut zoom = candidate("Zoom", Kind::Brand, 4);
    zoom.brand = Some("Zoom".into());
    let mut acme = candidate("Acme", Kind::Brand, 6);
    acme.brand = Some("Acme".into());
    let mut kitchen = candidate("Kitchen", Kind::Category, 10);
    kitchen.category = vec!["Home".into(), "Kitchen".into()];
    let s = set(vec![zoom, acme, kitchen]);
    assert_eq!(
        texts(&s.lookup("", 8, None, 1.0)),
        ["Kitchen", "Acme", "Zoom"]
    );
    let likes_zoom = Affinity {
        brands: [("zoom".to_string(), 1.0)].into(),
        categories: [("home".to_string(), 1.0)].into(),
    };
    // Zoom: 4 × 2 = 8 > 6. Kitchen: an ancestor covers half its path, 10 × 1.5.
    assert_eq!(
        texts(&s.lookup("", 8, Some(&likes_zoom), 1.0)),
        ["Kitchen", "Zoom", "Acme"]
    );
    // The boost is bounded: no affinity lifts 4 above 10.
    let lots = Affinity {
        brands: [("zoom".to_string(), 50.0)].into(),
        categories: HashMap::new(),
    };
    assert_eq!(texts(&s.lookup("", 1, Some(&lots), 1.0)), ["Kitchen"]);
    assert_eq!(
        texts(&s.lookup("", 8, Some(&likes_zoom), 0.0)),
        ["Kitchen", "Acme", "Zoom"]
    );
}
