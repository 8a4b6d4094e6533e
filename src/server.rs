//! Serving: bind, serve the router, expire idle syncs, watch the configuration file, shut
//! down gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;

use crate::engine::Engine;
use crate::http;

/// A bound server, ready to run.
pub struct Server {
    listener: TcpListener,
    engine: Arc<Engine>,
}

impl Server {
    /// Binds the listen address (port 0 picks a free port).
    pub async fn bind(engine: Arc<Engine>, addr: SocketAddr) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Server { listener, engine })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes; in-flight requests finish, then pending writes are
    /// committed and the writer stops.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let engine = self.engine.clone();
        let sweeper = tokio::spawn(expire_syncs(engine.clone()));
        let snapshots = tokio::spawn(snapshot_profiles(engine.clone()));
        let suggestions = tokio::spawn(rebuild_suggestions(engine.clone()));
        let config_watch = tokio::spawn(crate::watch::watch_config(engine.clone()));
        let app = http::router(engine.clone());
        let config = engine.config();
        let limits = http::serve::Limits::new(
            config.server.max_connections.map(|n| n.get()),
            config.server.header_timeout,
        );
        tracing::info!(addr = %self.listener.local_addr()?, products = engine.index().len(), "attune listening");
        let served = http::serve::serve(self.listener, app, limits, shutdown).await;
        sweeper.abort();
        snapshots.abort();
        suggestions.abort();
        config_watch.abort();
        tokio::task::spawn_blocking(move || engine.close())
            .await
            .map_err(std::io::Error::other)?;
        tracing::info!("attune stopped");
        served
    }
}

async fn expire_syncs(engine: Arc<Engine>) {
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    loop {
        tick.tick().await;
        let syncs = engine.clone();
        let _ = tokio::task::spawn_blocking(move || syncs.syncs().expire(SystemTime::now())).await;
    }
}

/// Snapshots the profiles on the configured interval, so the journal stays short.
async fn snapshot_profiles(engine: Arc<Engine>) {
    let every = engine.config().profiles.snapshot_interval;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tick.tick().await;
        if let Err(e) = engine.snapshot_profiles().await {
            tracing::error!(error = %e, "profile snapshot failed");
        }
    }
}

/// Rebuilds the autocomplete suggestions at start-up and then on the configured interval,
/// when the catalog, the profiles or the configuration changed.
async fn rebuild_suggestions(engine: Arc<Engine>) {
    let mut tick = tokio::time::interval(engine.config().suggest.rebuild_interval);
    // A slow rebuild delays the next one instead of running several back to back.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match engine.refresh_suggestions().await {
            Ok(Some(stats)) => tracing::debug!(?stats, "suggestions rebuilt"),
            Ok(None) => tracing::trace!("suggestions up to date"),
            Err(e) => tracing::error!(error = %e, "suggestion rebuild failed"),
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
