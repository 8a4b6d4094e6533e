//! Search API: text ranking, every filter, every sort, facets, pagination, explain.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::{TestApp, ids};

#[tokio::test]
async fn products_with_more_of_the_words_rank_above_products_with_fewer() {
    let app = TestApp::with_small_catalog().await;
    let hits = app.search_ids("q=running+shoe&limit=20").await;
    let mut all_words: Vec<String> = hits[..3].to_vec();
    all_words.sort();
    assert_eq!(all_words, vec!["shoe-1", "shoe-2", "shoe-3"]);
    // Other shoes have one of the words (in the title or the category) and come after.
    let mut rest: Vec<String> = hits[3..].to_vec();
    rest.sort();
    assert_eq!(rest, vec!["shoe-4", "shoe-5"]);
    // A product with none of the words never matches.
    let hits = app.search_ids("q=running+blender&limit=20").await;
    assert_eq!(hits.len(), 5);
    assert!(!hits.contains(&"mug-1".to_string()));
}

#[tokio::test]
async fn stop_words_are_not_matched_and_negated_words_are_set_apart() {
    let app = TestApp::with_small_catalog().await;
    let r = app.get("/v1/search?q=bottle+for+water+without+straw").await;
    assert_eq!(r.body["query"]["terms"], json!(["bottl", "water"]));
    assert_eq!(r.body["query"]["negated"], json!(["straw"]));
    let mut hits = ids(&r.body);
    hits.sort();
    assert_eq!(hits, vec!["bottle-1", "bottle-2", "bottle-3"]);
}

#[tokio::test]
async fn words_match_across_title_brand_category_attributes_and_description() {
    let app = TestApp::with_small_catalog().await;
    assert_eq!(app.search_ids("q=lumo").await, vec!["lamp-1"]);
    assert_eq!(app.search_ids("q=drinkware+ceramic").await[0], "mug-1");
    assert_eq!(app.search_ids("q=grippy").await, vec!["shoe-1"]);
    assert_eq!(app.search_ids("q=clearance").await, vec!["shoe-3"]);
}

#[tokio::test]
async fn a_title_match_outranks_a_description_match() {
    let app = TestApp::with_small_catalog().await;
    // "straw" is in bottle-2's title and only in bottle-1's description.
    let hits = app.search_ids("q=straw").await;
    assert_eq!(hits, vec!["bottle-2", "bottle-1"]);
}

#[tokio::test]
async fn words_in_order_in_the_title_rank_first() {
    let app = TestApp::new();
    let body = "{\"id\":\"a\",\"title\":\"water bottle cap\",\"popularity\":0}\n{\"id\":\"b\",\"title\":\"bottle of water\",\"popularity\":0}\n";
    app.ndjson("/v1/products", body).await;
    assert_eq!(app.search_ids("q=water+bottle").await, vec!["a", "b"]);
    assert_eq!(app.search_ids("q=bottle+water").await, vec!["b", "a"]);
}

#[tokio::test]
async fn popularity_and_stock_break_otherwise_equal_text_scores() {
    let app = TestApp::new();
    let body = concat!(
        "{\"id\":\"low\",\"title\":\"plain mug\",\"popularity\":1}\n",
        "{\"id\":\"high\",\"title\":\"plain mug\",\"popularity\":5000}\n",
        "{\"id\":\"gone\",\"title\":\"plain mug\",\"popularity\":5000,\"in_stock\":false}\n",
    );
    app.ndjson("/v1/products", body).await;
    assert_eq!(app.search_ids("q=mug").await, vec!["high", "low", "gone"]);
}

#[tokio::test]
async fn equal_scores_come_back_in_the_same_order_every_time() {
    let app = TestApp::new();
    let body: String = (0..30)
        .map(|i| format!("{{\"id\":\"t{i}\",\"title\":\"same title\"}}\n"))
        .collect();
    app.ndjson("/v1/products", &body).await;
    let first = app.search_ids("q=same&limit=30").await;
    // Rewriting half the products moves them to a new segment; the order must not change.
    let half: String = (0..15)
        .map(|i| format!("{{\"id\":\"t{i}\",\"title\":\"same title\"}}\n"))
        .collect();
    app.ndjson("/v1/products", &half).await;
    assert_eq!(app.search_ids("q=same&limit=30").await, first);
    let page2 = app.search_ids("q=same&limit=10&offset=10").await;
    assert_eq!(page2, first[10..20].to_vec());
}

