//! The web interface in a real headless Chromium (issue 13), on both databases: sign-in
//! and role scoping, filters, a job's plots and tags, the live job list, escaping, the
//! cross-site check, and every other page rendered once, with screenshots of each.

use crate::browser::Browser;
use crate::clients::Keys;
use crate::events::{start_json, start_line};
use crate::faults::publish_until_acked_to;
use crate::helpers::*;
use crate::metric_store::app_with_cluster;
use crate::on_both_databases;
use serde_json::{json, Value};

on_both_databases!(
    a_user_signs_in_filters_and_sees_a_job_with_its_plots,
    a_job_started_on_nats_appears_in_an_open_list,
    a_forged_cross_site_post_is_refused,
);

const EVIL: &str = "<script>alert(1)</script>";

fn cluster() -> Value {
    let metric = |name: &str, fp: Option<&str>| {
        let mut m = json!({"name": name, "unit": {"base": "", "prefix": ""}, "scope": "node",
            "aggregation": "avg", "timestep": 60, "peak": 100, "normal": 50, "caution": 20, "alert": 5});
        if let Some(f) = fp {
            m["footprint"] = json!(f);
        }
        m
    };
    json!({
        "name": "testcluster",
        "metricConfig": [metric("cpu_load", Some("avg")), metric("mem_used", None)],
        "subClusters": [{"name": "main", "nodes": "n[01-10]"}]
    })
}

/// A jobledger with `[auth]` and `cluster()`, the keys, and the job ids of alice's
/// two-node job with an hour of samples (named [`EVIL`]) and bob's job.
async fn world(tdb: &TestDb, dir: &std::path::Path) -> (Setup, TestApp, Keys, i64, i64) {
    let keys = Keys::new();
    let (setup, app) = app_with_cluster(tdb, dir, &cluster(), &keys.toml(), "").await;
    let api = keys.token("adapter", "api", &[]);
    let start = (chrono::Utc::now().timestamp() - 7200) / 60 * 60;
    let mut a = start_json(1, start);
    a["numNodes"] = json!(2);
    a["resources"] = json!([{"hostname": "n01"}, {"hostname": "n02"}]);
    a["metaData"] = json!({"jobName": EVIL, "jobScript": "#!/bin/bash\nsrun ./solver"});
    let alice = app.start_job_as(&a, &api).await;
    let mut b = start_json(2, start + 60);
    b["user"] = json!("bob");
    b["project"] = json!("p2");
    b["metaData"] = json!({"jobName": "bobs-run"});
    b["resources"] = json!([{"hostname": "n03"}]);
    let bob = app.start_job_as(&b, &api).await;
    let mut lines = Vec::new();
    for i in 0..60 {
        let t = start + 60 * i;
        lines.push(format!("cpu_load,hostname=n01 value={} {t}", 10 + i % 7));
        lines.push(format!("cpu_load,hostname=n02 value=40 {t}"));
        lines.push(format!("mem_used,hostname=n01 value=3 {t}"));
        lines.push(format!("mem_used,hostname=n02 value=4 {t}"));
    }
    publish_until_acked_to(
        &setup,
        &setup.metric_subject,
        "web",
        &[lines.join("\n").into_bytes()],
    )
    .await;
    let path = format!("/api/jobs/{alice}/metrics?metric=cpu_load");
    eventually(60, "alice's samples queryable", || async {
        let (_, m) = app.get_as(&path, &api).await;
        m["cpu_load"]["node"]["series"]
            .as_array()
            .is_some_and(|s| s.len() == 2)
    })
    .await;
    (setup, app, keys, alice, bob)
}

async fn sign_in(b: &Browser, base: &str, token: &str) {
    b.goto(&format!("{base}/jobs")).await;
    b.text("#login").await;
    b.fill("#token", token).await;
    b.click("#signin").await;
    b.text("#jobs").await;
}

