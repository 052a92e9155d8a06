//! The archiver: contract layout, retries and failure, crash safety.

use crate::events::*;
use crate::helpers::*;
use crate::on_both_databases;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

on_both_databases!(
    a_stopped_job_is_archived_at_the_contract_path_with_its_final_state,
    a_failing_archive_is_retried_then_marked_failed_then_requeued_by_archive_retry,
    sigkill_while_archiving_leaves_every_job_archived_once_and_no_truncated_file,
    archive_then_import_into_an_empty_database_gives_the_same_jobs,
    a_cc_backend_archive_imports_with_its_history,
    archived_files_satisfy_cc_backends_schemas,
);

fn archive_toml(root: &Path, extra: &str) -> String {
    format!(
        "[archive]\npath = \"{}\"\nretry_base_secs = 1\nmetrics_wait_secs = 0\n{extra}",
        root.display()
    )
}

/// A process that archives into a fresh folder, over a fresh database.
async fn archiving_app(db: Db) -> (TestDb, tempfile::TempDir, TestApp) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let root = tempfile::tempdir().unwrap();
    let mut setup = Setup::new(&tdb, SHARED_NATS);
    setup.extra = archive_toml(root.path(), "");
    let app = TestApp::spawn(setup).await;
    (tdb, root, app)
}

fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) fn cli(app: &TestApp, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_jobledger"))
        .arg("archive")
        .args(args)
        .arg("--config")
        .arg(app.config_path())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

async fn a_stopped_job_is_archived_at_the_contract_path_with_its_final_state(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let root = tempfile::tempdir().unwrap();
    let mut setup = Setup::new(&tdb, SHARED_NATS);
    // emmy as cc-backend describes it: its cluster file goes to the archive as it is.
    let emmy = std::fs::canonicalize("../shared/reference/ccb/clusters/emmy.json").unwrap();
    setup.extra = format!(
        "{}[[clusters]]\nname = \"emmy\"\ncluster_json = \"{}\"\n",
        archive_toml(root.path(), ""),
        emmy.display()
    );
    let app = TestApp::spawn(setup).await;
    let mut start = start_json(1403244, 1608923076);
    start["cluster"] = json!("emmy");
    start["resources"] = json!([{"hostname": "w1127"}]);
    start["tags"] = json!([{"type": "app", "name": "vasp"}]);
    start["metaData"] = json!({"jobName": "relax"});
    start["submitTime"] = json!(1608920000);
    start["requestedMemory"] = json!(64000);
    let mut quiet = start_json(7, 1608923076);
    quiet["cluster"] = json!("emmy");
    quiet["resources"] = json!([{"hostname": "w1128"}]);
    quiet["monitoringStatus"] = json!(0);
    for j in [&start, &quiet] {
        assert_eq!(
            app.post("/api/jobs/start_job/", &j.to_string()).await.0,
            201
        );
    }
    for id in [1403244, 7] {
        let stop = json!({"jobId": id, "cluster": "emmy", "stopTime": 1608926676, "jobState": "completed"});
        assert_eq!(
            app.post("/api/jobs/stop_job/", &stop.to_string()).await.0,
            200
        );
    }
    eventually(30, "job archived", || async {
        app.jobs("cluster=emmy&state=completed")
            .await
            .iter()
            .any(|j| j["monitoringStatus"] == 3)
    })
    .await;
    let dir = root.path().join("emmy/1403/244/1608923076");
    let meta = read_json(&dir.join("meta.json"));
    assert_eq!(std::fs::read(dir.join("data.json")).unwrap(), b"{}");
    assert_eq!(
        std::fs::read_to_string(root.path().join("version.txt")).unwrap(),
        "3"
    );
    assert_eq!(
        std::fs::read(root.path().join("emmy/cluster.json")).unwrap(),
        std::fs::read(&emmy).unwrap()
    );
    assert_eq!(meta["subCluster"], "haswell");
    assert_eq!(
        (
            &meta["jobState"],
            &meta["duration"],
            &meta["monitoringStatus"]
        ),
        (&json!("completed"), &json!(3600), &json!(3))
    );
    assert_eq!(
        (&meta["submitTime"], &meta["requestedMemory"]),
        (&json!(1608920000), &json!(64000))
    );
    assert_eq!(meta["tags"][0]["name"], "vasp");
    assert_eq!(meta["metaData"]["jobName"], "relax");
    assert!(meta.get("archiveLocation").is_none());

    let jobs = app.jobs("cluster=emmy").await;
    let archived = jobs.iter().find(|j| j["jobId"] == 1403244).unwrap();
    assert_eq!(archived["archiveLocation"], "emmy/1403/244/1608923076");
    let quiet = jobs.iter().find(|j| j["jobId"] == 7).unwrap();
    assert_eq!(
        quiet["monitoringStatus"], 0,
        "monitoringStatus 0 is never archived"
    );
    assert!(!root.path().join("emmy/0/007").exists());

    let bundle = |id: &Value| {
        let url = format!("{}/api/jobs/{id}/archive", app.base);
        let http = app.http.clone();
        async move { http.get(url).send().await.unwrap() }
    };
    let r = bundle(&archived["id"]).await;
    assert_eq!(r.status().as_u16(), 200);
    let tarball = zstd::decode_all(&r.bytes().await.unwrap()[..]).unwrap();
    let mut files = std::collections::BTreeMap::new();
    for entry in tar::Archive::new(tarball.as_slice()).entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        files.insert(entry.path().unwrap().display().to_string(), bytes);
    }
    assert_eq!(
        files["meta.json"],
        std::fs::read(dir.join("meta.json")).unwrap()
    );
    assert_eq!(files["data.json"], b"{}");
    assert_eq!(bundle(&quiet["id"]).await.status().as_u16(), 404);

    let (ok, out) = cli(&app, &["verify"]);
    assert!(
        ok && out.contains("1 archived job(s) checked, 0 problem(s)"),
        "{out}"
    );
    let (ok, out) = cli(&app, &["list", "--tag", "app:vasp", "--from", "2020-12-25"]);
    assert!(ok && out.contains("emmy/1403/244/1608923076"), "{out}");
    let (_, out) = cli(&app, &["list", "--user", "nobody"]);
    assert!(!out.contains("emmy/1403"), "{out}");
}