#[tokio::test]
async fn filters_narrow_the_results() {
    let app = TestApp::with_small_catalog().await;
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(app.search_ids("category=Home+%3E+Kitchen&limit=50").await),
        vec!["blender-1", "blender-2", "bottle-3", "mug-1"]
    );
    assert_eq!(
        sorted(
            app.search_ids("category=home+%3E+kitchen+%3E+blenders")
                .await
        ),
        vec!["blender-1", "blender-2"]
    );
    assert_eq!(
        sorted(app.search_ids("brand=acme&brand=ZOOM").await),
        vec!["shoe-1", "shoe-2", "shoe-3", "shoe-5"]
    );
    assert_eq!(
        sorted(app.search_ids("q=shoe&price_min=50&price_max=120").await),
        vec!["shoe-1", "shoe-2"]
    );
    assert_eq!(
        sorted(app.search_ids("q=running&in_stock=false").await),
        vec!["shoe-3"]
    );
    assert_eq!(
        sorted(app.search_ids("attr.color=red").await),
        vec!["shoe-1", "shoe-3"]
    );
    assert_eq!(
        sorted(app.search_ids("attr.color=red&attr.size=43").await),
        vec!["shoe-1"]
    );
    assert_eq!(
        sorted(
            app.search_ids("attr.material=glass&attr.material=steel")
                .await
        ),
        vec!["bottle-1", "bottle-3"]
    );
}

#[tokio::test]
async fn every_sort_orders_as_named_and_puts_missing_values_last() {
    let app = TestApp::with_small_catalog().await;
    let q = "category=Shoes";
    assert_eq!(
        app.search_ids(&format!("{q}&sort=price_asc")).await,
        vec!["shoe-3", "shoe-5", "shoe-2", "shoe-1", "shoe-4"]
    );
    assert_eq!(
        app.search_ids(&format!("{q}&sort=price_desc")).await,
        vec!["shoe-4", "shoe-1", "shoe-2", "shoe-5", "shoe-3"]
    );
    assert_eq!(
        app.search_ids(&format!("{q}&sort=newest")).await,
        vec!["shoe-4", "shoe-1", "shoe-2", "shoe-3", "shoe-5"]
    );
    assert_eq!(
        app.search_ids(&format!("{q}&sort=rating")).await,
        vec!["shoe-4", "shoe-1", "shoe-2", "shoe-5", "shoe-3"]
    );
    assert_eq!(
        app.search_ids(&format!("{q}&sort=popularity")).await,
        vec!["shoe-2", "shoe-5", "shoe-1", "shoe-3", "shoe-4"]
    );
    // mug-1 has no price: last both ways.
    let asc = app
        .search_ids("category=Home&sort=price_asc&limit=50")
        .await;
    let desc = app
        .search_ids("category=Home&sort=price_desc&limit=50")
        .await;
    assert_eq!(asc.last().unwrap(), "mug-1");
    assert_eq!(desc.last().unwrap(), "mug-1");
}

#[tokio::test]
async fn an_empty_query_browses_by_popularity() {
    let app = TestApp::with_small_catalog().await;
    let r = app.get("/v1/search?limit=3").await;
    assert_eq!(r.body["total"], 12);
    assert_eq!(ids(&r.body), vec!["bottle-1", "shoe-2", "blender-2"]);
}

