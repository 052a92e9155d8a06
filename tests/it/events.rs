//! Building and publishing line-protocol events the way Slurm hooks do.

use serde_json::{json, Value};

/// Line-protocol string-field escaping: `\` → `\\`, `"` → `\"`.
pub(crate) fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

pub(crate) fn start_json(job_id: i64, start_time: i64) -> Value {
    json!({
        "jobId": job_id, "cluster": "testcluster", "user": "alice", "project": "p1",
        "partition": "main", "startTime": start_time, "numNodes": 1,
        "resources": [{"hostname": "host1"}]
    })
}

pub(crate) fn start_line(v: &Value) -> String {
    format!(
        "job,function=start_job event=\"{}\" 1700000000000000000",
        escape(&v.to_string())
    )
}

pub(crate) fn stop_json(
    job_id: i64,
    start_time: Option<i64>,
    stop_time: i64,
    state: &str,
) -> Value {
    let mut v = json!({"jobId": job_id, "cluster": "testcluster", "stopTime": stop_time, "jobState": state});
    if let Some(t) = start_time {
        v["startTime"] = json!(t);
    }
    v
}

pub(crate) fn stop_line(
    job_id: i64,
    start_time: Option<i64>,
    stop_time: i64,
    state: &str,
) -> String {
    format!(
        "job,function=stop_job event=\"{}\"",
        escape(&stop_json(job_id, start_time, stop_time, state).to_string())
    )
}

/// Publish through JetStream and wait until the stream has stored every message.
pub(crate) async fn publish_all(
    js: &async_nats::jetstream::Context,
    subject: &str,
    payloads: Vec<Vec<u8>>,
) {
    let mut acks = Vec::with_capacity(payloads.len());
    for p in payloads {
        acks.push(js.publish(subject.to_string(), p.into()).await.unwrap());
        if acks.len() >= 2000 {
            for a in acks.drain(..) {
                a.await.unwrap();
            }
        }
    }
    for a in acks {
        a.await.unwrap();
    }
}

pub(crate) async fn publish(js: &async_nats::jetstream::Context, subject: &str, lines: &[String]) {
    publish_all(
        js,
        subject,
        lines.iter().map(|l| l.clone().into_bytes()).collect(),
    )
    .await;
}
