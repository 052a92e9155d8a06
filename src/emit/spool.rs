//! The spool: events that could not be published in time, one file each, written
//! atomically (temporary name, fsync, rename, fsync of the folder) so a crash or a full
//! disk never leaves half an event. Names sort oldest first.

use serde::{Deserialize, Serialize};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// One spooled message: exactly what would have been published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Spooled {
    pub subject: String,
    pub msg_id: String,
    pub line: String,
}

pub(crate) struct Spool {
    dir: PathBuf,
    max_files: usize,
}

impl Spool {
    pub(crate) fn new(dir: PathBuf, max_files: usize) -> Spool {
        Spool { dir, max_files }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Store `m` durably; fails when the folder is unwritable, the disk is full, or the
    /// spool already holds `max_files` events.
    pub(crate) fn write(&self, m: &Spooled) -> io::Result<PathBuf> {
        fs::create_dir_all(&self.dir)?;
        let pending = self.pending()?.len();
        if pending >= self.max_files {
            return Err(io::Error::other(format!(
                "spool {} is full ({pending} events, max_spool_files)",
                self.dir.display()
            )));
        }
        let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        let name = format!("{nanos:020}-{}-{}.json", std::process::id(), m.msg_id);
        let bytes = serde_json::to_vec(m).map_err(io::Error::other)?;
        crate::durable::write_files(&self.dir, &[(&name, &bytes)], |n| format!(".tmp-{n}"))?;
        Ok(self.dir.join(&name))
    }

    /// Spooled events, oldest first. A missing folder is an empty spool.
    pub(crate) fn pending(&self) -> io::Result<Vec<PathBuf>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                !name.starts_with('.') && name.ends_with(".json")
            })
            .collect();
        files.sort();
        Ok(files)
    }

    /// Read one spooled event. An unreadable file is renamed `*.corrupt` so it cannot
    /// block the events behind it, and reported.
    pub(crate) fn read(&self, path: &Path) -> Result<Spooled, String> {
        let parsed = fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()));
        parsed.map_err(|e| {
            let _ = fs::rename(path, path.with_extension("json.corrupt"));
            format!(
                "spool file {} is unreadable ({e}); renamed to *.corrupt",
                path.display()
            )
        })
    }

    pub(crate) fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(n: u32) -> Spooled {
        Spooled {
            subject: "s".into(),
            msg_id: format!("id{n}"),
            line: format!("line {n}"),
        }
    }

    #[test]
    fn events_come_back_oldest_first_and_leave_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::new(dir.path().join("spool"), 10);
        for n in 0..3 {
            spool.write(&msg(n)).unwrap();
        }
        let pending = spool.pending().unwrap();
        let read: Vec<Spooled> = pending.iter().map(|p| spool.read(p).unwrap()).collect();
        assert_eq!(read, [msg(0), msg(1), msg(2)]);
        let all = fs::read_dir(spool.dir()).unwrap().count();
        assert_eq!(all, 3, "no temporary files left");
    }

    #[test]
    fn a_full_spool_refuses_and_a_corrupt_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::new(dir.path().to_path_buf(), 1);
        spool.write(&msg(0)).unwrap();
        assert!(spool
            .write(&msg(1))
            .unwrap_err()
            .to_string()
            .contains("full"));
        let p = spool.pending().unwrap().remove(0);
        fs::write(&p, b"{half").unwrap();
        assert!(spool.read(&p).is_err());
        assert!(spool.pending().unwrap().is_empty());
    }

    #[test]
    fn an_unwritable_folder_is_an_error() {
        let spool = Spool::new(PathBuf::from("/proc/jobledger-spool"), 10);
        assert!(spool.write(&msg(0)).is_err());
    }
}