#[tokio::test]
async fn facets_count_categories_by_level_brands_prices_and_attributes() {
    let app = TestApp::with_small_catalog().await;
    let r = app
        .get("/v1/search?facets=category,brand,price,attr.color&category=home&limit=0")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["total"], 5);
    assert!(r.body["hits"].as_array().unwrap().is_empty());
    let f = &r.body["facets"];
    assert_eq!(
        f["category"],
        json!([
            {"value": "Home", "path": ["Home"], "level": 1, "count": 5},
            {"value": "Kitchen", "path": ["Home", "Kitchen"], "level": 2, "count": 4},
            {"value": "Lighting", "path": ["Home", "Lighting"], "level": 2, "count": 1},
        ])
    );
    assert_eq!(
        f["brand"],
        json!([{"value": "Clearly", "count": 2}, {"value": "Mixo", "count": 2}, {"value": "Lumo", "count": 1}])
    );
    assert_eq!(
        f["price"],
        json!([{"min": 10.0, "max": 25.0, "count": 1}, {"min": 25.0, "max": 50.0, "count": 2}, {"min": 50.0, "max": 100.0, "count": 1}])
    );
    assert_eq!(
        f["attr.color"],
        json!([{"value": "Black", "count": 2}, {"value": "Clear", "count": 1}, {"value": "Silver", "count": 1}, {"value": "White", "count": 1}])
    );
}

#[tokio::test]
async fn post_search_takes_the_same_fields_as_json() {
    let app = TestApp::with_small_catalog().await;
    let get = app
        .get("/v1/search?q=shoe&brand=Acme&attr.color=red&sort=price_asc")
        .await;
    let post = app
        .json(
            Method::POST,
            "/v1/search",
            &json!({"q": "shoe", "brand": ["Acme"], "attr": {"color": "red"}, "sort": "price_asc"}),
        )
        .await;
    assert_eq!(post.status, StatusCode::OK);
    assert_eq!(ids(&get.body), ids(&post.body));
    assert_eq!(ids(&post.body), vec!["shoe-3", "shoe-1"]);
    assert_eq!(
        post.body["query"]["filters"],
        json!({"brand": ["Acme"], "attr.color": ["red"]})
    );
}

#[tokio::test]
async fn explain_adds_up_to_the_score() {
    let app = TestApp::with_small_catalog().await;
    let r = app.get("/v1/search?q=running+shoe&explain=true").await;
    for hit in r.body["hits"].as_array().unwrap() {
        let e = &hit["explain"];
        let mut product = e["text"].as_f64().unwrap();
        for stage in e["stages"].as_array().unwrap() {
            product *= stage["factor"].as_f64().unwrap();
        }
        let score = hit["score"].as_f64().unwrap();
        assert!((product - score).abs() < 1e-3 * score.max(1.0), "{hit}");
        assert!((e["score"].as_f64().unwrap() - score).abs() < 1e-9);
    }
    let r = app.get("/v1/search?q=running+shoe").await;
    assert!(r.body["hits"][0].get("explain").is_none());
}

#[tokio::test]
async fn the_answer_says_how_the_query_was_read() {
    let app = TestApp::with_small_catalog().await;
    let r = app.get("/v1/search?q=Running+Shoes&price_max=100").await;
    assert_eq!(r.body["query"]["terms"], json!(["run", "shoe"]));
    assert_eq!(r.body["query"]["filters"], json!({"price_max": 100.0}));
    assert_eq!(r.body["search_id"].as_str().unwrap().len(), 32);
    assert!(r.body["took_ms"].as_f64().unwrap() >= 0.0);
}

#[tokio::test]
async fn a_word_the_index_lacks_is_corrected_within_its_typo_budget() {
    let app = TestApp::with_small_catalog().await;
    let r = app.get("/v1/search?q=blendr").await;
    let mut hits = ids(&r.body);
    hits.sort();
    assert_eq!(hits, vec!["blender-1", "blender-2"]);
    assert_eq!(
        r.body["query"]["corrections"],
        json!([{"from": "blendr", "to": "blender"}])
    );
    // A swap of neighbours is one typo.
    let r = app.get("/v1/search?q=kitcehn").await;
    assert_eq!(r.body["query"]["corrections"][0]["to"], "kitchen");
    assert_eq!(r.body["total"], 4);
    // Two typos from nine letters, not before (while another word finds something).
    assert_eq!(app.search_ids("q=cuontertp").await, vec!["blender-1"]);
    assert_eq!(app.search_ids("q=cuntrtop+mug").await, vec!["mug-1"]);
}

