//! Query understanding: brands, categories, attribute values and price intent read from the
//! words, each boosting by default or filtering when configured.

use serde_json::json;

use crate::common::{TestApp, ids};

#[tokio::test]
async fn a_colour_the_catalog_has_boosts_products_of_that_colour() {
    let app = TestApp::with_small_catalog().await;
    let r = app.get("/v1/search?q=black+shoe&limit=20").await;
    let understood = &r.body["query"]["understood"];
    assert_eq!(understood[0]["kind"], "attribute");
    assert_eq!(understood[0]["of"], "color");
    assert_eq!(understood[0]["words"], "black");
    assert_eq!(understood[0]["applied"], "boost");
    let hits = ids(&r.body);
    // The black shoe leads; the other shoes still match (a boost narrows nothing).
    assert_eq!(hits[0], "shoe-4");
    for shoe in ["shoe-1", "shoe-2", "shoe-3", "shoe-5"] {
        assert!(
            hits.contains(&shoe.to_string()),
            "{shoe} missing from {hits:?}"
        );
    }
}

#[tokio::test]
async fn a_brand_named_in_the_query_boosts_that_brand() {
    let app = TestApp::with_small_catalog().await;
    let r = app.get("/v1/search?q=zoom+running+shoe&limit=20").await;
    assert_eq!(r.body["query"]["understood"][0]["kind"], "brand");
    assert_eq!(r.body["query"]["understood"][0]["value"], "Zoom");
    assert_eq!(ids(&r.body)[0], "shoe-2");
}

#[tokio::test]
async fn a_category_name_is_read_through_plurals() {
    let app = TestApp::with_small_catalog().await;
    let r = app.get("/v1/search?q=blender&limit=20").await;
    let understood = &r.body["query"]["understood"][0];
    assert_eq!(understood["kind"], "category");
    assert_eq!(
        understood["paths"],
        json!([["Home", "Kitchen", "Blenders"]])
    );
}

#[tokio::test]
async fn constraints_configured_as_filters_narrow_the_results() {
    let app = TestApp::with_config(
        "[search.understanding]\nbrand = \"filter\"\nattribute = \"filter\"\n",
    );
    let app = app.load_small_catalog().await;
    let r = app.get("/v1/search?q=acme+shoe&limit=20").await;
    let mut hits = ids(&r.body);
    hits.sort();
    assert_eq!(hits, vec!["shoe-1", "shoe-3"]);
    assert_eq!(r.body["query"]["understood"][0]["applied"], "filter");
    // Colours match case-insensitively: "red" and "Red" are one value.
    let mut hits = app.search_ids("q=red+shoe&limit=20").await;
    hits.sort();
    assert_eq!(hits, vec!["shoe-1", "shoe-3"]);
}

#[tokio::test]
async fn price_words_can_boost_instead_of_filtering() {
    let app = TestApp::with_config("[search.understanding]\nprice = \"boost\"\nboost = 10.0\n");
    let app = app.load_small_catalog().await;
    let plain = app.search_ids("q=running+shoe&limit=20").await;
    let r = app.get("/v1/search?q=running+shoe+under+50&limit=20").await;
    let hits = ids(&r.body);
    // Nothing is filtered out, but the sneaker at 45 overtakes the dress shoe at 180.
    assert_eq!(hits.len(), plain.len(), "{hits:?}");
    let rank = |list: &[String], id: &str| list.iter().position(|h| h == id).unwrap();
    assert!(rank(&plain, "shoe-4") < rank(&plain, "shoe-5"), "{plain:?}");
    assert!(rank(&hits, "shoe-5") < rank(&hits, "shoe-4"), "{hits:?}");
    assert_eq!(r.body["query"]["price"]["max"], 50.0);
    assert!(r.body["query"]["filters"].get("price_max").is_none());
}

#[tokio::test]
async fn price_intent_is_read_in_several_languages_and_not_matched_as_text() {
    let app = TestApp::with_small_catalog().await;
    for (q, tier, words) in [
        ("cheap+blender", "budget", "cheap"),
        ("blender+pas+cher", "budget", "pas cher"),
        ("g%C3%BCnstig+blender", "budget", "günstig"),
        ("luxury+lamp", "premium", "luxury"),
        ("l%C3%A1mpara+de+lujo", "premium", "lujo"),
    ] {
        let r = app.get(&format!("/v1/search?q={q}")).await;
        assert_eq!(r.body["query"]["price_intent"]["tier"], tier, "{q}");
        assert_eq!(r.body["query"]["price_intent"]["words"], words, "{q}");
        let terms = r.body["query"]["terms"].as_array().unwrap().clone();
        assert!(
            !terms
                .iter()
                .any(|t| t == "cheap" || t == "luxuri" || t == "lujo"),
            "{q}: {terms:?}"
        );
    }
}

#[tokio::test]
async fn the_last_word_being_typed_is_completed_from_the_index() {
    let app = TestApp::with_small_catalog().await;
    let r = app.get("/v1/search?q=insulated+bott").await;
    assert_eq!(r.body["query"]["completion"]["from"], "bott");
    assert_eq!(r.body["query"]["completion"]["to"][0], "bottl");
    assert_eq!(ids(&r.body)[0], "bottle-1");
    // Every completion matches: "ble" is the start of "blender" only.
    let r = app.get("/v1/search?q=ble").await;
    let mut hits = ids(&r.body);
    hits.sort();
    assert_eq!(hits, vec!["blender-1", "blender-2"]);
}

#[tokio::test]
async fn a_finished_word_or_a_known_word_is_not_completed() {
    let app = TestApp::with_small_catalog().await;
    // A trailing space means the word is finished: "bott" is then a typo budget matter
    // (too short to correct) and nothing is completed.
    let r = app.get("/v1/search?q=bott+").await;
    assert!(r.body["query"].get("completion").is_none());
    // "lamp" is a word the index has: it is not read as the start of a longer word.
    let r = app.get("/v1/search?q=lamp").await;
    assert!(r.body["query"].get("completion").is_none());
}

#[tokio::test]
async fn a_corrected_query_offers_did_you_mean_in_the_catalog_spelling() {
    let app = TestApp::with_small_catalog().await;
    let r = app.get("/v1/search?q=Personal+blendr+").await;
    assert_eq!(r.body["query"]["did_you_mean"], "Personal blender");
    let r = app.get("/v1/search?q=personal+blender").await;
    assert!(r.body["query"].get("did_you_mean").is_none());
}

#[tokio::test]
async fn negated_words_can_demote_the_products_that_have_them() {
    let plain = TestApp::with_small_catalog().await;
    let app = TestApp::with_config("[search.weights]\nnegated = 0.1\n")
        .load_small_catalog()
        .await;
    let q = "/v1/search?q=water+bottle+without+straw&explain=true";
    let before = ids(&plain.get(q).await.body);
    let r = app.get(q).await;
    let after = ids(&r.body);
    // The bottle that mentions a straw still matches, but drops.
    let rank = |list: &[String]| list.iter().position(|id| id == "bottle-2").unwrap();
    assert!(rank(&after) > rank(&before), "{before:?} then {after:?}");
    assert_eq!(after.len(), before.len());
    let hit = r.body["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == "bottle-2")
        .unwrap();
    let stages: Vec<&str> = hit["explain"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert!(stages.contains(&"negation"), "{stages:?}");
}
