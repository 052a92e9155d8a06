//! Delivery under one hard deadline: connect, send what the spool holds (oldest first,
//! each deleted only after its acknowledgement), publish the new event and wait for its
//! acknowledgement. Whatever does not make it in time goes to the spool.

use super::spool::{Spool, Spooled};
use crate::config::NatsConfig;
use crate::nats_client::{options, servers};
use async_nats::jetstream::{self, message::PublishMessage};
use std::time::Duration;

/// What became of a delivery.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// The event (if any) is in the stream; `flushed` spooled events went before it.
    Published { flushed: usize },
    /// NATS did not acknowledge in time; the event is in the spool.
    Spooled { reason: String },
    /// Nothing new to send, and the spool could not be emptied now.
    NotFlushed { reason: String },
    /// NATS failed and the spool refused the event too: it is lost unless the hook is retried.
    SpoolFailed { reason: String, error: String },
}

/// A message ready to publish; its id is derived from its content, so a retried or
/// repeated publish of the same event is dropped by the stream's duplicate window.
pub(crate) fn message(subject: &str, line: String) -> Spooled {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{subject}\n{line}").as_bytes(),
    );
    let msg_id = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Spooled {
        subject: subject.to_string(),
        msg_id,
        line,
    }
}

pub(crate) async fn deliver(
    nats: &NatsConfig,
    spool: &Spool,
    new: Option<Spooled>,
    deadline: Duration,
) -> Delivery {
    if new.is_none() && spool.pending().is_ok_and(|p| p.is_empty()) {
        return Delivery::Published { flushed: 0 };
    }
    let attempt = tokio::time::timeout(deadline, send(nats, spool, new.clone(), deadline)).await;
    let reason = match attempt {
        Ok(Ok(flushed)) => return Delivery::Published { flushed },
        Ok(Err(e)) => format!("{e:#}"),
        Err(_) => format!("no acknowledgement within {} ms", deadline.as_millis()),
    };
    match new {
        None => Delivery::NotFlushed { reason },
        Some(m) => match spool.write(&m) {
            Ok(_) => Delivery::Spooled { reason },
            Err(e) => Delivery::SpoolFailed {
                reason,
                error: e.to_string(),
            },
        },
    }
}

async fn send(
    nats: &NatsConfig,
    spool: &Spool,
    new: Option<Spooled>,
    deadline: Duration,
) -> anyhow::Result<usize> {
    let client = options(nats)
        .await?
        .name("jobledger-emit")
        .connection_timeout(deadline)
        .connect(servers(&nats.url)?)
        .await?;
    let js = jetstream::new(client.clone());
    let mut flushed = 0;
    for path in spool.pending()? {
        let m = match spool.read(&path) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!("{e}");
                continue;
            }
        };
        publish(&js, &m).await?;
        spool.remove(&path)?;
        flushed += 1;
    }
    if let Some(m) = new {
        publish(&js, &m).await?;
    }
    client.flush().await?;
    Ok(flushed)
}

async fn publish(js: &jetstream::Context, m: &Spooled) -> anyhow::Result<()> {
    let msg = PublishMessage::build()
        .payload(m.line.clone().into())
        .message_id(&m.msg_id);
    let ack = js.send_publish(m.subject.clone(), msg).await?.await?;
    if ack.duplicate {
        tracing::debug!(msg_id = %m.msg_id, "the stream already had this event");
    }
    Ok(())
}