#[tokio::test]
async fn corrections_follow_the_catalog_as_it_changes() {
    let app = TestApp::with_small_catalog().await;
    for _ in 0..2 {
        // The second time from what the snapshot remembers.
        let r = app.get("/v1/search?q=blendr").await;
        assert_eq!(r.body["query"]["corrections"][0]["to"], "blender");
    }
    // A product with the word arrives: the word is no longer a typo.
    let r = app
        .ndjson(
            "/v1/products",
            &json!({"id": "b", "title": "Blendr pro"}).to_string(),
        )
        .await;
    assert_eq!(r.body["failed"], 0);
    let r = app.get("/v1/search?q=blendr").await;
    assert!(r.body["query"].get("corrections").is_none(), "{}", r.body);
    assert_eq!(ids(&r.body), vec!["b"]);
}

#[tokio::test]
async fn short_words_model_codes_and_known_words_are_never_corrected() {
    let app = TestApp::with_small_catalog().await;
    // "lanp" is too short for a typo while something matches...
    let r = app.get("/v1/search?q=lanp+mug").await;
    assert_eq!(ids(&r.body), vec!["mug-1"]);
    assert!(r.body["query"].get("corrections").is_none());
    let r = app.get("/v1/search?q=rx7900").await;
    assert_eq!(r.body["total"], 0);
    assert!(r.body["query"].get("corrections").is_none());
    assert!(r.body["query"].get("relaxed").is_none());
    let r = app.get("/v1/search?q=lamp").await;
    assert!(r.body["query"].get("corrections").is_none());
    assert_eq!(ids(&r.body), vec!["lamp-1"]);
}

#[tokio::test]
async fn synonyms_from_config_apply_at_query_time_one_and_two_way() {
    let config = "[search.synonyms]\ngroups = [[\"tumbler\", \"water bottle\"]]\none_way = { jug = [\"bottle\"] }\n";
    let app = TestApp::with_config(config).load_small_catalog().await;
    // Two-way, with a multi-word alternative: "tumbler" finds the water bottles.
    let r = app.get("/v1/search?q=tumbler").await;
    let mut hits = ids(&r.body);
    hits.sort();
    assert_eq!(hits, vec!["bottle-1", "bottle-2", "bottle-3"]);
    assert_eq!(
        r.body["query"]["synonyms"],
        json!([{"from": "tumbler", "to": ["water bottl"]}])
    );
    // ... and the multi-word phrase finds its one-word partner's alternatives.
    let r = app.get("/v1/search?q=water+bottle").await;
    assert_eq!(r.body["query"]["synonyms"][0]["to"], json!(["tumbler"]));
    // One-way: "jug" finds bottles, "bottle" does not expand to "jug".
    assert_eq!(app.search_ids("q=jug").await.len(), 3);
    let r = app.get("/v1/search?q=bottle").await;
    assert!(r.body["query"].get("synonyms").is_none());
    // Without synonyms, nothing has the word.
    let plain = TestApp::with_small_catalog().await;
    assert!(plain.search_ids("q=tumbler").await.is_empty());
}

#[tokio::test]
async fn price_words_in_the_query_filter_and_are_not_matched_as_text() {
    let app = TestApp::with_small_catalog().await;
    let r = app
        .get("/v1/search?q=running+shoe+under+%24100&limit=20")
        .await;
    let mut hits = ids(&r.body);
    hits.sort();
    assert_eq!(hits, vec!["shoe-2", "shoe-3", "shoe-5"]);
    assert_eq!(r.body["query"]["q"], "running shoe under $100");
    assert_eq!(r.body["query"]["terms"], json!(["run", "shoe"]));
    assert_eq!(
        r.body["query"]["price"],
        json!({"max": 100.0, "words": "under $100"})
    );
    assert_eq!(r.body["query"]["filters"]["price_max"], 100.0);
    // French, and a range.
    let r = app.get("/v1/search?q=shoe+moins+de+50+%E2%82%AC").await;
    assert_eq!(r.body["query"]["price"]["max"], 50.0);
    let mut hits = ids(&r.body);
    hits.sort();
    assert_eq!(hits, vec!["shoe-3", "shoe-5"]);
    let r = app.get("/v1/search?q=blender+between+20+and+40").await;
    assert_eq!(ids(&r.body), vec!["blender-2"]);
    // Explicit bounds win: the words stay words.
    let r = app
        .get("/v1/search?q=shoe+under+%24100&price_max=50&limit=20")
        .await;
    assert!(r.body["query"].get("price").is_none());
    assert_eq!(r.body["query"]["filters"]["price_max"], 50.0);
}

