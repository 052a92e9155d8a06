//! The fast path of metric decoding. Collectors send one shape, millions of times:
//! `name,tag=v,… value=<number> <integer>`, no escapes, no quotes. influxdb-line-protocol
//! (a nom parser) reads about 650,000 such lines/s on this machine; this reads the plain
//! shape by splitting at its separators and leaves every other line (escapes, quotes,
//! other fields, exponents, anything unusual) to the crate, which stays the judge: the
//! tests check that wherever this path answers, the crate answers the same.

/// Most tags the fast path takes; a line with more goes to the crate.
const MAX_TAGS: usize = 8;

pub(super) struct Plain<'a> {
    pub measurement: &'a str,
    tags: [(&'a str, &'a str); MAX_TAGS],
    tag_count: usize,
    pub value: f64,
    pub timestamp: Option<i64>,
}

impl<'a> Plain<'a> {
    /// `(key, Some(value))` for each tag.
    pub(super) fn tags(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + use<'a, '_> {
        self.tags[..self.tag_count]
            .iter()
            .map(|(k, v)| (*k, Some(*v)))
    }
}

/// The plain shape, or `None` for anything else. One pass over the bytes finds the
/// separators; short fields make a byte loop faster than `str` searches here.
pub(super) fn parse(line: &str) -> Option<Plain<'_>> {
    let bytes = line.as_bytes();
    let mut spaces = [bytes.len(); 2];
    let mut n = 0;
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'\\' | b'"' | b'\t' | b'\r' => return None,
            b' ' if n == 2 => return None,
            b' ' => {
                spaces[n] = i;
                n += 1;
            }
            _ => {}
        }
    }
    if n == 0 {
        return None;
    }
    let series = &line[..spaces[0]];
    let field = &line[spaces[0] + 1..spaces[1]];
    let time = (n == 2).then(|| &line[spaces[1] + 1..]);
    let (measurement, (tags, tag_count)) = tags_of(series)?;
    if measurement.is_empty() || measurement.starts_with('#') {
        return None;
    }
    let value = number(field.strip_prefix("value=")?)?;
    let timestamp = match time {
        None => None,
        Some(t) => Some(integer(t)?),
    };
    Some(Plain {
        measurement,
        tags,
        tag_count,
        value,
        timestamp,
    })
}

type Tags<'a> = ([(&'a str, &'a str); MAX_TAGS], usize);

/// The measurement and its `key=value` tags, each part non-empty and without another
/// `=`; `None` otherwise.
fn tags_of(series: &str) -> Option<(&str, Tags<'_>)> {
    let mut parts = series.split(',');
    let measurement = parts.next()?;
    if measurement.contains('=') {
        return None;
    }
    let mut tags: Tags<'_> = ([("", ""); MAX_TAGS], 0);
    for part in parts {
        let eq = part.bytes().position(|b| b == b'=')?;
        let (k, v) = (&part[..eq], &part[eq + 1..]);
        if k.is_empty() || v.is_empty() || v.contains('=') || tags.1 == MAX_TAGS {
            return None;
        }
        tags.0[tags.1] = (k, v);
        tags.1 += 1;
    }
    Some((measurement, tags))
}

/// `-?digits(.digits)?` as a float, `-?digits i` or `digits u` as an integer.
fn number(v: &str) -> Option<f64> {
    if let Some(i) = v.strip_suffix('i') {
        return Some(integer(i)? as f64);
    }
    if let Some(u) = v.strip_suffix('u') {
        return digits(u)
            .then(|| u.parse::<u64>().ok())
            .flatten()
            .map(|u| u as f64);
    }
    let unsigned = v.strip_prefix('-').unwrap_or(v);
    let (whole, frac) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    (digits(whole) && digits(frac))
        .then(|| v.parse().ok())
        .flatten()
}

fn integer(v: &str) -> Option<i64> {
    digits(v.strip_prefix('-').unwrap_or(v))
        .then(|| v.parse().ok())
        .flatten()
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::super::line::{by_the_crate, decode};
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Pieces of lines, good and bad, put together at random.
    const NAMES: [&str; 6] = ["cpu_user", "m", "a=b", "", "#x", "mem used"];
    const TAGS: [&str; 14] = [
        "",
        ",hostname=h1",
        ",host=h2",
        ",type=hwthread,type-id=3",
        ",type=gpu",
        ",cluster=c",
        ",stype=network,stype-id=ib0",
        ",x=",
        ",=y",
        ",a=b=c",
        ",k",
        ",type-id=1,type=core",
        ",",
        ",t=\\,x",
    ];
    const VALUES: [&str; 22] = [
        "value=1",
        "value=1.5",
        "value=-2.25",
        "value=7i",
        "value=-7i",
        "value=7u",
        "value=-7u",
        "value=1e3",
        "value=.5",
        "value=1.",
        "value=+1",
        "value=NaN",
        "value=inf",
        "value=\"x\"",
        "value=t",
        "value=99999999999999999999i",
        "value=1,x=2",
        "event=\"e\"",
        "value=",
        "val=1",
        "value=0.000001",
        "value=123456789012345678901234567890",
    ];
    const TIMES: [&str; 8] = [
        "",
        " 1700000000",
        " 1700000000123",
        " -5",
        " 1.5",
        " 17000000000000000000000",
        " x",
        " 1700000000000000000",
    ];

    #[test]
    fn wherever_the_fast_path_answers_the_crate_answers_the_same() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut answered = 0;
        for _ in 0..200_000 {
            let pick = |rng: &mut StdRng, xs: &[&'static str]| xs[rng.gen_range(0..xs.len())];
            let mut line = pick(&mut rng, &NAMES).to_string();
            for _ in 0..rng.gen_range(0..4) {
                line.push_str(pick(&mut rng, &TAGS));
            }
            line.push(' ');
            line.push_str(pick(&mut rng, &VALUES));
            line.push_str(pick(&mut rng, &TIMES));
            if let Some(p) = parse(&line) {
                answered += 1;
                let fast = super::super::line::sample_of(&p, Some("d"), 9);
                let crate_says = by_the_crate(&line, Some("d"), 9);
                match (&fast, &crate_says) {
                    (Ok(a), Ok(b)) => assert!(
                        a == b && a.value.to_bits() == b.value.to_bits(),
                        "{line:?}: {a:?} vs {b:?}"
                    ),
                    (a, b) => assert_eq!(a, b, "{line:?}"),
                }
            }
        }
        // The plain shape is common among these pieces: the comparison is not empty.
        assert!(answered > 5_000, "{answered}");
    }

    #[test]
    fn collector_lines_take_the_fast_path() {
        for l in [
            "cpu_user,hostname=f0101,type=hwthread,type-id=3 value=45.24 1700000000",
            "mem_used,cluster=fritz,host=f1 value=7i",
            "net_bytes_in,hostname=f1,stype=network,stype-id=ib0 value=1024u 1700000000000",
        ] {
            assert!(parse(l).is_some(), "{l}");
        }
        for l in [
            "m,host=a value=1e3",
            "m,host=a\\ b value=1",
            "m,host=a value=1,x=2",
        ] {
            assert!(parse(l).is_none(), "{l}");
            let mut n = 0;
            decode(l.as_bytes(), Some("c"), 0, |_| n += 1);
            assert_eq!(n, 1);
        }
    }
}
