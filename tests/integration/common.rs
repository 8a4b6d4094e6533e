//! Test helpers: an app over a temporary data directory, driven through the real router.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use attune::{Config, Engine, http};

/// The hand-written small catalog of `fixtures/`.
pub const SMALL_CATALOG: &str = include_str!("../../fixtures/small_catalog.ndjson");
/// The example merchandising rules of `fixtures/`.
pub const RULES: &str = include_str!("../../fixtures/rules.toml");
/// Hand-written edge cases, some invalid on purpose.
pub const EDGE_CASES: &str = include_str!("../../fixtures/edge_cases.ndjson");

/// An engine over a temporary directory and the router in front of it.
pub struct TestApp {
    pub engine: Arc<Engine>,
    pub router: Router,
    /// Kept so the directory outlives the engine.
    pub _dir: tempfile::TempDir,
}

/// A response: status and JSON body (Null when the body is not JSON).
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl TestApp {
    /// A fresh, empty app.
    pub fn new() -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = open_engine(dir.path(), Config::default());
        TestApp::from_parts(engine, dir)
    }

    /// The real router over an engine opened in `dir`, keeping the directory alive.
    pub fn from_parts(engine: Arc<Engine>, dir: tempfile::TempDir) -> TestApp {
        let router = http::router(engine.clone());
        TestApp {
            engine,
            router,
            _dir: dir,
        }
    }

    /// A fresh, empty app with a configuration file's settings.
    pub fn with_config(toml: &str) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config::parse(toml, Path::new("attune.toml")).expect("valid config");
        let engine = open_engine(dir.path(), config);
        TestApp::from_parts(engine, dir)
    }

    /// A fresh app whose configuration is read from files (`name`, text) written into a
    /// temporary directory; the first file is the configuration file.
    pub fn with_config_files(files: &[(&str, &str)]) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let conf = dir.path().join("conf");
        for (name, text) in files {
            write_file(&conf.join(name), text);
        }
        let config = Config::load(&conf.join(files[0].0), true).expect("valid config");
        let engine = open_engine(&dir.path().join("data"), config);
        TestApp::from_parts(engine, dir)
    }

    /// Rewrites a file of the configuration directory of [`TestApp::with_config_files`].
    pub fn write_config(&self, name: &str, text: &str) {
        write_file(&self._dir.path().join("conf").join(name), text);
    }

    /// Loads the small catalog into this app.
    pub async fn load_small_catalog(self) -> TestApp {
        let r = self.ndjson("/v1/products", SMALL_CATALOG).await;
        assert_eq!(r.body["failed"], 0, "{}", r.body);
        self
    }

    /// A fresh app holding the small catalog.
    pub async fn with_small_catalog() -> TestApp {
        let app = TestApp::new();
        let r = app.ndjson("/v1/products", SMALL_CATALOG).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["failed"], 0, "{}", r.body);
        app
    }

    /// Sends a request with an optional body and content type.
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        let request = builder.body(body.into()).expect("request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router is infallible");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, body }
    }

    /// GET a path.
    pub async fn get(&self, uri: &str) -> Reply {
        self.send(Method::GET, uri, None, Body::empty()).await
    }

    /// POST without a body.
    pub async fn post_empty(&self, uri: &str) -> Reply {
        self.send(Method::POST, uri, None, Body::empty()).await
    }

    /// Send a JSON body.
    pub async fn json(&self, method: Method, uri: &str, body: &Value) -> Reply {
        self.send(method, uri, Some("application/json"), body.to_string())
            .await
    }

    /// POST an NDJSON body.
    pub async fn ndjson(&self, uri: &str, body: &str) -> Reply {
        self.send(
            Method::POST,
            uri,
            Some("application/x-ndjson"),
            body.to_string(),
        )
        .await
    }

    /// Posts events as a JSON array, all of which must be accepted.
    pub async fn events(&self, events: Vec<Value>) {
        let r = self
            .json(Method::POST, "/v1/events", &Value::Array(events))
            .await;
        assert_eq!(r.body["failed"], 0, "{}", r.body);
    }

    /// Ids of the hits of a search.
    pub async fn search_ids(&self, query: &str) -> Vec<String> {
        let r = self.get(&format!("/v1/search?{query}")).await;
        assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.body);
        ids(&r.body)
    }
}

fn write_file(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a directory")).expect("config directory");
    std::fs::write(path, text).expect("config file written");
}

/// Opens an engine on a data directory.
pub fn open_engine(dir: &Path, mut config: Config) -> Arc<Engine> {
    config.override_data_dir(dir.to_path_buf());
    Engine::open(config).expect("engine opens")
}

/// The `id`s of `body.hits`.
pub fn ids(body: &Value) -> Vec<String> {
    body["hits"]
        .as_array()
        .map(|hits| {
            hits.iter()
                .map(|h| h["id"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Every file under a directory, read as bytes, contains `needle`?
pub fn on_disk(dir: &std::path::Path, needle: &str) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
            {
                return true;
            }
        }
    }
    false
}