#[tokio::test]
async fn a_search_that_finds_nothing_relaxes_the_price_read_from_words_then_typos() {
    let app = TestApp::with_small_catalog().await;
    // Nothing under $5: the price read from the words is dropped, and said so.
    let r = app.get("/v1/search?q=blender+under+%245").await;
    let mut hits = ids(&r.body);
    hits.sort();
    assert_eq!(hits, vec!["blender-1", "blender-2"]);
    assert_eq!(r.body["query"]["relaxed"], json!(["price"]));
    assert!(r.body["query"].get("price").is_none());
    assert!(r.body["query"]["filters"].get("price_max").is_none());
    // An explicit price filter is never relaxed.
    let r = app.get("/v1/search?q=blender&price_max=5").await;
    assert_eq!(r.body["total"], 0);
    assert!(r.body["query"].get("relaxed").is_none());
    // Nothing for a short misspelling: the typo budget widens (one typo from four letters).
    let r = app.get("/v1/search?q=lanp").await;
    assert_eq!(ids(&r.body), vec!["lamp-1"]);
    assert_eq!(r.body["query"]["relaxed"], json!(["typos"]));
    assert_eq!(
        r.body["query"]["corrections"],
        json!([{"from": "lanp", "to": "lamp"}])
    );
}

#[tokio::test]
async fn a_rare_word_found_counts_for_more_than_a_common_word_found() {
    // "case" is in every product's title, "walnut" in one product's description only.
    let app = TestApp::new();
    let mut lines: Vec<String> = (0..12)
        .map(|i| json!({"id": format!("case-{i}"), "title": format!("Phone case {i}")}).to_string())
        .collect();
    lines.push(
        json!({"id": "stand", "title": "Phone stand", "description": "Solid walnut."}).to_string(),
    );
    let r = app.ndjson("/v1/products", &lines.join("\n")).await;
    assert_eq!(r.body["failed"], 0);
    // Each product has one of the two words; the one with the word that sets it apart from
    // the rest of the catalog comes first, though the other word is in the others' titles.
    let hits = app.search_ids("q=walnut+case&limit=3").await;
    assert_eq!(hits[0], "stand");
    // Both words in one product still beat either alone.
    let r = app
        .ndjson(
            "/v1/products",
            &json!({"id": "walnut-case", "title": "Walnut case"}).to_string(),
        )
        .await;
    assert_eq!(r.body["failed"], 0);
    assert_eq!(
        app.search_ids("q=walnut+case&limit=3").await[..2],
        ["walnut-case", "stand"]
    );
}

#[tokio::test]
async fn a_search_answers_alike_on_the_thread_that_received_it_and_on_a_search_thread() {
    // Every search of the small catalog is narrow enough to run where it was received by
    // default; with the limit at 0, each runs on a search thread.
    let inline = TestApp::with_small_catalog().await;
    let pooled = TestApp::with_config("[server]\ninline_search_matches = 0\n")
        .load_small_catalog()
        .await;
    let requests = [
        "/v1/search?q=running+shoe&explain=true",
        "/v1/search?q=shoes+under+%2450&facets=category,brand,price,attr.color",
        "/v1/search?q=runnign+shoe",
        "/v1/search?q=&sort=price_asc&in_stock=true&limit=3&offset=1",
        "/v1/search?q=zzzzqx",
        "/v1/browse?category=Shoes&facets=tier",
    ];
    for uri in requests {
        let (a, b) = (inline.get(uri).await, pooled.get(uri).await);
        assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.body);
        let without_run = |mut body: serde_json::Value| {
            let answer = body.as_object_mut().expect("an object");
            answer.remove("search_id");
            answer.remove("took_ms");
            body
        };
        assert_eq!(without_run(a.body), without_run(b.body), "{uri}");
    }
}

