//! The command line: `jobledger serve`, `migrate`, `emit`, `archive`, the admin commands
//! (`jobs`, `stats`, `rejected`), tokens (`keygen`, `token`) and `seed`.

use crate::admin;
use crate::app::Application;
use crate::config::Config;
use crate::secret::redact_url;
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
    /// Jobs from a running jobledger (HTTP API): list with filters, or show one.
    Jobs {
        #[command(subcommand)]
        command: admin::JobsCommand,
    },
    /// Usage per group: jobs, node-, core- and GPU-hours, average wait.
    Stats {
        /// user, project, cluster, partition, subcluster or state.
        #[arg(long, default_value = "project")]
        by: String,
        #[command(flatten)]
        filters: Box<admin::Filters>,
        #[command(flatten)]
        remote: admin::Remote,
    },
    /// Events jobledger could not apply, newest first, with the reason.
    Rejected {
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[command(flatten)]
        remote: admin::Remote,
    },
    /// Write an Ed25519 key pair for API tokens (jwt.pub, jwt.key) in cc-backend's format.
    Keygen {
        /// Folder for the two files.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Print an API token signed with the private key.
    Token {
        /// Who the token is for (a user name for the user role).
        #[arg(long)]
        sub: String,
        /// admin, api, manager or user.
        #[arg(long)]
        role: String,
        /// Projects a manager may read, comma-separated.
        #[arg(long, value_delimiter = ',')]
        projects: Vec<String>,
        /// Days until it expires; 0 for never (cc-backend's API tokens).
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Private key file (default: [auth] private_key_file, else $JWT_PRIVATE_KEY).
        #[arg(long)]
        key: Option<PathBuf>,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Fill an empty database with synthetic jobs, for benchmarks.
    Seed {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, default_value_t = 10_000_000)]
        jobs: u64,
        /// Start times spread over this many days, ending now.
        #[arg(long, default_value_t = 365)]
        days: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
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
            tracing::info!(database = %redact_url(&config.database_url), "migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::Emit(args) => Ok(crate::emit::run(args).await),
        Command::Archive { config, command } => {
            let config = Config::load(config.as_deref())?;
            crate::archive::admin::run(command, &config).await
        }
        Command::Jobs { command } => admin::jobs(command).await.map(|_| ExitCode::SUCCESS),
        Command::Stats {
            by,
            filters,
            remote,
        } => admin::stats(by, filters, remote)
            .await
            .map(|_| ExitCode::SUCCESS),
        Command::Rejected { limit, remote } => admin::rejected(limit, remote)
            .await
            .map(|_| ExitCode::SUCCESS),
        Command::Keygen { out } => admin::keys::keygen(&out).map(|_| ExitCode::SUCCESS),
        Command::Token {
            sub,
            role,
            projects,
            days,
            key,
            config,
        } => {
            let token = admin::keys::token(admin::keys::TokenRequest {
                sub,
                role,
                projects,
                days,
                key_file: key,
                config,
            })?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Seed {
            config,
            jobs,
            days,
            seed,
        } => {
            let config = Config::load(config.as_deref())?;
            let store = Store::connect(&config.database_url).await?;
            store.migrate().await?;
            let shape = crate::seed::Shape {
                jobs,
                days,
                seed,
                ..crate::seed::Shape::default()
            };
            let now = chrono::Utc::now().timestamp();
            let n = crate::seed::seed(&store, &shape, now).await?;
            store.close().await;
            println!(
                "{n} synthetic jobs written to {}",
                redact_url(&config.database_url)
            );
            Ok(ExitCode::SUCCESS)
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