async fn a_failing_archive_is_retried_then_marked_failed_then_requeued_by_archive_retry(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("archive");
    // A file where the archive folder should be: every write fails (root ignores modes).
    std::fs::write(&root, b"not a folder").unwrap();
    let mut setup = Setup::new(&tdb, SHARED_NATS);
    setup.extra = archive_toml(&root, "max_attempts = 2\n");
    let app = TestApp::spawn(setup).await;
    app.post("/api/jobs/start_job/", &start_json(5, 1000).to_string())
        .await;
    app.post(
        "/api/jobs/stop_job/",
        &stop_json(5, None, 1100, "completed").to_string(),
    )
    .await;
    eventually(30, "archiving failed for good", || async {
        app.jobs("").await[0]["monitoringStatus"] == 2
    })
    .await;
    let job = &app.jobs("").await[0];
    assert!(
        job["archiveError"]
            .as_str()
            .unwrap()
            .contains("writing testcluster/0/005/1000"),
        "{job}"
    );
    assert!(app.metric("jobledger_archive_write_failures_total").await >= 2.0);
    assert_eq!(app.metric("jobledger_archive_failed").await, 1.0);

    std::fs::remove_file(&root).unwrap();
    let (ok, out) = cli(&app, &["retry", "--all-failed"]);
    assert!(ok && out.contains("1 job(s)"), "{out}");
    eventually(30, "archived after the retry", || async {
        app.jobs("").await[0]["monitoringStatus"] == 3
    })
    .await;
    assert!(app.jobs("").await[0].get("archiveError").is_none());
    assert!(root.join("testcluster/0/005/1000/meta.json").is_file());
}

