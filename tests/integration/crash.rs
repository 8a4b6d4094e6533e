//! Regressions found under crash and hostile testing (issue 16), against the real binary:
//! what a `kill -9` leaves behind must never stop the server from finishing what it
//! acknowledged, and slow clients must not lock everyone else out.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use crate::common::on_disk;
use crate::process::{NDJSON, Process};

fn products(from: usize, to: usize) -> String {
    (from..to)
        .map(|i| format!("{{\"id\":\"s{i}\",\"title\":\"Staged product {i}\"}}\n"))
        .collect()
}

#[tokio::test]
async fn a_sync_torn_by_a_crash_mid_push_still_commits_after_a_restart() {
    // Regression: the partial last line of the staging file was kept on restart, the next
    // push was appended to it, and every commit answered 500 "corrupt staging line".
    let dir = tempfile::tempdir().unwrap();
    let server = Process::start(dir.path());
    server.ready().await;
    let (status, sync) = server
        .call(Method::POST, "/v1/catalog/syncs", None, String::new())
        .await;
    assert_eq!(status, 201, "{sync}");
    let id = sync["sync_id"].as_str().unwrap().to_string();
    let push = format!("/v1/products?sync_id={id}");
    let (status, _) = server
        .call(Method::POST, &push, Some(NDJSON), products(0, 20))
        .await;
    assert_eq!(status, 200);
    server.kill();
    // What a kill in the middle of the next push's write leaves.
    let staging = dir.path().join("syncs").join(format!("{id}.ndjson"));
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&staging)
        .unwrap();
    file.write_all(br#"{"id":"s999","title":"torn"#).unwrap();
    drop(file);

    let server = Process::start(dir.path());
    server.ready().await;
    let (status, pushed) = server
        .call(Method::POST, &push, Some(NDJSON), products(20, 23))
        .await;
    assert_eq!(
        (status, &pushed["upserted"]),
        (200, &Value::from(3)),
        "{pushed}"
    );
    let commit = format!("/v1/catalog/syncs/{id}/commit");
    let (status, committed) = server
        .call(Method::POST, &commit, None, String::new())
        .await;
    assert_eq!(status, 200, "{committed}");
    assert_eq!(committed["products"], 23);
    let (status, _) = server
        .call(Method::GET, "/v1/products/s999", None, String::new())
        .await;
    assert_eq!(status, 404, "the torn product was never acknowledged");
}

/// Events of `visitor` about a product whose id only this visitor's events carry.
fn events_of(visitor: &str, n: usize) -> String {
    (0..n)
        .map(|i| {
            format!("{{\"type\":\"view\",\"visitor_id\":\"{visitor}\",\"product_id\":\"p{i}\"}}\n")
        })
        .collect()
}

