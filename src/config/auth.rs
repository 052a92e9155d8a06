//! `[auth]`: the key that verifies tokens. Without the section jobledger trusts its
//! callers and therefore serves loopback only.

use crate::auth::jwt::Verifier;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `None` until a key is given (file, inline or `JWT_PUBLIC_KEY`); `Config::load`
    /// refuses to start without one.
    pub verifier: Option<Arc<Verifier>>,
    /// For `jobledger token`: where the private key is (or `JWT_PRIVATE_KEY`).
    pub private_key_file: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawAuth {
    public_key: Option<String>,
    public_key_file: Option<PathBuf>,
    private_key_file: Option<PathBuf>,
}

/// `Err((key, message))` names the key at fault.
pub(super) fn parse(raw: RawAuth) -> Result<AuthConfig, (&'static str, String)> {
    let (key, text) = match (raw.public_key, raw.public_key_file) {
        (Some(_), Some(_)) => {
            return Err((
                "auth.public_key",
                "give public_key or public_key_file, not both".into(),
            ))
        }
        (Some(k), None) => ("auth.public_key", Some(k)),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| ("auth.public_key_file", format!("{}: {e}", path.display())))?;
            ("auth.public_key_file", Some(text))
        }
        (None, None) => ("auth.public_key", None),
    };
    let verifier = match text {
        Some(t) => Some(Arc::new(Verifier::from_base64(&t).map_err(|m| (key, m))?)),
        None => None,
    };
    Ok(AuthConfig {
        verifier,
        private_key_file: raw.private_key_file,
    })
}
