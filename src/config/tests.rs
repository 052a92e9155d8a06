//! Configuration parsing: defaults, errors that name file and key, overrides.

use super::*;

#[test]
fn empty_document_gives_the_documented_defaults() {
    let c = Config::from_toml("", "x").unwrap();
    assert_eq!(c.database_url, "sqlite://var/jobledger.db");
    assert_eq!(c.nats.url, "nats://127.0.0.1:4222");
    assert_eq!(c.nats.job_subject, "cc.job.event");
    assert_eq!(c.http_listen.to_string(), "127.0.0.1:8080");
    assert!(c.clusters.accepts_any());
}

#[test]
fn unknown_key_names_the_file_and_the_key() {
    let e =
        Config::from_toml("[nats]\nurl = \"nats://h:1\"\nsubjekt = \"x\"\n", "f.toml").unwrap_err();
    let s = e.to_string();
    assert!(s.contains("f.toml") && s.contains("nats.subjekt"), "{s}");
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        ("[nats]\nurl = \"nats://h:notaport\"", "nats.url"),
        ("[database]\nurl = \"mysql://x\"", "database.url"),
        ("[http]\nlisten = \"localhost\"", "http.listen"),
        (
            "[[clusters]]\nname = \"f\"\nsubclusters = [{name = \"m\", nodes = \"f[1-\"}]",
            "clusters[0].subclusters[0].nodes",
        ),
        ("[archive]\nkind = \"tape\"", "archive.kind"),
        ("[archive]\nkind = \"s3\"", "archive.bucket"),
        (
            "[archive]\nkind = \"s3\"\nbucket = \"b\"\nendpoint = \"s3.local\"",
            "archive.endpoint",
        ),
        (
            "[archive]\nkind = \"s3\"\nbucket = \"b\"\naccess_key = \"k\"",
            "archive.secret_key",
        ),
        ("[archive]\nmax_attempts = 0", "archive.max_attempts"),
        ("[metrics]\ndecimals = 13", "metrics.decimals"),
        ("[metrics]\nchunk_minutes = 0", "metrics.chunk_minutes"),
        ("[metrics]\nstream = \"a.b\"", "metrics.stream"),
        (
            "[metrics]\nstream_max_age_hours = 1",
            "metrics.stream_max_age_hours",
        ),
        (
            "[metrics]\n[[metrics.subscriptions]]\nsubject = \"cc.job.event\"",
            "metrics.subscriptions[0].subject",
        ),
        (
            "[[clusters]]\nname = \"f\"\ncluster_json = \"/nonexistent/cluster.json\"",
            "clusters[0].cluster_json",
        ),
    ];
    for (doc, key) in cases {
        let e = Config::from_toml(doc, "f.toml").unwrap_err();
        assert_eq!(e.key, key, "{doc}");
    }
}

#[test]
fn an_s3_archive_keeps_its_secret_out_of_debug_output() {
    let doc = "[archive]\nkind = \"s3\"\nbucket = \"jobs\"\n\
               endpoint = \"https://s3.example.org/\"\naccess_key = \"k\"\nsecret_key = \"hush\"";
    let c = Config::from_toml(doc, "f.toml").unwrap();
    let s3 = c.archive.s3.as_ref().unwrap();
    assert_eq!(s3.endpoint.as_deref(), Some("https://s3.example.org"));
    assert!(!format!("{c:?}").contains("hush"));
}

#[test]
fn environment_overrides_win_and_are_checked() {
    let mut c = Config::from_toml("", "x").unwrap();
    c.apply_env(|k| (k == "JOBLEDGER_HTTP_LISTEN").then(|| "0.0.0.0:9".into()))
        .unwrap();
    assert_eq!(c.http_listen.port(), 9);
    let e = c
        .apply_env(|k| (k == "JOBLEDGER_DATABASE_URL").then(|| "nope".into()))
        .unwrap_err();
    assert_eq!(e.key, "JOBLEDGER_DATABASE_URL");
}

#[test]
fn without_auth_only_loopback_is_served() {
    let c = Config::from_toml("[http]\nlisten = \"0.0.0.0:8080\"", "f.toml").unwrap();
    let e = c.check().unwrap_err();
    assert_eq!(
        (e.key.as_str(), e.source_name.as_str()),
        ("http.listen", "f.toml")
    );
    let c = Config::from_toml("[http]\nlisten = \"[::1]:8080\"", "f.toml").unwrap();
    c.check().unwrap();
}

#[test]
fn an_auth_section_needs_a_valid_key() {
    let c = Config::from_toml("[auth]\n", "f.toml").unwrap();
    assert_eq!(c.check().unwrap_err().key, "auth.public_key");
    let e = Config::from_toml("[auth]\npublic_key = \"c2hvcnQ=\"", "f.toml").unwrap_err();
    assert!(
        e.key == "auth.public_key" && e.message.contains("32 bytes"),
        "{e}"
    );
    let (public, _) = crate::auth::jwt::generate().unwrap();
    let mut c = Config::from_toml("[http]\nlisten = \"0.0.0.0:1\"", "f.toml").unwrap();
    c.apply_env(|k| (k == "JWT_PUBLIC_KEY").then(|| public.clone()))
        .unwrap();
    c.check().unwrap();
}

#[test]
fn a_cc_backend_cluster_file_gives_metrics_topology_and_removed_metrics() {
    let doc = "[[clusters]]\nname = \"fritz\"\ncluster_json = \"../shared/reference/ccb/clusters/fritz.json\"";
    let c = Config::from_toml(doc, "f.toml").unwrap();
    let fritz = c.clusters.get("fritz").unwrap();
    assert_eq!(fritz.subclusters.len(), 3);
    let spr2 = &fritz.subclusters[2];
    assert_eq!(spr2.name, "spr2tb");
    assert!(spr2.removed.contains(&"flops_any".to_string()));
    assert!(!fritz.subclusters[0]
        .removed
        .contains(&"flops_any".to_string()));
    assert_eq!(fritz.subclusters[0].topology.socket.len(), 2);
    let m = c.clusters.metrics("fritz");
    assert_eq!(
        m.get("mem_bw").unwrap().scope,
        crate::domain::metric::Scope::Socket
    );
    assert!(m.get("cpu_user").is_some() && m.get("nv_util").is_none());
    // A cluster not configured gets the built-in default metrics.
    assert!(c.clusters.metrics("other").get("cpu_user").is_some());
    // A wrong name in the file is named.
    let e = Config::from_toml(&doc.replace("\"fritz\"\n", "\"alex\"\n"), "f.toml").unwrap_err();
    assert!(e.message.contains("fritz"), "{e}");
    // The metric defaults.
    assert_eq!(c.metrics.decimals, Some(2));
    assert_eq!(c.metrics.subscriptions[0].subject, "hpc-nats");
}

#[test]
fn the_shipped_example_config_parses() {
    let text = include_str!("../../config/jobledger.toml");
    Config::from_toml(text, "config/jobledger.toml").unwrap();
}