#[tokio::test]
async fn an_erasure_interrupted_by_kill_9_leaves_nothing_on_disk_once_repeated() {
    // Regression: killed within 0-80 ms of DELETE /v1/visitors/{id}, the server came back
    // with the profile gone but its events still in a journal segment, and a repeated DELETE
    // answered 404 and purged nothing. Whatever moment the kill hits, the erasure is either
    // finished at start-up or by the repeated request.
    let dir = tempfile::tempdir().unwrap();
    for (round, delay_ms) in [0u64, 2, 5, 10, 20, 40].into_iter().enumerate() {
        let visitor = format!("erase-me-{round}");
        let server = std::sync::Arc::new(Process::start(dir.path()));
        server.ready().await;
        let (status, _) = server
            .call(
                Method::POST,
                "/v1/events",
                Some(NDJSON),
                events_of(&visitor, 30),
            )
            .await;
        assert_eq!(status, 200);
        let deleting = {
            let server = server.clone();
            let path = format!("/v1/visitors/{visitor}");
            tokio::spawn(async move {
                server
                    .try_call(Method::DELETE, &path, None, String::new())
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        server.kill();
        let _ = deleting.await;
        drop(server);

        let server = Process::start(dir.path());
        server.ready().await;
        let (status, reply) = server
            .call(
                Method::DELETE,
                &format!("/v1/visitors/{visitor}"),
                None,
                String::new(),
            )
            .await;
        assert_eq!(status, 200, "round {round}: {reply}");
        let (status, _) = server
            .call(
                Method::GET,
                &format!("/v1/visitors/{visitor}"),
                None,
                String::new(),
            )
            .await;
        assert_eq!(status, 404);
        assert!(
            !on_disk(&dir.path().join("profiles"), &visitor),
            "round {round} (kill after {delay_ms} ms): the visitor's events are still on disk"
        );
        server.kill();
    }
}

#[tokio::test]
async fn a_batch_retried_after_kill_9_counts_its_events_once() {
    // Regression: a batch that was never acknowledged (the server was killed) had been
    // partly applied; retrying the whole batch counted those events twice.
    let dir = tempfile::tempdir().unwrap();
    let batch: String = (0..40)
        .map(|i| {
            format!("{{\"type\":\"view\",\"visitor_id\":\"retrier\",\"product_id\":\"p{i}\",\"event_id\":\"retrier-{i}\"}}\n")
        })
        .collect();
    let server = Process::start(dir.path());
    server.ready().await;
    // The first half was applied before the kill.
    let first_half: String = batch.lines().take(20).map(|l| format!("{l}\n")).collect();
    let (status, reply) = server
        .call(Method::POST, "/v1/events", Some(NDJSON), first_half)
        .await;
    assert_eq!((status, &reply["accepted"]), (200, &Value::from(20)));
    server.kill();

    let server = Process::start(dir.path());
    server.ready().await;
    let (status, reply) = server
        .call(Method::POST, "/v1/events", Some(NDJSON), batch)
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["accepted"], 20, "{reply}");
    assert_eq!(reply["duplicates"], 20, "{reply}");
    let (_, profile) = server
        .call(Method::GET, "/v1/visitors/retrier", None, String::new())
        .await;
    assert_eq!(profile["counters"]["events"], 40);
}

/// Opens a connection that sends part of a request head and then nothing.
fn slow_client(base: &str) -> TcpStream {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    stream
}

/// Whether the server closed the connection (a read sees the end of the stream).
fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            // An error page for the timeout may come first.
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

fn config_file(dir: &Path, text: &str) -> String {
    let path = dir.join("attune.toml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[tokio::test]
async fn connections_that_send_no_whole_request_head_or_idle_are_closed() {
    // Regression: connections that sent an incomplete request head were kept for 180 s and
    // more; about 1,000 of them used up the open files and the server stopped answering.
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), "[server]\nheader_timeout_seconds = 2\n");
    let server = Process::start_with(&dir.path().join("data"), &["--config", &config]);
    server.ready().await;
    let started = Instant::now();
    let mut slow: Vec<TcpStream> = (0..20).map(|_| slow_client(&server.base)).collect();
    // While they hold their connections, a real client is answered.
    let (status, _) = server
        .call(Method::GET, "/health", None, String::new())
        .await;
    assert_eq!(status, 200);
    for (i, stream) in slow.iter_mut().enumerate() {
        let left = Duration::from_secs(10).saturating_sub(started.elapsed());
        assert!(
            closed_by_server(stream, left.max(Duration::from_millis(10))),
            "slow client {i} still open after {:?}",
            started.elapsed()
        );
    }
    // A kept-alive connection idle after its request is closed too.
    let mut idle = TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(closed_by_server(&mut idle, Duration::from_secs(8)));
}

#[tokio::test]
async fn a_flood_of_slow_clients_beyond_the_cap_cannot_lock_out_health_checks() {
    // With a header timeout of a minute, slow clients filling the connection cap would lock
    // everyone out for that minute; those accepted near the cap get one second instead.
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(
        dir.path(),
        "[server]\nheader_timeout_seconds = 60\nmax_connections = 40\n",
    );
    let server = Process::start_with(&dir.path().join("data"), &["--config", &config]);
    server.ready().await;
    let _slow: Vec<TcpStream> = (0..60).map(|_| slow_client(&server.base)).collect();
    let started = Instant::now();
    loop {
        let answer = server
            .try_call(Method::GET, "/health", None, String::new())
            .await;
        if answer.is_some_and(|(status, _)| status == 200) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "/health did not answer while slow clients held the connections"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
