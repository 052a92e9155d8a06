//! One archived job as a `.tar.zst`: its meta.json and data.json (or data.json.gz) as stored.

use super::backend::Backend;
use std::io;

pub(crate) async fn tar_zst(archive: &Backend, location: &str) -> io::Result<Vec<u8>> {
    let mut files = Vec::new();
    for name in ["meta.json", "data.json", "data.json.gz"] {
        match archive.get(&format!("{location}/{name}")).await {
            Ok(b) => files.push((name, b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound && name != "meta.json" => {}
            Err(e) => return Err(e),
        }
    }
    // Compressing is CPU work: off the runtime's threads.
    tokio::task::spawn_blocking(move || {
        let mut tar = tar::Builder::new(Vec::new());
        for (name, bytes) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, name, bytes.as_slice())?;
        }
        zstd::encode_all(tar.into_inner()?.as_slice(), 3)
    })
    .await
    .map_err(io::Error::other)?
}
