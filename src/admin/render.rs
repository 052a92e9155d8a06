//! API answers as tables, JSON or CSV. JSON is the API's own, untouched; tables and CSV
//! pick the columns an admin reads first. Counts go to stderr so stdout stays parseable.

use super::format::{duration, time, Format, Table};
use serde_json::Value;

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn json_out(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub(super) fn jobs(body: &Value, format: Format) -> anyhow::Result<()> {
    let empty = Vec::new();
    let jobs = body["jobs"].as_array().unwrap_or(&empty);
    eprintln!(
        "{} of {} job(s), page {}",
        jobs.len(),
        text(&body["total"]),
        text(&body["page"])
    );
    if format == Format::Json {
        return json_out(&body["jobs"]);
    }
    let rows = jobs
        .iter()
        .map(|j| {
            vec![
                text(&j["id"]),
                text(&j["jobId"]),
                text(&j["cluster"]),
                text(&j["user"]),
                text(&j["project"]),
                text(&j["jobState"]),
                j["startTime"].as_i64().map(time).unwrap_or_default(),
                j["duration"].as_i64().map(duration).unwrap_or_default(),
                text(&j["numNodes"]),
                text(&j["metaData"]["jobName"]),
            ]
        })
        .collect();
    let t = Table {
        header: vec![
            "id", "jobId", "cluster", "user", "project", "state", "start", "duration", "nodes",
            "name",
        ],
        rows,
        right: vec![0, 1, 7, 8],
    };
    t.print(format, &mut std::io::stdout())
}

/// An efficiency report: one line per figure (per node, per GPU), then the notes.
pub(super) fn efficiency(r: &Value, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return json_out(r);
    }
    let mut rows = Vec::new();
    let mut row = |what: &str, node: &Value, value: String| {
        rows.push(vec![what.to_string(), text(node), value]);
    };
    if let Some(c) = r.get("cpu").filter(|c| !c.is_null()) {
        row(
            "CPU utilisation",
            &Value::Null,
            format!("{} %", text(&c["percent"])),
        );
        for n in c["perNode"].as_array().into_iter().flatten() {
            row(
                "CPU utilisation",
                &n["hostname"],
                format!("{} %", text(&n["value"])),
            );
        }
    }
    if let Some(m) = r.get("memory").filter(|m| !m.is_null()) {
        let of = match m["requestedGb"].as_f64() {
            Some(req) => format!(" of {req} GB ({} %)", text(&m["percent"])),
            None => String::new(),
        };
        row(
            "Memory used (max per node)",
            &Value::Null,
            format!("{} GB{of}", text(&m["maxUsedGb"])),
        );
        for n in m["perNodeGb"].as_array().into_iter().flatten() {
            row(
                "Memory used",
                &n["hostname"],
                format!("{} GB", text(&n["value"])),
            );
        }
    }
    for g in r["gpus"].as_array().into_iter().flatten() {
        let what = format!("GPU {}", text(&g["id"]));
        row(
            &what,
            &g["hostname"],
            format!(
                "{} % busy, {} GB",
                text(&g["utilizationPercent"]),
                text(&g["memoryUsedGb"])
            ),
        );
    }
    if let Some(t) = r.get("time").filter(|t| !t.is_null()) {
        let (used, wall) = (
            t["used"].as_i64().unwrap_or(0),
            t["walltime"].as_i64().unwrap_or(0),
        );
        row(
            "Time used",
            &Value::Null,
            format!(
                "{} of {} ({} %)",
                duration(used),
                duration(wall),
                text(&t["percent"])
            ),
        );
    }
    let t = Table {
        header: vec!["figure", "node", "value"],
        rows,
        right: vec![2],
    };
    t.print(format, &mut std::io::stdout())?;
    eprintln!("figures from {}", text(&r["source"]));
    for n in r["notes"].as_array().into_iter().flatten() {
        println!("* {}", text(n));
    }
    Ok(())
}

pub(super) fn job(j: &Value, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return json_out(j);
    }
    let mut rows = Vec::new();
    if let Some(obj) = j.as_object() {
        for (k, v) in obj {
            let shown = match k.as_str() {
                "startTime" | "stopTime" | "submitTime" | "archivedAt" => {
                    v.as_i64().map(|t| format!("{} ({t})", time(t)))
                }
                "duration" | "walltime" => v.as_i64().map(duration),
                _ => None,
            };
            rows.push(vec![k.clone(), shown.unwrap_or_else(|| text(v))]);
        }
    }
    Table {
        header: vec!["field", "value"],
        rows,
        right: vec![],
    }
    .print(format, &mut std::io::stdout())
}

pub(super) fn stats(body: &Value, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return json_out(body);
    }
    let row = |name: String, u: &Value| {
        vec![
            name,
            text(&u["jobs"]),
            format!("{:.1}", u["nodeHours"].as_f64().unwrap_or(0.0)),
            format!("{:.1}", u["coreHours"].as_f64().unwrap_or(0.0)),
            format!("{:.1}", u["gpuHours"].as_f64().unwrap_or(0.0)),
            u["avgWaitSeconds"]
                .as_f64()
                .map(|w| duration(w.round() as i64))
                .unwrap_or_default(),
        ]
    };
    let empty = Vec::new();
    let mut rows: Vec<Vec<String>> = body["groups"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(|g| row(text(&g["group"]), g))
        .collect();
    rows.push(row("(total)".into(), &body["total"]));
    let by: &'static str = match body["groupBy"].as_str() {
        Some("user") => "user",
        Some("cluster") => "cluster",
        Some("partition") => "partition",
        Some("subcluster") => "subcluster",
        Some("state") => "state",
        _ => "project",
    };
    Table {
        header: vec![by, "jobs", "node-h", "core-h", "gpu-h", "avg wait"],
        rows,
        right: vec![1, 2, 3, 4, 5],
    }
    .print(format, &mut std::io::stdout())
}

pub(super) fn rejected(body: &Value, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return json_out(&body["events"]);
    }
    let empty = Vec::new();
    let rows = body["events"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(|e| {
            vec![
                text(&e["id"]),
                e["receivedAt"].as_i64().map(time).unwrap_or_default(),
                text(&e["subject"]),
                text(&e["kind"]),
                text(&e["reason"]),
            ]
        })
        .collect();
    Table {
        header: vec!["id", "received", "subject", "kind", "reason"],
        rows,
        right: vec![0],
    }
    .print(format, &mut std::io::stdout())?;
    eprintln!("{} rejected event(s) in all", text(&body["total"]));
    Ok(())
}
