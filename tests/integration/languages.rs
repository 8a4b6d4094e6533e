//! Per-language analysis: products are stemmed in their own language, queries in theirs.

use serde_json::json;

use crate::common::TestApp;

const MULTILINGUAL: &str = include_str!("../../fixtures/multilingual_catalog.ndjson");

async fn store() -> TestApp {
    let app = TestApp::with_config("[index]\nlanguages = [\"en\", \"de\", \"fr\", \"es\"]\n");
    let r = app.ndjson("/v1/products", MULTILINGUAL).await;
    assert_eq!(r.body["upserted"], 12, "{}", r.body);
    app
}

#[tokio::test]
async fn german_plurals_and_compounds_find_german_products() {
    let app = store().await;
    // "Trinkflaschen" (plural) and "Trinkflasche" share the German stem, not the English one.
    assert_eq!(app.search_ids("q=Trinkflaschen").await, vec!["de-bottle"]);
    assert_eq!(app.search_ids("q=leichter+Laufschuh").await[0], "de-shoe");
}

#[tokio::test]
async fn french_and_spanish_queries_are_read_in_their_language() {
    let app = store().await;
    let r = app
        .get("/v1/search?q=chaussures+de+course+l%C3%A9g%C3%A8res")
        .await;
    assert_eq!(r.body["hits"][0]["id"], "fr-shoe");
    assert_eq!(r.body["query"]["lang"], "fr");
    // "de" is a French stop word here, not a word to match.
    assert_eq!(
        r.body["query"]["terms"],
        json!(["chaussur", "cours", "leger"])
    );
    let r = app
        .get("/v1/search?q=zapatillas+impermeables+para+mujer")
        .await;
    assert_eq!(r.body["hits"][0]["id"], "es-shoe");
    assert_eq!(r.body["query"]["lang"], "es");
}

#[tokio::test]
async fn negations_work_in_every_store_language() {
    let app = store().await;
    let r = app.get("/v1/search?q=gourde+sans+paille").await;
    assert_eq!(r.body["query"]["negated"], json!(["paill"]));
    assert_eq!(r.body["hits"][0]["id"], "fr-bottle");
    let r = app.get("/v1/search?q=Trinkflasche+ohne+Strohhalm").await;
    assert_eq!(r.body["query"]["negated"], json!(["strohhalm"]));
}

#[tokio::test]
async fn a_short_query_in_another_language_still_finds_its_products() {
    let app = store().await;
    // One word is too short to detect: it is read in English first, and its German stem is
    // used because the index has it and not the English one.
    assert_eq!(app.search_ids("q=Kapuze").await, vec!["de-jacket"]);
    assert_eq!(app.search_ids("q=toallas").await, vec!["es-towel"]);
}

#[tokio::test]
async fn a_declared_language_wins_over_detection() {
    let app = store().await;
    // Declared German: "Kinderwagen" is stemmed by the German rules ("kinderwag"), so the
    // German plural form finds it.
    assert_eq!(app.search_ids("q=Kinderwagens").await, vec!["en-german"]);
}

#[tokio::test]
async fn colours_categories_and_brands_are_read_from_german_words_too() {
    let app = store().await;
    let r = app
        .get("/v1/search?q=rote+Laufschuhe+Sprinta&limit=20")
        .await;
    let understood = r.body["query"]["understood"].as_array().unwrap().clone();
    let kinds: Vec<&str> = understood
        .iter()
        .map(|u| u["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"brand"), "{understood:?}");
    assert!(kinds.contains(&"category"), "{understood:?}");
    let colour = understood
        .iter()
        .find(|u| u["kind"] == "attribute")
        .expect("the colour is read");
    assert_eq!(colour["of"], "color");
    assert_eq!(colour["values"], json!([["farbe", "Rot"]]));
    // The red German running shoe leads.
    assert_eq!(r.body["hits"][0]["id"], "de-shoe");
}
