//! Per-job results at archive time: a job's metric data replayed as cc-metric-collector
//! lines comes back in its archived `data.json` value for value, with the statistics,
//! footprint and energy cc-backend computes from it, in files cc-backend's schemas accept.
//!
//! The replayed job is cc-backend's shape (32 nodes, 24 hours, 9 node metrics at 60 s,
//! with gaps), generated from a fixed seed. Set `JOBLEDGER_CCB_JOB` to a job folder of
//! cc-backend's test archive (`pkg/archive/testdata/archive/emmy/1403/244/1608923076`:
//! `meta.json` and `data.json.gz`) to replay that real job instead.

use crate::archive::schema_violations;
use crate::faults::publish_until_acked_to;
use crate::helpers::*;
use crate::metric_store::{app_with_cluster, archive_now};
use crate::on_both_databases;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::path::Path;

on_both_databases!(a_replayed_job_archives_its_data_statistics_footprint_and_energy);

/// A job: its `meta.json` (numNodes, duration, subCluster) and `data.json`.
fn job_to_replay() -> (Value, Value) {
    if let Ok(dir) = std::env::var("JOBLEDGER_CCB_JOB") {
        let dir = Path::new(&dir);
        let meta: Value =
            serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
        let gz = std::fs::read(dir.join("data.json.gz")).unwrap();
        let data: Value = serde_json::from_reader(flate2::read::GzDecoder::new(&gz[..])).unwrap();
        return (meta, data);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(1403244);
    let metrics = [
        ("cpu_load", json!({"base": ""}), 20.0),
        ("clock", json!({"base": "Hz", "prefix": "M"}), 2600.0),
        ("rapl_power", json!({"base": "W"}), 225.0),
        ("ipc", json!({"base": "IPC"}), 1.5),
        ("mem_bw", json!({"base": "B/s", "prefix": "G"}), 65.0),
        ("flops_sp", json!({"base": "F/s", "prefix": "G"}), 230.0),
        ("mem_used", json!({"base": "B", "prefix": "G"}), 27.0),
        ("flops_dp", json!({"base": "F/s", "prefix": "G"}), 0.01),
        ("flops_any", json!({"base": "F/s", "prefix": "G"}), 230.0),
    ];
    let (nodes, duration, step) = (32, 86486, 60);
    let len = duration / step + 1;
    let mut data = json!({});
    for (name, unit, level) in metrics {
        let series: Vec<Value> = (0..nodes)
            .map(|n| {
                let mut v: f64 = level;
                let values: Vec<Value> = (0..len)
                    .map(|i| {
                        v = (v + rng.gen_range(-0.05..0.05) * level).max(0.0);
                        // Gaps as the collectors leave them: a missed minute now and then.
                        if i % 97 == 3 || rng.gen_ratio(1, 200) {
                            Value::Null
                        } else {
                            json!((v * 100.0).round() / 100.0)
                        }
                    })
                    .collect();
                json!({"hostname": format!("e{:04}", 102 + n), "data": values})
            })
            .collect();
        data[name] = json!({"node": {"unit": unit, "timestep": step, "series": series}});
    }
    let meta = json!({"numNodes": nodes, "duration": duration, "subCluster": "haswell"});
    (meta, data)
}

/// cc-backend's cluster file for the replayed metrics: node scope, the footprint and
/// energy settings of its example clusters.
fn cluster_json(data: &Value, sub_cluster: &str) -> Value {
    let metrics: Vec<Value> = data
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, scopes)| {
            let mut m = json!({
                "name": name, "unit": unit(&scopes["node"]["unit"]), "scope": "node",
                "aggregation": "avg", "timestep": 60,
                "peak": 1000, "normal": 500, "caution": 10, "alert": 1,
            });
            match name.as_str() {
                "cpu_load" | "flops_any" | "mem_bw" => m["footprint"] = json!("avg"),
                "mem_used" => m["footprint"] = json!("max"),
                "rapl_power" => m["energy"] = json!("power"),
                _ => {}
            }
            m
        })
        .collect();
    let zero = |base: &str| json!({"unit": {"base": base, "prefix": "G"}, "value": 0});
    json!({
        "name": "emmy", "metricConfig": metrics,
        "subClusters": [{
            "name": sub_cluster, "nodes": "e[0001-9999]", "processorType": "Intel Xeon",
            "socketsPerNode": 1, "coresPerSocket": 1, "threadsPerCore": 1,
            "flopRateScalar": zero("F/s"), "flopRateSimd": zero("F/s"),
            "memoryBandwidth": zero("B/s"),
            "topology": {"node": [0], "socket": [[0]], "memoryDomain": [[0]], "core": [[0]]}
        }]
    })
}

