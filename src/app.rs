//! Startup: build every component from the configuration, run them until one shutdown
//! token is cancelled, then wait for each to finish its work in hand.

use crate::archive::backend::Backend;
use crate::archive::Archiver;
use crate::config::Config;
use crate::feed::Feed;
use crate::host::server_id;
use crate::http::{router, AppState};
use crate::ingest::{held, Ingest, IngestHealth};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::tsdb::Tsdb;
use anyhow::Context;
use axum::serve::ListenerExt;
use futures::FutureExt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub(crate) struct Application {
    config: Config,
    listener: TcpListener,
    store: Store,
    nats: async_nats::Client,
    archive: Backend,
    metrics: Arc<Metrics>,
    health: Arc<IngestHealth>,
    tsdb: Arc<Tsdb>,
}

impl Application {
    /// Connect the database (migrating it), bind the HTTP listener and start connecting to
    /// NATS. Fails only on what an admin must fix: bad database, port taken, bad credentials.
    pub(crate) async fn build(config: Config) -> anyhow::Result<Application> {
        let archive = Backend::from_config(&config.archive)
            .map_err(|e| anyhow::anyhow!("{}: {e}", config.source))?;
        let store = Store::connect(&config.database_url).await?;
        store.migrate().await?;
        let listener = TcpListener::bind(config.http_listen)
            .await
            .with_context(|| format!("cannot listen on {} (http.listen)", config.http_listen))?;
        let nats = crate::nats_client::connect(&config.nats).await?;
        let metrics = Arc::new(Metrics::new());
        let tsdb = Arc::new(Tsdb::new(
            config.metrics.clone(),
            config.clusters.clone(),
            metrics.clone(),
        ));
        Ok(Application {
            tsdb,
            config,
            listener,
            store,
            nats,
            archive,
            metrics,
            health: Arc::new(IngestHealth::default()),
        })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.config.http_listen)
    }

    /// Serve until `shutdown` is cancelled. The ingest loop commits and acknowledges its
    /// batch in hand before it returns; HTTP finishes the requests in flight.
    pub(crate) async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let addr = self.local_addr();
        // One feed of committed changes, shared with the other processes over NATS.
        let (feed, relay) = Feed::shared(
            self.nats.clone(),
            crate::feed::subject(&self.config.nats.stream),
            shutdown.clone(),
        );
        let feed = Arc::new(feed);
        let mut tasks = vec![supervise("feed relay", relay, &shutdown)];
        tasks.extend(self.spawn_background(&feed, addr, &shutdown));
        self.announce(addr);
        let http_shutdown = shutdown.clone();
        let app = router(self.state(feed, &shutdown), crate::web::pages());
        // Answers are streamed in pieces (a job's metrics one at a time); with Nagle's
        // algorithm a piece written while the previous one is unacknowledged waits for
        // the client's delayed ACK, 40 ms on Linux: a third of the job queries took twice
        // as long (measured 40 → 80 ms). Every piece is worth sending at once.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY on a connection");
            }
        });
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { http_shutdown.cancelled().await })
            .await;
        // HTTP ends first only if it failed; make sure everything else stops too.
        shutdown.cancel();
        let mut panicked = Vec::new();
        for (name, task) in tasks {
            if task.await.unwrap_or(true) {
                panicked.push(name);
            }
        }
        flush_acknowledgements(&self.nats).await;
        self.store.close().await;
        tracing::info!("jobledger stopped");
        served.context("HTTP server failed")?;
        if panicked.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("{} panicked (see the log)", panicked.join(", "))
        }
    }

    /// Ingest, the held-stop sweeper, and (if configured) the archiver and retention.
    fn spawn_background(
        &self,
        feed: &Arc<Feed>,
        addr: SocketAddr,
        shutdown: &CancellationToken,
    ) -> Vec<(&'static str, JoinHandle<bool>)> {
        let ingest = Ingest {
            store: self.store.clone(),
            js: async_nats::jetstream::new(self.nats.clone()),
            nats: self.config.nats.clone(),
            ingest: self.config.ingest.clone(),
            clusters: self.config.clusters.clone(),
            metrics: self.metrics.clone(),
            health: self.health.clone(),
            feed: feed.clone(),
        };
        let held = held::run(
            self.store.clone(),
            self.config.ingest.clone(),
            feed.clone(),
            shutdown.clone(),
        );
        let metric_ingest = self.tsdb.clone().run(
            self.store.clone(),
            async_nats::jetstream::new(self.nats.clone()),
            self.config.nats.stream_replicas,
            shutdown.clone(),
        );
        let metric_retention = self
            .tsdb
            .clone()
            .run_retention(self.store.clone(), shutdown.clone());
        let mut tasks = vec![
            supervise("ingest", ingest.run(shutdown.clone()), shutdown),
            supervise("held-stop sweeper", held, shutdown),
            supervise("metric ingest", metric_ingest, shutdown),
            supervise("metric retention", metric_retention, shutdown),
        ];
        if let Some(interval) = self.config.metrics.footprint_interval {
            let refresh = crate::archive::running::run(
                self.store.clone(),
                self.tsdb.clone(),
                self.config.clusters.clone(),
                interval,
                shutdown.clone(),
            );
            tasks.push(supervise("running footprints", refresh, shutdown));
        }
        if crate::archive::retention::enabled(&self.config.retention) {
            let retention = crate::archive::retention::run(
                self.store.clone(),
                self.config.retention.clone(),
                shutdown.clone(),
            );
            tasks.push(supervise("retention", retention, shutdown));
        }
        if self.config.archive.enabled {
            let archiver = Archiver::new(
                self.store.clone(),
                self.archive.clone(),
                self.config.archive.clone(),
                self.config.clusters.clone(),
                self.metrics.clone(),
                feed.clone(),
            )
            .owned_by(format!("{}@{addr}", server_id()))
            .with_metrics(self.tsdb.clone());
            tasks.push(supervise(
                "archiver",
                archiver.run(shutdown.clone()),
                shutdown,
            ));
        }
        tasks
    }

    fn state(&self, feed: Arc<Feed>, shutdown: &CancellationToken) -> AppState {
        AppState {
            store: self.store.clone(),
            clusters: self.config.clusters.clone(),
            metrics: self.metrics.clone(),
            nats: Some(self.nats.clone()),
            ingest: self.health.clone(),
            server_id: server_id(),
            archive: self.archive.clone(),
            auth: self.config.auth.as_ref().and_then(|a| a.verifier.clone()),
            feed,
            tsdb: self.tsdb.clone(),
            efficiency: self.config.efficiency,
            shutdown: shutdown.clone(),
        }
    }

    fn announce(&self, addr: SocketAddr) {
        if self.config.auth.is_some() {
            tracing::info!("API tokens required ([auth])");
        } else {
            tracing::warn!(
                %addr,
                "no [auth] section: every caller is trusted, so jobledger listens on loopback only"
            );
        }
        tracing::info!(%addr, config = %self.config.source, "jobledger serving");
    }
}

/// Run a component as a task. If it panics, say so and stop the whole process: a service
/// that answers HTTP while its ingest is dead looks healthy and is not. The task's
/// output is true if it panicked.
fn supervise<F>(
    name: &'static str,
    work: F,
    shutdown: &CancellationToken,
) -> (&'static str, JoinHandle<bool>)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let shutdown = shutdown.clone();
    let task = tokio::spawn(async move {
        match std::panic::AssertUnwindSafe(work).catch_unwind().await {
            Ok(()) => false,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(std::string::ToString::to_string)
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(task = name, panic = %what, "a component panicked; shutting down");
                shutdown.cancel();
                true
            }
        }
    });
    (name, task)
}

/// Acknowledgements are buffered publishes: send them before closing. With NATS away a
/// flush would wait for it forever; unsent acknowledgements only mean redeliveries, which
/// the rules find to be duplicates.
async fn flush_acknowledgements(nats: &async_nats::Client) {
    match tokio::time::timeout(Duration::from_secs(5), nats.flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = format!("{e:#}"), "flushing NATS at shutdown failed"),
        Err(_) => tracing::warn!("NATS did not take the last acknowledgements within 5 s"),
    }
}
