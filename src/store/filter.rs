//! A [`JobFilter`] as a SQL `WHERE` fragment over `job j`. Every value is a bound
//! parameter; the SQL text depends only on which filters are set, never on their values.

use super::values::Val;
use super::Backend;
use crate::domain::query::{JobFilter, Range, Scope, Sort, SortField, Text};

/// What the data says about time, read from index ends before a windowed query: how long
/// the longest stopped job ran, and when the oldest running job started. Together they
/// bound how early a job that overlaps a window can have started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Extent {
    pub max_duration: i64,
    pub oldest_running: Option<i64>,
    /// The first and last start time of all jobs.
    pub first_start: Option<i64>,
    pub last_start: Option<i64>,
}

impl Extent {
    /// The earliest start of a job that overlaps a window beginning at `from`.
    pub(super) fn earliest_start(&self, from: i64) -> i64 {
        let stopped = from.saturating_sub(self.max_duration);
        self.oldest_running.map_or(stopped, |r| r.min(stopped))
    }
}

/// A growing `WHERE` clause and its parameters, numbered `$1…` in order.
#[derive(Debug, Default, Clone)]
pub(super) struct Where {
    clauses: Vec<String>,
    pub vals: Vec<Val>,
}

impl Where {
    /// Bind a value; returns its placeholder.
    pub(super) fn bind(&mut self, v: impl Into<Val>) -> String {
        self.vals.push(v.into());
        format!("${}", self.vals.len())
    }

    pub(super) fn push(&mut self, clause: String) {
        self.clauses.push(clause);
    }

    /// No condition at all: every job.
    pub(super) fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }

    /// ` WHERE a AND b`, or nothing.
    pub(super) fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    fn range(&mut self, col: &str, r: Option<Range>) {
        let Some(r) = r else { return };
        if let Some(from) = r.from {
            let p = self.bind(from);
            self.push(format!("{col} >= {p}"));
        }
        if let Some(to) = r.to {
            let p = self.bind(to);
            self.push(format!("{col} <= {p}"));
        }
    }

    fn text(&mut self, col: &str, t: Option<&Text>, backend: Backend) {
        match t {
            None => {}
            Some(Text::Exact(v)) => {
                let p = self.bind(v.as_str());
                self.push(format!("{col} = {p}"));
            }
            // Case-sensitive on both databases: SQLite's GLOB, Postgres' LIKE.
            Some(Text::Glob(g)) => match backend {
                Backend::Sqlite => {
                    let p = self.bind(sqlite_glob(g));
                    self.push(format!("{col} GLOB {p}"));
                }
                Backend::Postgres => {
                    let p = self.bind(like_pattern(g, false));
                    self.push(format!("{col} LIKE {p} ESCAPE '\\'"));
                }
            },
        }
    }
}

/// `WHERE` for `f`. `extent` bounds how early a job that overlaps `f.time` can have
/// started, so the window is an index range, not a scan.
pub(super) fn where_clause(f: &JobFilter, backend: Backend, extent: Extent) -> Where {
    let mut w = Where::default();
    match &f.scope {
        Scope::All => {}
        Scope::User(u) => {
            let p = w.bind(u.as_str());
            w.push(format!("j.user_name = {p}"));
        }
        Scope::Projects(ps) if ps.is_empty() => w.push("1 = 0".into()),
        Scope::Projects(ps) => {
            let list: Vec<String> = ps.iter().map(|p| w.bind(p.as_str())).collect();
            w.push(format!("j.project IN ({})", list.join(",")));
        }
    }
    for (col, v) in [
        ("j.cluster", &f.cluster),
        ("j.partition", &f.partition),
        ("j.sub_cluster", &f.subcluster),
    ] {
        if let Some(v) = v {
            let p = w.bind(v.as_str());
            w.push(format!("{col} = {p}"));
        }
    }
    w.text("j.user_name", f.user.as_ref(), backend);
    w.text("j.project", f.project.as_ref(), backend);
    job_name(&mut w, f.job_name.as_ref(), backend);
    if !f.states.is_empty() {
        let list: Vec<String> = f.states.iter().map(|s| w.bind(s.as_str())).collect();
        w.push(format!("j.job_state IN ({})", list.join(",")));
    }
    if let Some(a) = f.array_job_id {
        let p = w.bind(a);
        w.push(format!("j.array_job_id = {p}"));
    }
    // One pair of start-time bounds: SQLite seeks the index with the first pair it
    // finds and only filters by the others, so a window and a start-time range are
    // folded into one.
    let started = start_bounds(f, extent);
    match f.time {
        Some(t) => overlap(&mut w, t, started, extent),
        None => w.range("j.start_time", started),
    }
    w.range("j.stop_time", f.stop_time);
    w.range("j.duration", f.duration);
    w.range("j.num_nodes", f.num_nodes);
    if let Some(node) = &f.node {
        node_clause(&mut w, node, f, started, extent.max_duration);
    }
    for r in &f.footprint {
        let name = w.bind(r.name.as_str());
        let mut c = format!("SELECT job_id FROM job_footprint WHERE name = {name}");
        for (op, v) in [(">=", r.from), ("<=", r.to)] {
            if let Some(v) = v {
                let p = w.bind(Some(v));
                c.push_str(&format!(" AND value {op} {p}"));
            }
        }
        w.push(format!("j.id IN ({c})"));
    }
    if let Some(t) = &f.tag {
        let (ty, name) = (w.bind(t.tag_type.as_str()), w.bind(t.name.as_str()));
        w.push(format!(
            "j.id IN (SELECT jt.job_id FROM job_tag jt JOIN tag t ON t.id = jt.tag_id \
             WHERE t.tag_type = {ty} AND t.tag_name = {name})"
        ));
    }
    w
}

