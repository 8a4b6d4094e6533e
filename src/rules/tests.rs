//! Rules read from TOML and evaluated against hand-made contexts, at a fixed time.

use std::path::Path;

use time::macros::datetime;

use super::*;
use crate::config::{Config, ConfigError};

const NOON: OffsetDateTime = datetime!(2025-06-01 12:00 UTC);

fn rules(toml: &str) -> Arc<RuleSet> {
    match Config::parse(toml, Path::new("attune.toml")) {
        Ok(config) => config.rules,
        Err(e) => panic!("{e}"),
    }
}

fn ctx(query: &str) -> Context<'_> {
    Context {
        query,
        lang: Lang::from_code("en").unwrap(),
        category: &[],
        filtered: false,
        visitor: Segment::unknown(),
        now: NOON,
        placement: "search",
    }
}

fn fired(set: &RuleSet, ctx: &Context) -> Vec<String> {
    set.evaluate(ctx)
        .fired
        .iter()
        .map(|r| r.to_string())
        .collect()
}

/// One rule `r` with the given `when` (inline table body) that hides product `x`.
fn when(conditions: &str) -> Arc<RuleSet> {
    rules(&format!(
        "[[rules]]\nid = \"r\"\nwhen = {{ {conditions} }}\nthen = {{ hide = [\"x\"] }}\n"
    ))
}

fn fires(conditions: &str, ctx: &Context) -> bool {
    !when(conditions).evaluate(ctx).fired.is_empty()
}

fn error(toml: &str) -> (usize, usize, String) {
    match Config::parse(toml, Path::new("attune.toml")) {
        Err(ConfigError::At {
            line,
            column,
            message,
            ..
        }) => (line, column, message),
        other => panic!("expected a located error, got {other:?}"),
    }
}

#[test]
fn a_rule_without_conditions_always_fires() {
    let set = rules("[[rules]]\nid = \"always\"\nthen = { strength = 10 }\n");
    assert_eq!(fired(&set, &ctx("")), ["always"]);
}

