//! cc-backend's taggers, read from its own configuration folder (`[tagging] path = DIR`):
//! - `apps/<app>.txt`: one regular expression per line, matched against the lowercased
//!   job script (`metaData.jobScript`) when a job starts; a match tags it `app:<app>`.
//! - `jobclasses/*.json` with `jobclasses/parameters.json`: rules over the job and its
//!   metric statistics, evaluated when the job is archived; a rule that holds tags it
//!   `jobClass:<tag>` and its rendered `hint` goes to `metaData.message`.

mod classes;

use classes::Class;
pub(crate) use classes::Verdict;
use regex::Regex;
use std::collections::BTreeMap;
use std::path::Path;

/// The tag type of detected applications (cc-backend's).
pub(crate) const APP: &str = "app";
/// The tag type of job classes (cc-backend's).
pub(crate) const JOB_CLASS: &str = "jobClass";

#[derive(Debug, Default)]
pub struct Taggers {
    apps: Vec<App>,
    classes: Vec<Class>,
}

#[derive(Debug)]
struct App {
    tag: String,
    patterns: Vec<Regex>,
}

impl Taggers {
    /// Read `dir`; an error names the file and what is wrong in it. A missing `apps` or
    /// `jobclasses` folder means no taggers of that kind.
    pub fn load(dir: &Path) -> Result<Taggers, String> {
        if !dir.is_dir() {
            return Err(format!("{}: not a folder", dir.display()));
        }
        let mut t = Taggers::default();
        for path in files(&dir.join("apps"), "txt")? {
            let text = read(&path)?;
            let tag = stem(&path);
            let mut patterns = Vec::new();
            for (i, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let re = Regex::new(line)
                    .map_err(|e| format!("{} line {}: {e}", path.display(), i + 1))?;
                patterns.push(re);
            }
            t.apps.push(App { tag, patterns });
        }
        let classes = dir.join("jobclasses");
        let parameters: BTreeMap<String, f64> = match classes.join("parameters.json") {
            p if p.is_file() => {
                serde_json::from_str(&read(&p)?).map_err(|e| format!("{}: {e}", p.display()))?
            }
            _ => BTreeMap::new(),
        };
        for path in files(&classes, "json")? {
            if path.file_name().is_some_and(|n| n == "parameters.json") {
                continue;
            }
            let class = Class::parse(&read(&path)?, &parameters)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            t.classes.push(class);
        }
        Ok(t)
    }

    /// How many application and job-class taggers there are.
    pub fn counts(&self) -> (usize, usize) {
        (self.apps.len(), self.classes.len())
    }

    /// The applications a job script shows, each once, in name order.
    pub fn apps_of(&self, job_script: &str) -> Vec<String> {
        let script = job_script.to_lowercase();
        self.apps
            .iter()
            .filter(|a| a.patterns.iter().any(|p| p.is_match(&script)))
            .map(|a| a.tag.clone())
            .collect()
    }

    /// The job classes a finished job falls in, and their hints joined by newlines.
    pub(crate) fn classify(&self, job: &classes::JobFacts, metrics: &classes::Metrics) -> Verdict {
        let mut v = Verdict::default();
        for c in &self.classes {
            if let Some(hint) = c.matches(job, metrics) {
                v.tags.push(c.tag.clone());
                v.hints.push(hint);
            }
        }
        v
    }
}

pub(crate) use classes::{JobFacts, MetricFacts, Metrics};

/// The files of `dir` ending in `.ext`, in name order; none if `dir` does not exist.
fn files(dir: &Path, ext: &str) -> Result<Vec<std::path::PathBuf>, String> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == ext))
        .collect();
    out.sort();
    Ok(out)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
