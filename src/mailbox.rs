//! The queue in front of a worker thread (the index writer, the profile journal), closable.
//!
//! Closing drops the only sender: the worker drains what is already queued, sees the channel
//! end, finishes its work and exits. Unlike a "stop" message this cannot be lost to a full
//! queue, and it needs no blocking send from code that may run on an async worker.

use std::sync::RwLock;

use tokio::sync::mpsc;

use crate::error::{Error, Result};

/// A closable handle to a bounded channel.
pub struct Mailbox<T> {
    sender: RwLock<Option<mpsc::Sender<T>>>,
}

impl<T> Mailbox<T> {
    /// Wraps a channel's sender.
    pub fn new(sender: mpsc::Sender<T>) -> Self {
        Mailbox {
            sender: RwLock::new(Some(sender)),
        }
    }

    /// Queues a message, waiting while the queue is full; fails once closed.
    pub async fn send(&self, message: T) -> Result<()> {
        let sender = self
            .sender
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(Error::WriterGone)?;
        sender.send(message).await.map_err(|_| Error::WriterGone)
    }

    /// Closes the queue: later sends fail; the worker ends after the queued messages.
    pub fn close(&self) {
        self.sender
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }
}
