//! Where archived files go: a folder (the default) or an S3-compatible bucket, with the same
//! keys either way (contract 5). The archiver, `archive verify` and the `.tar.zst` endpoint
//! see only this type.

use super::file::FileArchive;
use crate::config::{ArchiveConfig, S3Config};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{ClientOptions, ObjectStoreExt, PutPayload, RetryConfig};
use std::io;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub enum Backend {
    File(FileArchive),
    S3 { store: Arc<AmazonS3>, url: String },
}

impl Backend {
    /// The backend `[archive]` names. S3 needs no network here: a wrong endpoint or
    /// credentials show up as failed writes, retried and then visible on the job.
    pub fn from_config(cfg: &ArchiveConfig) -> Result<Backend, String> {
        match &cfg.s3 {
            None => Ok(Backend::File(FileArchive::new(cfg.path.clone()))),
            Some(s3) => s3_client(s3).map(|store| Backend::S3 {
                store: Arc::new(store),
                url: format!("s3://{}", s3.bucket),
            }),
        }
    }

    /// For log lines and error messages: the folder or `s3://bucket`.
    pub fn describe(&self) -> String {
        match self {
            Backend::File(f) => f.root().display().to_string(),
            Backend::S3 { url, .. } => url.clone(),
        }
    }

    /// Write one job's files below `dir`, in order: the last one (meta.json) is what marks
    /// the job complete, so a reader that finds it finds the rest.
    pub async fn put_job(&self, dir: &str, files: Vec<(&'static str, Vec<u8>)>) -> io::Result<()> {
        match self {
            Backend::File(f) => {
                let (f, dir) = (f.clone(), dir.to_string());
                blocking(move || {
                    let files: Vec<(&str, &[u8])> =
                        files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
                    f.put_all(&dir, &files)
                })
                .await
            }
            Backend::S3 { store, .. } => {
                // A PUT replaces an object whole: nobody ever sees half of one.
                for (name, bytes) in files {
                    let key = Key::from(format!("{dir}/{name}"));
                    store
                        .put(&key, PutPayload::from(bytes))
                        .await
                        .map_err(s3_error)?;
                }
                Ok(())
            }
        }
    }

    /// Write only if nothing is there yet (version.txt, cluster.json): a site's own
    /// cluster.json is never overwritten.
    pub async fn put_if_missing(&self, key: &str, bytes: Vec<u8>) -> io::Result<()> {
        match self {
            Backend::File(f) => {
                let (f, key) = (f.clone(), key.to_string());
                blocking(move || f.put_if_missing(&key, &bytes)).await
            }
            Backend::S3 { store, .. } => {
                let key = Key::from(key);
                match store.head(&key).await {
                    Ok(_) => Ok(()),
                    Err(object_store::Error::NotFound { .. }) => store
                        .put(&key, PutPayload::from(bytes))
                        .await
                        .map(drop)
                        .map_err(s3_error),
                    Err(e) => Err(s3_error(e)),
                }
            }
        }
    }

    /// The bytes at `key`; a missing file is `ErrorKind::NotFound` on both backends.
    pub async fn get(&self, key: &str) -> io::Result<Vec<u8>> {
        match self {
            Backend::File(f) => {
                let (f, key) = (f.clone(), key.to_string());
                blocking(move || f.get(&key)).await
            }
            Backend::S3 { store, .. } => {
                let got = store.get(&Key::from(key)).await.map_err(s3_error)?;
                Ok(got.bytes().await.map_err(s3_error)?.to_vec())
            }
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io::Error::other(format!("archive writer stopped: {e}")))?
}

fn s3_error(e: object_store::Error) -> io::Error {
    match e {
        object_store::Error::NotFound { path, .. } => {
            io::Error::new(io::ErrorKind::NotFound, format!("{path}: no such object"))
        }
        other => io::Error::other(other.to_string()),
    }
}

fn s3_client(cfg: &S3Config) -> Result<AmazonS3, String> {
    // The environment first (AWS_ACCESS_KEY_ID, AWS_REGION, AWS_ENDPOINT_URL, ...), then
    // whatever the config file says on top.
    let mut b = AmazonS3Builder::from_env()
        .with_bucket_name(&cfg.bucket)
        .with_virtual_hosted_style_request(!cfg.path_style)
        // The archiver retries with its own backoff and records failures on the job;
        // the client's default (10 retries over 3 minutes) would only hide them.
        .with_retry(RetryConfig {
            max_retries: 2,
            retry_timeout: Duration::from_secs(30),
            ..RetryConfig::default()
        })
        .with_client_options(
            ClientOptions::new()
                .with_allow_http(true)
                .with_connect_timeout(Duration::from_secs(5))
                .with_timeout(Duration::from_secs(60)),
        );
    if let Some(endpoint) = &cfg.endpoint {
        b = b.with_endpoint(endpoint_for(endpoint, &cfg.bucket, cfg.path_style));
    }
    if let Some(region) = &cfg.region {
        b = b.with_region(region);
    }
    if let (Some(key), Some(secret)) = (&cfg.access_key, &cfg.secret_key) {
        b = b.with_access_key_id(key).with_secret_access_key(secret);
    }
    b.build()
        .map_err(|e| format!("archive (s3://{}): {e}", cfg.bucket))
}

/// object_store wants the bucket inside the endpoint for virtual-hosted requests
/// (`https://bucket.s3.example.org`); admins write the store's own address.
fn endpoint_for(endpoint: &str, bucket: &str, path_style: bool) -> String {
    match endpoint.split_once("://") {
        Some((scheme, rest)) if !path_style && !rest.starts_with(&format!("{bucket}.")) => {
            format!("{scheme}://{bucket}.{rest}")
        }
        _ => endpoint.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::endpoint_for;

    #[test]
    fn virtual_hosted_endpoints_carry_the_bucket() {
        let e = "https://s3.example.org";
        assert_eq!(
            endpoint_for(e, "jobs", false),
            "https://jobs.s3.example.org"
        );
        assert_eq!(endpoint_for(e, "jobs", true), e);
        let with_bucket = "https://jobs.s3.example.org";
        assert_eq!(endpoint_for(with_bucket, "jobs", false), with_bucket);
    }
}