#[tokio::test]
async fn a_hit_carries_what_a_product_card_shows() {
    // Regression: hits lacked in_stock, rating, review_count, currency and the attributes.
    let app = TestApp::with_small_catalog().await;
    let r = app.get("/v1/search?q=trail+running+shoe&limit=1").await;
    let hit = &r.body["hits"][0];
    assert_eq!(hit["id"], "shoe-1", "{}", r.body);
    assert_eq!(hit["in_stock"], true);
    assert_eq!(hit["rating"], 4.6);
    assert_eq!(hit["attributes"]["color"], json!(["Red"]));
    assert_eq!(hit["attributes"]["size"], json!(["42", "43"]));
    let r = app.get("/v1/search?q=budget+running+shoe").await;
    let budget = (r.body["hits"].as_array().unwrap().iter())
        .find(|h| h["id"] == "shoe-3")
        .expect("the budget shoe");
    assert_eq!(budget["in_stock"], false);
}

#[tokio::test]
async fn fields_choose_what_each_hit_returns_and_the_id_always_comes() {
    let app = TestApp::with_small_catalog().await;
    let r = app.get("/v1/search?q=shoe&fields=title,price").await;
    assert_eq!(r.status, StatusCode::OK);
    for hit in r.body["hits"].as_array().unwrap() {
        let mut keys: Vec<&str> = hit
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert!(
            keys == ["id", "price", "title"] || keys == ["id", "title"],
            "{keys:?}"
        );
    }
    let r = app.get("/v1/search?q=shoe&fields=title,colour").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("fields: unknown hit field \"colour\"")
    );
}

#[tokio::test]
async fn highlight_marks_the_matched_words_in_the_title_and_a_description_snippet() {
    let app = TestApp::with_small_catalog().await;
    let r = app
        .get("/v1/search?q=trail+run&highlight=true&limit=1")
        .await;
    let h = &r.body["hits"][0]["_highlight"];
    assert_eq!(
        h["title"], "<em>Trail</em> <em>Running</em> Shoe",
        "{}",
        r.body
    );
    assert_eq!(
        h["description"],
        "A lightweight <em>trail</em> <em>running</em> shoe with a grippy sole."
    );
    let r = app.get("/v1/search?q=trail&limit=1").await;
    assert!(r.body["hits"][0].get("_highlight").is_none());
}

