//! `JOBLEDGER_*` (and cc-backend's `JWT_PUBLIC_KEY`) environment overrides.

use super::{
    check_database_url, nats::check_nats_url, parse_listen, AuthConfig, Config, ConfigError,
};

impl Config {
    /// Apply `JOBLEDGER_*` overrides; `get` reads one variable (injectable for tests).
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let err = |var: &str, message: String| ConfigError {
            source_name: "the environment".into(),
            key: var.to_string(),
            message,
        };
        if let Some(v) = get("JOBLEDGER_DATABASE_URL") {
            check_database_url(&v).map_err(|m| err("JOBLEDGER_DATABASE_URL", m))?;
            self.database_url = v;
        }
        if let Some(v) = get("JOBLEDGER_NATS_URL") {
            check_nats_url(&v).map_err(|m| err("JOBLEDGER_NATS_URL", m))?;
            self.nats.url = v;
        }
        if let Some(v) = get("JOBLEDGER_HTTP_LISTEN") {
            self.http_listen = parse_listen(&v).map_err(|m| err("JOBLEDGER_HTTP_LISTEN", m))?;
        }
        // cc-backend's variable: a site moving over keeps its key where it is.
        if let Some(v) = get("JWT_PUBLIC_KEY").filter(|v| !v.trim().is_empty()) {
            let verifier = crate::auth::jwt::Verifier::from_base64(&v)
                .map_err(|m| err("JWT_PUBLIC_KEY", m))?;
            let auth = self.auth.get_or_insert(AuthConfig {
                verifier: None,
                private_key_file: None,
            });
            auth.verifier = Some(std::sync::Arc::new(verifier));
        }
        Ok(())
    }
}
