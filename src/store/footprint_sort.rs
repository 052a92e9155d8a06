//! Job lists sorted by a footprint value (`sort=footprint.NAME`).
//!
//! Jobs that have the value come first, in value order, then jobs without it, by id in
//! the same direction. cc-backend lists them all too (it sorts by a JSON field that may
//! be missing), so a sort never changes the total: that is the filters' count.
//!
//! Which way a page is read depends on how many jobs the filters match (counted first):
//! - few (at most `FEW_FOR_FOOTPRINT_SORT`): the filters' own index, each job's value
//!   looked up by the `job_footprint` primary key, the ids sorted and one page kept. Only
//!   ids are sorted; the page's rows are read afterwards, 25 of them, not 20,000.
//! - many: the `(name, value, job_id)` index walked in value order, each job checked
//!   against the filters, stopping after a page. Starting from the filters would sort
//!   millions; walking the index over few matches would pass the whole index by (16 s a
//!   page at 10 million jobs, measured), hence the count first.

use super::filter::Where;
use super::values::bind_all;
use super::{Backend, Store};
use crate::domain::query::{JobFilter, Range};
use sqlx::Row;

/// Matching jobs up to which a footprint sort reads them all and sorts them, rather than
/// walking the footprint index in value order.
pub(super) const FEW_FOR_FOOTPRINT_SORT: i64 = 50_000;

/// How many jobs the filters match, and the range of their ids when the matches fill
/// most of it (a day's jobs do; a cluster's running jobs, spread over weeks of ids, do not).
#[derive(Debug, Clone, Copy)]
pub(super) struct Matches {
    pub count: i64,
    pub dense_ids: Option<(i64, i64)>,
}

impl Matches {
    fn of(count: i64, min: Option<i64>, max: Option<i64>) -> Matches {
        // Reading a range four times the matches still beats probing the key per job.
        let dense = |&(a, b): &(i64, i64)| b.saturating_sub(a) < count.saturating_mul(4);
        Matches {
            count,
            dense_ids: min.zip(max).filter(dense),
        }
    }
}

/// The footprint value a list is sorted by, and which way.
#[derive(Debug, Clone, Copy)]
pub(super) struct ByValue<'a> {
    pub name: &'a str,
    pub descending: bool,
}

/// One page's place in a list.
#[derive(Debug, Clone, Copy)]
pub(super) struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Store {
    /// How many jobs `w` matches; with the range of their ids, which lets Postgres read
    /// their values in one range of the footprint key and hash them, rather than probe
    /// the key once a job (measured at 10 million jobs, 23,000 matching: 45 → 14 ms).
    ///
    /// SQLite probes the key once a job whatever it is told, so it is not asked for the
    /// range, which would turn its index count into a scan of the rows' ids (0.7 s
    /// unfiltered at 10 million jobs).
    pub(super) async fn matches(
        &self,
        filter: &JobFilter,
        w: &Where,
    ) -> Result<Matches, sqlx::Error> {
        let range = match (self.backend, window(filter)) {
            (Backend::Postgres, None) => "MIN(j.id), MAX(j.id)",
            _ => "NULL, NULL",
        };
        let sql = format!("SELECT COUNT(*), {range} FROM job j{}", w.sql());
        let row = bind_all(sqlx::query(&sql), w.vals.clone())
            .fetch_one(&self.pool)
            .await?;
        Ok(Matches::of(
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
        ))
    }

    /// The ids of one page of the jobs `w` matches (`total` of them), sorted by the
    /// footprint value `name`; `few_max` is where the two ways divide.
    /// `matches`: what `matches` found for `w`.
    pub(super) async fn footprint_page(
        &self,
        filter: &JobFilter,
        w: &Where,
        ByValue { name, descending }: ByValue<'_>,
        matches: Matches,
        page: Page,
        few_max: i64,
    ) -> Result<Vec<i64>, sqlx::Error> {
        let dir = if descending { "DESC" } else { "ASC" };
        if matches.count == 0 {
            return Ok(Vec::new());
        }
        let few = matches.count <= few_max;
        let window = window(filter).filter(|_| few);
        if few && window.is_none() {
            let mut w = w.clone();
            let k = w.bind(name);
            let range = match matches.dense_ids {
                Some((first, last)) => {
                    let (a, b) = (w.bind(first), w.bind(last));
                    format!(" AND fp.job_id BETWEEN {a} AND {b}")
                }
                None => String::new(),
            };
            let sql = format!(
                "SELECT j.id FROM job j LEFT JOIN job_footprint fp \
                 ON fp.job_id = j.id AND fp.name = {k}{range}{} \
                 ORDER BY fp.value {dir} NULLS LAST, j.id {dir}",
                w.sql()
            );
            return self.ids(sql, w, page).await;
        }
        // The jobs with the value, in value order; then those without it.
        let (from, valued) = valued(window, w, name);
        let order = format!(" ORDER BY fp.value {dir}, fp.job_id {dir}");
        let sql = format!("SELECT fp.job_id {from}{order}");
        let mut ids = self.ids(sql, valued.clone(), page).await?;
        if ids.len() as i64 == page.limit {
            return Ok(ids);
        }
        // Past the last job with a value: how many have one says where those without
        // start. Counted only when this page holds none of them (the end of a long list).
        let with_value = match ids.len() {
            0 if page.offset > 0 => {
                self.count(format!("SELECT COUNT(*) {from}"), valued)
                    .await?
            }
            n => page.offset + n as i64,
        };
        let mut without = w.clone();
        let k = without.bind(name);
        without.push(format!(
            "NOT EXISTS (SELECT 1 FROM job_footprint fp WHERE fp.job_id = j.id AND fp.name = {k})"
        ));
        let sql = format!(
            "SELECT j.id FROM job j{} ORDER BY j.id {dir}",
            without.sql()
        );
        let rest = Page {
            limit: page.limit - ids.len() as i64,
            offset: (page.offset - with_value).max(0),
        };
        ids.extend(self.ids(sql, without, rest).await?);
        Ok(ids)
    }

    /// The first column of `sql` (ordered, without LIMIT) for one page.
    async fn ids(&self, sql: String, mut w: Where, page: Page) -> Result<Vec<i64>, sqlx::Error> {
        let (l, o) = (w.bind(page.limit), w.bind(page.offset));
        let rows = bind_all(sqlx::query(&format!("{sql} LIMIT {l} OFFSET {o}")), w.vals)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| r.try_get(0)).collect()
    }

    pub(super) async fn count(&self, sql: String, w: Where) -> Result<i64, sqlx::Error> {
        bind_all(sqlx::query(&sql), w.vals)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)
    }
}

