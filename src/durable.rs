//! Atomic, durable file writes, for the archive and the hook spool: a reader sees either
//! the old file or the whole new one, and once a write returns, the file survives a crash
//! or a power cut.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Write each `(name, bytes)` of `files` into `dir` under the temporary name `tmp(name)`,
/// sync each, rename them all into place, then sync the folder once. On failure the
/// temporaries are removed; files already renamed stay (each is whole).
pub(crate) fn write_files(
    dir: &Path,
    files: &[(&str, &[u8])],
    tmp: impl Fn(&str) -> String,
) -> io::Result<()> {
    let staged: Vec<_> = files.iter().map(|(name, _)| dir.join(tmp(name))).collect();
    let result = (|| {
        for (path, (_, bytes)) in staged.iter().zip(files) {
            let mut f = File::create(path)?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        for (path, (name, _)) in staged.iter().zip(files) {
            fs::rename(path, dir.join(name))?;
        }
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        for t in &staged {
            let _ = fs::remove_file(t);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_replace_atomically_and_no_temporary_is_left() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"old").unwrap();
        write_files(dir.path(), &[("a", b"new"), ("b", b"2")], |n| {
            format!(".{n}.tmp")
        })
        .unwrap();
        assert_eq!(std::fs::read(dir.path().join("a")).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 2);
        let missing = dir.path().join("no/such/folder");
        assert!(write_files(&missing, &[("a", b"x")], |n| format!(".{n}.tmp")).is_err());
    }
}
