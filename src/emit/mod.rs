//! `jobledger emit`: the small, bounded publisher that Slurm hooks call.
//!
//! A prolog that fails or hangs drains the node, so this command never blocks past its
//! deadline and never fails the hook because NATS is away: what cannot be published in
//! time is spooled and sent by the next `emit` (or `emit flush`).

pub(crate) mod deliver;
pub(crate) mod sinfo;
pub(crate) mod slurm;
pub(crate) mod spool;

use crate::config::Config;
use crate::decode::{decode_event, Decoded, Kind};
use deliver::Delivery;
use serde_json::Value;
use slurm::Context;
use spool::Spool;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct EmitArgs {
    /// start, stop, nodestate or flush. With --from-slurm it may be left out:
    /// SLURM_SCRIPT_CONTEXT says whether a prolog or an epilog runs.
    pub what: Option<What>,
    /// Build the event from the Slurm hook environment.
    #[arg(long)]
    pub from_slurm: bool,
    /// Publish this payload (a file, or - for standard input) after validating it.
    #[arg(long, value_name = "FILE|-")]
    pub json: Option<String>,
    /// Publish the node states `sinfo --json` reports (Slurm 23.02 or newer).
    #[arg(long)]
    pub from_sinfo: bool,
    /// Publish from every node of the allocation, not only the first.
    #[arg(long)]
    pub all_nodes: bool,
    /// Cluster name for --from-sinfo (default: $SLURM_CLUSTER_NAME).
    #[arg(long)]
    pub cluster: Option<String>,
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long, env = "JOBLEDGER_SPOOL_DIR")]
    pub spool_dir: Option<PathBuf>,
    #[arg(long)]
    pub deadline_ms: Option<u64>,
    /// NATS credentials file.
    #[arg(long, env = "JOBLEDGER_NATS_CREDS")]
    pub creds: Option<PathBuf>,
    /// The sinfo program to run.
    #[arg(long, env = "JOBLEDGER_SINFO", default_value = "sinfo", hide = true)]
    pub sinfo: String,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum What {
    Start,
    Stop,
    Nodestate,
    Flush,
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

pub(crate) async fn run(args: EmitArgs) -> ExitCode {
    // In a hook a broken setup is logged loudly but never fails the job.
    let hook = args.from_slurm;
    let mut config = match Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return refuse(hook, &e.to_string()),
    };
    if let Some(c) = &args.creds {
        config.nats.creds_file = Some(c.clone());
    }
    if let Some(d) = &args.spool_dir {
        config.emit.spool_dir = d.clone();
    }
    if let Some(ms) = args.deadline_ms {
        config.emit.deadline = Duration::from_millis(ms.max(10));
    }
    let context = Context::from_env(&env);
    let what =
        match (args.what, context) {
            (Some(w), _) => w,
            (None, Some(c)) if hook && c.is_start() => What::Start,
            (None, Some(_)) if hook => What::Stop,
            _ => return refuse(
                hook,
                "say start, stop, nodestate or flush (or run in a Slurm hook with --from-slurm)",
            ),
        };
    if hook && context.is_some_and(Context::runs_on_every_node) && !args.all_nodes {
        let me = crate::host::server_id();
        if !slurm::is_first_node(&env, me.split('.').next().unwrap_or(&me)) {
            return ExitCode::SUCCESS;
        }
    }
    let now = chrono::Utc::now().timestamp();
    let new = match event(&args, what, &config, now).await {
        Ok(e) => e,
        Err(why) => return refuse(hook, &why),
    };
    let message = new.map(|(kind, payload)| {
        let subject = match kind {
            Kind::NodeState => &config.nats.node_subject,
            _ => &config.nats.job_subject,
        };
        deliver::message(subject, line(kind, &payload, now))
    });
    let spool = Spool::new(config.emit.spool_dir.clone(), config.emit.max_spool_files);
    match deliver::deliver(&config.nats, &spool, message, config.emit.deadline).await {
        Delivery::Published { flushed } => {
            tracing::info!(spooled_sent = flushed, "published");
            ExitCode::SUCCESS
        }
        Delivery::Spooled { reason } => {
            tracing::warn!(%reason, spool = %spool.dir().display(),
                "NATS did not take the event; spooled for the next emit or `jobledger emit flush`");
            ExitCode::SUCCESS
        }
        Delivery::NotFlushed { reason } => {
            tracing::warn!(%reason, "the spool could not be sent now; it stays for the next try");
            ExitCode::FAILURE
        }
        Delivery::SpoolFailed { reason, error } => {
            tracing::error!(%reason, %error, spool = %spool.dir().display(),
                "EVENT LOST: NATS did not take it and the spool refused it");
            ExitCode::from(config.emit.spool_error_exit_code)
        }
    }
}

