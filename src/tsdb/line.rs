//! cc-metric-collector's line protocol → samples (issue 11 "Wire format"):
//! `<metric>[,cluster=C][,hostname=H|,host=H][,type=T][,type-id=I][,stype=S][,stype-id=J]
//! value=<number> [timestamp]`. Every line is judged on its own.

use crate::domain::metric::Scope;
use influxdb_line_protocol::{parse_lines, FieldValue};

/// One sample, borrowing its names from the message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample<'a> {
    pub cluster: &'a str,
    pub host: &'a str,
    pub metric: &'a str,
    pub scope: Scope,
    pub scope_id: &'a str,
    pub stype: &'a str,
    pub stype_id: &'a str,
    /// Unix seconds.
    pub time: i64,
    pub value: f64,
}

/// Why a line was not stored; a label in `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Skip {
    /// `event`, `log` or `control` lines: other message classes, not errors.
    OtherClass,
    /// Not line protocol, or no numeric `value`.
    BadLine,
    NoCluster,
    NoHost,
    BadType,
    UnknownMetric,
    /// Stamped more than the allowed skew ahead of its arrival.
    Future,
}

impl Skip {
    pub(crate) const ALL: [Skip; 7] = [
        Skip::OtherClass,
        Skip::BadLine,
        Skip::NoCluster,
        Skip::NoHost,
        Skip::BadType,
        Skip::UnknownMetric,
        Skip::Future,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Skip::OtherClass => "other_class",
            Skip::BadLine => "bad_line",
            Skip::NoCluster => "no_cluster",
            Skip::NoHost => "no_host",
            Skip::BadType => "bad_type",
            Skip::UnknownMetric => "unknown_metric",
            Skip::Future => "future",
        }
    }
}

/// Decode every line of `message`; `default_cluster` names the cluster of lines without
/// a `cluster` tag, `now` (Unix seconds) stamps lines without a timestamp.
pub(crate) fn decode<'a>(
    message: &'a [u8],
    default_cluster: Option<&'a str>,
    now: i64,
    mut out: impl FnMut(Result<Sample<'a>, Skip>),
) {
    for raw in message.split(|b| *b == b'\n') {
        let raw = raw.trim_ascii();
        if raw.is_empty() || raw.starts_with(b"#") {
            continue;
        }
        out(match std::str::from_utf8(raw) {
            Ok(line) => decode_line(line, default_cluster, now),
            Err(_) => Err(Skip::BadLine),
        });
    }
}

fn decode_line<'a>(
    line: &'a str,
    default_cluster: Option<&'a str>,
    now: i64,
) -> Result<Sample<'a>, Skip> {
    match super::fastline::parse(line) {
        Some(p) => sample_of(&p, default_cluster, now),
        None => by_the_crate(line, default_cluster, now),
    }
}

/// The sample a line of the plain shape holds.
pub(super) fn sample_of<'a>(
    p: &super::fastline::Plain<'a>,
    default_cluster: Option<&'a str>,
    now: i64,
) -> Result<Sample<'a>, Skip> {
    sample(
        p.measurement,
        p.tags(),
        p.value,
        p.timestamp,
        default_cluster,
        now,
    )
}

/// `line` read by influxdb-line-protocol: every line the fast path leaves, and the
/// reference the fast path is tested against.
pub(super) fn by_the_crate<'a>(
    line: &'a str,
    default_cluster: Option<&'a str>,
    now: i64,
) -> Result<Sample<'a>, Skip> {
    let Some(Ok(p)) = parse_lines(line).next() else {
        return Err(Skip::BadLine);
    };
    let value = match p.field_value("value") {
        Some(FieldValue::F64(v)) => *v,
        Some(FieldValue::I64(v)) => *v as f64,
        Some(FieldValue::U64(v)) => *v as f64,
        Some(_) => return Err(Skip::BadLine),
        None => {
            let other = ["event", "log", "control"]
                .iter()
                .any(|f| p.field_value(f).is_some());
            return Err(if other {
                Skip::OtherClass
            } else {
                Skip::BadLine
            });
        }
    };
    // Borrow the tag values from the line itself: an unescaped value is a slice of it,
    // an escaped one (rare in these tags) is refused rather than copied.
    let tags = p
        .series
        .tag_set
        .iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), borrowed(line, v.as_str())));
    let measurement = borrowed(line, p.series.measurement.as_str()).ok_or(Skip::BadLine)?;
    sample(measurement, tags, value, p.timestamp, default_cluster, now)
}

