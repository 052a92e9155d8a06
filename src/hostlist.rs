//! Slurm hostlist expressions: `f[0001-0003,0007]`, `rack[1-2]-n[01-04]`, `oss[1,2].ib`.
//!
//! One implementation for the server's cluster node lists (subcluster assignment) and for
//! the hook publisher, so both sides agree on what a node list means.

/// A parsed, comma-separated list of host patterns. `*` matches every host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostList {
    patterns: Vec<Pattern>,
}

/// One host pattern: literal text alternating with bracketed ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Any,
    Parts(Vec<Part>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Ranges(Vec<Range>),
}

/// `lo-hi`, zero-padded to the width of `lo` as written (Slurm takes padding from the low bound).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Range {
    lo: u64,
    hi: u64,
    width: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid hostlist {input:?}: {why}")]
pub struct HostListError {
    input: String,
    why: String,
}

/// Refuse to expand lists that would allocate absurd amounts of memory.
const MAX_EXPANSION: u64 = 1 << 20;

impl HostList {
    pub fn parse(input: &str) -> Result<Self, HostListError> {
        let err = |why: &str| HostListError {
            input: input.to_string(),
            why: why.to_string(),
        };
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(err("empty"));
        }
        let mut patterns = Vec::new();
        for item in split_top_level(trimmed).map_err(|w| err(&w))? {
            if item == "*" {
                patterns.push(Pattern::Any);
            } else if item.is_empty() {
                return Err(err("empty host name between commas"));
            } else {
                patterns.push(Pattern::Parts(parse_pattern(item).map_err(|w| err(&w))?));
            }
        }
        let list = HostList { patterns };
        if list.count() > MAX_EXPANSION {
            return Err(err("expands to more than 1048576 hosts"));
        }
        Ok(list)
    }

    /// True if `host` is one of the names this list expands to.
    pub fn contains(&self, host: &str) -> bool {
        self.patterns.iter().any(|p| match p {
            Pattern::Any => true,
            Pattern::Parts(parts) => matches(parts, host),
        })
    }

    /// All host names in order, duplicates kept as Slurm keeps them. `*` expands to nothing.
    pub fn expand(&self) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.patterns {
            if let Pattern::Parts(parts) = p {
                let mut names = vec![String::new()];
                for part in parts {
                    names = match part {
                        Part::Literal(s) => names.into_iter().map(|n| n + s).collect(),
                        Part::Ranges(rs) => names
                            .iter()
                            .flat_map(|n| {
                                rs.iter().flat_map(move |r| {
                                    (r.lo..=r.hi).map(move |i| format!("{n}{i:0w$}", w = r.width))
                                })
                            })
                            .collect(),
                    };
                }
                out.extend(names);
            }
        }
        out
    }

    fn count(&self) -> u64 {
        self.patterns
            .iter()
            .map(|p| match p {
                Pattern::Any => 0,
                Pattern::Parts(parts) => parts.iter().fold(1u64, |acc, part| match part {
                    Part::Literal(_) => acc,
                    Part::Ranges(rs) => {
                        let n: u64 = rs.iter().map(|r| r.hi - r.lo + 1).sum();
                        acc.saturating_mul(n)
                    }
                }),
            })
            .fold(0u64, u64::saturating_add)
    }
}

/// Split on commas that are not inside brackets.
fn split_top_level(s: &str) -> Result<Vec<&str>, String> {
    let (mut depth, mut start, mut out) = (0i32, 0usize, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '[' if depth > 0 => return Err("nested '['".into()),
            '[' => depth += 1,
            ']' if depth == 0 => return Err("']' without '['".into()),
            ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("'[' without ']'".into());
    }
    out.push(s[start..].trim());
    Ok(out)
}

fn parse_pattern(s: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        match rest.find('[') {
            Some(0) => {
                let end = rest.find(']').ok_or("'[' without ']'")?;
                parts.push(Part::Ranges(parse_ranges(&rest[1..end])?));
                rest = &rest[end + 1..];
            }
            Some(i) => {
                parts.push(literal(&rest[..i])?);
                rest = &rest[i..];
            }
            None => {
                parts.push(literal(rest)?);
                rest = "";
            }
        }
    }
    Ok(parts)
}

