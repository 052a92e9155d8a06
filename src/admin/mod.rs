//! The admin CLI: `jobledger jobs list|show`, `stats`, `rejected` talk to a running
//! jobledger over its HTTP API (so they obey the same access control); `keygen` and
//! `token` manage API tokens; `seed` fills a database for benchmarks.

pub(crate) mod client;
pub(crate) mod format;
pub(crate) mod keys;
mod render;

use crate::config::Config;
use client::Client;
use format::{parse_time, Format};
use std::path::PathBuf;

/// Where the API is and how to print its answers.
#[derive(clap::Args, Debug)]
pub struct Remote {
    /// jobledger's address, e.g. http://jobledger:8080 (default: $JOBLEDGER_SERVER, else
    /// http.listen of the configuration). The token comes from $JOBLEDGER_TOKEN.
    #[arg(long, env = "JOBLEDGER_SERVER")]
    server: Option<String>,
    /// Configuration file, to find http.listen.
    #[arg(long)]
    config: Option<PathBuf>,
    /// table (aligned, for people), json or csv (for scripts).
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

impl Remote {
    fn client(&self) -> anyhow::Result<Client> {
        let base = match &self.server {
            Some(s) => s.clone(),
            None => client::default_server(Config::load(self.config.as_deref())?.http_listen),
        };
        Client::new(&base, std::env::var("JOBLEDGER_TOKEN").ok())
    }
}

/// The job filters, as flags; the same as `GET /api/jobs/`'s parameters.
#[derive(clap::Args, Debug, Default)]
pub struct Filters {
    #[arg(long)]
    cluster: Option<String>,
    #[arg(long)]
    partition: Option<String>,
    #[arg(long)]
    subcluster: Option<String>,
    /// Exact, or a glob such as 'ab*'.
    #[arg(long)]
    user: Option<String>,
    /// Exact, or a glob.
    #[arg(long)]
    project: Option<String>,
    /// Substring of the job name, or a glob.
    #[arg(long)]
    job_name: Option<String>,
    #[arg(long)]
    array_job_id: Option<i64>,
    /// Jobs that ran on this host.
    #[arg(long)]
    node: Option<String>,
    /// type:name
    #[arg(long)]
    tag: Option<String>,
    /// Job state; repeat for several.
    #[arg(long)]
    state: Vec<String>,
    /// Jobs running at some moment after this (unix s, YYYY-MM-DD or YYYY-MM-DDTHH:MM).
    #[arg(long)]
    from: Option<String>,
    /// ... and before this; `--to 2026-12-01` means up to midnight starting that day.
    #[arg(long)]
    to: Option<String>,
    /// Seconds, <min>-<max>.
    #[arg(long)]
    duration: Option<String>,
    /// <min>-<max>.
    #[arg(long)]
    num_nodes: Option<String>,
    /// A footprint value in a range, <name>:<min>-<max> (flops_any_avg:-10); repeatable.
    #[arg(long)]
    footprint: Vec<String>,
}

impl Filters {
    fn query(&self) -> anyhow::Result<Vec<(String, String)>> {
        let mut q: Vec<(String, String)> = Vec::new();
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                q.push((k.into(), v.clone()));
            }
        };
        put("cluster", &self.cluster);
        put("partition", &self.partition);
        put("subcluster", &self.subcluster);
        put("user", &self.user);
        put("project", &self.project);
        put("jobName", &self.job_name);
        put("arrayJobId", &self.array_job_id.map(|a| a.to_string()));
        put("node", &self.node);
        put("tag", &self.tag);
        put("duration", &self.duration);
        put("numNodes", &self.num_nodes);
        for s in &self.state {
            q.push(("state".into(), s.clone()));
        }
        for f in &self.footprint {
            q.push(("footprint".into(), f.clone()));
        }
        let from = self
            .from
            .as_deref()
            .map(|v| parse_time("--from", v))
            .transpose()?;
        let to = self
            .to
            .as_deref()
            .map(|v| parse_time("--to", v))
            .transpose()?;
        if from.is_some() || to.is_some() {
            let end = |t: Option<i64>| t.map(|t| t.to_string()).unwrap_or_default();
            q.push(("time".into(), format!("{}-{}", end(from), end(to))));
        }
        Ok(q)
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum JobsCommand {
    /// Jobs matching the filters, newest start first.
    List {
        #[command(flatten)]
        filters: Box<Filters>,
        /// startTime, duration, numNodes or footprint.<name>, with :asc or :desc.
        #[arg(long)]
        sort: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long, default_value_t = 1)]
        page: u32,
        #[command(flatten)]
        remote: Remote,
    },
    /// One job by database id.
    Show {
        id: i64,
        #[command(flatten)]
        remote: Remote,
    },
    /// What a job did with what it asked for: CPU, memory, GPUs and time, with notes.
    Efficiency {
        id: i64,
        #[command(flatten)]
        remote: Remote,
    },
}

pub(crate) async fn jobs(cmd: JobsCommand) -> anyhow::Result<()> {
    match cmd {
        JobsCommand::List {
            filters,
            sort,
            limit,
            page,
            remote,
        } => {
            let mut q = filters.query()?;
            q.extend([
                ("items-per-page".into(), limit.to_string()),
                ("page".into(), page.to_string()),
                ("with-metadata".into(), "true".into()),
            ]);
            if let Some(s) = sort {
                q.push(("sort".into(), s));
            }
            let body = remote.client()?.get("/api/jobs/", &q).await?;
            render::jobs(&body, remote.format)
        }
        JobsCommand::Show { id, remote } => {
            let body = remote
                .client()?
                .get(&format!("/api/jobs/{id}"), &[])
                .await?;
            render::job(&body, remote.format)
        }
        JobsCommand::Efficiency { id, remote } => {
            let body = remote
                .client()?
                .get(&format!("/api/jobs/{id}/efficiency"), &[])
                .await?;
            render::efficiency(&body, remote.format)
        }
    }
}

pub(crate) async fn stats(by: String, filters: Box<Filters>, remote: Remote) -> anyhow::Result<()> {
    let mut q = filters.query()?;
    q.push(("group-by".into(), by));
    let body = remote.client()?.get("/api/stats/", &q).await?;
    render::stats(&body, remote.format)
}

pub(crate) async fn rejected(limit: u32, remote: Remote) -> anyhow::Result<()> {
    let q = vec![("items-per-page".into(), limit.to_string())];
    let body = remote.client()?.get("/api/rejected/", &q).await?;
    render::rejected(&body, remote.format)
}
