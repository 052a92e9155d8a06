//! Black-box tests: the real binary, real NATS with JetStream, SQLite and Postgres.

mod clients;
mod events;
mod faults;
mod helpers;

mod access;
mod admin_cli;
mod archive;
mod archive_replay;
mod archive_s3;
mod archive_scopes;
mod bad_input;
mod browser;
mod chaos_database;
mod chaos_metrics;
mod chaos_nats;
mod chaos_processes;
mod cli;
mod compat;
mod durability;
mod efficiency;
mod emit;
mod footprints;
mod fuzz;
mod http_api;
mod job_results;
mod layers;
mod live;
mod metric_retention;
mod metric_store;
mod nodes;
mod openapi;
mod queries;
mod rules;
mod store;
mod totals;
mod web;

/// Run an `async fn(Db)` scenario once on SQLite and once on Postgres.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::Db::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::helpers::Db::Postgres).await
                }
            }
        )*
    };
}