/// The start-time bounds every matching job lies in: the start-time filter, narrowed by
/// a stop-time range (a job stopped in `[a, b]` started in `[a - longest, b]`), so that a
/// stop-time question is a range of the start-time index too.
fn start_bounds(f: &JobFilter, extent: Extent) -> Option<Range> {
    let implied = f.stop_time.map(|r| Range {
        from: r.from.map(|a| a.saturating_sub(extent.max_duration)),
        to: r.to,
    });
    match (f.start_time, implied) {
        (None, None) => None,
        (Some(r), None) | (None, Some(r)) => Some(r),
        (Some(a), Some(b)) => Some(Range {
            from: a.from.max(b.from),
            to: match (a.to, b.to) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            },
        }),
    }
}

/// Jobs that ran on `node`, as candidates from the job → host index. The window's bounds
/// go into the index range: a stopped job in it started at most `max_duration` before the
/// window, and nothing that started after the window can be in it. Running jobs may have
/// started any time before, so they join through the small running-jobs index. The outer
/// WHERE still checks every condition; this only keeps the candidates few.
fn node_clause(
    w: &mut Where,
    node: &str,
    f: &JobFilter,
    started: Option<Range>,
    max_duration: i64,
) {
    let upper = [started.and_then(|r| r.to), f.time.and_then(|r| r.to)]
        .into_iter()
        .flatten()
        .min();
    let window_from = f
        .time
        .and_then(|r| r.from)
        .map(|t| t.saturating_sub(max_duration));
    let started_from = started.and_then(|r| r.from);
    let lower = window_from.max(started_from);
    let h = w.bind(node);
    let mut bounds = String::new();
    if let Some(l) = lower {
        bounds.push_str(&format!(" AND jn.start_time >= {}", w.bind(l)));
    }
    if let Some(u) = upper {
        bounds.push_str(&format!(" AND jn.start_time <= {}", w.bind(u)));
    }
    let mut sql = format!("SELECT jn.job_ref FROM job_node jn WHERE jn.hostname = {h}{bounds}");
    // A lower bound from the window (not from start-time) would leave out running jobs
    // that started long before it: add those.
    let window_bounds_it = match (window_from, started_from) {
        (Some(win), Some(s)) => win > s,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if window_bounds_it {
        let h2 = w.bind(node);
        sql.push_str(&format!(
            " UNION SELECT r.id FROM job r JOIN job_node jr ON jr.job_ref = r.id \
             AND jr.hostname = {h2} WHERE r.job_state = 'running'"
        ));
    }
    w.push(format!("j.id IN ({sql})"));
}

/// Jobs running at some moment of the window `t` (and started within `started`, if
/// given): they started at most `max_duration` before the window (or are still running)
/// and did not stop before it. Usually no running job is older than that, and the window
/// is one range of the start-time index; otherwise the old running jobs come from the
/// running-jobs index as a second branch. (One plain OR over both made Postgres scan
/// everything that started before the window's end.)
fn overlap(w: &mut Where, t: Range, started: Option<Range>, extent: Extent) {
    let started_from = started.and_then(|r| r.from);
    let to = [t.to, started.and_then(|r| r.to)]
        .into_iter()
        .flatten()
        .min();
    let to = to.unwrap_or(i64::MAX);
    let Some(from) = t.from else {
        w.range(
            "j.start_time",
            Some(Range {
                from: started_from,
                to: Some(to),
            }),
        );
        return;
    };
    let reach = from.saturating_sub(extent.max_duration);
    let lo = started_from.map_or(reach, |s| s.max(reach));
    let (lo_p, to_p, from_p) = (w.bind(lo), w.bind(to), w.bind(from));
    let window = format!(
        "j.start_time >= {lo_p} AND j.start_time <= {to_p} \
         AND (j.stop_time >= {from_p} OR j.stop_time IS NULL)"
    );
    // Running jobs that started before `lo` but within `started`.
    let older_running = match (extent.oldest_running, started_from) {
        (Some(r), Some(s)) => r < lo && s < lo,
        (Some(r), None) => r < lo,
        (None, _) => false,
    };
    if older_running {
        let lo2 = w.bind(lo);
        let floor = match started_from {
            Some(s) => format!(" AND j.start_time >= {}", w.bind(s)),
            None => String::new(),
        };
        w.push(format!(
            "(({window}) OR (j.job_state = 'running' AND j.start_time < {lo2}{floor}))"
        ));
    } else {
        w.push(window);
    }
}

/// jobName: a substring, or a glob when it holds `*` or `?`; case-insensitive (SQLite's
/// LIKE folds ASCII letters only, Postgres' ILIKE folds all).
fn job_name(w: &mut Where, t: Option<&Text>, backend: Backend) {
    let pattern = match t {
        None => return,
        Some(Text::Exact(s)) => format!("%{}%", like_pattern(s, true)),
        Some(Text::Glob(g)) => like_pattern(g, false),
    };
    let op = match backend {
        Backend::Sqlite => "LIKE",
        Backend::Postgres => "ILIKE",
    };
    let p = w.bind(pattern);
    w.push(format!("j.job_name {op} {p} ESCAPE '\\'"));
}

/// A glob (`*`, `?`) as a LIKE pattern with `\` escapes; `literal` leaves `*` and `?` as
/// they are.
fn like_pattern(glob: &str, literal: bool) -> String {
    let mut out = String::with_capacity(glob.len() + 4);
    for c in glob.chars() {
        match c {
            '\\' | '%' | '_' => {
                out.push('\\');
                out.push(c);
            }
            '*' if !literal => out.push('%'),
            '?' if !literal => out.push('_'),
            c => out.push(c),
        }
    }
    out
}

/// A glob for SQLite's GLOB, where `[` opens a character class: `[` becomes `[[]`.
fn sqlite_glob(glob: &str) -> String {
    glob.replace('[', "[[]")
}

/// `ORDER BY` for a sort by a column of the job; the id breaks ties so pages never
/// overlap. (Footprint sorts are `footprint_sort`'s.)
pub(super) fn order_by(s: &Sort) -> String {
    let dir = if s.descending { "DESC" } else { "ASC" };
    let col = match s.field {
        SortField::StartTime | SortField::Footprint(_) => "j.start_time",
        SortField::Duration => "j.duration",
        SortField::NumNodes => "j.num_nodes",
    };
    format!(" ORDER BY {col} {dir}, j.id {dir}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::query::TagRef;

    #[test]
    fn values_never_reach_the_sql_text() {
        let evil = "x' OR '1'='1";
        let f = JobFilter {
            cluster: Some(evil.into()),
            user: Some(Text::Glob(format!("{evil}*"))),
            job_name: Some(Text::Exact(evil.into())),
            node: Some(evil.into()),
            tag: Some(TagRef {
                tag_type: evil.into(),
                name: evil.into(),
            }),
            scope: Scope::Projects(vec![evil.into()]),
            ..JobFilter::default()
        };
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let w = where_clause(&f, backend, Extent::default());
            assert!(!w.sql().contains("OR '1'"), "{}", w.sql());
            assert_eq!(w.vals.len(), 7);
        }
    }

    #[test]
    fn globs_escape_what_like_and_glob_treat_specially() {
        assert_eq!(like_pattern("a_b%c*d?", false), "a\\_b\\%c%d_");
        assert_eq!(like_pattern("50%*", true), "50\\%*");
        assert_eq!(sqlite_glob("n[01]*"), "n[[]01]*");
    }

    #[test]
    fn a_manager_without_projects_sees_nothing() {
        let f = JobFilter {
            scope: Scope::Projects(vec![]),
            ..JobFilter::default()
        };
        assert_eq!(
            where_clause(&f, Backend::Sqlite, Extent::default()).sql(),
            " WHERE 1 = 0"
        );
    }

    #[test]
    fn a_window_is_one_index_range_unless_an_older_job_still_runs() {
        let f = JobFilter {
            time: Some(Range {
                from: Some(1000),
                to: Some(2000),
            }),
            ..JobFilter::default()
        };
        let mut extent = Extent {
            max_duration: 100,
            oldest_running: Some(950),
            ..Extent::default()
        };
        assert!(!where_clause(&f, Backend::Sqlite, extent)
            .sql()
            .contains(" OR j.job_state"));
        extent.oldest_running = Some(10);
        assert!(where_clause(&f, Backend::Sqlite, extent)
            .sql()
            .contains(" OR (j.job_state"));
        assert_eq!(extent.earliest_start(1000), 10);
        let sliced = JobFilter {
            start_time: Some(Range {
                from: Some(1500),
                to: Some(1600),
            }),
            ..f
        };
        let sql = where_clause(&sliced, Backend::Sqlite, extent).sql();
        assert_eq!(sql.matches("j.start_time >=").count(), 1, "{sql}");
    }

    #[test]
    fn the_node_filter_is_bounded_by_the_window() {
        let f = JobFilter {
            node: Some("f0001".into()),
            time: Some(Range {
                from: Some(100),
                to: Some(200),
            }),
            ..JobFilter::default()
        };
        let extent = Extent {
            max_duration: 50,
            ..Extent::default()
        };
        let w = where_clause(&f, Backend::Postgres, extent);
        assert!(w.sql().contains("jn.start_time <= $"), "{}", w.sql());
    }
}
