//! The questions admins and users ask the ledger, as typed values: which jobs (a
//! [`JobFilter`]), in which order ([`Sort`]), grouped how ([`GroupBy`]), and seen by whom
//! ([`Scope`]). Built from query strings by `http`, turned into SQL by `store::filter`.

use super::job::JobState;
use std::fmt;
use std::str::FromStr;

/// Which jobs a caller may see at all; added to every read as one more AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Scope {
    /// admin and api tokens, or a deployment without authentication.
    #[default]
    All,
    /// A manager: the jobs of these projects.
    Projects(Vec<String>),
    /// A user: the jobs whose `user` is this name.
    User(String),
}

/// An inclusive range; a missing end is open (`4-` is "at least 4").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl FromStr for Range {
    type Err = String;
    /// `<from>-<to>`, `<from>-` or `-<to>`, whole non-negative numbers.
    fn from_str(s: &str) -> Result<Range, String> {
        let bad = || format!("must be <from>-<to> (either end may be left out), got {s:?}");
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let end = |v: &str| -> Result<Option<i64>, String> {
            match v.trim() {
                "" => Ok(None),
                n => n
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .map(Some)
                    .ok_or_else(bad),
            }
        };
        let r = Range {
            from: end(a)?,
            to: end(b)?,
        };
        match r {
            Range {
                from: None,
                to: None,
            } => Err(bad()),
            Range {
                from: Some(f),
                to: Some(t),
            } if f > t => Err(format!("{s:?}: the start of the range is after its end")),
            r => Ok(r),
        }
    }
}

/// A text filter: `ab*` and `a?c` are globs (`*` any run, `?` one character, anchored at
/// both ends); anything else is an exact value, or a substring for `jobName`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Text {
    Exact(String),
    Glob(String),
}

impl Text {
    pub fn parse(v: &str) -> Text {
        if v.contains(['*', '?']) {
            Text::Glob(v.to_string())
        } else {
            Text::Exact(v.to_string())
        }
    }
}

/// A tag as `type:name` (any scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRef {
    pub tag_type: String,
    pub name: String,
}

impl FromStr for TagRef {
    type Err = String;
    fn from_str(s: &str) -> Result<TagRef, String> {
        match s.split_once(':') {
            Some((t, n)) if !t.is_empty() && !n.is_empty() => Ok(TagRef {
                tag_type: t.to_string(),
                name: n.to_string(),
            }),
            _ => Err(format!("must be <type>:<name>, got {s:?}")),
        }
    }
}

/// Jobs whose footprint value `name` (`flops_any_avg`, say) lies in `[from, to]`.
#[derive(Debug, Clone, PartialEq)]
pub struct FootprintRange {
    pub name: String,
    pub from: Option<f64>,
    pub to: Option<f64>,
}

impl FromStr for FootprintRange {
    type Err = String;
    /// `<name>:<min>-<max>`, either end may be left out; numbers may have decimals.
    fn from_str(s: &str) -> Result<FootprintRange, String> {
        let bad = || format!("must be <name>:<min>-<max> (either end may be left out), got {s:?}");
        let (name, range) = s.split_once(':').ok_or_else(bad)?;
        let (a, b) = range.split_once('-').ok_or_else(bad)?;
        let end = |v: &str| -> Result<Option<f64>, String> {
            match v.trim() {
                "" => Ok(None),
                n => n
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .map(Some)
                    .ok_or_else(bad),
            }
        };
        let r = FootprintRange {
            name: name.to_string(),
            from: end(a)?,
            to: end(b)?,
        };
        if r.name.is_empty() || (r.from.is_none() && r.to.is_none()) {
            return Err(bad());
        }
        if let (Some(f), Some(t)) = (r.from, r.to) {
            if f > t {
                return Err(format!("{s:?}: the start of the range is after its end"));
            }
        }
        Ok(r)
    }
}