fn literal(s: &str) -> Result<Part, String> {
    if let Some(c) = s.chars().find(|c| c.is_whitespace() || *c == ']') {
        return Err(format!("unexpected {c:?} in host name"));
    }
    Ok(Part::Literal(s.to_string()))
}

fn parse_ranges(s: &str) -> Result<Vec<Range>, String> {
    if s.is_empty() {
        return Err("empty brackets".into());
    }
    s.split(',')
        .map(|item| {
            let item = item.trim();
            let (lo_s, hi_s) = item.split_once('-').unwrap_or((item, item));
            let num = |t: &str| {
                if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                    Err(format!("{item:?} is not a number or range"))
                } else {
                    t.parse::<u64>()
                        .map_err(|_| format!("{item:?} is too large"))
                }
            };
            let (lo, hi) = (num(lo_s)?, num(hi_s)?);
            if hi < lo {
                return Err(format!("range {item:?} runs backwards"));
            }
            Ok(Range {
                lo,
                hi,
                width: lo_s.len(),
            })
        })
        .collect()
}

/// Match `host` against literal and range parts without expanding the list.
fn matches(parts: &[Part], host: &str) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return host.is_empty();
    };
    match first {
        Part::Literal(s) => host
            .strip_prefix(s.as_str())
            .is_some_and(|h| matches(rest, h)),
        Part::Ranges(ranges) => {
            // Try every run of leading digits: padding may make the width ambiguous.
            let digits = host.bytes().take_while(u8::is_ascii_digit).count();
            (1..=digits).any(|len| {
                let (num_s, tail) = host.split_at(len);
                let Ok(n) = num_s.parse::<u64>() else {
                    return false;
                };
                ranges
                    .iter()
                    .any(|r| r.lo <= n && n <= r.hi && width_ok(r, num_s))
                    && matches(rest, tail)
            })
        }
    }
}

/// `n[9-11]` names n9, n10, n11; `f[0001-0944]` names f0001 but not f1.
fn width_ok(r: &Range, num_s: &str) -> bool {
    if num_s.len() == r.width {
        return true;
    }
    num_s.len() > r.width && !num_s.starts_with('0')
}