/// A sample from a parsed line: what its tags say, the defaults for what they do not.
fn sample<'a, 'k>(
    metric: &'a str,
    tags: impl Iterator<Item = (&'k str, Option<&'a str>)>,
    value: f64,
    timestamp: Option<i64>,
    default_cluster: Option<&'a str>,
    now: i64,
) -> Result<Sample<'a>, Skip> {
    let (mut cluster, mut host, mut scope, mut scope_id, mut stype, mut stype_id) =
        (default_cluster, None, None, "", "", "");
    for (k, v) in tags {
        match k {
            "cluster" => cluster = v,
            "hostname" | "host" => host = v,
            "type" => scope = Some(v.and_then(Scope::parse).ok_or(Skip::BadType)?),
            "type-id" => scope_id = v.ok_or(Skip::BadType)?,
            "stype" => stype = v.ok_or(Skip::BadType)?,
            "stype-id" => stype_id = v.ok_or(Skip::BadType)?,
            _ => {}
        }
    }
    let scope = scope.unwrap_or(Scope::Node);
    if scope == Scope::Node {
        scope_id = "";
    }
    Ok(Sample {
        cluster: cluster.filter(|c| !c.is_empty()).ok_or(Skip::NoCluster)?,
        host: host.filter(|h| !h.is_empty()).ok_or(Skip::NoHost)?,
        metric,
        scope,
        scope_id,
        stype,
        stype_id,
        time: timestamp.map_or(now, seconds),
        value,
    })
}

/// `s` as a slice of `line` if it is one (the parser did not unescape it).
fn borrowed<'a>(line: &'a str, s: &str) -> Option<&'a str> {
    let start = (s.as_ptr() as usize).checked_sub(line.as_ptr() as usize)?;
    line.get(start..start + s.len())
        .filter(|x| x.as_ptr() == s.as_ptr())
}

/// A timestamp in s, ms, µs or ns, told apart by its size, as Unix seconds.
pub(crate) fn seconds(ts: i64) -> i64 {
    match ts.unsigned_abs() {
        0..100_000_000_000 => ts,
        100_000_000_000..100_000_000_000_000 => ts.div_euclid(1_000),
        100_000_000_000_000..100_000_000_000_000_000 => ts.div_euclid(1_000_000),
        _ => ts.div_euclid(1_000_000_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Result<Sample<'_>, Skip> {
        let mut v = Vec::new();
        decode(line.as_bytes(), Some("fritz"), 42, |s| v.push(s));
        v.pop().unwrap()
    }

    #[test]
    fn every_tag_in_any_order() {
        let s = one("cpu_user,stype-id=ib0,type-id=3,hostname=f1,type=hwthread,stype=network,x=y value=1.5 1700000000").unwrap();
        assert_eq!(
            (s.cluster, s.host, s.metric, s.scope, s.scope_id, s.stype, s.stype_id),
            (
                "fritz",
                "f1",
                "cpu_user",
                Scope::Hwthread,
                "3",
                "network",
                "ib0"
            )
        );
        assert_eq!((s.time, s.value), (1_700_000_000, 1.5));
        let s = one("mem_used,cluster=alex,host=a1 value=7i").unwrap();
        assert_eq!(
            (s.cluster, s.host, s.scope, s.time, s.value),
            ("alex", "a1", Scope::Node, 42, 7.0)
        );
        assert_eq!(one("m,host=a value=7u 1").unwrap().value, 7.0);
    }

    #[test]
    fn precision_is_told_by_size() {
        for ts in [
            "1700000000",
            "1700000000123",
            "1700000000123456",
            "1700000000123456789",
        ] {
            assert_eq!(
                one(&format!("m,host=a value=1 {ts}")).unwrap().time,
                1_700_000_000
            );
        }
    }

    #[test]
    fn other_classes_and_bad_lines_are_told_apart() {
        assert_eq!(one("m,host=a event=\"x\" 1"), Err(Skip::OtherClass));
        assert_eq!(one("m,host=a log=\"x\" 1"), Err(Skip::OtherClass));
        assert_eq!(one("m,host=a control=\"x\" 1"), Err(Skip::OtherClass));
        assert_eq!(one("m,host=a value=\"x\" 1"), Err(Skip::BadLine));
        assert_eq!(one("m,host=a value=1,x"), Err(Skip::BadLine));
        assert_eq!(one("m value=1"), Err(Skip::NoHost));
        assert_eq!(one("m,host=a,type=gpu value=1"), Err(Skip::BadType));
        let mut v = Vec::new();
        decode(
            b"m,host=a value=1 1\nbroken\nm,host=b value=2 1",
            None,
            0,
            |s| v.push(s),
        );
        assert_eq!(v.len(), 3);
        assert_eq!(v[0], Err(Skip::NoCluster));
        assert_eq!(v[1], Err(Skip::BadLine));
    }
}
