//! The search pool: a fixed set of threads that run searches and suggestion lookups, fed by
//! a bounded queue.
//!
//! Work is handed to the threads through one channel. Under load a thread finds the next
//! search already queued and runs it without sleeping, and the async worker collects several
//! answers per wake-up, so a search costs fewer thread switches than one `spawn_blocking` per
//! request (on one core the server answered a fifth more searches per second;
//! benches/README.md). A full queue turns the work away at once with
//! [`Error::Overloaded`] (a 503), so a burst cannot pile up unbounded work or memory.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crossbeam_channel::{Sender, TrySendError};

use crate::error::{Error, Result};

type Job = Box<dyn FnOnce() + Send>;

/// Threads running queued work; they stop when the pool is dropped.
pub struct SearchPool {
    jobs: Sender<Job>,
}

impl SearchPool {
    /// A pool of `threads` threads and room for `queue` jobs waiting for one (0: work is taken
    /// only when a thread is idle).
    pub fn new(threads: usize, queue: usize) -> Result<SearchPool> {
        let (jobs, waiting) = crossbeam_channel::bounded::<Job>(queue);
        for n in 0..threads.max(1) {
            let waiting = waiting.clone();
            std::thread::Builder::new()
                .name(format!("attune-search-{n}"))
                .spawn(move || {
                    for job in waiting {
                        // A panic is reported by the hook and answered as an internal error
                        // (the job's answer channel is dropped); the thread goes on.
                        let _ = catch_unwind(AssertUnwindSafe(job));
                    }
                })
                .map_err(|e| Error::Internal(format!("cannot start a search thread: {e}")))?;
        }
        Ok(SearchPool { jobs })
    }

    /// Runs `work` on a pool thread and waits for its answer; [`Error::Overloaded`] at once
    /// when the queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        what: &'static str,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = answer.send(work());
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(Error::Overloaded),
            Err(TrySendError::Disconnected(_)) => {
                return Err(Error::Internal(format!("{what}: the search pool stopped")));
            }
        }
        answered
            .await
            .map_err(|_| Error::Internal(format!("{what} task failed")))?
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_beyond_the_threads_and_the_queue_is_turned_away_at_once() {
        let pool = std::sync::Arc::new(SearchPool::new(1, 1).unwrap());
        let (release, released) = mpsc::channel::<()>();
        let (started, running) = mpsc::channel::<()>();
        let busy = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run("first", move || {
                    started.send(()).unwrap();
                    released.recv().unwrap();
                    Ok(1)
                })
                .await
            })
        };
        running.recv().unwrap();
        let queued = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run("second", || Ok(2)).await })
        };
        // The second job waits in the queue; a third finds it full.
        while pool.jobs.is_empty() {
            tokio::task::yield_now().await;
        }
        assert!(matches!(
            pool.run("third", || Ok(3)).await,
            Err(Error::Overloaded)
        ));
        release.send(()).unwrap();
        assert_eq!(busy.await.unwrap().unwrap(), 1);
        assert_eq!(queued.await.unwrap().unwrap(), 2);
        assert_eq!(pool.run("fourth", || Ok(4)).await.unwrap(), 4);
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_internal_error_and_the_pool_goes_on() {
        let pool = SearchPool::new(1, 4).unwrap();
        let failed = pool
            .run("search", || -> Result<()> { panic!("a bug in a search") })
            .await;
        assert!(matches!(failed, Err(Error::Internal(m)) if m.contains("search")));
        assert_eq!(pool.run("search", || Ok("next")).await.unwrap(), "next");
    }
}
