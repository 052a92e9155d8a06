//! Multi-row statements: one `INSERT … VALUES (…),(…)` per chunk instead of one statement
//! per row, which is what makes batch ingest fast on Postgres (one round trip per chunk).

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;
use sqlx::AnyConnection;

/// A value to bind. Owned, so a statement can be built from borrowed domain data.
#[derive(Debug, Clone)]
pub(super) enum Val {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
    Bytes(Vec<u8>),
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(Some(v))
    }
}
impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Self {
        Val::Int(v)
    }
}
impl From<Option<f64>> for Val {
    fn from(v: Option<f64>) -> Self {
        Val::Real(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(Some(v.to_string()))
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(Some(v))
    }
}
impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Self {
        Val::Text(v)
    }
}
impl From<Vec<u8>> for Val {
    fn from(v: Vec<u8>) -> Self {
        Val::Bytes(v)
    }
}

/// Rows per statement: well under SQLite's 32766 and Postgres' 65535 bind parameters.
pub(super) fn chunk_rows(cols: usize) -> usize {
    (16_000 / cols).clamp(1, 500)
}

/// How a statement names its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    /// `$1, $2`: Postgres.
    Dollar,
    /// `?, ?`: SQLite. Binding a named parameter (`$N`) makes SQLite look the name up in a
    /// list, once per parameter, so a 13,500-parameter insert cost O(n²), about 0.4 s
    /// (measured); anonymous `?` bind by position.
    Question,
}

/// The placeholder style of the database behind `conn`.
pub(super) fn style(conn: &AnyConnection) -> Style {
    if conn.backend_name() == <sqlx::Sqlite as sqlx::Database>::NAME {
        Style::Question
    } else {
        Style::Dollar
    }
}

/// `($1,$2),($3,$4)` (or `(?,?),(?,?)`) for `rows` rows of `cols` columns.
pub(super) fn placeholders(style: Style, rows: usize, cols: usize) -> String {
    placeholders_after(style, 0, rows, cols)
}

/// `placeholders` numbered from `$after+1` on, for values that follow `after` others.
pub(super) fn placeholders_after(style: Style, after: usize, rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    let mut n = after + 1;
    for r in 0..rows {
        s.push_str(if r == 0 { "(" } else { ",(" });
        for c in 0..cols {
            if c > 0 {
                s.push(',');
            }
            match style {
                Style::Dollar => {
                    s.push('$');
                    s.push_str(&n.to_string());
                }
                Style::Question => s.push('?'),
            }
            n += 1;
        }
        s.push(')');
    }
    s
}

/// The `n`th placeholder.
pub(super) fn placeholder(style: Style, n: usize) -> String {
    match style {
        Style::Dollar => format!("${n}"),
        Style::Question => "?".into(),
    }
}

/// `($first, …)` for `len` values.
pub(super) fn list(style: Style, first: usize, len: usize) -> String {
    let items: Vec<String> = (first..first + len)
        .map(|n| placeholder(style, n))
        .collect();
    format!("({})", items.join(","))
}

/// ` AND metric IN ($first, …)`, or nothing for no metrics (all of them).
pub(super) fn metric_filter(style: Style, first: usize, metrics: &[String]) -> String {
    if metrics.is_empty() {
        String::new()
    } else {
        format!(" AND metric IN {}", list(style, first, metrics.len()))
    }
}

/// Bind every value with its SQL type pinned, NULLs included.
///
/// Postgres takes a parameter's type from the first execution of a cached statement, so
/// a NULL must carry the type a value in the same place carries, or a later value no
/// longer fits ("incorrect binary data format"). sqlx 0.8's `Any` driver swaps the two
/// float types for NULLs (`None::<f64>` reaches Postgres as `float4`, `None::<f32>` as
/// `float8`; launchbadge/sqlx PR 4290, still so in 0.9.0), so a NULL float is bound as
/// `None::<f32>` to arrive as `float8`, like every `f64` value. The store test
/// `every_nullable_column_takes_null_then_a_value_and_back` fails if this ever changes.
pub(super) fn bind_all<'q>(
    mut q: Query<'q, Any, AnyArguments<'q>>,
    vals: Vec<Val>,
) -> Query<'q, Any, AnyArguments<'q>> {
    for v in vals {
        q = match v {
            Val::Int(i) => q.bind(i),
            Val::Real(Some(f)) => q.bind(f),
            Val::Real(None) => q.bind(None::<f32>),
            Val::Text(t) => q.bind(t),
            Val::Bytes(b) => q.bind(b),
        };
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_in_order() {
        assert_eq!(placeholders(Style::Dollar, 2, 2), "($1,$2),($3,$4)");
        assert_eq!(placeholders(Style::Question, 2, 2), "(?,?),(?,?)");
        assert_eq!(placeholders_after(Style::Dollar, 2, 1, 2), "($3,$4)");
    }
}