/// Where the jobs with the value `name` are read from in value order: over a window, the
/// footprint table alone (one range of `job_footprint_window`, no join); otherwise its
/// value index walked, each job checked against `w`.
fn valued(window: Option<(Option<&str>, Range)>, w: &Where, name: &str) -> (String, Where) {
    if let Some((cluster, range)) = window {
        let mut valued = Where::default();
        let k = valued.bind(name);
        valued.push(format!("fp.name = {k}"));
        if let Some(c) = cluster {
            let c = valued.bind(c);
            valued.push(format!("fp.cluster = {c}"));
        }
        for (op, end) in [(">=", range.from), ("<=", range.to)] {
            if let Some(t) = end {
                let t = valued.bind(t);
                valued.push(format!("fp.start_time {op} {t}"));
            }
        }
        return (format!("FROM job_footprint fp{}", valued.sql()), valued);
    }
    // CROSS JOIN: SQLite keeps the order written, the index walk first.
    let mut valued = w.clone();
    let k = valued.bind(name);
    valued.push(format!("fp.name = {k} AND j.id = fp.job_id"));
    let from = format!("FROM job_footprint fp CROSS JOIN job j{}", valued.sql());
    (from, valued)
}

/// The cluster and start-time range, if the filters are those and nothing else: the
/// usual job list (a cluster's jobs of a day, a week). `job_footprint` holds both columns
/// of its job (copied by the triggers), so such a list's values are one index range.
fn window(f: &JobFilter) -> Option<(Option<&str>, Range)> {
    let bare = JobFilter {
        cluster: f.cluster.clone(),
        start_time: f.start_time,
        ..JobFilter::default()
    };
    let range = f.start_time?;
    (bare == *f).then_some((f.cluster.as_deref(), range))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::query::{Scope, Text};

    #[test]
    fn only_a_range_the_matches_mostly_fill_is_given() {
        let day = Matches::of(23_000, Some(8_069_001), Some(8_096_397));
        assert_eq!(day.dense_ids, Some((8_069_001, 8_096_397)));
        let running = Matches::of(1_578, Some(9_950_587), Some(9_999_999));
        assert_eq!(running.dense_ids, None);
        assert_eq!(Matches::of(0, None, None).dense_ids, None);
        assert_eq!(Matches::of(1, Some(7), Some(7)).dense_ids, Some((7, 7)));
    }

    #[test]
    fn only_a_cluster_and_a_start_window_read_the_values_alone() {
        let day = Range {
            from: Some(100),
            to: Some(200),
        };
        let f = JobFilter {
            cluster: Some("fritz".into()),
            start_time: Some(day),
            ..JobFilter::default()
        };
        assert_eq!(window(&f), Some((Some("fritz"), day)));
        let no_cluster = JobFilter {
            cluster: None,
            ..f.clone()
        };
        assert_eq!(window(&no_cluster), Some((None, day)));
        for narrower in [
            JobFilter {
                user: Some(Text::Exact("u".into())),
                ..f.clone()
            },
            JobFilter {
                scope: Scope::User("u".into()),
                ..f.clone()
            },
            JobFilter {
                time: Some(day),
                ..f.clone()
            },
            JobFilter {
                start_time: None,
                ..f.clone()
            },
        ] {
            assert_eq!(window(&narrower), None, "{narrower:?}");
        }
    }
}
