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
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub struct Application {
    config: Config,
    listener: TcpListener,
    store: Store,
    nats: async_nats::Client,
    archive: Backend,
    metrics: Arc<Metrics>,
    health: Arc<IngestHealth>,
}

impl Application {
    /// Connect the database (migrating it), bind the HTTP listener and start connecting to
    /// NATS. Fails only on what an admin must fix: bad database, port taken, bad credentials.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let archive = Backend::from_config(&config.archive)
            .map_err(|e| anyhow::anyhow!("{}: {e}", config.source))?;
        let store = Store::connect(&config.database_url).await?;
        store.migrate().await?;
        let listener = TcpListener::bind(config.http_listen)
            .await
            .with_context(|| format!("cannot listen on {} (http.listen)", config.http_listen))?;
        let nats = crate::nats_client::connect(&config.nats).await?;
        Ok(Application {
            config,
            listener,
            store,
            nats,
            archive,
            metrics: Arc::new(Metrics::new()),
            health: Arc::new(IngestHealth::default()),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.config.http_listen)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Serve until `shutdown` is cancelled. The ingest loop commits and acknowledges its
    /// batch in hand before it returns; HTTP finishes the requests in flight.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let addr = self.local_addr();
        // One feed of committed changes, shared with the other processes over NATS.
        let (feed, relay) = Feed::shared(
            self.nats.clone(),
            crate::feed::subject(&self.config.nats.stream),
            shutdown.clone(),
        );
        let feed = Arc::new(feed);
        let relay_task = tokio::spawn(relay);
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
        let state = AppState {
            store: self.store.clone(),
            clusters: self.config.clusters.clone(),
            metrics: self.metrics.clone(),
            nats: Some(self.nats.clone()),
            ingest: self.health.clone(),
            server_id: server_id(),
            archive: self.archive.clone(),
            auth: self.config.auth.as_ref().and_then(|a| a.verifier.clone()),
            feed: feed.clone(),
            shutdown: shutdown.clone(),
        };
        let ingest_task = tokio::spawn(ingest.run(shutdown.clone()));
        let held_task = tokio::spawn(held::run(
            self.store.clone(),
            self.config.ingest.clone(),
            feed.clone(),
            shutdown.clone(),
        ));
        let retention_task =
            crate::archive::retention::enabled(&self.config.retention).then(|| {
                tokio::spawn(crate::archive::retention::run(
                    self.store.clone(),
                    self.config.retention.clone(),
                    shutdown.clone(),
                ))
            });
        let archive_task = self.config.archive.enabled.then(|| {
            let archiver = Archiver::new(
                self.store.clone(),
                self.archive.clone(),
                self.config.archive.clone(),
                self.config.clusters.clone(),
                self.metrics.clone(),
                feed.clone(),
            )
            .owned_by(format!("{}@{addr}", server_id()));
            tokio::spawn(archiver.run(shutdown.clone()))
        });
        match &self.config.auth {
            Some(_) => tracing::info!("API tokens required ([auth])"),
            None => tracing::warn!(
                %addr,
                "no [auth] section: every caller is trusted, so jobledger listens on loopback only"
            ),
        }
        tracing::info!(%addr, config = %self.config.source, "jobledger serving");
        let http_shutdown = shutdown.clone();
        let served = axum::serve(self.listener, router(state))
            .with_graceful_shutdown(async move { http_shutdown.cancelled().await })
            .await;
        // HTTP ends first only if it failed; make sure everything else stops too.
        shutdown.cancel();
        let _ = ingest_task.await;
        let _ = held_task.await;
        for t in [archive_task, retention_task, Some(relay_task)]
            .into_iter()
            .flatten()
        {
            let _ = t.await;
        }
        // Acknowledgements are buffered publishes: send them before closing. With NATS
        // away a flush would wait for it forever; unsent acknowledgements only mean
        // redeliveries, which the rules find to be duplicates.
        match tokio::time::timeout(Duration::from_secs(5), self.nats.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "flushing NATS at shutdown failed"),
            Err(_) => tracing::warn!("NATS did not take the last acknowledgements within 5 s"),
        }
        self.store.close().await;
        tracing::info!("jobledger stopped");
        served.context("HTTP server failed")
    }
}