async fn a_user_signs_in_filters_and_sees_a_job_with_its_plots(db: Db) {
    let tdb = TestDb::new(db).await;
    let dir = tempfile::tempdir().unwrap();
    let (_setup, app, keys, alice, bob) = world(&tdb, dir.path()).await;
    let base = &app.base;
    let b = Browser::start().await;

    // No session: the sign-in page, then back where the user wanted to go.
    b.goto(&format!("{base}/jobs/{alice}")).await;
    assert!(b.url().await.contains("/login?next="), "{}", b.url().await);
    b.screenshot(&format!("{db:?}-login")).await;
    b.fill("#token", "not-a-token").await;
    b.click("#signin").await;
    assert!(b.text("#error").await.contains("not accepted"));

    // alice sees her job and never bob's, whichever way she asks.
    sign_in(&b, base, &keys.token("alice", "user", &[])).await;
    assert_eq!(b.count("#jobs tbody tr").await, 1);
    let html = b.client.source().await.unwrap();
    assert!(
        !html.contains("bobs-run") && !html.contains(">bob<"),
        "alice sees bob's job"
    );
    b.goto(&format!("{base}/jobs?user=bob")).await;
    assert_eq!(b.text("#total").await, "0");
    b.goto(&format!("{base}/jobs/{bob}")).await;
    assert_eq!(b.text("#error").await, format!("no job with id {bob}"));
    let (_, csv) = csv_as(&app, &keys.token("alice", "user", &[])).await;
    assert_eq!(csv.lines().count(), 2, "{csv}");

    // The job page: the name as text, plots of both nodes, statistics, efficiency.
    b.goto(&format!("{base}/jobs/{alice}")).await;
    assert_eq!(b.text("#jobname").await, EVIL);
    assert_eq!(b.text("#hosts").await, "n[01-02]");
    assert!(b.text("#script").await.contains("srun ./solver"));
    b.until(
        30,
        "document.querySelector('#plots').dataset.state === 'drawn'",
    )
    .await;
    assert_eq!(
        b.eval("document.querySelector('#plots').dataset.drawn")
            .await,
        "2"
    );
    assert_eq!(
        b.eval("document.querySelector('.plot[data-metric=cpu_load]').dataset.lines")
            .await,
        "2"
    );
    assert_eq!(b.count(".plot canvas").await, 2, "one canvas per metric");
    let painted = "(() => { const c = document.querySelector('.plot[data-metric=cpu_load] canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; })()";
    assert!(
        b.eval(painted).await.as_u64().unwrap() > 1000,
        "the canvas is drawn on"
    );
    b.until(
        20,
        "document.querySelectorAll('#statistics tbody tr').length === 2",
    )
    .await;
    b.until(
        20,
        "!document.querySelector('#efficiency').textContent.includes('Loading')",
    )
    .await;
    assert_eq!(b.count("#addtag").await, 0, "a user may not tag");
    // Had the name run as a script, its alert would hold the page and fail every command.
    b.screenshot(&format!("{db:?}-job")).await;
    b.eval("(document.querySelector('#plots').scrollIntoView(), 1)")
        .await;
    b.screenshot(&format!("{db:?}-job-plots")).await;

    // An admin: every job, filters through the form, tags added and removed.
    b.click("nav form button").await;
    sign_in(&b, base, &keys.token("root", "admin", &[])).await;
    assert_eq!(b.count("#jobs tbody tr").await, 2);
    b.fill("#filters input[name=user]", "bob").await;
    b.click("#apply").await;
    b.until(10, "location.search.includes('user=bob')").await;
    assert_eq!(b.count("#jobs tbody tr").await, 1);
    assert_eq!(b.text("#jobs tbody td.name").await, "bobs-run");
    b.screenshot(&format!("{db:?}-jobs-filtered")).await;
    b.goto(&format!("{base}/jobs/{alice}")).await;
    b.fill("#addtag input[name=type]", "review").await;
    b.fill("#addtag input[name=name]", EVIL).await;
    b.click("#addtag button").await;
    b.until(10, "document.querySelectorAll('#tags li').length === 1")
        .await;
    assert!(b.text("#tags").await.contains(&format!("review:{EVIL}")));
    let admin = keys.token("root", "admin", &[]);
    let (_, job) = app.get_as(&format!("/api/jobs/{alice}"), &admin).await;
    assert_eq!(job["tags"][0]["name"], EVIL);
    b.screenshot(&format!("{db:?}-job-tagged")).await;
    b.click("#tags form button").await;
    b.until(10, "document.querySelectorAll('#tags li').length === 0")
        .await;

    // Every other page once, each with what it is about.
    let state = json!({"cluster": "testcluster", "nodes": [
        {"hostname": "n01", "states": ["allocated"], "cpusAllocated": 8, "cpusTotal": 64},
        {"hostname": "n03", "states": ["idle", "drain"]}]});
    let (s, _) = app
        .send(
            reqwest::Method::POST,
            "/api/nodestate/",
            Some(&state.to_string()),
            Some(&admin),
        )
        .await;
    assert_eq!(s, 200);
    for (path, css, want) in [
        ("/users".to_string(), "#usage", "alice"),
        ("/projects".to_string(), "#usage", "p2"),
        ("/users/alice".to_string(), "#hist-duration", "1"),
        ("/status/testcluster".to_string(), "#nodes", "n03"),
        ("/status/testcluster/n01".to_string(), "#facts", "allocated"),
        ("/rejected".to_string(), "#rejected", ""),
        ("/health".to_string(), "#report", "database"),
    ] {
        b.goto(&format!("{base}{path}")).await;
        let text = b.text(css).await;
        assert!(text.contains(want), "{path}: {text}");
        b.screenshot(&format!("{db:?}{}", path.replace('/', "-")))
            .await;
    }
    b.close().await;
}