async fn sigkill_while_archiving_leaves_every_job_archived_once_and_no_truncated_file(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let root = tempfile::tempdir().unwrap();
    const JOBS: i64 = 5000;
    let mut setup = Setup::new(&tdb, SHARED_NATS);
    setup.extra = archive_toml(root.path(), "enabled = false\n");
    let mut app = TestApp::spawn(setup).await;
    let mut lines = Vec::new();
    for id in 1..=JOBS {
        lines.push(start_line(&start_json(id, 1000)).into_bytes());
        lines.push(stop_line(id, Some(1000), 1060, "completed").into_bytes());
    }
    let js = app.setup.jetstream().await;
    publish_all(&js, &app.setup.job_subject, lines).await;
    eventually(120, "the queue is filled", || async {
        app.get("/api/jobs/?state=completed&items-per-page=1")
            .await
            .1["total"]
            == JOBS
    })
    .await;
    app.terminate();

    // Leases far longer than the test may wait: the restarted process must take back the
    // jobs its killed predecessor had claimed at once, not when their leases expire.
    app.setup.extra = archive_toml(root.path(), "lease_secs = 600\nbatch_size = 100\n");
    app.restart().await;
    let archived = |app: &TestApp| {
        let base = app.base.clone();
        let http = app.http.clone();
        async move {
            let url = format!("{base}/metrics");
            let text = http.get(url).send().await.unwrap().text().await.unwrap();
            let waiting: i64 = text
                .lines()
                .find_map(|l| {
                    l.strip_prefix("jobledger_archive_queue_depth ")?
                        .parse()
                        .ok()
                })
                .unwrap_or(JOBS);
            JOBS - waiting
        }
    };
    eventually(120, "part of the queue archived", || async {
        archived(&app).await >= 500
    })
    .await;
    app.kill();
    let at_kill = ledger_status_counts(&tdb).await;
    assert!(
        at_kill.3 > 0 && at_kill.3 < JOBS,
        "killed mid-queue: {at_kill:?}"
    );
    app.restart().await;
    eventually(
        120,
        "every job archived, the killed process's claims included",
        || async { ledger_status_counts(&tdb).await.3 == JOBS },
    )
    .await;
    assert_eq!(ledger_status_counts(&tdb).await, (0, 0, 0, JOBS));
    let (mut metas, mut partial) = (0, Vec::new());
    for entry in walk(root.path()) {
        let name = entry.file_name().unwrap().to_str().unwrap().to_string();
        if name.starts_with('.') {
            partial.push(entry);
        } else if name == "meta.json" {
            read_json(&entry);
            metas += 1;
        }
    }
    assert!(partial.is_empty(), "temporary files left: {partial:?}");
    assert_eq!(metas, JOBS);
}

/// (monitoring 0, 1, 2, 3) over all jobs, from the database.
pub(crate) async fn ledger_status_counts(db: &TestDb) -> (i64, i64, i64, i64) {
    let store = db.store().await;
    let row: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM job WHERE monitoring_status = 0), \
         (SELECT COUNT(*) FROM job WHERE monitoring_status = 1), \
         (SELECT COUNT(*) FROM job WHERE monitoring_status = 2), \
         (SELECT COUNT(*) FROM job WHERE monitoring_status = 3)",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    store.close().await;
    row
}

pub(crate) fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Every job of a database as JSON, without what differs between databases by nature.
async fn all_jobs(db: &TestDb) -> Vec<Value> {
    let store = db.store().await;
    let query = jobledger::store::query::JobQuery {
        page: 1,
        per_page: 100_000,
        with_metadata: true,
        ..Default::default()
    };
    let (jobs, _) = store.list_jobs(&query).await.unwrap();
    store.close().await;
    let mut out: Vec<Value> = jobs
        .into_iter()
        .map(|j| {
            let mut v = serde_json::to_value(j).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("id");
            o.remove("archivedAt");
            for t in o["tags"].as_array_mut().unwrap() {
                t.as_object_mut().unwrap().remove("id");
            }
            v
        })
        .collect();
    out.sort_by_key(|v| {
        (
            v["cluster"].to_string(),
            v["jobId"].as_i64(),
            v["startTime"].as_i64(),
        )
    });
    out
}