#[test]
fn is_matches_the_whole_analysed_query_so_plurals_match() {
    assert!(fires(r#"is = "shoe""#, &ctx("Shoes")));
    assert!(fires(r#"is = "running shoes""#, &ctx("running shoe")));
    assert!(!fires(r#"is = "shoe""#, &ctx("red shoes")));
    assert!(fires(r#"is = ["boot", "shoe"]"#, &ctx("shoes")));
}

#[test]
fn contains_matches_consecutive_analysed_words() {
    assert!(fires(
        r#"contains = "running shoe""#,
        &ctx("red Running Shoes")
    ));
    assert!(!fires(
        r#"contains = "running shoe""#,
        &ctx("shoes for running")
    ));
}

#[test]
fn starts_with_matches_the_first_analysed_words() {
    assert!(fires(r#"starts_with = "iphone""#, &ctx("iPhones 15 case")));
    assert!(!fires(r#"starts_with = "case""#, &ctx("iphone case")));
}

#[test]
fn phrase_conditions_never_fire_on_an_empty_query() {
    assert!(!fires(r#"contains = "shoe""#, &ctx("")));
}

#[test]
fn regex_matches_the_raw_query_ignoring_case() {
    assert!(fires(r#"regex = '^return(s)?\b'"#, &ctx("Returns policy")));
    assert!(!fires(r#"regex = '^return(s)?\b'"#, &ctx("how to return")));
}

#[test]
fn category_fires_for_a_filter_at_or_below_the_path() {
    let running = ["shoes".to_string(), "Running".to_string()];
    let home = ["Home".to_string()];
    let mut c = ctx("");
    c.category = &running;
    assert!(fires(r#"category = "Shoes""#, &c));
    assert!(fires(r#"category = "Shoes > Running""#, &c));
    c.category = &home;
    assert!(!fires(r#"category = "Shoes""#, &c));
    c.category = &[];
    assert!(!fires(r#"category = "Shoes""#, &c));
}

#[test]
fn filtered_fires_when_any_filter_is_in_force_or_when_none_is() {
    let mut c = ctx("shoe");
    assert!(fires("filtered = false", &c));
    assert!(!fires("filtered = true", &c));
    c.filtered = true;
    assert!(fires("filtered = true", &c));
}

#[test]
fn a_time_window_includes_its_start_and_excludes_its_end() {
    let window = r#"from = "2025-06-01T00:00:00Z", until = "2025-06-02T00:00:00Z""#;
    let mut c = ctx("");
    for (now, inside) in [
        (datetime!(2025-05-31 23:59:59 UTC), false),
        (datetime!(2025-06-01 00:00 UTC), true),
        (datetime!(2025-06-01 23:59:59 UTC), true),
        (datetime!(2025-06-02 00:00 UTC), false),
    ] {
        c.now = now;
        assert_eq!(fires(window, &c), inside, "{now}");
    }
}

#[test]
fn a_window_may_be_open_on_one_side_and_carry_an_offset() {
    let mut c = ctx("");
    c.now = datetime!(2025-11-28 08:00 UTC);
    assert!(fires(r#"from = "2025-11-28T09:00:00+02:00""#, &c));
    assert!(!fires(r#"until = "2025-11-28T09:00:00+02:00""#, &c));
}

#[test]
fn segments_target_lifecycle_stages_and_sources() {
    let mut c = ctx("");
    c.visitor = Segment {
        lifecycle: Lifecycle::Customer,
        source: Some("newsletter".into()),
    };
    assert!(fires(r#"lifecycle = ["customer", "returning"]"#, &c));
    assert!(!fires(r#"lifecycle = "new""#, &c));
    assert!(fires(r#"source = "Newsletter""#, &c));
    assert!(!fires(r#"source = "ads""#, &c));
    assert!(fires(
        r#"lifecycle = "customer", source = "newsletter""#,
        &c
    ));
}

#[test]
fn a_placement_targets_search_a_category_page_or_one_widget() {
    let mut c = ctx("");
    assert!(fires(r#"placement = "search""#, &c));
    assert!(!fires(r#"placement = "browse""#, &c));
    c.placement = "bought_together";
    assert!(fires(r#"placement = ["similar", "bought_together"]"#, &c));
    assert!(!fires(r#"placement = ["search", "browse"]"#, &c));
    assert!(fires("", &c), "a rule without one fires everywhere");
}

#[test]
fn a_visitor_without_a_profile_is_new_with_no_source() {
    let c = ctx("");
    assert!(fires(r#"lifecycle = "new""#, &c));
    assert!(!fires(r#"source = "ads""#, &c));
}

#[test]
fn every_condition_of_a_rule_must_hold() {
    assert!(!fires(r#"is = "shoe", filtered = true"#, &ctx("shoe")));
}

#[test]
fn every_consequence_reaches_the_outcome() {
    let set = rules(
        r#"
[[rules]]
id = "all"
[rules.then]
pin = [{ id = "p1", position = 2 }]
hide = ["h1"]
boost = [{ filter = 'brand = "Acme"', factor = 2.0 }]
bury = [{ filter = 'tags has "clearance"', factor = 0.5 }]
filter = "price < 100"
redirect = "https://shop.example/returns"
strength = 30
"#,
    );
    let out = set.evaluate(&ctx("x"));
    assert_eq!(out.pins.len(), 1);
    assert_eq!((out.pins[0].id.as_str(), out.pins[0].position), ("p1", 2));
    assert_eq!(out.hidden, ["h1"]);
    let factors: Vec<f64> = out.boosts.iter().map(|b| b.factor).collect();
    assert_eq!(factors, [2.0, 0.5]);
    assert_eq!(out.filters.len(), 1);
    assert_eq!(
        out.redirect.as_deref(),
        Some("https://shop.example/returns")
    );
    assert_eq!(out.strength, Some(30));
}

#[test]
fn hide_wins_over_pin_whichever_rule_comes_first() {
    for (first, second) in [("pin", "hide"), ("hide", "pin")] {
        let body = |what: &str| match what {
            "pin" => r#"{ pin = [{ id = "a", position = 1 }, { id = "b", position = 2 }] }"#,
            _ => r#"{ hide = ["a"] }"#,
        };
        let set = rules(&format!(
            "[[rules]]\nid = \"{first}\"\nthen = {}\n[[rules]]\nid = \"{second}\"\nthen = {}\n",
            body(first),
            body(second)
        ));
        let out = set.evaluate(&ctx(""));
        let pinned: Vec<&str> = out.pins.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(pinned, ["b"], "{first} then {second}");
        assert_eq!(out.fired.len(), 2);
    }
}

#[test]
fn for_one_position_the_earlier_rule_wins_and_a_product_keeps_its_first_position() {
    let set = rules(
        r#"
[[rules]]
id = "first"
then = { pin = [{ id = "a", position = 1 }], redirect = "/first", strength = 10 }
[[rules]]
id = "second"
then = { pin = [{ id = "b", position = 1 }, { id = "a", position = 3 }, { id = "c", position = 2 }], redirect = "/second", strength = 90 }
"#,
    );
    let out = set.evaluate(&ctx(""));
    let pins: Vec<(&str, usize, &str)> = out
        .pins
        .iter()
        .map(|p| (p.id.as_str(), p.position, &*p.rule))
        .collect();
    assert_eq!(pins, [("a", 1, "first"), ("c", 2, "second")]);
    assert_eq!(out.redirect.as_deref(), Some("/first"));
    assert_eq!(out.strength, Some(10));
}

#[test]
fn rules_fire_in_file_order_and_only_when_their_conditions_hold() {
    let set = rules(
        r#"
[[rules]]
id = "b"
when = { contains = "shoe" }
then = { hide = ["x"] }
[[rules]]
id = "a"
then = { hide = ["y"] }
[[rules]]
id = "c"
when = { contains = "lamp" }
then = { hide = ["z"] }
"#,
    );
    assert_eq!(fired(&set, &ctx("shoes")), ["b", "a"]);
    assert_eq!(set.evaluate(&ctx("shoes")).hidden, ["x", "y"]);
}

#[test]
fn an_unknown_key_in_a_rule_is_reported_at_its_line_and_column() {
    let (line, column, message) =
        error("[[rules]]\nid = \"r\"\nwhen = { iz = \"shoe\" }\nthen = { hide = [\"x\"] }\n");
    assert_eq!((line, column), (3, 10));
    assert!(message.contains("unknown field `iz`"), "{message}");
}

#[test]
fn each_validation_error_names_the_rule_the_key_and_where_it_is() {
    let rule = |then: &str| format!("# header\n[[rules]]\nid = \"sale\"\n{then}\n");
    for (toml, at, expected) in [
        (
            rule(r#"then = { boost = [{ filter = 'colour = "red"', factor = 2 }] }"#),
            (4, 30),
            "rule \"sale\": then.boost.filter: unknown field \"colour\": use brand, category, price, in_stock, tags or attr.<name> (at character 1)",
        ),
        (
            rule(r#"then = { boost = [{ filter = "price < 3", factor = 0.5 }] }"#),
            (4, 52),
            "rule \"sale\": then.boost.factor: must be a number >= 1 (use bury to lower)",
        ),
        (
            rule(r#"then = { bury = [{ filter = "price < 3", factor = 2 }] }"#),
            (4, 51),
            "rule \"sale\": then.bury.factor: must be a number > 0 and <= 1",
        ),
        (
            rule(r#"then = { pin = [{ id = "a", position = 0 }] }"#),
            (4, 40),
            "rule \"sale\": then.pin.position: must be between 1 and 10000",
        ),
        (
            rule(r#"then = { strength = 101 }"#),
            (4, 21),
            "rule \"sale\": then.strength: must be between 0 and 100",
        ),
        (
            rule(r#"then = { redirect = "returns page" }"#),
            (4, 21),
            "rule \"sale\": then.redirect: must be an http(s) URL or a path starting with /",
        ),
        (
            rule(r#"then = { filter = "price <" }"#),
            (4, 19),
            "rule \"sale\": then.filter: expected a value, found the end (at character 8)",
        ),
        (
            rule("then = {}"),
            (4, 8),
            "rule \"sale\": then: names no consequence",
        ),
        (
            rule("when = { regex = \"(\" }\nthen = { strength = 1 }"),
            (4, 18),
            "rule \"sale\": when.regex: regex parse error: ( ^ error: unclosed group",
        ),
        (
            rule("when = { placement = \"sidebar\" }\nthen = { strength = 1 }"),
            (4, 22),
            "rule \"sale\": when.placement: unknown placement \"sidebar\": use search, browse, similar, recently_viewed, also_viewed, bought_together, post_purchase, trending, for_you",
        ),
        (
            rule("when = { lifecycle = \"vip\" }\nthen = { strength = 1 }"),
            (4, 22),
            "rule \"sale\": when.lifecycle: unknown stage \"vip\": use new, returning, customer or lapsed",
        ),
        (
            rule(
                "when = { from = \"2025-06-02T00:00:00Z\", until = \"2025-06-01T00:00:00Z\" }\nthen = { strength = 1 }",
            ),
            (4, 49),
            "rule \"sale\": when.until: must be after when.from",
        ),
        (
            rule("when = { contains = [] }\nthen = { strength = 1 }"),
            (4, 21),
            "rule \"sale\": when.contains: phrases must not be empty",
        ),
    ] {
        let (line, column, message) = error(&toml);
        assert_eq!(message, expected, "{toml}");
        assert_eq!((line, column), at, "{toml}");
    }
}

#[test]
fn a_date_that_is_not_rfc_3339_is_rejected_where_it_is() {
    let (line, column, message) =
        error("[[rules]]\nid = \"r\"\nwhen = { from = \"28/11/2025\" }\nthen = { strength = 1 }\n");
    assert_eq!((line, column), (3, 17));
    assert!(
        message.starts_with("rule \"r\": when.from: must be an RFC 3339 date-time"),
        "{message}"
    );
}

#[test]
fn a_duplicate_id_is_reported_at_the_second_rule() {
    let (line, column, message) = error(
        "[[rules]]\nid = \"r\"\nthen = { strength = 1 }\n[[rules]]\nid = \"r\"\nthen = { strength = 2 }\n",
    );
    assert_eq!((line, column), (5, 6));
    assert_eq!(message, "rule \"r\": id: another rule has this id");
}

#[test]
fn included_files_add_their_rules_after_the_main_files_and_report_their_own_lines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "rules/b.toml",
        "[[rules]]\nid = \"b\"\nthen = { hide = [\"x\"] }\n",
    );
    write(
        "rules/a.toml",
        "[[rules]]\nid = \"a\"\nthen = { hide = [\"y\"] }\n",
    );
    let main =
        "include = [\"rules/*.toml\"]\n[[rules]]\nid = \"main\"\nthen = { hide = [\"z\"] }\n";
    write("attune.toml", main);
    let config = Config::load(&dir.path().join("attune.toml"), true).unwrap();
    let ids: Vec<&str> = config.rules.rules().iter().map(|r| &*r.id).collect();
    assert_eq!(ids, ["main", "a", "b"]);
    assert_eq!(config.version.files.len(), 3);

    write(
        "rules/b.toml",
        "[[rules]]\nid = \"b\"\n\nthen = { hide = 3 }\n",
    );
    let err = Config::load(&dir.path().join("attune.toml"), true).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("b.toml:4:17: invalid type"), "{text}");
}
