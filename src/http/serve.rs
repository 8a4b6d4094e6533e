//! The connection loop: accepts TCP connections and serves HTTP/1 on each, with the limits a
//! server on the public internet needs and `axum::serve` does not set.
//!
//! - A request's head must arrive within the header timeout, and a kept-alive connection may
//!   idle between requests no longer than that (hyper runs the same timer while it waits for
//!   the next head). Clients that open connections and send nothing, or a byte at a time
//!   (slowloris), are closed.
//! - At most `max_connections` are served at once, below the process's open-file limit, so
//!   the index and journal can always open their files; a connection beyond the cap is closed
//!   at once. Once three quarters of the cap are in use, new connections get a short header
//!   timeout: a flood of slow clients cannot keep the cap full, and a real client, which
//!   sends its request as soon as it connects, is still served (`/health` keeps answering).
//! - Accept errors (the file limit reached anyway) are logged at most once a second and
//!   retried after a short pause instead of spinning.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The connection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time to send a request's head, and to idle between requests.
    pub header_timeout: Duration,
}

/// The header timeout of connections accepted while the cap is nearly reached.
const PRESSED_HEADER_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a graceful shutdown waits for open connections to finish their requests.
const DRAIN: Duration = Duration::from_secs(30);
/// Open files kept for the index, the journal and the syncs when the cap is derived from the
/// open-file limit.
const RESERVED_FILES: u64 = 256;

impl Limits {
    /// The configured limits; without a configured cap, one derived from the open-file limit,
    /// which is first raised to the hard limit where the system allows it.
    pub fn new(max_connections: Option<usize>, header_timeout: Duration) -> Limits {
        let max_connections = max_connections.unwrap_or_else(|| {
            let files = raise_file_limit();
            files.saturating_sub(RESERVED_FILES).clamp(16, 100_000) as usize
        });
        Limits {
            max_connections,
            header_timeout,
        }
    }

    /// The header timeout for a connection accepted with `in_use` connections open.
    fn header_timeout(&self, in_use: usize) -> Duration {
        if in_use * 4 >= self.max_connections * 3 {
            self.header_timeout.min(PRESSED_HEADER_TIMEOUT)
        } else {
            self.header_timeout
        }
    }
}

/// Raises the soft open-file limit to the hard one; returns the soft limit in force.
fn raise_file_limit() -> u64 {
    let Ok((soft, hard)) = rlimit::getrlimit(rlimit::Resource::NOFILE) else {
        return 1024;
    };
    match rlimit::increase_nofile_limit(hard) {
        Ok(raised) => raised,
        Err(e) => {
            tracing::warn!(soft, error = %e, "cannot raise the open-file limit");
            soft
        }
    }
}

/// Serves `app` on every connection `listener` accepts until `shutdown` completes; then stops
/// accepting and lets open connections finish the requests they are serving (up to 30 s).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut complaints = Complaints::default();
    tracing::info!(
        max_connections = limits.max_connections,
        header_timeout_s = limits.header_timeout.as_secs(),
        "serving connections"
    );
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    if !is_connection_error(&e) {
                        complaints.say(|| tracing::error!(error = %e, "accept error"));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            complaints.say(|| {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    "connection cap reached; closing new connections"
                )
            });
            continue;
        };
        let in_use = limits.max_connections - slots.available_permits();
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout(in_use));
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that goes away or times out is not an error of the server's.
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {DRAIN:?}; closing them");
    }
    Ok(())
}

/// Errors that concern one connection only (it went away before it was accepted).
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// Logs a repeated complaint at most once a second.
#[derive(Default)]
struct Complaints {
    last: Option<Instant>,
}

impl Complaints {
    fn say(&mut self, log: impl FnOnce()) {
        if self
            .last
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            self.last = Some(Instant::now());
            log();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_connections_get_the_short_header_timeout_once_three_quarters_are_in_use() {
        let limits = Limits {
            max_connections: 100,
            header_timeout: Duration::from_secs(10),
        };
        assert_eq!(limits.header_timeout(0), Duration::from_secs(10));
        assert_eq!(limits.header_timeout(74), Duration::from_secs(10));
        assert_eq!(limits.header_timeout(75), PRESSED_HEADER_TIMEOUT);
        assert_eq!(limits.header_timeout(100), PRESSED_HEADER_TIMEOUT);
    }

    #[test]
    fn a_derived_cap_stays_below_the_open_file_limit() {
        let limits = Limits::new(None, Duration::from_secs(10));
        let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        assert!((limits.max_connections as u64) < soft);
        assert_eq!(Limits::new(Some(7), Duration::ZERO).max_connections, 7);
    }
}