async fn archive_then_import_into_an_empty_database_gives_the_same_jobs(db: Db) {
    let (tdb, root, app) = archiving_app(db).await;
    for id in 1..=20 {
        let mut j = start_json(id, 1000 + id);
        j["tags"] = json!([{"type": "app", "name": format!("a{}", id % 3)}]);
        j["metaData"] =
            json!({"jobName": format!("job {id}"), "jobScript": "#!/bin/sh\necho \"hi\""});
        j["numNodes"] = json!(2);
        j["resources"] = json!([{"hostname": "n1", "hwthreads": [0, 1]}, {"hostname": "n2"}]);
        j["requestedMemory"] = json!(id * 1000);
        assert_eq!(
            app.post("/api/jobs/start_job/", &j.to_string()).await.0,
            201
        );
        let state = if id % 4 == 0 { "failed" } else { "completed" };
        let stop = stop_json(id, None, 2000 + id, state).to_string();
        assert_eq!(app.post("/api/jobs/stop_job/", &stop).await.0, 200);
    }
    eventually(60, "all archived", || async {
        app.jobs("")
            .await
            .iter()
            .all(|j| j["monitoringStatus"] == 3)
    })
    .await;

    let fresh = TestDb::new(db).await;
    let out = Command::new(env!("CARGO_BIN_EXE_jobledger"))
        .args(["archive", "import"])
        .arg(root.path())
        .arg("--config")
        .arg(app.config_path())
        .env("JOBLEDGER_DATABASE_URL", &fresh.url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("20 job(s) imported, 0 already present"),
        "{text}"
    );
    let (before, after) = (all_jobs(&tdb).await, all_jobs(&fresh).await);
    assert_eq!(before.len(), 20);
    assert_eq!(before, after);
}

/// A job as cc-backend (before 1.5) wrote it: `exclusive`, `statistics`, status 1.
async fn a_cc_backend_archive_imports_with_its_history(db: Db) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("emmy/1403/244/1608923076");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(root.path().join("version.txt"), "3\n").unwrap();
    let meta = json!({
        "jobId": 1403244, "user": "emmyUser6", "project": "no project", "cluster": "emmy",
        "subCluster": "main", "partition": "work", "arrayJobId": 0, "numNodes": 1,
        "numHwthreads": 20, "numAcc": 0, "exclusive": 1, "monitoringStatus": 1, "smt": 0,
        "jobState": "completed", "duration": 1492, "walltime": 86400,
        "resources": [{"hostname": "e0102"}], "startTime": 1608923076, "tags": [],
        "statistics": {"cpu_load": {"unit": {"base": ""}, "avg": 19.9, "min": 0.2, "max": 20.1},
                       "cpu_power": {"unit": {"base": "W"}, "avg": 200, "min": 10, "max": 300}},
        "metaData": {"jobName": "abc"}
    });
    std::fs::write(dir.join("meta.json"), meta.to_string()).unwrap();
    std::fs::write(dir.join("data.json"), "{}").unwrap();
    // The archive's cluster file says which statistics make the footprint and energy.
    let metric = |name: &str, extra: Value| {
        let mut m = json!({"name": name, "unit": {"base": ""}, "scope": "node", "timestep": 60,
                           "peak": 1, "normal": 1, "caution": 1, "alert": 1});
        m.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        m
    };
    let cluster = json!({"name": "emmy", "subClusters": [{"name": "main", "nodes": "e[0001-0999]"}],
        "metricConfig": [metric("cpu_load", json!({"footprint": "avg"})),
                         metric("mem_used", json!({"footprint": "max"})),
                         metric("cpu_power", json!({"energy": "power"}))]});
    std::fs::write(root.path().join("emmy/cluster.json"), cluster.to_string()).unwrap();
    // A job without statistics in meta.json: they come from its data.json.gz.
    let second = root.path().join("emmy/1403/245/1608923076");
    std::fs::create_dir_all(&second).unwrap();
    let mut meta2 = meta.clone();
    meta2["jobId"] = json!(1403245);
    meta2["numNodes"] = json!(2);
    meta2["resources"] = json!([{"hostname": "e0102"}, {"hostname": "e0103"}]);
    meta2.as_object_mut().unwrap().remove("statistics");
    std::fs::write(second.join("meta.json"), meta2.to_string()).unwrap();
    let series = |host: &str, data: Value| json!({"hostname": host, "statistics": {"min": 0, "avg": 0, "max": 0}, "data": data});
    let data = json!({"mem_used": {"node": {"unit": {"base": "B", "prefix": "G"}, "timestep": 60,
        "series": [series("e0102", json!([1.5, null, 40.25])), series("e0103", json!([2, 3]))]}}});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, data.to_string().as_bytes()).unwrap();
    std::fs::write(second.join("data.json.gz"), gz.finish().unwrap()).unwrap();
    let broken = root.path().join("emmy/1/001/5");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("meta.json"), "{half").unwrap();

    let tdb = TestDb::new(db).await;
    let out = Command::new(env!("CARGO_BIN_EXE_jobledger"))
        .args(["archive", "import"])
        .arg(root.path())
        .env("JOBLEDGER_DATABASE_URL", &tdb.url)
        .current_dir(root.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "a problem makes the exit code non-zero"
    );
    assert!(
        text.contains("2 job(s) imported") && text.contains("1 problem(s)"),
        "{text}"
    );
    assert!(text.contains("emmy/1/001/5/meta.json: not JSON"), "{text}");
    let mut jobs = all_jobs(&tdb).await;
    jobs.sort_by_key(|j| j["jobId"].as_i64());
    // cc-backend's formulas: avg for cpu_load, 200 W × 1 node × 1492 s in kWh; the
    // max of the nodes' maxima of mem_used, from the data file.
    assert_eq!(jobs[0]["footprint"], json!({"cpu_load_avg": 19.9}));
    assert_eq!(jobs[0]["energyFootprint"], json!({"cpu_power": 0.08}));
    assert_eq!(jobs[0]["energy"], json!(0.08));
    assert_eq!(jobs[1]["footprint"], json!({"mem_used_max": 40.25}));
    assert_eq!(jobs[0]["stopTime"], 1608923076 + 1492);
    assert_eq!(jobs[0]["shared"], "none");
    assert_eq!(jobs[0]["monitoringStatus"], 3);
    assert_eq!(jobs[0]["archiveLocation"], "emmy/1403/244/1608923076");
    assert_eq!(jobs[0]["smt"], 0, "an archived smt of 0 stays 0");
}

