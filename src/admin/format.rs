//! Output for people and for scripts: aligned tables (default), JSON and CSV; times and
//! durations as people read them. Times are the local time of the machine running the
//! command, as in Slurm's own tools.

use chrono::{Local, LocalResult, NaiveDate, NaiveDateTime, TimeZone};
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Table,
    Json,
    Csv,
}

/// A table: a header and rows of cells, printed aligned or as CSV.
pub(crate) struct Table {
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    /// Columns aligned right (numbers).
    pub right: Vec<usize>,
}

impl Table {
    pub(crate) fn print(&self, format: Format, out: &mut impl Write) -> anyhow::Result<()> {
        match format {
            Format::Csv => {
                let mut w = csv::Writer::from_writer(out);
                w.write_record(&self.header)?;
                for r in &self.rows {
                    w.write_record(r)?;
                }
                w.flush()?;
            }
            Format::Table | Format::Json => {
                let mut widths: Vec<usize> =
                    self.header.iter().map(|h| h.chars().count()).collect();
                for r in &self.rows {
                    for (w, c) in widths.iter_mut().zip(r) {
                        *w = (*w).max(c.chars().count());
                    }
                }
                let line = |cells: Vec<&str>| -> String {
                    let mut s = String::new();
                    for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
                        let pad = w.saturating_sub(c.chars().count());
                        if i > 0 {
                            s.push_str("  ");
                        }
                        if self.right.contains(&i) {
                            s.push_str(&" ".repeat(pad));
                            s.push_str(c);
                        } else {
                            s.push_str(c);
                            s.push_str(&" ".repeat(pad));
                        }
                    }
                    s.trim_end().to_string()
                };
                writeln!(out, "{}", line(self.header.clone()))?;
                for r in &self.rows {
                    writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
                }
            }
        }
        Ok(())
    }
}

/// `2026-11-21 08:00:05`, local time.
pub(crate) fn time(unix: i64) -> String {
    match Local.timestamp_opt(unix, 0) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        }
        LocalResult::None => unix.to_string(),
    }
}

/// `3d 04:05:06`, `04:05:06`, as Slurm prints elapsed times.
pub(crate) fn duration(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d {h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// A time argument: unix seconds, `YYYY-MM-DD` (midnight at its start, local time), or
/// `YYYY-MM-DDTHH:MM[:SS]` (local). `--to 2026-12-01` therefore ends November.
pub(crate) fn parse_time(flag: &str, v: &str) -> anyhow::Result<i64> {
    if let Ok(n) = v.parse::<i64>() {
        return Ok(n);
    }
    let naive = NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .or_else(|| NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S").ok())
        .or_else(|| NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M").ok())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{flag} must be unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS], got {v:?}"
            )
        })?;
    match Local.from_local_datetime(&naive) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Ok(t.timestamp()),
        LocalResult::None => anyhow::bail!("{flag}: {v} does not exist in local time"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_slurms() {
        assert_eq!(duration(59), "00:00:59");
        assert_eq!(duration(3 * 86_400 + 4 * 3600 + 5 * 60 + 6), "3d 04:05:06");
        assert_eq!(duration(-5), "00:00:00");
    }

    #[test]
    fn tables_align_and_csv_quotes() {
        let t = Table {
            header: vec!["id", "name"],
            rows: vec![
                vec!["7".into(), "a,b".into()],
                vec!["1234".into(), "x".into()],
            ],
            right: vec![0],
        };
        let mut out = Vec::new();
        t.print(Format::Table, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  id  name\n   7  a,b\n1234  x\n"
        );
        let mut out = Vec::new();
        t.print(Format::Csv, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id,name\n7,\"a,b\"\n1234,x\n"
        );
    }

    #[test]
    fn time_arguments_take_seconds_and_dates() {
        assert_eq!(parse_time("--from", "1700000000").unwrap(), 1_700_000_000);
        let d = parse_time("--from", "2026-11-01").unwrap();
        assert_eq!(parse_time("--from", "2026-11-01T00:00").unwrap(), d);
        assert!(parse_time("--from", "yesterday")
            .unwrap_err()
            .to_string()
            .contains("--from"));
    }
}