#[tokio::test]
async fn several_products_are_read_in_one_request_in_the_order_asked() {
    let app = TestApp::with_small_catalog().await;
    let r = app.get("/v1/products?ids=shoe-2,nope,shoe-1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let ids: Vec<&str> = (r.body["products"].as_array().unwrap().iter())
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["shoe-2", "shoe-1"]);
    assert_eq!(r.body["not_found"], json!(["nope"]));
    assert_eq!(
        app.get("/v1/products").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn page_and_hits_per_page_page_through_the_matches() {
    let app = TestApp::with_small_catalog().await;
    let all = app.search_ids("q=shoe&limit=100").await;
    assert!(all.len() >= 3);
    let r = app.get("/v1/search?q=shoe&page=2&hits_per_page=2").await;
    assert_eq!(ids(&r.body), all[2..all.len().min(4)]);
    assert_eq!(r.body["page"], 2);
    assert_eq!(r.body["hits_per_page"], 2);
    assert_eq!(r.body["total_pages"], (all.len() as u64).div_ceil(2));
    let r = app.get("/v1/search?q=shoe&page=2&offset=3").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.get("/v1/search?q=shoe&page=0").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .get(&format!("/v1/search?q=shoe&page={}", usize::MAX))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_multi_search_answers_several_searches_in_order() {
    let app = TestApp::with_small_catalog().await;
    let body = json!({"queries": [{"q": "lamp"}, {"q": "shoe", "limit": 2, "fields": ["title"]}]});
    let r = app.json(Method::POST, "/v1/multi-search", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(ids(&results[0]), app.search_ids("q=lamp").await);
    assert_eq!(results[1]["hits"].as_array().unwrap().len(), 2);
    assert!(results[1]["hits"][0].get("price").is_none());
    let bad = json!({"queries": [{"q": "lamp"}, {"q": "shoe", "limit": 1000}]});
    let r = app.json(Method::POST, "/v1/multi-search", &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("queries[1].limit"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn an_unknown_key_in_a_search_body_is_an_unknown_parameter() {
    // Regression: {"foo": {...}} was reported as "foo: must be a string, number or boolean".
    let app = TestApp::with_small_catalog().await;
    let r = app
        .json(
            Method::POST,
            "/v1/search",
            &json!({"q": "x", "foo": {"a": 1}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["error"]["message"], "foo: unknown parameter");
}

#[tokio::test]
async fn a_facet_counts_as_if_its_own_filter_were_not_set_so_filters_can_be_multi_selected() {
    // Regression: with brand=Acme&facets=brand the brand facet listed only Acme.
    let app = TestApp::with_small_catalog().await;
    let all = app.get("/v1/search?q=shoe&facets=brand,attr.color").await;
    let one = app
        .get("/v1/search?q=shoe&brand=Acme&facets=brand,attr.color")
        .await;
    assert!(one.body["total"].as_u64() < all.body["total"].as_u64());
    for hit in one.body["hits"].as_array().unwrap() {
        assert_eq!(hit["brand"], "Acme");
    }
    // The brand facet ignores the brand filter: the same counts as without it.
    assert_eq!(one.body["facets"]["brand"], all.body["facets"]["brand"]);
    assert!(all.body["facets"]["brand"].as_array().unwrap().len() >= 2);
    // Other facets follow every filter.
    let acme_colors: u64 = (one.body["facets"]["attr.color"].as_array().unwrap().iter())
        .map(|v| v["count"].as_u64().unwrap())
        .sum();
    let all_colors: u64 = (all.body["facets"]["attr.color"].as_array().unwrap().iter())
        .map(|v| v["count"].as_u64().unwrap())
        .sum();
    assert!(acme_colors < all_colors, "{acme_colors} vs {all_colors}");
    // An attribute facet ignores its own attribute's filter too.
    let red = app
        .get("/v1/search?q=shoe&attr.color=red&facets=attr.color")
        .await;
    assert_eq!(
        red.body["facets"]["attr.color"],
        all.body["facets"]["attr.color"]
    );
}

#[tokio::test]
async fn the_price_facet_gives_the_lowest_and_highest_price_for_a_slider() {
    let app = TestApp::with_small_catalog().await;
    let all = app.get("/v1/search?q=shoe&limit=100").await;
    let prices: Vec<f64> = (all.body["hits"].as_array().unwrap().iter())
        .filter_map(|h| h["price"].as_f64())
        .collect();
    let lowest = prices.iter().cloned().fold(f64::MAX, f64::min);
    let highest = prices.iter().cloned().fold(f64::MIN, f64::max);
    let r = app.get("/v1/search?q=shoe&facets=price&price_max=70").await;
    assert_eq!(
        r.body["facets"]["price_stats"],
        json!({"min": lowest, "max": highest}),
        "{}",
        r.body
    );
    for hit in r.body["hits"].as_array().unwrap() {
        assert!(hit["price"].as_f64().unwrap() <= 70.0);
    }
}

#[tokio::test]
async fn a_filter_naming_what_no_product_has_says_why_nothing_was_found() {
    // Regression: attr.colour=red or category=Running silently answered 0 hits.
    let app = TestApp::with_small_catalog().await;
    let r = app.get("/v1/search?q=shoe&attr.colour=red").await;
    assert_eq!(r.body["total"], 0);
    let warning = r.body["warnings"][0].as_str().unwrap();
    assert!(
        warning.starts_with("attr.colour: no product has this attribute"),
        "{warning}"
    );
    assert!(warning.contains("color"), "{warning}");
    let r = app.get("/v1/search?q=shoe&category=Running").await;
    assert_eq!(r.body["total"], 0);
    let warning = r.body["warnings"][0].as_str().unwrap();
    assert!(warning.contains("\"Shoes > Running\""), "{warning}");
    let r = app.get("/v1/search?q=shoe&brand=Nobrand").await;
    assert!(
        r.body["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("brand:")
    );
    // A search that finds something carries no warnings.
    let r = app.get("/v1/search?q=shoe&attr.color=red").await;
    assert!(r.body["total"].as_u64().unwrap() > 0);
    assert!(r.body.get("warnings").is_none());
}