/// The unit as cc-backend's schema lists it: its old test data says "load" for `cpu_load`,
/// which the schema does not know.
fn unit(u: &Value) -> Value {
    let mut u = u.clone();
    if u["base"] == "load" {
        u["base"] = json!("");
    }
    u
}

fn values(series: &Value) -> Vec<Option<f64>> {
    series["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(Value::as_f64)
        .collect()
}

/// min, avg, max of the values present.
fn stats(v: &[Option<f64>]) -> (f64, f64, f64) {
    let p: Vec<f64> = v.iter().flatten().copied().collect();
    let min = p.iter().copied().fold(f64::INFINITY, f64::min);
    let max = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, p.iter().sum::<f64>() / p.len() as f64, max)
}

fn close(a: &Value, b: f64, what: &str) {
    let a = a
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: {a} is not a number"));
    assert!((a - b).abs() <= 0.0051, "{what}: {a} against {b}");
}

async fn a_replayed_job_archives_its_data_statistics_footprint_and_energy(db: Db) {
    let (meta, original) = job_to_replay();
    let sub_cluster = meta["subCluster"].as_str().unwrap_or("main");
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let root = tempfile::tempdir().unwrap();
    let archive = root.path().join("archive");
    let cluster = cluster_json(&original, sub_cluster);
    let (setup, app) =
        app_with_cluster(&tdb, root.path(), &cluster, &archive_now(&archive), "").await;

    let duration = meta["duration"].as_i64().unwrap();
    let start = (chrono::Utc::now().timestamp() - duration - 900) / 60 * 60;
    let hosts: Vec<String> = original["cpu_load"]["node"]["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["hostname"].as_str().unwrap().to_string())
        .collect();
    let resources: Vec<Value> = hosts.iter().map(|h| json!({"hostname": h})).collect();
    let job = json!({
        "jobId": 1403244, "cluster": "emmy", "user": "u", "project": "p", "partition": "work",
        "startTime": start, "numNodes": hosts.len(), "resources": resources,
        "walltime": 90000, "shared": "none",
    });
    assert_eq!(
        app.post("/api/jobs/start_job/", &job.to_string()).await.0,
        201
    );

    // The samples in time order, as the collectors sent them, a few thousand per message.
    let mut lines: Vec<(i64, String)> = Vec::new();
    let mut expected = 0usize;
    for (metric, scopes) in original.as_object().unwrap() {
        for s in scopes["node"]["series"].as_array().unwrap() {
            let host = s["hostname"].as_str().unwrap();
            for (i, v) in values(s).into_iter().enumerate() {
                if let Some(v) = v {
                    let t = start + 60 * i as i64;
                    lines.push((
                        t,
                        format!("{metric},cluster=emmy,hostname={host},type=node value={v} {t}"),
                    ));
                    expected += 1;
                }
            }
        }
    }
    lines.sort_by_key(|(t, _)| *t);
    let payloads: Vec<Vec<u8>> = lines
        .chunks(3000)
        .map(|c| {
            c.iter()
                .map(|(_, l)| l.as_str())
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes()
        })
        .collect();
    publish_until_acked_to(&setup, &setup.metric_subject, "replay", &payloads).await;
    let id = app.jobs("cluster=emmy").await[0]["id"].clone();
    eventually(120, "every sample in the metric store", || async {
        let (_, body) = app.get(&format!("/api/jobs/{id}/metrics?scope=node")).await;
        let held: usize = body
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
            .flat_map(|s| s["node"]["series"].as_array().cloned().unwrap_or_default())
            .map(|s| values(&s).iter().flatten().count())
            .sum();
        held == expected
    })
    .await;
    let stop = json!({"jobId": 1403244, "cluster": "emmy", "stopTime": start + duration, "jobState": "completed"});
    assert_eq!(
        app.post("/api/jobs/stop_job/", &stop.to_string()).await.0,
        200
    );
    eventually(60, "job archived", || async {
        app.jobs("cluster=emmy").await[0]["monitoringStatus"] == 3
    })
    .await;

    let dir = archive.join(format!("emmy/1403/244/{start}"));
    let gz = std::fs::read(dir.join("data.json.gz")).expect("data.json.gz");
    let data: Value = serde_json::from_reader(flate2::read::GzDecoder::new(&gz[..])).unwrap();
    let meta_out: Value =
        serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
    let row = &app.jobs("cluster=emmy").await[0];
    for (metric, scopes) in original.as_object().unwrap() {
        let want = scopes["node"]["series"].as_array().unwrap();
        let got = data[metric]["node"]["series"]
            .as_array()
            .unwrap_or_else(|| panic!("{metric} missing"));
        assert_eq!(got.len(), want.len(), "{metric}");
        assert_eq!(data[metric]["node"]["timestep"], 60);
        let (mut mins, mut avgs, mut maxs) = (Vec::new(), Vec::new(), Vec::new());
        for (w, g) in want.iter().zip(got) {
            assert_eq!(
                w["hostname"], g["hostname"],
                "{metric}: nodes in the job's order"
            );
            let (wv, gv) = (values(w), values(g));
            // The grid may end one slot later than cc-backend's; that slot is empty.
            assert!(
                gv.len() >= wv.len() && gv[wv.len()..].iter().all(Option::is_none),
                "{metric}"
            );
            for (i, (a, b)) in wv.iter().zip(&gv).enumerate() {
                match (a, b) {
                    (Some(a), Some(b)) => assert!((a - b).abs() < 0.0051, "{metric} {i}: {a} {b}"),
                    (None, None) => {}
                    _ => panic!("{metric} {} slot {i}: {a:?} against {b:?}", w["hostname"]),
                }
            }
            let (min, avg, max) = stats(&wv);
            close(&g["statistics"]["min"], min, metric);
            close(&g["statistics"]["avg"], avg, metric);
            close(&g["statistics"]["max"], max, metric);
            mins.push(min);
            avgs.push(avg);
            maxs.push(max);
        }
        // 32 series: the statistics series across them, min and max by timestep.
        let ss = &data[metric]["node"]["statisticsSeries"];
        let at = |i: usize| -> Vec<f64> { want.iter().filter_map(|w| values(w)[i]).collect() };
        let first = at(0);
        close(
            &ss["min"][0],
            first.iter().copied().fold(f64::INFINITY, f64::min),
            metric,
        );
        close(
            &ss["max"][0],
            first.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            metric,
        );
        // The job's statistics: the average of the nodes' averages, extremes of extremes.
        let st = &meta_out["statistics"][metric];
        close(
            &st["avg"],
            avgs.iter().sum::<f64>() / avgs.len() as f64,
            metric,
        );
        close(
            &st["min"],
            mins.iter().copied().fold(f64::INFINITY, f64::min),
            metric,
        );
        close(
            &st["max"],
            maxs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            metric,
        );
        assert_eq!(st["unit"], unit(&scopes["node"]["unit"]));
    }
    // Footprint and energy (kWh), in meta.json and in the job row alike.
    let st = &meta_out["statistics"];
    for (key, metric, stat) in [
        ("cpu_load_avg", "cpu_load", "avg"),
        ("mem_used_max", "mem_used", "max"),
    ] {
        assert_eq!(row["footprint"][key], st[metric][stat], "{key}");
        assert_eq!(meta_out["footprint"][key], st[metric][stat], "{key}");
    }
    let kwh =
        st["rapl_power"]["avg"].as_f64().unwrap() * hosts.len() as f64 * duration as f64 / 3.6e6;
    close(&row["energyFootprint"]["rapl_power"], kwh, "energy");
    close(&row["energy"], kwh, "energy");
    assert_eq!(meta_out["energy"], row["energy"]);
    // The row's footprint is indexed: the job lists by it.
    let by_load = app
        .jobs("sort=footprint.cpu_load_avg&footprint=mem_used_max:0-")
        .await;
    assert_eq!(by_load.len(), 1);
    assert!(
        meta_out["metaData"].get("metricData").is_none(),
        "{}",
        meta_out["metaData"]
    );

    // cc-backend's schemas: the meta file whole; data.json but for the metrics its schema
    // names that this job does not have.
    let plain = root.path().join("data.json");
    std::fs::write(&plain, data.to_string()).unwrap();
    // Nor can a statistics series be a number where fewer than 3 nodes have a value:
    // it is null there, as cc-backend writes it (and reads it back as NaN).
    let gap = |line: &str| -> bool {
        let Some(path) = line.split(": ").nth(1) else {
            return false;
        };
        let parts: Vec<&str> = path.split('/').collect();
        let (Some(metric), Some(i)) = (
            parts.first(),
            parts.last().and_then(|i| i.parse::<usize>().ok()),
        ) else {
            return false;
        };
        let present = original[*metric]["node"]["series"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| values(s).get(i).copied().flatten().is_some())
            .count();
        path.contains("/statisticsSeries/")
            && line.ends_with("None is not of type 'number'")
            && present < 3
    };
    let extra: Vec<String> = schema_violations("job-data.schema.json", &plain)
        .into_iter()
        .filter(|l| !(l.ends_with("is a required property") && l.contains(": (top): ")))
        .filter(|l| !gap(l))
        .collect();
    assert_eq!(extra, Vec::<String>::new());
    let extra: Vec<String> = schema_violations("job-meta.schema.json", &dir.join("meta.json"))
        .into_iter()
        .filter(|l| !(l.contains(": statistics: ") && l.ends_with("is a required property")))
        .collect();
    assert_eq!(extra, Vec::<String>::new());
}
