//! Personalization that decides: among the matches comparably relevant to a query (the band),
//! the visitor's fit orders them decisively, and their department chooses the reading of a
//! query whose matches span departments; a clearly better text match keeps its place.

use attune::group::Group;
use serde_json::{Value, json};

use crate::common::{TestApp, ids};

const AMBIGUOUS: &str = include_str!("../../fixtures/ambiguous_catalog.ndjson");

async fn store() -> TestApp {
    loaded(TestApp::new()).await
}

async fn loaded(app: TestApp) -> TestApp {
    let r = app.ndjson("/v1/products", AMBIGUOUS).await;
    assert_eq!(r.body["failed"], 0, "{}", r.body);
    app
}

/// A shopper of the personalized group whose every event is in one department: views and a
/// purchase of `products`.
async fn shopper(app: &TestApp, name: &str, products: &[&str]) -> String {
    let id = (0..)
        .map(|i| format!("{name}-{i}"))
        .find(|id| Group::of(id, 5) == Group::Personalized)
        .unwrap();
    let mut events: Vec<Value> = (products.iter())
        .map(|p| json!({"type": "view", "visitor_id": id, "product_id": p}))
        .collect();
    events.push(
        json!({"type": "purchase", "visitor_id": id, "product_id": products[0],
        "price": 30.0, "order_id": format!("{id}-order")}),
    );
    app.events(events).await;
    id
}

