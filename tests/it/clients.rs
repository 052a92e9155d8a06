//! Clients of the authenticated API: key pairs and tokens, and the event stream.

use crate::helpers::TestApp;
use serde_json::Value;
use std::time::{Duration, Instant};

/// A jobledger with `[auth]` on the shared NATS and a fresh database of `db`, and the
/// keys that sign its tokens. Keep the `TestDb`: it owns the database.
pub(crate) async fn spawn_with_auth(
    db: crate::helpers::Db,
) -> (TestApp, Keys, crate::helpers::TestDb) {
    use crate::helpers::*;
    ensure_shared_nats();
    let tdb = TestDb::new(db).await;
    let keys = Keys::new();
    let mut setup = Setup::new(&tdb, SHARED_NATS);
    setup.extra = keys.toml();
    (TestApp::spawn(setup).await, keys, tdb)
}

impl TestApp {
    /// POST a start_job with a token; asserts 201 and returns the job's database id.
    pub(crate) async fn start_job_as(&self, job: &Value, token: &str) -> i64 {
        let body = job.to_string();
        let (status, answer) = self
            .send(
                reqwest::Method::POST,
                "/api/jobs/start_job/",
                Some(&body),
                Some(token),
            )
            .await;
        assert_eq!(status, 201, "{answer}");
        answer["id"].as_i64().unwrap()
    }
}

/// A key pair for `[auth]` and tokens signed with it.
pub(crate) struct Keys {
    pub public: String,
    signer: jobledger::auth::jwt::Signer,
}

impl Keys {
    pub(crate) fn new() -> Keys {
        let (public, private) = jobledger::auth::jwt::generate().unwrap();
        Keys {
            public,
            signer: jobledger::auth::jwt::Signer::from_base64(&private).unwrap(),
        }
    }

    /// The `[auth]` section of a configuration that trusts this key.
    pub(crate) fn toml(&self) -> String {
        format!("[auth]\npublic_key = \"{}\"\n", self.public)
    }

    pub(crate) fn token(&self, sub: &str, role: &str, projects: &[&str]) -> String {
        self.token_with(sub, &[role], projects, None)
    }

    pub(crate) fn token_with(
        &self,
        sub: &str,
        roles: &[&str],
        projects: &[&str],
        exp: Option<i64>,
    ) -> String {
        self.signer
            .sign(&jobledger::auth::jwt::Claims {
                sub: sub.into(),
                roles: roles.iter().map(std::string::ToString::to_string).collect(),
                projects: projects
                    .iter()
                    .map(std::string::ToString::to_string)
                    .collect(),
                iat: Some(chrono::Utc::now().timestamp()),
                exp,
            })
            .unwrap()
    }
}

/// A client of `GET /api/events`: reads Server-Sent Events as (event, data) pairs.
pub(crate) struct EventStream {
    resp: reqwest::Response,
    buf: String,
}

impl EventStream {
    pub(crate) async fn open(app: &TestApp, query: &str, token: Option<&str>) -> EventStream {
        let mut req = app.http.get(format!("{}/api/events?{query}", app.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{query}");
        EventStream {
            resp,
            buf: String::new(),
        }
    }

    /// The next event other than keep-alive comments, or None after `secs` of silence.
    pub(crate) async fn next(&mut self, secs: u64) -> Option<(String, Value)> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut event = None;
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(e) = line.strip_prefix("event:") {
                        event = Some(e.trim().to_string());
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data.push_str(d.trim_start());
                    }
                }
                if let Some(e) = event {
                    let v = serde_json::from_str(&data).unwrap_or(Value::String(data));
                    return Some((e, v));
                }
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.resp.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }

    /// Every event until `secs` pass without one.
    pub(crate) async fn drain(&mut self, secs: u64) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        while let Some(e) = self.next(secs).await {
            out.push(e);
        }
        out
    }
}