/// `scripts/ccb-validate` over what the archive wrote, against cc-backend's schemas.
pub(crate) fn schema_violations(schema: &str, file: &Path) -> Vec<String> {
    let out = Command::new("python3")
        .arg("scripts/ccb-validate")
        .arg("../shared/reference/ccb")
        .arg(schema)
        .arg(file)
        .output()
        .unwrap();
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    // It fails exactly when it names a violation; anything else is the validator failing.
    assert!(
        out.stderr.is_empty() && out.status.success() == lines.is_empty(),
        "the validator did not run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines
}

async fn archived_files_satisfy_cc_backends_schemas(db: Db) {
    let (_tdb, root, app) = archiving_app(db).await;
    // A cluster without a cluster.json (the archive generates one), a job without
    // accelerators that says so with numAcc 0.
    let mut start = start_json(42, 1700000000);
    start["numAcc"] = json!(0);
    start["numHwthreads"] = json!(4);
    assert_eq!(
        app.post("/api/jobs/start_job/", &start.to_string()).await.0,
        201
    );
    let stop = stop_json(42, None, 1700003600, "completed").to_string();
    assert_eq!(app.post("/api/jobs/stop_job/", &stop).await.0, 200);
    eventually(30, "job archived", || async {
        app.jobs("")
            .await
            .iter()
            .all(|j| j["monitoringStatus"] == 3)
    })
    .await;
    let cluster = root.path().join("testcluster/cluster.json");
    assert_eq!(
        schema_violations("cluster.schema.json", &cluster),
        Vec::<String>::new()
    );
    let meta = root.path().join("testcluster/0/042/1700000000/meta.json");
    assert!(
        read_json(&meta).get("numAcc").is_none(),
        "numAcc 0 is left out"
    );
    // Statistics come with metric data (not archived yet): the one part it cannot meet.
    let other: Vec<String> = schema_violations("job-meta.schema.json", &meta)
        .into_iter()
        .filter(|l| !l.ends_with("'statistics' is a required property"))
        .collect();
    assert_eq!(other, Vec::<String>::new());
}
