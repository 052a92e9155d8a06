//! Footprints in job lists: filtered and sorted through their index, given with a start
//! or computed from a running job's samples; and cc-backend's taggers.

use crate::events::start_json;
use crate::faults::publish_until_acked_to;
use crate::helpers::*;
use crate::metric_store::{app_with_cluster, archive_now, stop_and_archive};
use crate::on_both_databases;
use serde_json::{json, Value};

on_both_databases!(
    jobs_filter_and_sort_by_footprint_values,
    a_running_jobs_footprint_follows_its_samples,
    taggers_tag_apps_at_start_and_classes_at_archive,
);

fn ids(jobs: &[Value]) -> Vec<i64> {
    jobs.iter().map(|j| j["jobId"].as_i64().unwrap()).collect()
}

async fn jobs_filter_and_sort_by_footprint_values(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let app = TestApp::spawn(Setup::new(&tdb, SHARED_NATS)).await;
    for (id, fp) in [
        (1, json!({"flops_any_avg": 10.5, "mem_used_max": 3.0})),
        (2, json!({"flops_any_avg": 0.25})),
        (3, json!({"flops_any_avg": 99.0, "mem_used_max": 1.0})),
        (4, json!({})),
    ] {
        let mut s = start_json(id, 1_700_000_000 + id);
        s["footprint"] = fp;
        assert_eq!(
            app.post("/api/jobs/start_job/", &s.to_string()).await.0,
            201
        );
    }
    let q = |query: &str| {
        let app = &app;
        let query = query.to_string();
        async move { ids(&app.jobs(&query).await) }
    };
    assert_eq!(q("footprint=flops_any_avg:1-").await, vec![3, 1]);
    assert_eq!(q("footprint=flops_any_avg:0.25-10.5").await, vec![2, 1]);
    assert_eq!(
        q("footprint=flops_any_avg:-1&footprint=mem_used_max:0-").await,
        Vec::<i64>::new()
    );
    assert_eq!(q("footprint=mem_used_max:0-").await, vec![3, 1]);
    // Sorted by a value: jobs without it last (as cc-backend lists them), ties by id.
    assert_eq!(
        q("sort=footprint.flops_any_avg:desc").await,
        vec![3, 1, 2, 4]
    );
    assert_eq!(
        q("sort=footprint.flops_any_avg:asc").await,
        vec![2, 1, 3, 4]
    );
    assert_eq!(
        q("sort=footprint.mem_used_max:asc&footprint=flops_any_avg:1-").await,
        vec![3, 1]
    );
    let (_, body) = app
        .get("/api/jobs/?sort=footprint.flops_any_avg&items-per-page=1&page=2")
        .await;
    assert_eq!(
        (body["jobs"][0]["jobId"].clone(), body["total"].clone()),
        (json!(1), json!(4)),
        "{body}"
    );
    both_ways_of_a_footprint_sort_list_alike(&app, &tdb).await;
    // The command line passes the same filter and sort.
    let (ok, out, err) = crate::admin_cli::jl(
        &[
            "jobs",
            "list",
            "--footprint",
            "flops_any_avg:1-",
            "--sort",
            "footprint.flops_any_avg:desc",
            "--server",
            &app.base,
            "--format",
            "csv",
        ],
        &[],
    );
    assert!(ok, "{out}{err}");
    let job_ids: Vec<&str> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(1))
        .collect();
    assert_eq!(job_ids, vec!["3", "1"], "{out}");
    for bad in [
        "footprint=flops_any_avg",
        "footprint=x:3-1",
        "sort=footprint.",
    ] {
        let (status, body) = app.get(&format!("/api/jobs/?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
}

/// A footprint sort reads a page either from the filters' index or by walking the value
/// index, by how many jobs match; both must give the same pages, on every page.
async fn both_ways_of_a_footprint_sort_list_alike(app: &TestApp, tdb: &TestDb) {
    use jobledger::domain::query::{JobFilter, Range, Sort};
    use jobledger::store::query::JobQuery;
    // Jobs 5..=40: a value for two in three, with ties; every fifth on another cluster.
    for id in 5..=40i64 {
        let mut s = start_json(id, 1_700_000_100 + id);
        if id % 3 != 0 {
            s["footprint"] = json!({"mem_bw_avg": (id % 7) as f64});
        }
        if id % 5 == 0 {
            s["cluster"] = json!("other");
        }
        let (status, body) = app.post("/api/jobs/start_job/", &s.to_string()).await;
        assert_eq!(status, 201, "{body}");
    }
    let store = tdb.store().await;
    let filters = [
        JobFilter::default(),
        JobFilter {
            cluster: Some("other".into()),
            ..JobFilter::default()
        },
        JobFilter {
            footprint: vec!["mem_bw_avg:2-5".parse().unwrap()],
            ..JobFilter::default()
        },
        // A cluster's window: read from the footprint table alone when sorted whole.
        JobFilter {
            cluster: Some("testcluster".into()),
            start_time: Some(Range {
                from: Some(1_700_000_110),
                to: Some(1_700_000_135),
            }),
            ..JobFilter::default()
        },
        JobFilter {
            start_time: Some(Range {
                from: Some(1_700_000_000),
                to: None,
            }),
            ..JobFilter::default()
        },
    ];
    let sorts = ["desc", "asc", "desc", "asc", "desc"];
    for (filter, sort) in filters.iter().zip(sorts) {
        let sort: Sort = format!("footprint.mem_bw_avg:{sort}").parse().unwrap();
        for per_page in [1, 4, 7, 50] {
            let mut q = JobQuery {
                filter: filter.clone(),
                sort: sort.clone(),
                page: 1,
                per_page,
                with_metadata: false,
            };
            let (mut pages, mut total) = ((Vec::new(), Vec::new()), 0);
            for page in 1..=(44 / per_page + 2) {
                q.page = page;
                let (sorted, n) = store.list_jobs_sorting_at_most(&q, i64::MAX).await.unwrap();
                let (walked, m) = store.list_jobs_sorting_at_most(&q, 0).await.unwrap();
                assert_eq!(n, m, "{filter:?}");
                total = n;
                pages.0.extend(sorted.iter().map(|j| j.job_id));
                pages.1.extend(walked.iter().map(|j| j.job_id));
            }
            assert_eq!(pages.0, pages.1, "{filter:?}, {per_page} a page");
            let mut unique = pages.0.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), pages.0.len(), "{filter:?}: a job twice");
            assert_eq!(pages.0.len() as i64, total, "{filter:?}: {pages:?}");
            assert!(total >= 7, "{filter:?}: {pages:?}");
        }
    }
}