/// Everything `GET /api/jobs/`, `/api/stats/` and `/api/events` filter on; all AND.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobFilter {
    pub states: Vec<JobState>,
    pub cluster: Option<String>,
    pub partition: Option<String>,
    pub subcluster: Option<String>,
    pub user: Option<Text>,
    pub project: Option<Text>,
    /// Substring unless it holds `*` or `?`; case-insensitive either way.
    pub job_name: Option<Text>,
    pub array_job_id: Option<i64>,
    /// Jobs whose resources include this host.
    pub node: Option<String>,
    pub tag: Option<TagRef>,
    pub start_time: Option<Range>,
    pub stop_time: Option<Range>,
    pub duration: Option<Range>,
    pub num_nodes: Option<Range>,
    /// Jobs that were running at some moment of this window (overlap, not containment).
    pub time: Option<Range>,
    /// Footprint value ranges; a job without the value does not match.
    pub footprint: Vec<FootprintRange>,
    pub scope: Scope,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortField {
    StartTime,
    Duration,
    NumNodes,
    /// A footprint value (`footprint.mem_bw_avg`); jobs without it come last.
    Footprint(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    pub field: SortField,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Sort {
        Sort {
            field: SortField::StartTime,
            descending: true,
        }
    }
}

impl FromStr for Sort {
    type Err = String;
    /// `<field>:<asc|desc>` or just `<field>` (descending).
    fn from_str(s: &str) -> Result<Sort, String> {
        let (f, d) = s.split_once(':').unwrap_or((s, "desc"));
        let field = match f {
            "startTime" => SortField::StartTime,
            "duration" => SortField::Duration,
            "numNodes" => SortField::NumNodes,
            _ => match f.strip_prefix("footprint.") {
                // NUL cannot reach Postgres; both databases must answer alike.
                Some(name) if !name.is_empty() && !name.contains('\0') => {
                    SortField::Footprint(name.to_string())
                }
                _ => {
                    return Err(format!(
                        "field must be startTime, duration, numNodes or footprint.<name>, got {f:?}"
                    ))
                }
            },
        };
        let descending = match d {
            "desc" => true,
            "asc" => false,
            _ => return Err(format!("order must be asc or desc, got {d:?}")),
        };
        Ok(Sort { field, descending })
    }
}

/// What `/api/stats/` groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    User,
    Project,
    Cluster,
    Partition,
    SubCluster,
    State,
}

impl GroupBy {
    pub const ALL: [GroupBy; 6] = [
        GroupBy::User,
        GroupBy::Project,
        GroupBy::Cluster,
        GroupBy::Partition,
        GroupBy::SubCluster,
        GroupBy::State,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::User => "user",
            GroupBy::Project => "project",
            GroupBy::Cluster => "cluster",
            GroupBy::Partition => "partition",
            GroupBy::SubCluster => "subcluster",
            GroupBy::State => "state",
        }
    }
}

impl FromStr for GroupBy {
    type Err = String;
    fn from_str(s: &str) -> Result<GroupBy, String> {
        GroupBy::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| {
                format!("must be user, project, cluster, partition, subcluster or state, got {s:?}")
            })
    }
}

impl serde::Serialize for GroupBy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_may_be_open_at_either_end_but_not_both() {
        let r: Range = "10-20".parse().unwrap();
        assert_eq!((r.from, r.to), (Some(10), Some(20)));
        assert_eq!("4-".parse::<Range>().unwrap().to, None);
        assert_eq!("-4".parse::<Range>().unwrap().from, None);
        for bad in ["-", "20-10", "a-b", "10", "1.5-2", "--3"] {
            assert!(bad.parse::<Range>().is_err(), "{bad}");
        }
    }

    #[test]
    fn wildcards_make_a_glob() {
        assert_eq!(Text::parse("ab*"), Text::Glob("ab*".into()));
        assert_eq!(Text::parse("a?c"), Text::Glob("a?c".into()));
        assert_eq!(Text::parse("abc"), Text::Exact("abc".into()));
    }

    #[test]
    fn sort_defaults_to_descending_and_names_its_fields() {
        let s: Sort = "duration".parse().unwrap();
        assert_eq!((s.field, s.descending), (SortField::Duration, true));
        let s: Sort = "numNodes:asc".parse().unwrap();
        assert_eq!((s.field, s.descending), (SortField::NumNodes, false));
        assert!("user:asc".parse::<Sort>().is_err());
        let s: Sort = "footprint.mem_bw_avg:asc".parse().unwrap();
        assert_eq!(s.field, SortField::Footprint("mem_bw_avg".into()));
        assert!("footprint.".parse::<Sort>().is_err());
        assert!("duration:up".parse::<Sort>().is_err());
    }

    #[test]
    fn footprint_ranges_name_a_value_and_may_be_open() {
        let r: FootprintRange = "flops_any_avg:0.5-10".parse().unwrap();
        assert_eq!(
            (r.name.as_str(), r.from, r.to),
            ("flops_any_avg", Some(0.5), Some(10.0))
        );
        assert_eq!(
            "mem_used_max:-4".parse::<FootprintRange>().unwrap().from,
            None
        );
        for bad in ["x", "x:-", ":1-2", "x:3-1", "x:a-b", "x:1"] {
            assert!(bad.parse::<FootprintRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn tags_are_type_colon_name() {
        let t: TagRef = "debug:slow".parse().unwrap();
        assert_eq!((t.tag_type.as_str(), t.name.as_str()), ("debug", "slow"));
        assert!("debug".parse::<TagRef>().is_err());
        assert!(":x".parse::<TagRef>().is_err());
    }
}