/// The event to publish, if any: from the Slurm environment, a JSON file, or sinfo.
async fn event(
    args: &EmitArgs,
    what: What,
    config: &Config,
    now: i64,
) -> Result<Option<(Kind, Value)>, String> {
    let kind = match what {
        What::Flush => return Ok(None),
        What::Start => Kind::StartJob,
        What::Stop => Kind::StopJob,
        What::Nodestate => Kind::NodeState,
    };
    let payload = if let Some(src) = &args.json {
        let text = read_source(src)?;
        // Scripts get the server's verdict before anything is sent.
        if let Decoded::Invalid(_, why) = decode_event(kind, &text, &config.clusters) {
            return Err(why);
        }
        serde_json::from_str(&text).map_err(|e| e.to_string())?
    } else if args.from_slurm && kind != Kind::NodeState {
        let payload = match kind {
            Kind::StartJob => slurm::start_payload(&env, now),
            _ => slurm::stop_payload(&env, now),
        };
        // A hook's event goes out even when incomplete: jobledger then records it as a
        // rejected event with the reason, where an admin sees it, instead of it vanishing.
        if let Decoded::Invalid(_, why) = decode_event(kind, &payload.to_string(), &config.clusters)
        {
            tracing::warn!(%why, "the Slurm environment gives an incomplete event; publishing it anyway");
        }
        payload
    } else if args.from_sinfo && kind == Kind::NodeState {
        let cluster = args.cluster.clone().or_else(|| env("SLURM_CLUSTER_NAME"));
        let cluster = cluster.ok_or("--from-sinfo needs --cluster or SLURM_CLUSTER_NAME")?;
        let out = run_sinfo(&args.sinfo, config.emit.deadline).await?;
        sinfo::nodestates(&cluster, &out)?
    } else {
        return Err("give --from-slurm, --json FILE|- or (for nodestate) --from-sinfo".into());
    };
    Ok(Some((kind, payload)))
}

fn read_source(src: &str) -> Result<String, String> {
    let mut text = String::new();
    let read = if src == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(src).map(|t| text = t)
    };
    read.map_err(|e| format!("cannot read {src}: {e}"))?;
    Ok(text)
}

async fn run_sinfo(program: &str, deadline: Duration) -> Result<String, String> {
    let out = tokio::time::timeout(
        deadline,
        tokio::process::Command::new(program)
            .arg("--json")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| {
        format!(
            "{program} --json did not answer within {} ms",
            deadline.as_millis()
        )
    })?
    .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "{program} --json failed ({}): {}",
            out.status,
            err.trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| format!("{program} --json printed invalid UTF-8"))
}

/// A usage or setup problem: exit 2, except in a hook, where failing would drain the node.
fn refuse(hook: bool, why: &str) -> ExitCode {
    tracing::error!("jobledger emit: {why}");
    if hook {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

/// The line-protocol line of an event. The timestamp is the event's own time, so the
/// same event always gives the same line (and the same message id).
pub(crate) fn line(kind: Kind, payload: &Value, now: i64) -> String {
    use influxdb_line_protocol::builder::LineProtocolBuilder;
    let (function, time) = match kind {
        Kind::StartJob => (Some("start_job"), payload["startTime"].as_i64()),
        Kind::StopJob => (Some("stop_job"), payload["stopTime"].as_i64()),
        Kind::NodeState => (None, None),
    };
    let ns = time.unwrap_or(now).saturating_mul(1_000_000_000);
    let json = payload.to_string();
    let line = match function {
        Some(f) => LineProtocolBuilder::new()
            .measurement("job")
            .tag("function", f),
        None => LineProtocolBuilder::new().measurement("nodestate"),
    }
    .field("event", json.as_str())
    .timestamp(ns)
    .close_line()
    .build();
    // The builder escapes `"` and `\` in string fields; JSON text is UTF-8, and the
    // trailing newline is the builder's line end.
    String::from_utf8_lossy(&line).trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_message;
    use crate::domain::cluster::Clusters;
    use crate::domain::Event;

    #[test]
    fn a_line_decodes_back_to_the_same_event() {
        let payload = serde_json::json!({"jobId": 1, "cluster": "c", "user": "u",
            "startTime": 100, "numNodes": 1, "resources": [{"hostname": "h"}],
            "metaData": {"jobScript": "echo \"a\\b\"\nexit"}});
        let l = line(Kind::StartJob, &payload, 5);
        assert!(l.ends_with(" 100000000000"));
        let lines = decode_message(l.as_bytes(), &Clusters::default());
        let Decoded::Event(Event::Start(j)) = &lines[0].decoded else {
            panic!("{:?}", lines[0].decoded)
        };
        assert_eq!(j.meta_data["jobScript"], "echo \"a\\b\"\nexit");
    }

    #[test]
    fn the_same_event_gets_the_same_message_id() {
        let a = deliver::message("s", "line".into());
        assert_eq!(a.msg_id, deliver::message("s", "line".into()).msg_id);
        assert_ne!(a.msg_id, deliver::message("s", "line2".into()).msg_id);
        assert_eq!(a.msg_id.len(), 32);
    }
}
