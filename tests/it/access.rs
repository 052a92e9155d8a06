//! Access control (issue 4): cc-backend's Ed25519 JWTs and the four roles, on both
//! databases. A user must learn nothing about other users' jobs by any route.

use crate::clients::*;
use crate::helpers::*;
use crate::on_both_databases;
use reqwest::Method;
use serde_json::json;

on_both_databases!(
    each_role_reads_exactly_what_it_may,
    bad_tokens_are_refused_and_never_logged,
);

struct World {
    app: TestApp,
    keys: Keys,
    api: String,
    /// Database ids of alice's (p1), bob's (p2) and carol's (p1) jobs.
    alice: i64,
    bob: i64,
    carol: i64,
}

async fn world(db: Db) -> (World, TestDb) {
    let (app, keys, tdb) = spawn_with_auth(db).await;
    let api = keys.token("slurm-adapter", "api", &[]);
    let mut ids = Vec::new();
    for (n, (user, project)) in [("alice", "p1"), ("bob", "p2"), ("carol", "p1")]
        .iter()
        .enumerate()
    {
        let j = json!({"jobId": 100 + n, "cluster": "c", "user": user, "project": project,
            "startTime": 1000 + n as i64, "numNodes": 1, "resources": [{"hostname": "h1"}]});
        ids.push(app.start_job_as(&j, &api).await);
    }
    let w = World {
        app,
        api,
        alice: ids[0],
        bob: ids[1],
        carol: ids[2],
        keys,
    };
    (w, tdb)
}