async fn a_running_jobs_footprint_follows_its_samples(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let dir = tempfile::tempdir().unwrap();
    let cluster = json!({
        "name": "testcluster",
        "metricConfig": [
            {"name": "cpu_load", "unit": {"base": ""}, "scope": "node", "aggregation": "avg",
             "timestep": 60, "peak": 64, "normal": 32, "caution": 4, "alert": 1, "footprint": "avg"},
            {"name": "node_power", "unit": {"base": "W"}, "scope": "node", "aggregation": "sum",
             "timestep": 60, "peak": 500, "normal": 300, "caution": 50, "alert": 10, "energy": "power"}
        ],
        "subClusters": [{"name": "main", "nodes": "n[01-10]", "processorType": "x",
            "socketsPerNode": 1, "coresPerSocket": 1, "threadsPerCore": 1,
            "flopRateScalar": {"unit": {"base": "F/s"}, "value": 0},
            "flopRateSimd": {"unit": {"base": "F/s"}, "value": 0},
            "memoryBandwidth": {"unit": {"base": "B/s"}, "value": 0},
            "topology": {"node": [0], "socket": [[0]], "memoryDomain": [[0]], "core": [[0]]}}]
    });
    let (setup, app) = app_with_cluster(
        &tdb,
        dir.path(),
        &cluster,
        "",
        "
footprint_interval_secs = 1",
    )
    .await;
    let start = (chrono::Utc::now().timestamp() - 3600) / 60 * 60;
    let mut s = start_json(9, start);
    s["numNodes"] = json!(2);
    s["resources"] = json!([{"hostname": "n01"}, {"hostname": "n02"}]);
    assert_eq!(
        app.post("/api/jobs/start_job/", &s.to_string()).await.0,
        201
    );
    // n01 at load 4 and 200 W, n02 at load 2 and 100 W, for the hour so far.
    let mut lines = Vec::new();
    for i in 0..60 {
        let t = start + 60 * i;
        lines.push(format!("cpu_load,hostname=n01 value=4 {t}"));
        lines.push(format!("cpu_load,hostname=n02 value=2 {t}"));
        lines.push(format!("node_power,hostname=n01 value=200 {t}"));
        lines.push(format!("node_power,hostname=n02 value=100 {t}"));
    }
    publish_until_acked_to(
        &setup,
        &setup.metric_subject,
        "fp",
        &[lines.join("\n").into_bytes()],
    )
    .await;
    eventually(60, "the running job's footprint", || async {
        app.jobs("state=running").await[0]["footprint"]["cpu_load_avg"] == json!(3.0)
    })
    .await;
    let job = &app.jobs("state=running").await[0];
    // The average node's 150 W on 2 nodes for the hour it has run so far: about 0.3 kWh.
    let kwh = job["energy"].as_f64().unwrap();
    assert!((0.29..=0.31).contains(&kwh), "{job}");
    assert_eq!(job["energyFootprint"]["node_power"], job["energy"]);
    assert_eq!(
        ids(&app
            .jobs("sort=footprint.cpu_load_avg&footprint=cpu_load_avg:2-4")
            .await),
        vec![9]
    );
}