/// The shortest usual hostlist of `hosts`, in their order: `f0001,f0002,f0003,g1` →
/// `f[0001-0003],g1`. Hosts that end in digits are grouped by the text before them and the
/// digits' width; runs of consecutive numbers become ranges. `HostList::parse` of the
/// answer expands to the same hosts (the job page shows a job's nodes this way).
pub fn compress(hosts: &[String]) -> String {
    // (prefix, width) → numbers, in the order the groups first appear.
    let mut groups: Vec<((&str, usize), Vec<u64>)> = Vec::new();
    let mut plain: Vec<(usize, &str)> = Vec::new();
    for (i, h) in hosts.iter().enumerate() {
        let digits = h.len() - h.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let Some(n) = (digits > 0 && digits < 20)
            .then(|| h[h.len() - digits..].parse::<u64>().ok())
            .flatten()
        else {
            plain.push((i, h));
            continue;
        };
        let key = (&h[..h.len() - digits], digits);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, ns)) => ns.push(n),
            None => groups.push((key, vec![n])),
        }
    }
    let mut out: Vec<String> = plain.iter().map(|(_, h)| h.to_string()).collect();
    for ((prefix, width), mut ns) in groups {
        ns.sort_unstable();
        ns.dedup();
        if ns.len() == 1 {
            out.push(format!("{prefix}{:0width$}", ns[0]));
            continue;
        }
        let mut ranges = Vec::new();
        let mut start = ns[0];
        for w in ns.windows(2) {
            if w[1] != w[0] + 1 {
                ranges.push((start, w[0]));
                start = w[1];
            }
        }
        ranges.push((start, *ns.last().unwrap_or(&start)));
        let body: Vec<String> = ranges
            .iter()
            .map(|&(lo, hi)| {
                if lo == hi {
                    format!("{lo:0width$}")
                } else {
                    format!("{lo:0width$}-{hi:0width$}")
                }
            })
            .collect();
        out.push(format!("{prefix}[{}]", body.join(",")));
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(s: &str) -> Vec<String> {
        HostList::parse(s).unwrap().expand()
    }

    #[test]
    fn expands_padded_ranges_and_singles() {
        assert_eq!(
            expand("f[0001-0003,0007]"),
            ["f0001", "f0002", "f0003", "f0007"]
        );
    }

    #[test]
    fn padding_comes_from_the_low_bound() {
        assert_eq!(expand("n[9-11]"), ["n9", "n10", "n11"]);
        assert_eq!(expand("n[09-11]"), ["n09", "n10", "n11"]);
    }

    #[test]
    fn several_groups_form_a_cartesian_product() {
        assert_eq!(
            expand("rack[1-2]-n[01-02]"),
            ["rack1-n01", "rack1-n02", "rack2-n01", "rack2-n02"]
        );
    }

    #[test]
    fn suffixes_and_plain_names_and_duplicates() {
        assert_eq!(expand("oss[1,2].ib"), ["oss1.ib", "oss2.ib"]);
        assert_eq!(expand("a,b[1-2],a"), ["a", "b1", "b2", "a"]);
    }

    /// Cases Slurm's own hostlist code handles, expanded the way `scontrol show hostnames`
    /// prints them.
    #[test]
    fn slurm_edge_cases() {
        let cases: &[(&str, &[&str])] = &[
            ("n[1-3]-ib", &["n1-ib", "n2-ib", "n3-ib"]),
            ("a[1-2]b[3-4]", &["a1b3", "a1b4", "a2b3", "a2b4"]),
            ("n[008-010]", &["n008", "n009", "n010"]),
            ("n[1,1]", &["n1", "n1"]),
            (" n1 , n2 ", &["n1", "n2"]),
            ("n[0]", &["n0"]),
            ("gpu-node[7]", &["gpu-node7"]),
            ("n[1-2],m[1-2].ib", &["n1", "n2", "m1.ib", "m2.ib"]),
            ("n[99-101]", &["n99", "n100", "n101"]),
        ];
        for (list, expect) in cases {
            assert_eq!(expand(list), *expect, "{list}");
        }
        let l = HostList::parse("n[8-10]").unwrap();
        assert!(l.contains("n9") && l.contains("n10") && !l.contains("n08") && !l.contains("n11"));
    }

    #[test]
    fn contains_matches_without_expanding() {
        let l = HostList::parse("f[0001-0944],g[01-10],login").unwrap();
        assert!(l.contains("f0001") && l.contains("f0944") && l.contains("g10"));
        assert!(l.contains("login"));
        assert!(!l.contains("f1") && !l.contains("f0945") && !l.contains("g11"));
        assert!(!l.contains("f0001x") && !l.contains("login2"));
        assert!(HostList::parse("n[9-11]").unwrap().contains("n10"));
        assert!(HostList::parse("*").unwrap().contains("anything"));
    }

    #[test]
    fn malformed_lists_are_clear_errors() {
        for bad in [
            "", "f[1-", "f1]", "f[]", "f[a-b]", "f[3-1]", "f[1-2]]", "a,,b", "f[[1]]", "a b",
        ] {
            let e = HostList::parse(bad).unwrap_err();
            assert!(!e.why.is_empty(), "{bad}");
        }
        assert!(HostList::parse("n[0-99999999]").is_err());
    }

    #[test]
    fn compressed_lists_expand_to_the_same_hosts() {
        let hosts: Vec<String> = ["f0001", "f0002", "f0003", "f0007", "login", "g1", "g2"]
            .iter()
            .map(ToString::to_string)
            .collect();
        let c = compress(&hosts);
        assert_eq!(c, "login,f[0001-0003,0007],g[1-2]");
        let mut back = HostList::parse(&c).unwrap().expand();
        let mut want = hosts.clone();
        back.sort();
        want.sort();
        assert_eq!(back, want);
        assert_eq!(compress(&["n1".to_string()]), "n1");
        assert_eq!(compress(&[]), "");
    }
}