fn users(body: &serde_json::Value) -> Vec<String> {
    let mut u: Vec<String> = body["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["user"].as_str().unwrap().to_string())
        .collect();
    u.sort();
    u
}

async fn each_role_reads_exactly_what_it_may(db: Db) {
    let (w, _db) = world(db).await;
    let app = &w.app;
    let alice = w.keys.token("alice", "user", &[]);
    let manager = w.keys.token("mia", "manager", &["p1"]);
    let admin = w.keys.token("root", "admin", &[]);

    // A user: own jobs only, whichever way she asks.
    let (_, list) = app.get_as("/api/jobs/", &alice).await;
    assert_eq!(
        (users(&list), list["total"].as_i64()),
        (vec!["alice".to_string()], Some(1))
    );
    let (_, list) = app.get_as("/api/jobs/?user=bob", &alice).await;
    assert_eq!(list["total"], 0, "asking for bob's jobs shows nothing");
    let (status, body) = app.get_as(&format!("/api/jobs/{}", w.bob), &alice).await;
    assert_eq!(status, 404, "someone else's job looks like no job: {body}");
    assert!(!body.to_string().contains("bob"));
    assert_eq!(
        app.get_as(&format!("/api/jobs/{}", w.alice), &alice)
            .await
            .0,
        200
    );
    for path in [
        format!("/api/jobs/{}/archive", w.bob),
        format!("/api/jobs/{}/metadata/jobName", w.bob),
    ] {
        assert_eq!(app.get_as(&path, &alice).await.0, 404, "{path}");
    }
    let (_, stats) = app.get_as("/api/stats/?group-by=user", &alice).await;
    assert_eq!(stats["groups"].as_array().unwrap().len(), 1, "{stats}");
    assert_eq!(
        (
            stats["groups"][0]["group"].as_str(),
            stats["total"]["jobs"].as_i64()
        ),
        (Some("alice"), Some(1))
    );
    let start = json!({"jobId": 9, "cluster": "c", "user": "alice", "startTime": 5,
        "numNodes": 1, "resources": [{"hostname": "h"}]})
    .to_string();
    for (method, path, body) in [
        (
            Method::POST,
            "/api/jobs/start_job/".to_string(),
            Some(start.as_str()),
        ),
        (Method::POST, "/api/jobs/stop_job/".to_string(), Some("{}")),
        (Method::POST, "/api/nodestate/".to_string(), Some("{}")),
        (
            Method::POST,
            format!("/api/jobs/tag_job/{}", w.alice),
            Some("[]"),
        ),
        (
            Method::PATCH,
            format!("/api/jobs/edit_meta/{}", w.alice),
            Some("{}"),
        ),
        (
            Method::PUT,
            format!("/api/jobs/{}/metadata/k", w.alice),
            Some("{\"value\":\"v\"}"),
        ),
        (Method::GET, "/api/rejected/".to_string(), None),
    ] {
        let (status, b) = app.send(method.clone(), &path, body, Some(&alice)).await;
        assert_eq!(status, 403, "{method} {path}: {b}");
    }
    assert_eq!(app.get_as("/api/nodes/", &alice).await.0, 200);
    assert_eq!(app.get_as("/api/version", &alice).await.0, 200);

    // A manager: the projects in the token.
    let (_, list) = app.get_as("/api/jobs/", &manager).await;
    assert_eq!(users(&list), ["alice", "carol"]);
    assert_eq!(
        app.get_as(&format!("/api/jobs/{}", w.bob), &manager)
            .await
            .0,
        404
    );
    assert_eq!(
        app.get_as(&format!("/api/jobs/{}", w.carol), &manager)
            .await
            .0,
        200
    );
    let (_, stats) = app.get_as("/api/stats/?group-by=project", &manager).await;
    let groups: Vec<&str> = stats["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["group"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["p1"]);
    let nobody = w.keys.token("max", "manager", &[]);
    assert_eq!(app.get_as("/api/jobs/", &nobody).await.1["total"], 0);

    // api and admin: everything.
    for t in [&w.api, &admin] {
        let (_, list) = app.get_as("/api/jobs/", t).await;
        assert_eq!(users(&list), ["alice", "bob", "carol"]);
        assert_eq!(app.get_as("/api/rejected/", t).await.0, 200);
    }
    let (status, _) = app
        .send(
            Method::PUT,
            &format!("/api/jobs/{}/metadata/k", w.bob),
            Some("{\"value\":\"v\"}"),
            Some(&admin),
        )
        .await;
    assert_eq!(status, 200);
    // The strongest of several roles counts; cc-backend's header works too.
    let both = w.keys.token_with("bob", &["user", "api"], &[], None);
    let r = app
        .http
        .get(format!("{}/api/jobs/", app.base))
        .header("X-Auth-Token", &both)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["total"], 3);
}

async fn bad_tokens_are_refused_and_never_logged(db: Db) {
    let (w, _db) = world(db).await;
    let app = &w.app;
    let good = w.keys.token("alice", "admin", &[]);
    let mut tampered = good.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let expired = w
        .keys
        .token_with("alice", &["admin"], &[], Some(1_000_000_000));
    let other_key = Keys::new().token("alice", "admin", &[]);
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "alice", "roles": ["admin"]}),
        &jsonwebtoken::EncodingKey::from_secret(w.keys.public.as_bytes()),
    )
    .unwrap();
    let no_role = w.keys.token("alice", "support", &[]);
    for (name, token) in [
        ("tampered", &tampered),
        ("expired", &expired),
        ("other key", &other_key),
        ("HS256", &hs256),
        ("unknown role", &no_role),
        ("garbage", &"not.a.token".to_string()),
    ] {
        for path in ["/api/jobs/", "/api/version", "/api/stats/?group-by=user"] {
            let (status, body) = app.get_as(path, token).await;
            assert_eq!(status, 401, "{name} {path}: {body}");
            assert_eq!(body["status"], "Unauthorized");
        }
        assert!(
            !app.log().contains(token.as_str()),
            "{name}: the token reached the log"
        );
    }
    let (status, body) = app.get("/api/jobs/").await;
    assert_eq!(
        (
            status,
            body["error"].as_str().map(|e| e.contains("no token"))
        ),
        (401, Some(true))
    );
    assert!(app.log().contains("authentication failed"));
    // Public without a token: health, metrics, the API description.
    for path in ["/healthz", "/api/openapi.json"] {
        assert_eq!(app.get(path).await.0, 200, "{path}");
    }
    let metrics = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status().as_u16(), 200);
    assert_eq!(app.get_as("/api/jobs/", &good).await.0, 200);
}
