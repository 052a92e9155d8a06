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
fn the_shipped_example_config_parses() {
    let text = include_str!("../../config/jobledger.toml");
    Config::from_toml(text, "config/jobledger.toml").unwrap();
}
