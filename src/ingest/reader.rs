//! Reading the consumer's messages. Whatever has arrived forms the next batch: small
//! batches (low latency) when traffic is light, large ones (high throughput) when it is
//! heavy. What arrives while a batch is applied is read ahead and, like the batch in hand,
//! gets in-progress acknowledgements, so a slow batch (a database outage, a locked SQLite
//! file) outlasting `ack_wait` has nothing redelivered. The consumer's max_ack_pending
//! bounds how many messages can wait here.

use super::batch::keep_alive;
use async_nats::jetstream::consumer::pull::{MessagesError, Stream};
use async_nats::jetstream::Message;
use futures::stream::ReadyChunks;
use futures::StreamExt;
use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;
use tokio::time::{interval_at, Instant, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

pub(super) struct Reader {
    chunks: ReadyChunks<Stream>,
    ahead: VecDeque<Message>,
    /// The stream's first error: reported once the messages before it are applied.
    failure: Option<MessagesError>,
    ended: bool,
    /// One clock for the whole session, not one per batch: a backlog drained in many
    /// short batches keeps the messages still waiting alive too.
    keep_alive: Interval,
    batch_size: usize,
}

impl Reader {
    pub(super) fn new(messages: Stream, batch_size: usize, ack_wait: Duration) -> Reader {
        let every = (ack_wait / 3).max(Duration::from_millis(300));
        let mut keep_alive = interval_at(Instant::now() + every, every);
        keep_alive.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Reader {
            chunks: messages.ready_chunks(batch_size),
            ahead: VecDeque::new(),
            failure: None,
            ended: false,
            keep_alive,
            batch_size,
        }
    }

    /// The next batch; `None` if shutdown came first.
    pub(super) async fn next_batch(
        &mut self,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Option<Vec<Message>>> {
        while self.ahead.is_empty() {
            if let Some(e) = self.failure.take() {
                return Err(e.into());
            }
            if self.ended {
                anyhow::bail!("the JetStream message stream ended");
            }
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(None),
                // Outside tokio's cooperative budget: with it, the channel reports "empty"
                // after ~128 operations per tick and batches shrink to a few dozen
                // messages, each paying a full commit (measured: 72 on average instead of
                // hundreds).
                c = tokio::task::unconstrained(self.chunks.next()) => self.absorb(c),
            }
        }
        let n = self.ahead.len().min(self.batch_size);
        Ok(Some(self.ahead.drain(..n).collect()))
    }

    /// Drive `work`, the application of `batch`, to its end, reading ahead meanwhile and
    /// keeping every message in hand alive. Returns what `work` returns.
    pub(super) async fn while_applying(
        &mut self,
        batch: &[Message],
        work: impl Future<Output = bool>,
    ) -> bool {
        tokio::pin!(work);
        loop {
            tokio::select! {
                biased;
                done = &mut work => return done,
                _ = self.keep_alive.tick() => {
                    keep_alive(batch).await;
                    keep_alive(self.ahead.make_contiguous()).await;
                }
                c = tokio::task::unconstrained(self.chunks.next()),
                    if self.failure.is_none() && !self.ended => self.absorb(c),
            }
        }
    }

    /// Keep the messages of one read of the stream, and its first error.
    fn absorb(&mut self, chunk: Option<Vec<Result<Message, MessagesError>>>) {
        let Some(chunk) = chunk else {
            self.ended = true;
            return;
        };
        for m in chunk {
            match m {
                Ok(m) => self.ahead.push_back(m),
                Err(e) => {
                    self.failure.get_or_insert(e);
                }
            }
        }
    }
}
