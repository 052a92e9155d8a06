//! `jobledger keygen` and `jobledger token`: the key pair that signs API tokens, in
//! cc-backend's format, and tokens signed with it.

use crate::auth::jwt::{generate, Claims, Signer};
use crate::auth::Role;
use crate::config::Config;
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Write `jwt.pub` and `jwt.key` (readable by the owner only) into `dir`; never overwrite.
pub(crate) fn keygen(dir: &Path) -> anyhow::Result<()> {
    let (public, private) = generate().map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let pub_path = dir.join("jwt.pub");
    let key_path = dir.join("jwt.key");
    for p in [&pub_path, &key_path] {
        if p.exists() {
            anyhow::bail!("{} exists; not overwriting a key", p.display());
        }
    }
    write_new(&key_path, &private, 0o600)?;
    write_new(&pub_path, &public, 0o644)?;
    println!(
        "wrote {} and {}\n\nAdd to the configuration of every jobledger serve:\n\n[auth]\n\
         public_key_file = \"{}\"\nprivate_key_file = \"{}\"   # only `jobledger token` reads it\n\n\
         cc-backend's JWT_PUBLIC_KEY / JWT_PRIVATE_KEY hold the same strings.",
        pub_path.display(),
        key_path.display(),
        absolute(&pub_path).display(),
        absolute(&key_path).display()
    );
    Ok(())
}

fn write_new(path: &Path, text: &str, mode: u32) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(f, "{text}").with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// What `jobledger token` is asked for.
pub(crate) struct TokenRequest {
    pub sub: String,
    pub role: String,
    pub projects: Vec<String>,
    /// 0: no expiry (cc-backend's API tokens).
    pub days: u32,
    pub key_file: Option<PathBuf>,
    pub config: Option<PathBuf>,
}

/// A signed token; the private key from `--key`, `[auth] private_key_file` or
/// `JWT_PRIVATE_KEY`, in that order.
pub(crate) fn token(req: TokenRequest) -> anyhow::Result<String> {
    let role = Role::parse(&req.role).with_context(|| {
        format!(
            "--role must be admin, api, manager or user, got {:?}",
            req.role
        )
    })?;
    if req.sub.trim().is_empty() {
        anyhow::bail!("--sub must not be empty");
    }
    let key = if let Some(f) = &req.key_file {
        read_key(f)?
    } else {
        let config = Config::load(req.config.as_deref())?;
        match config.auth.and_then(|a| a.private_key_file) {
            Some(f) => read_key(&f)?,
            None => std::env::var("JWT_PRIVATE_KEY").context(
                "no private key: pass --key FILE, set [auth] private_key_file or JWT_PRIVATE_KEY",
            )?,
        }
    };
    let signer = Signer::from_base64(&key).map_err(|e| anyhow::anyhow!("private key: {e}"))?;
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: req.sub,
        roles: vec![role.as_str().to_string()],
        projects: req.projects,
        iat: Some(now),
        exp: (req.days > 0).then(|| now + i64::from(req.days) * 86_400),
    };
    signer.sign(&claims).map_err(anyhow::Error::msg)
}

fn read_key(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}
