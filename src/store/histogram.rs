//! How the jobs a filter selects are spread over duration and node count: the user and
//! project pages' histograms, counted by the database in one pass, not from a sample.

use super::filter::where_clause;
use super::Store;
use crate::domain::query::JobFilter;
use sqlx::Row;

/// Upper bounds (exclusive) of the duration buckets, in seconds; the last is open.
pub const DURATION_BOUNDS: [(i64, &str); 7] = [
    (600, "< 10 min"),
    (3600, "< 1 h"),
    (4 * 3600, "< 4 h"),
    (12 * 3600, "< 12 h"),
    (86_400, "< 1 d"),
    (3 * 86_400, "< 3 d"),
    (i64::MAX, "≥ 3 d"),
];

/// Upper bounds (inclusive) of the node-count buckets; the last is open.
pub const NODE_BOUNDS: [(i64, &str); 8] = [
    (1, "1"),
    (2, "2"),
    (4, "3-4"),
    (8, "5-8"),
    (16, "9-16"),
    (64, "17-64"),
    (256, "65-256"),
    (i64::MAX, "> 256"),
];

/// Job counts per bucket, in the order of the bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histograms {
    pub duration: Vec<(&'static str, i64)>,
    pub nodes: Vec<(&'static str, i64)>,
}

impl Store {
    pub async fn histograms(&self, filter: &JobFilter) -> Result<Histograms, sqlx::Error> {
        let extent = self.extent().await?;
        let w = where_clause(filter, self.backend, extent);
        let by_duration = bucket("j.duration", &DURATION_BOUNDS, "<");
        let by_nodes = bucket("j.num_nodes", &NODE_BOUNDS, "<=");
        let sql = format!(
            "SELECT {by_duration} AS d, {by_nodes} AS n, COUNT(*) FROM job j{} GROUP BY d, n",
            w.sql()
        );
        let rows = super::values::bind_all(sqlx::query(&sql), w.vals)
            .fetch_all(&self.pool)
            .await?;
        let mut h = Histograms {
            duration: DURATION_BOUNDS.iter().map(|(_, l)| (*l, 0)).collect(),
            nodes: NODE_BOUNDS.iter().map(|(_, l)| (*l, 0)).collect(),
        };
        for r in rows {
            let (d, n, count): (i64, i64, i64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            for (i, hist) in [(d, &mut h.duration), (n, &mut h.nodes)] {
                if let Some(slot) = usize::try_from(i).ok().and_then(|i| hist.get_mut(i)) {
                    slot.1 += count;
                }
            }
        }
        Ok(h)
    }
}

/// `CASE WHEN col < b0 THEN 0 WHEN col < b1 THEN 1 … ELSE last END`, bounds as literals
/// (constants of this file, not input).
fn bucket(col: &str, bounds: &[(i64, &str)], op: &str) -> String {
    let mut sql = String::from("CASE");
    let last = bounds.len() - 1;
    for (i, (b, _)) in bounds[..last].iter().enumerate() {
        sql.push_str(&format!(" WHEN {col} {op} {b} THEN {i}"));
    }
    sql.push_str(&format!(" ELSE {last} END"));
    sql
}
