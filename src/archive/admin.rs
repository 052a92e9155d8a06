//! `jobledger archive list | verify | retry`: answered from the database, not by walking
//! the archive, except `verify`, which reads exactly the files the database points at.

use super::backend::Backend;
use crate::config::Config;
use crate::store::archive::ArchiveFilter;
use crate::store::Store;
use anyhow::Context;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum ArchiveCommand {
    /// Archived jobs, newest first.
    List {
        #[arg(long)]
        cluster: Option<String>,
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        project: Option<String>,
        /// type:name
        #[arg(long)]
        tag: Option<String>,
        /// Start time from (unix seconds or YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// Start time to (unix seconds or YYYY-MM-DD, inclusive).
        #[arg(long)]
        to: Option<String>,
    },
    /// Check that every archived job has readable, parseable files; print what is wrong.
    Verify,
    /// Import an existing cc-backend job archive (version 3) into the database.
    Import { path: std::path::PathBuf },
    /// Put jobs whose archiving failed (monitoringStatus 2) back in the queue.
    Retry {
        #[arg(long, conflicts_with = "all_failed")]
        job: Option<i64>,
        #[arg(long)]
        all_failed: bool,
    },
}

pub(crate) async fn run(cmd: ArchiveCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    let code = match cmd {
        ArchiveCommand::List {
            cluster,
            user,
            project,
            tag,
            from,
            to,
        } => {
            let tag = tag
                .map(|t| {
                    t.split_once(':')
                        .map(|(a, b)| (a.to_string(), b.to_string()))
                })
                .map(|t| t.context("--tag must be type:name"))
                .transpose()?;
            let filter = ArchiveFilter {
                cluster,
                user,
                project,
                tag,
                from: from
                    .as_deref()
                    .map(|v| time_arg("--from", v, false))
                    .transpose()?,
                to: to
                    .as_deref()
                    .map(|v| time_arg("--to", v, true))
                    .transpose()?,
            };
            println!(
                "{:>10} {:>10} {:<12} {:>11} {:<12} {:<12} location",
                "id", "jobId", "cluster", "startTime", "user", "project"
            );
            for j in store.archive_list(&filter).await? {
                println!(
                    "{:>10} {:>10} {:<12} {:>11} {:<12} {:<12} {}",
                    j.id, j.job_id, j.cluster, j.start_time, j.user, j.project, j.location
                );
            }
            ExitCode::SUCCESS
        }
        ArchiveCommand::Import { path } => {
            let report = super::import::import(&store, &path, &config.clusters).await?;
            for p in &report.problems {
                println!("problem: {p}");
            }
            println!(
                "{} job(s) imported, {} already present, {} problem(s)",
                report.imported,
                report.present,
                report.problems.len()
            );
            if report.problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        ArchiveCommand::Verify => {
            let archive = Backend::from_config(&config.archive)
                .map_err(|e| anyhow::anyhow!("{}: {e}", config.source))?;
            verify(&store, &archive).await?
        }
        ArchiveCommand::Retry { job, all_failed } => {
            if job.is_none() && !all_failed {
                anyhow::bail!("say --job ID or --all-failed");
            }
            let n = store.archive_requeue(job).await?;
            println!("{n} job(s) queued for the archive again");
            ExitCode::SUCCESS
        }
    };
    store.close().await;
    Ok(code)
}

async fn verify(store: &Store, archive: &Backend) -> anyhow::Result<ExitCode> {
    let jobs = store.archive_list(&ArchiveFilter::default()).await?;
    let mut problems = 0;
    for j in &jobs {
        for name in ["meta.json", "data.json"] {
            let key = format!("{}/{name}", j.location);
            let gz = format!("{key}.gz");
            let found = match archive.get(&key).await {
                Ok(b) => Ok((key.clone(), b)),
                Err(e) => archive
                    .get(&gz)
                    .await
                    .map(|b| (gz.clone(), b))
                    .map_err(|_| e),
            };
            let problem = match found {
                Err(e) => Some(format!("{key}: {e}")),
                Ok((k, _)) if k.ends_with(".gz") => None, // gzip: present is enough here
                Ok((k, bytes)) => match serde_json::from_slice::<serde_json::Value>(&bytes) {
                    Err(e) => Some(format!("{k}: not JSON ({e})")),
                    Ok(v) if name == "meta.json" && v["jobId"] != j.job_id => Some(format!(
                        "{k}: holds jobId {} instead of {}",
                        v["jobId"], j.job_id
                    )),
                    Ok(_) => None,
                },
            };
            if let Some(p) = problem {
                problems += 1;
                println!("job {} ({} on {}): {p}", j.id, j.job_id, j.cluster);
            }
        }
    }
    println!(
        "{} archived job(s) checked, {problems} problem(s)",
        jobs.len()
    );
    Ok(if problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Unix seconds, or a date (start of day; end of day for `--to`), UTC.
fn time_arg(flag: &str, v: &str, end_of_day: bool) -> anyhow::Result<i64> {
    if let Ok(n) = v.parse::<i64>() {
        return Ok(n);
    }
    let d = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .with_context(|| format!("{flag} must be unix seconds or YYYY-MM-DD, got {v:?}"))?;
    let t = if end_of_day {
        d.and_hms_opt(23, 59, 59)
    } else {
        d.and_hms_opt(0, 0, 0)
    };
    Ok(t.map(|t| t.and_utc().timestamp()).unwrap_or(0))
}
