//! The NATS connection, for the daemon and for `emit`: servers, credentials and TLS from
//! the configuration.
//!
//! The daemon's connection is made in the background: jobledger starts and serves HTTP
//! while NATS is down, logs that it is, and catches up from the stream when NATS is back.

use crate::config::NatsConfig;
use anyhow::Context;
use async_nats::{ConnectOptions, Event, ServerAddr};

pub(crate) async fn connect(cfg: &NatsConfig) -> anyhow::Result<async_nats::Client> {
    options(cfg)
        .await?
        .name("jobledger")
        .retry_on_initial_connect()
        .event_callback(|event| async move {
            match event {
                Event::Connected => tracing::info!("NATS connected"),
                Event::Disconnected => tracing::warn!("NATS disconnected; reconnecting"),
                Event::ClientError(e) => {
                    tracing::warn!(error = format!("{e:#}"), "NATS client error");
                }
                Event::ServerError(e) => {
                    tracing::warn!(error = format!("{e:#}"), "NATS server error");
                }
                other => tracing::debug!(event = %other, "NATS event"),
            }
        })
        .connect(servers(&cfg.url)?)
        .await
        .context("setting up the NATS connection")
}

/// Credentials and TLS from the configuration; shared by the daemon and `emit`.
pub(crate) async fn options(cfg: &NatsConfig) -> anyhow::Result<ConnectOptions> {
    let mut opts = ConnectOptions::new();
    if let (Some(user), Some(password)) = (&cfg.user, &cfg.password) {
        opts = opts.user_and_password(user.clone(), password.clone());
    }
    if let Some(token) = &cfg.token {
        opts = opts.token(token.clone());
    }
    if let Some(path) = &cfg.creds_file {
        opts = opts
            .credentials_file(path)
            .await
            .with_context(|| format!("reading NATS credentials file {}", path.display()))?;
    }
    if cfg.url.split(',').any(|u| u.trim().starts_with("tls://")) {
        opts = opts.require_tls(true);
    }
    Ok(opts)
}

/// `nats.url`: one or more comma-separated server addresses.
pub(crate) fn servers(url: &str) -> anyhow::Result<Vec<ServerAddr>> {
    url.split(',')
        .map(|u| u.trim().parse())
        .collect::<Result<_, _>>()
        .context("parsing nats.url")
}