async fn csv_as(app: &TestApp, token: &str) -> (u16, String) {
    let r = app
        .http
        .get(format!("{}/jobs.csv", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn a_job_started_on_nats_appears_in_an_open_list(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let setup = Setup::new(&tdb, SHARED_NATS);
    let app = TestApp::spawn(setup.clone()).await;
    let b = Browser::start().await;
    b.goto(&format!("{}/jobs?cluster=testcluster", app.base))
        .await;
    b.text("#empty").await;
    b.until(20, "document.body.dataset.live === 'open'").await;
    // Set on this document only: a reload would lose it.
    b.eval("(window.sameDocument = 1)").await;
    let mut j = start_json(77, 1_700_000_000);
    j["metaData"] = json!({"jobName": "appears-live"});
    publish_until_acked_to(
        &setup,
        &setup.job_subject,
        "live",
        &[start_line(&j).into_bytes()],
    )
    .await;
    b.until(
        30,
        "document.querySelectorAll('#jobs tbody tr').length === 1",
    )
    .await;
    assert_eq!(b.text("#jobs tbody td.name").await, "appears-live");
    assert_eq!(
        b.eval("window.sameDocument").await,
        1,
        "the page was not reloaded"
    );
    b.screenshot(&format!("{db:?}-jobs-live")).await;
    b.close().await;
}

async fn a_forged_cross_site_post_is_refused(db: Db) {
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let setup = Setup::new(&tdb, SHARED_NATS);
    // No [auth]: loopback callers are trusted, the case where a forged post would count.
    let app = TestApp::spawn(setup).await;
    let (s, started) = app
        .post(
            "/api/jobs/start_job/",
            &start_json(5, 1_700_000_000).to_string(),
        )
        .await;
    assert_eq!(s, 201, "{started}");
    let id = started["id"].as_i64().unwrap();
    let b = Browser::start().await;
    // The page's own form works (the cookie and the field agree) ...
    b.goto(&format!("{}/jobs/{id}", app.base)).await;
    b.fill("#addtag input[name=type]", "ok").await;
    b.fill("#addtag input[name=name]", "same-site").await;
    b.click("#addtag button").await;
    b.until(10, "document.querySelectorAll('#tags li').length === 1")
        .await;
    // ... a page of another origin posting the same form is refused.
    let forged = format!(
        "data:text/html,<form method=post action='{}/jobs/{id}/tags'>\
         <input name=action value=add><input name=type value=evil><input name=name value=forged>\
         <input name=csrf value=guess></form>",
        app.base
    );
    b.goto(&forged).await;
    b.eval("(document.forms[0].submit(), 1)").await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let body = b.client.source().await.unwrap();
    assert!(body.contains("did not come from this site"), "{body}");
    assert_eq!(
        tag_count(&app, id).await,
        1,
        "the forged post added nothing"
    );
    // Without a browser: no cookie, no token, no change.
    let r = app
        .http
        .post(format!("{}/jobs/{id}/tags", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("action=add&type=evil&name=curl&csrf=0123456789abcdef0123456789abcdef")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(tag_count(&app, id).await, 1);
    b.close().await;
}

async fn tag_count(app: &TestApp, id: i64) -> usize {
    app.get(&format!("/api/jobs/{id}")).await.1["tags"]
        .as_array()
        .unwrap()
        .len()
}
