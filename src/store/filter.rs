//! A [`JobFilter`] as a SQL `WHERE` fragment over `job j`. Every value is a bound
//! parameter; the SQL text depends only on which filters are set, never on their values.

use super::values::Val;
use super::Backend;
use crate::domain::query::{JobFilter, Range, Scope, Sort, SortField, Text};

/// A growing `WHERE` clause and its parameters, numbered `$1…` in order.
#[derive(Debug, Default)]
pub(super) struct Where {
    clauses: Vec<String>,
    pub vals: Vec<Val>,
}

impl Where {
    /// Bind a value; returns its placeholder.
    pub fn bind(&mut self, v: impl Into<Val>) -> String {
        self.vals.push(v.into());
        format!("${}", self.vals.len())
    }

    pub fn push(&mut self, clause: String) {
        self.clauses.push(clause);
    }

    /// ` WHERE a AND b`, or nothing.
    pub fn sql(&self) -> String {
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

    fn text(&mut self, col: &str, t: &Option<Text>, backend: Backend) {
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

/// `WHERE` for `f`. `max_duration` (the longest stopped job) bounds how early a job that
/// overlaps `f.time` can have started, so the window is an index range, not a scan.
pub(super) fn where_clause(f: &JobFilter, backend: Backend, max_duration: i64) -> Where {
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
    w.text("j.user_name", &f.user, backend);
    w.text("j.project", &f.project, backend);
    job_name(&mut w, &f.job_name, backend);
    if !f.states.is_empty() {
        let list: Vec<String> = f.states.iter().map(|s| w.bind(s.as_str())).collect();
        w.push(format!("j.job_state IN ({})", list.join(",")));
    }
    if let Some(a) = f.array_job_id {
        let p = w.bind(a);
        w.push(format!("j.array_job_id = {p}"));
    }
    w.range("j.start_time", f.start_time);
    w.range("j.stop_time", f.stop_time);
    w.range("j.duration", f.duration);
    w.range("j.num_nodes", f.num_nodes);
    if let Some(t) = f.time {
        overlap(&mut w, t, max_duration);
    }
    if let Some(node) = &f.node {
        let h = w.bind(node.as_str());
        // Nothing that started after the window can have run in it.
        let upper = [f.start_time.and_then(|r| r.to), f.time.and_then(|r| r.to)]
            .into_iter()
            .flatten()
            .min();
        let bound = match upper {
            Some(u) => format!(" AND jn.start_time <= {}", w.bind(u)),
            None => String::new(),
        };
        w.push(format!(
            "j.id IN (SELECT jn.job_ref FROM job_node jn WHERE jn.hostname = {h}{bound})"
        ));
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

/// Jobs running at some moment of `[from, to]`: stopped ones that started at most
/// `max_duration` before `from` (an index range) and ended inside or after it, plus the
/// running ones (a small partial index). Each OR branch has its own index.
fn overlap(w: &mut Where, t: Range, max_duration: i64) {
    let to = t.to.unwrap_or(i64::MAX);
    match t.from {
        None => {
            let p = w.bind(to);
            w.push(format!("j.start_time <= {p}"));
        }
        Some(from) => {
            let lo = w.bind(from.saturating_sub(max_duration));
            let to1 = w.bind(to);
            let from = w.bind(from);
            let to2 = w.bind(to);
            w.push(format!(
                "((j.start_time >= {lo} AND j.start_time <= {to1} AND j.stop_time >= {from}) \
                 OR (j.job_state = 'running' AND j.start_time <= {to2}))"
            ));
        }
    }
}

/// jobName: a substring, or a glob when it holds `*` or `?`; case-insensitive (SQLite's
/// LIKE folds ASCII letters only, Postgres' ILIKE folds all).
fn job_name(w: &mut Where, t: &Option<Text>, backend: Backend) {
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

/// `ORDER BY` for a sort; the id breaks ties so pages never overlap.
pub(super) fn order_by(s: Sort) -> String {
    let col = match s.field {
        SortField::StartTime => "j.start_time",
        SortField::Duration => "j.duration",
        SortField::NumNodes => "j.num_nodes",
    };
    let dir = if s.descending { "DESC" } else { "ASC" };
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
            let w = where_clause(&f, backend, 0);
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
        assert_eq!(where_clause(&f, Backend::Sqlite, 0).sql(), " WHERE 1 = 0");
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
        let w = where_clause(&f, Backend::Postgres, 50);
        assert!(w.sql().contains("jn.start_time <= $"), "{}", w.sql());
    }
}
