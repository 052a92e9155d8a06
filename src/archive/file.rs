//! The file backend: every file is written to a temporary name in its folder, flushed to
//! disk and renamed, and the folder is flushed too, so a reader never sees half a file
//! and a crash never leaves one.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Clone)]
pub struct FileArchive {
    root: PathBuf,
}

impl FileArchive {
    pub fn new(root: PathBuf) -> FileArchive {
        FileArchive { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Write `bytes` at `key` (a `/`-separated path below the root) atomically and durably.
    pub fn put(&self, key: &str, bytes: &[u8]) -> io::Result<()> {
        let path = self.root.join(key);
        let dir = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir)?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        remove_stale_temporaries(dir, name);
        crate::durable::write_files(dir, &[(name, bytes)], temporary)
    }

    /// Write several files of one folder (`dir` below the root), each atomically, with one
    /// flush of the folder at the end.
    pub fn put_all(&self, dir: &str, files: &[(&str, &[u8])]) -> io::Result<()> {
        let dir = self.root.join(dir);
        fs::create_dir_all(&dir)?;
        for (name, _) in files {
            remove_stale_temporaries(&dir, name);
        }
        crate::durable::write_files(&dir, files, temporary)
    }

    /// Write only if nothing is there yet (version.txt, cluster.json).
    pub fn put_if_missing(&self, key: &str, bytes: &[u8]) -> io::Result<()> {
        if self.root.join(key).exists() {
            return Ok(());
        }
        self.put(key, bytes)
    }

    pub fn get(&self, key: &str) -> io::Result<Vec<u8>> {
        fs::read(self.root.join(key))
    }
}

/// Makes temporary names unique among this process's concurrent writes.
static WRITES: AtomicU64 = AtomicU64::new(0);

/// `.<name>.tmp-<pid>-<n>`: unique among this process's concurrent writes of one file.
fn temporary(name: &str) -> String {
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    format!(".{name}.tmp-{}-{n}", std::process::id())
}

/// A process killed mid-write leaves `.<name>.tmp-<pid>-<n>`; the retry of that job clears
/// it. Temporaries of this process belong to writes in progress and are left alone.
fn remove_stale_temporaries(dir: &Path, name: &str) {
    let prefix = format!(".{name}.tmp-");
    let mine = format!("{prefix}{}-", std::process::id());
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let stale = e
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix) && !n.starts_with(&mine));
            if stale {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_all_writes_every_file_of_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let a = FileArchive::new(dir.path().to_path_buf());
        a.put_all("c/1", &[("data.json", b"{}"), ("meta.json", b"[]")])
            .unwrap();
        assert_eq!(a.get("c/1/meta.json").unwrap(), b"[]");
        assert_eq!(fs::read_dir(dir.path().join("c/1")).unwrap().count(), 2);
    }

    #[test]
    fn put_replaces_atomically_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = FileArchive::new(dir.path().to_path_buf());
        a.put("c/0/001/5/meta.json", b"one").unwrap();
        a.put("c/0/001/5/meta.json", b"two").unwrap();
        assert_eq!(a.get("c/0/001/5/meta.json").unwrap(), b"two");
        assert_eq!(
            fs::read_dir(dir.path().join("c/0/001/5")).unwrap().count(),
            1
        );
        a.put_if_missing("version.txt", b"3").unwrap();
        a.put_if_missing("version.txt", b"4").unwrap();
        assert_eq!(a.get("version.txt").unwrap(), b"3");
    }
}
