//! The command line: `jobledger serve`, `migrate`, `emit` and `archive`.

use crate::app::Application;
use crate::config::Config;
use crate::store::Store;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

#[derive(Parser, Debug)]
#[command(
    name = "jobledger",
    version,
    about = "Exact HPC job ledger fed by Slurm events over NATS"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the daemon: NATS ingest and the HTTP API.
    Serve {
        /// Configuration file (default: $JOBLEDGER_CONFIG, else config/jobledger.toml if present).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Publish a job or node event, as a Slurm hook does; spool it if NATS is away.
    Emit(crate::emit::EmitArgs),
    /// The job archive: list, verify, retry.
    Archive {
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: crate::archive::admin::ArchiveCommand,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { config } => {
            let config = Config::load(config.as_deref())?;
            let app = Application::build(config).await?;
            let shutdown = CancellationToken::new();
            tokio::spawn(cancel_on_signal(shutdown.clone()));
            app.run_until_stopped(shutdown).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { config } => {
            let config = Config::load(config.as_deref())?;
            let store = Store::connect(&config.database_url).await?;
            store.migrate().await?;
            store.close().await;
            tracing::info!(database = %config.database_url, "migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::Emit(args) => Ok(crate::emit::run(args).await),
        Command::Archive { config, command } => {
            let config = Config::load(config.as_deref())?;
            crate::archive::admin::run(command, &config).await
        }
    }
}

/// SIGINT or SIGTERM cancels the one shutdown token every component watches.
async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            },
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutdown requested; finishing the batch in hand");
    token.cancel();
}
