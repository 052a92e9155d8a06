//! jobledger: an exact ledger of HPC jobs, fed by Slurm events over NATS JetStream.
//!
//! One event travels through these modules in this order:
//!
//! - [`decode`]: NATS message bytes → line protocol → JSON payload shapes ([`wire`]).
//! - [`domain`]: payload shapes parsed into valid events ([`domain::job`],
//!   [`domain::nodestate`]) and the rules that keep the ledger exact ([`domain::rules`]).
//! - [`store`]: one transaction per batch in SQLite or Postgres; all SQL lives here.
//! - [`ingest`]: the JetStream consumer loop (ack after commit) and the held-stop sweeper.
//! - [`tsdb`]: node metrics, the other stream: cc-metric-collector lines → open windows →
//!   compressed chunks in the database, and the series read back per job or node.
//! - [`archive`]: finished jobs to a cc-backend job archive, queued in the database.
//! - [`http`]: the cc-backend compatible REST API, health and metrics.
//!
//! [`emit`] is the other end: the bounded publisher Slurm hooks call.
//!
//! [`app`] wires them together; [`config`] and [`cli`] are the edges. Below the layers,
//! used by them and using none of them: [`wire`] (the JSON shapes publishers send),
//! [`hostlist`] (Slurm's hostlist syntax), [`host`] (this host's name), [`nats_client`]
//! (the NATS connection), [`durable`] (atomic file writes), [`retry`] (the one backoff
//! policy) and [`secret`] (URLs without passwords). [`seed`] makes synthetic ledgers for
//! the query benchmark. No module uses one that uses it (`tests/it/layers.rs`).

// Private by default: only what tests, benches and the binary use is public.
mod admin;
mod app;
pub mod archive;
pub mod auth;
pub mod cli;
pub mod config;
pub mod decode;
pub mod domain;
mod durable;
mod emit;
pub mod feed;
mod host;
pub mod hostlist;
pub mod http;
mod ingest;
pub mod metrics;
mod nats_client;
mod retry;
mod secret;
mod seed;
pub mod store;
pub mod tagging;
pub mod telemetry;
pub mod tsdb;
mod web;
pub mod wire;
