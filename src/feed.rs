//! The change feed behind `GET /api/events`.
//!
//! Whoever commits a change (ingest, HTTP, the held-stop sweeper, the archiver) hands it
//! to [`Feed::publish`] after the commit. Streams of this process see it at once through
//! a broadcast channel. Other jobledger processes sharing the database see it through a
//! core NATS subject of the deployment: each process relays what the others publish, so a
//! dashboard connected to any one process sees every change. The feed is a live view,
//! not a ledger: a slow client is told how much it missed, and the database stays the
//! truth.

use crate::domain::change::Change;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

/// Batches a stream may fall behind by before it is told it lagged.
const LOCAL_CAPACITY: usize = 1024;
/// Batches waiting for NATS; beyond this, other processes miss them (logged).
const RELAY_CAPACITY: usize = 1024;
/// Changes per NATS message, well under NATS' 1 MB default payload limit.
const CHANGES_PER_MESSAGE: usize = 10_000;

pub type Batch = Arc<Vec<Change>>;

#[derive(Serialize, Deserialize)]
struct Wire {
    /// The publishing process, so it does not hear its own changes twice.
    origin: String,
    changes: Vec<Change>,
}

pub struct Feed {
    local: broadcast::Sender<Batch>,
    /// To the task that publishes on NATS; `None` in a process without NATS.
    outbox: Option<mpsc::Sender<Batch>>,
}

impl Feed {
    /// A feed local to this process.
    pub fn local() -> Feed {
        Feed {
            local: broadcast::channel(LOCAL_CAPACITY).0,
            outbox: None,
        }
    }

    /// A feed shared over NATS `subject` by every process of the deployment. Returns the
    /// task to spawn; it runs until `shutdown`.
    pub fn shared(
        nats: async_nats::Client,
        subject: String,
        shutdown: CancellationToken,
    ) -> (Feed, impl std::future::Future<Output = ()>) {
        let (tx, rx) = mpsc::channel(RELAY_CAPACITY);
        let feed = Feed {
            local: broadcast::channel(LOCAL_CAPACITY).0,
            outbox: Some(tx),
        };
        let task = relay(nats, subject, feed.local.clone(), rx, shutdown);
        (feed, task)
    }

    /// Announce committed changes. Never waits: the ingest loop must not slow down for
    /// viewers.
    pub fn publish(&self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let batch: Batch = Arc::new(changes);
        // No receiver is not an error: nobody is watching.
        let _ = self.local.send(batch.clone());
        if let Some(outbox) = &self.outbox {
            if outbox.try_send(batch).is_err() {
                tracing::debug!("change feed relay is behind; other processes miss a batch");
            }
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Batch> {
        self.local.subscribe()
    }
}

/// Publish this process's batches on NATS and pass on everyone else's.
async fn relay(
    nats: async_nats::Client,
    subject: String,
    local: broadcast::Sender<Batch>,
    mut outbox: mpsc::Receiver<Batch>,
    shutdown: CancellationToken,
) {
    let origin = format!(
        "{}-{}-{}",
        crate::host::server_id(),
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    let subscribed = tokio::select! {
        _ = shutdown.cancelled() => return,
        s = nats.subscribe(subject.clone()) => s,
    };
    let mut inbox = match subscribed {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), %subject, "cannot hear other processes' changes");
            None
        }
    };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(batch) = outbox.recv() => {
                for chunk in batch.chunks(CHANGES_PER_MESSAGE) {
                    let wire = Wire { origin: origin.clone(), changes: chunk.to_vec() };
                    let Ok(bytes) = serde_json::to_vec(&wire) else { continue };
                    if let Err(e) = nats.publish(subject.clone(), bytes.into()).await {
                        tracing::debug!(error = format!("{e:#}"), "publishing changes to other processes failed");
                    }
                }
            }
            Some(msg) = async { match inbox.as_mut() { Some(s) => futures::StreamExt::next(s).await, None => None } } => {
                match serde_json::from_slice::<Wire>(&msg.payload) {
                    Ok(w) if w.origin != origin => { let _ = local.send(Arc::new(w.changes)); }
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = format!("{e:#}"), "ignoring a malformed change message"),
                }
            }
        }
    }
}

/// The deployment's change subject: one per stream, so separate deployments (and tests)
/// sharing a NATS server never hear each other.
pub fn subject(stream: &str) -> String {
    format!("jobledger.changes.{stream}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::change::ChangeKind;

    #[tokio::test]
    async fn local_subscribers_get_each_published_batch() {
        let feed = Feed::local();
        let mut rx = feed.subscribe();
        feed.publish(vec![]);
        feed.publish(vec![Change {
            kind: ChangeKind::Started,
            id: 7,
        }]);
        let got = rx.recv().await.unwrap();
        assert_eq!(
            got.as_slice(),
            &[Change {
                kind: ChangeKind::Started,
                id: 7
            }]
        );
    }
}