async fn search(app: &TestApp, query: &str) -> Value {
    let r = app.get(&format!("/v1/search?{query}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

fn first(body: &Value, n: usize) -> Vec<String> {
    ids(body).into_iter().take(n).collect()
}

fn all_start_with(found: &[String], prefix: &str) -> bool {
    found.iter().all(|id| id.starts_with(prefix))
}

#[tokio::test]
async fn within_the_band_the_visitor_s_department_decides() {
    let app = store().await;
    let cook = shopper(&app, "cook", &["kit-knife", "kit-pan"]).await;
    let owner = shopper(&app, "owner", &["pet-toy", "pet-bed"]).await;

    let plain = search(&app, "q=bowl").await;
    assert!(all_start_with(&first(&plain, 3), "pet-bowl"), "{plain}");
    let for_cook = search(&app, &format!("q=bowl&visitor_id={cook}")).await;
    assert!(
        all_start_with(&first(&for_cook, 3), "kit-bowl"),
        "{for_cook}"
    );
    let for_owner = search(&app, &format!("q=bowl&visitor_id={owner}")).await;
    assert!(
        all_start_with(&first(&for_owner, 3), "pet-bowl"),
        "{for_owner}"
    );

    let knife = search(&app, &format!("q=knife&visitor_id={cook}")).await;
    assert_eq!(first(&knife, 1), ["kit-knife"], "{knife}");
    assert_eq!(first(&search(&app, "q=knife").await, 1), ["tool-knife"]);
}

#[tokio::test]
async fn a_clearly_better_text_match_keeps_its_place() {
    let app = store().await;
    let cook = shopper(&app, "cook", &["kit-knife", "kit-pan"]).await;
    // "dog bowl": the dog bowls have both words, the kitchen bowls one; however much the cook
    // likes the kitchen, a kitchen bowl is not comparably relevant and stays below.
    let body = search(&app, &format!("q=dog+bowl&visitor_id={cook}&explain=true")).await;
    assert!(all_start_with(&first(&body, 3), "pet-bowl"), "{body}");
    for hit in body["hits"].as_array().unwrap() {
        let in_band = hit["explain"]["personalization"]["in_band"]
            .as_bool()
            .unwrap();
        let id = hit["id"].as_str().unwrap();
        assert_eq!(in_band, id.starts_with("pet-bowl"), "{hit}");
    }
}

#[tokio::test]
async fn strength_zero_is_the_plain_order_and_strength_scales_the_decision() {
    let app = store().await;
    let cook = shopper(&app, "cook", &["kit-knife", "kit-pan"]).await;
    let plain = ids(&search(&app, "q=bowl").await);
    let at = |strength: u8| {
        let app = &app;
        let cook = cook.clone();
        async move {
            let q = format!("q=bowl&visitor_id={cook}&personalization={strength}");
            ids(&search(app, &q).await)
        }
    };
    assert_eq!(at(0).await, plain);
    let full = at(100).await;
    assert!(all_start_with(&full[..3], "kit-bowl"), "{full:?}");
    // The cook's kitchen bowls rise with the strength, never fall.
    let rank_of_kitchen = |order: &[String]| -> usize {
        (order.iter().enumerate())
            .filter(|(_, id)| id.starts_with("kit-bowl"))
            .map(|(i, _)| i)
            .sum()
    };
    let mut last = rank_of_kitchen(&plain);
    for strength in [25, 50, 75, 100] {
        let now = rank_of_kitchen(&at(strength).await);
        assert!(now <= last, "at {strength}: {now} > {last}");
        last = now;
    }
}

#[tokio::test]
async fn explain_shows_the_band_and_the_department() {
    let app = store().await;
    let cook = shopper(&app, "cook", &["kit-knife", "kit-pan"]).await;
    let body = search(&app, &format!("q=bowl&visitor_id={cook}&explain=true")).await;
    let hit = &body["hits"][0];
    let personal = &hit["explain"]["personalization"];
    assert_eq!(personal["in_band"], true, "{hit}");
    let department = (personal["signals"].as_array().unwrap().iter())
        .find(|s| s["signal"] == "department")
        .unwrap();
    assert_eq!(department["value"], 1.0, "{hit}");
    assert_eq!(department["weight"], 0.5, "{hit}");
    let boost = personal["boost"].as_f64().unwrap();
    let factor = personal["factor"].as_f64().unwrap();
    assert!(
        (factor - (4.0 * boost).exp()).abs() < 1e-3 * factor,
        "{hit}"
    );
    // A dog bowl for the cook: in the band, no department affinity, factor 1.
    let dog = (body["hits"].as_array().unwrap().iter())
        .find(|h| h["id"].as_str().unwrap().starts_with("pet-bowl"))
        .unwrap();
    assert_eq!(dog["explain"]["personalization"]["in_band"], true);
    let dog_department = (dog["explain"]["personalization"]["signals"]
        .as_array()
        .unwrap())
    .iter()
    .find(|s| s["signal"] == "department")
    .unwrap()["value"]
        .clone();
    assert_eq!(dog_department, 0.0);
}

#[tokio::test]
async fn a_visitor_without_affinity_sees_the_plain_order() {
    let app = store().await;
    let plain = ids(&search(&app, "q=bowl").await);
    let stranger = ids(&search(&app, "q=bowl&visitor_id=never-seen").await);
    assert_eq!(stranger, plain);
}

#[tokio::test]
async fn a_query_that_names_a_category_puts_all_its_products_in_the_band() {
    // A narrow band (10 % of the best text score), so that only the category puts the
    // cleaver in it.
    let app = loaded(TestApp::with_config("[personalization]\nband = 0.1\n")).await;
    let cook = shopper(&app, "cook", &["kit-knife", "kit-pan"]).await;
    let text = |h: &Value| h["explain"]["text"].as_f64().unwrap();
    let hit = |body: &Value, id: &str| {
        (body["hits"].as_array().unwrap().iter())
            .find(|h| h["id"] == id)
            .unwrap_or_else(|| panic!("{id} not found: {body}"))
            .clone()
    };
    let plain = search(&app, "q=cutlery").await;
    assert_eq!(first(&plain, 1), ["tool-cutlery-tray"], "{plain}");

    // "cutlery" names the kitchen's Cutlery: the cleaver is one, whatever its title says.
    let q = format!("q=cutlery&visitor_id={cook}&explain=true");
    let body = search(&app, &q).await;
    let (cleaver, tray) = (hit(&body, "kit-cleaver"), hit(&body, "tool-cutlery-tray"));
    assert!(text(&cleaver) < 0.9 * text(&tray), "the premise: {body}");
    assert_eq!(cleaver["explain"]["personalization"]["in_band"], true);
    assert_eq!(first(&body, 2), ["kit-knife", "kit-cleaver"], "{body}");

    // "cutlery tray" names no category: the cleaver's text alone decides, and the best
    // match's is far above it.
    let q = format!("q=cutlery+tray&visitor_id={cook}&explain=true");
    let body = search(&app, &q).await;
    let (cleaver, tray) = (hit(&body, "kit-cleaver"), hit(&body, "tool-cutlery-tray"));
    assert!(text(&cleaver) < 0.9 * text(&tray), "the premise: {body}");
    assert_eq!(cleaver["explain"]["personalization"]["in_band"], false);
    assert_eq!(first(&body, 1), ["tool-cutlery-tray"], "{body}");
}
