//! The real binary on a real port: HTTP end to end, durability across `kill -9`, graceful stop.

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::Method;

use crate::process::{JSON, NDJSON, Process};

fn batch(from: usize, to: usize) -> String {
    (from..to)
        .map(|i| format!("{{\"id\":\"p{i}\",\"title\":\"Product number {i}\",\"price\":{i}}}\n"))
        .collect()
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let server = Process::start(dir.path());
    server.ready().await;
    let mut acknowledged = 0;
    for round in 0..5 {
        let body = batch(round * 200, round * 200 + 200);
        let (status, reply) = server
            .call(Method::POST, "/v1/products", Some(NDJSON), body)
            .await;
        assert_eq!(status, 200);
        acknowledged += reply["upserted"].as_u64().unwrap();
    }
    let patch = r#"{"title": "Patched seven"}"#.to_string();
    let (status, _) = server
        .call(Method::PATCH, "/v1/products/p7", Some(JSON), patch)
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .call(Method::DELETE, "/v1/products/p8", None, String::new())
        .await;
    assert_eq!(status, 200);
    drop(server); // SIGKILL: no shutdown hook runs

    let server = Process::start(dir.path());
    let health = server.ready().await;
    assert_eq!(health["products"].as_u64().unwrap(), acknowledged - 1);
    let (_, p) = server
        .call(Method::GET, "/v1/products/p7", None, String::new())
        .await;
    assert_eq!(p["title"], "Patched seven");
    let (status, _) = server
        .call(Method::GET, "/v1/products/p8", None, String::new())
        .await;
    assert_eq!(status, 404);
    let query = "/v1/search?q=product+number&price_min=990";
    let (_, found) = server.call(Method::GET, query, None, String::new()).await;
    assert_eq!(found["total"], 10);
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let server = Process::start(dir.path());
    server.ready().await;
    let status = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(exit) = server.lock().try_wait().unwrap() {
            assert!(exit.success(), "exit status {exit}");
            break;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn every_acknowledged_event_survives_kill_9_in_the_middle_of_ingestion() {
    let dir = tempfile::tempdir().unwrap();
    let server = std::sync::Arc::new(Process::start(dir.path()));
    server.ready().await;
    let mut writers = Vec::new();
    for w in 0..4 {
        let server = server.clone();
        writers.push(tokio::spawn(async move {
            let mut acknowledged = 0u64;
            for round in 0..1000 {
                let body: String = (0..50)
                    .map(|i| {
                        format!("{{\"type\":\"view\",\"visitor_id\":\"w{w}\",\"product_id\":\"p{round}-{i}\"}}\n")
                    })
                    .collect();
                match server.try_call(Method::POST, "/v1/events", Some(NDJSON), body).await {
                    Some((200, reply)) => acknowledged += reply["accepted"].as_u64().unwrap(),
                    _ => break,
                }
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    server.kill();
    let mut acknowledged = Vec::new();
    for w in writers {
        acknowledged.push(w.await.unwrap());
    }
    assert!(
        acknowledged.iter().all(|n| *n > 0),
        "writers got answers before the kill"
    );

    let server = Process::start(dir.path());
    server.ready().await;
    for (w, acked) in acknowledged.iter().enumerate() {
        let (status, profile) = server
            .call(
                Method::GET,
                &format!("/v1/visitors/w{w}"),
                None,
                String::new(),
            )
            .await;
        assert_eq!(status, 200);
        let recovered = profile["counters"]["events"].as_u64().unwrap();
        // Acknowledged events are all there; at most the one batch in flight may be extra.
        assert!(
            recovered >= *acked && recovered <= acked + 50,
            "w{w}: {recovered} recovered, {acked} acknowledged"
        );
    }
}

#[tokio::test]
async fn suggestions_are_built_at_start_up_from_the_catalog_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    {
        let server = Process::start(dir.path());
        server.ready().await;
        let body = crate::common::SMALL_CATALOG.to_string();
        let (status, _) = server
            .call(Method::POST, "/v1/products", Some(NDJSON), body)
            .await;
        assert_eq!(status, 200);
    }
    let server = Process::start(dir.path());
    server.ready().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, found) = server
            .call(Method::GET, "/v1/autocomplete?q=ac", None, String::new())
            .await;
        assert_eq!(status, 200, "{found}");
        if found["suggestions"][0]["text"] == "Acme" {
            break;
        }
        assert!(Instant::now() < deadline, "no start-up rebuild: {found}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