/// cc-backend's tagger folder: an application pattern and a low-load rule in its format.
fn tagger_dir(root: &std::path::Path) -> std::path::PathBuf {
    let dir = root.join("tagger");
    std::fs::create_dir_all(dir.join("apps")).unwrap();
    std::fs::create_dir_all(dir.join("jobclasses")).unwrap();
    std::fs::write(dir.join("apps/vasp.txt"), "vasp_std\nvasp_gam\n").unwrap();
    std::fs::write(
        dir.join("jobclasses/parameters.json"),
        r#"{"factor": 0.5, "min_secs": 600.0}"#,
    )
    .unwrap();
    let rule = json!({
        "name": "Low CPU load", "tag": "lowload", "parameters": ["factor", "min_secs"],
        "metrics": ["cpu_load"],
        "requirements": ["job.shared == \"none\"", "job.duration > min_secs"],
        "variables": [{"name": "threshold", "expr": "cpu_load.limits.peak * factor"}],
        "rule": "cpu_load.avg < threshold",
        "hint": "average load {{.cpu_load.avg}} below {{.threshold}}"
    });
    std::fs::write(dir.join("jobclasses/lowload.json"), rule.to_string()).unwrap();
    dir
}

async fn taggers_tag_apps_at_start_and_classes_at_archive(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let dir = tempfile::tempdir().unwrap();
    let cluster = json!({
        "name": "testcluster",
        "metricConfig": [{"name": "cpu_load", "unit": {"base": ""}, "scope": "node",
            "aggregation": "avg", "timestep": 60, "peak": 72, "normal": 36, "caution": 4, "alert": 1}],
        "subClusters": [{"name": "main", "nodes": "n[01-10]"}]
    });
    let extra = format!(
        "{}[tagging]
path = \"{}\"
",
        archive_now(&dir.path().join("archive")),
        tagger_dir(dir.path()).display()
    );
    let (setup, app) = app_with_cluster(&tdb, dir.path(), &cluster, &extra, "").await;
    let start = (chrono::Utc::now().timestamp() - 3600) / 60 * 60;
    for (id, host, script) in [
        (1, "n01", "#!/bin/bash\nsrun VASP_STD"),
        (2, "n02", "srun ./a.out"),
    ] {
        let mut s = start_json(id, start);
        s["resources"] = json!([{"hostname": host}]);
        s["shared"] = json!("none");
        s["metaData"] = json!({"jobScript": script});
        assert_eq!(
            app.post("/api/jobs/start_job/", &s.to_string()).await.0,
            201
        );
    }
    // Job 1 loads its node to 5 of 72; job 2 to 70.
    let lines: Vec<String> = (0..30)
        .flat_map(|i| {
            let t = start + 60 * i;
            [
                format!("cpu_load,hostname=n01 value=5 {t}"),
                format!("cpu_load,hostname=n02 value=70 {t}"),
            ]
        })
        .collect();
    publish_until_acked_to(
        &setup,
        &setup.metric_subject,
        "tags",
        &[lines.join("\n").into_bytes()],
    )
    .await;
    let tags = |j: &Value| -> Vec<String> {
        j["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                format!(
                    "{}:{}",
                    t["type"].as_str().unwrap(),
                    t["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    let jobs = app.jobs("").await;
    let by_id = |jobs: &[Value], id: i64| jobs.iter().find(|j| j["jobId"] == id).unwrap().clone();
    assert_eq!(tags(&by_id(&jobs, 1)), vec!["app:vasp"]);
    assert!(tags(&by_id(&jobs, 2)).is_empty());
    eventually(60, "samples stored", || async {
        let id = by_id(&app.jobs("").await, 2)["id"].clone();
        let (_, body) = app.get(&format!("/api/jobs/{id}/metrics")).await;
        body["cpu_load"]["node"]["series"][0]["data"]
            .as_array()
            .is_some_and(|d| d.iter().filter(|v| v.is_number()).count() == 30)
    })
    .await;
    stop_and_archive(&app, &[1, 2], start + 1800).await;
    let jobs = app.jobs("").await;
    let low = by_id(&jobs, 1);
    assert_eq!(tags(&low), vec!["app:vasp", "jobClass:lowload"]);
    assert_eq!(low["metaData"]["message"], "average load 5 below 36");
    assert!(tags(&by_id(&jobs, 2)).is_empty());
    assert!(by_id(&jobs, 2)["metaData"].get("message").is_none());
    // meta.json lists the class too.
    let meta: Value = serde_json::from_slice(
        &std::fs::read(
            dir.path()
                .join(format!("archive/testcluster/0/001/{start}/meta.json")),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(
        meta["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "lowload"),
        "{meta}"
    );
}
