//! The real binary on a real port: start it, speak HTTP to it, kill it.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

/// NDJSON bodies.
pub const NDJSON: &str = "application/x-ndjson";
/// JSON bodies.
pub const JSON: &str = "application/json";

/// A running `attune serve`, killed (SIGKILL) when dropped.
pub struct Process {
    child: std::sync::Mutex<Child>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    client: reqwest::Client,
    /// Where the server's stderr goes.
    log: std::path::PathBuf,
}

impl Process {
    /// Starts `attune serve` on a free port over `data_dir`.
    pub fn start(data_dir: &Path) -> Process {
        Process::start_with(data_dir, &[])
    }

    /// Like [`Process::start`], with more arguments (`--config`, say).
    pub fn start_with(data_dir: &Path, extra: &[&str]) -> Process {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // The server's log goes beside the data directory, so a failure can show it.
        let log_path = data_dir.with_extension(format!("{port}.log"));
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_attune"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data_dir)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the attune binary starts");
        Process {
            child: std::sync::Mutex::new(child),
            log: log_path,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        }
    }

    /// Sends a request and returns the status and the JSON body (Null if not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: String,
    ) -> (u16, Value) {
        self.try_call(method, path, content_type, body)
            .await
            .expect("the server answers")
    }

    /// Like [`Process::call`], but None when the server does not answer (it was killed).
    pub async fn try_call(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: String,
    ) -> Option<(u16, Value)> {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(ct) = content_type {
            request = request.header("content-type", ct).body(body);
        }
        let response = request.send().await.ok()?;
        let status = response.status().as_u16();
        let body = response.bytes().await.ok()?;
        Some((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
    }

    /// SIGKILL: no shutdown hook runs.
    pub fn kill(&self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.pid().to_string()])
            .status();
        // Reap it: only then are its files (the index lock among them) surely closed, so a
        // restart right after never finds the lock still held.
        let _ = self.lock().wait();
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Child> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn pid(&self) -> u32 {
        self.lock().id()
    }

    pub async fn ready(&self) -> Value {
        // Generous: a debug build replaying a journal of thousands of events while the other
        // tests load both cores once took longer than 30 s to come up.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = self
                .client
                .get(format!("{}/health", self.base))
                .send()
                .await
            {
                return r.json().await.unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "server did not come up; its log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let mut child = self.lock();
        let _ = child.kill();
        let _ = child.wait();
    }
}
