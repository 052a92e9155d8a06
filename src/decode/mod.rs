//! Decode: NATS message bytes → line protocol → typed events (contract section 1).
//!
//! Every line is judged on its own, so one bad line never drops its neighbours. A line
//! that cannot become an event is returned with the reason, never dropped: the ingest loop
//! stores it as a rejected event.

use crate::domain::cluster::Clusters;
use crate::domain::job::{StartJob, StopJob};
use crate::domain::nodestate::NodeStates;
use crate::domain::{Event, RejectKind};
use influxdb_line_protocol::{parse_lines, FieldValue, ParsedLine};

/// One line of a message and what it turned out to be.
#[derive(Debug)]
pub struct Line {
    /// Position of the line in its message (0-based), part of its redelivery identity.
    pub index: usize,
    pub raw: Vec<u8>,
    pub decoded: Decoded,
}

#[derive(Debug)]
pub enum Decoded {
    Event(Event),
    /// A metric line (`value` field, no `event`): not ours, skipped without error.
    Metric,
    Invalid(RejectKind, String),
}

/// Which payload the JSON of an event carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    StartJob,
    StopJob,
    NodeState,
}

/// Split a message into lines and decode each.
pub fn decode_message(payload: &[u8], clusters: &Clusters) -> Vec<Line> {
    let mut out = Vec::new();
    match std::str::from_utf8(payload) {
        Ok(text) => {
            for raw in lines(text) {
                push_line(&mut out, raw.as_bytes(), clusters);
            }
        }
        // Keep the valid lines of a message that has one bad byte somewhere.
        Err(_) => {
            for raw in payload.split(|b| *b == b'\n') {
                push_line(&mut out, raw, clusters);
            }
        }
    }
    out
}

/// Most lines one quoted string may span.
const MAX_JOINED_LINES: usize = 64;

/// The lines of a message. A newline ends a line, except inside a string field that
/// really spans lines (line protocol allows that): a line with an open quote is joined
/// with the next ones only if the joined text then parses. So a truncated line, whose
/// quote never closes, cannot swallow the good lines after it, as plain quote-aware
/// splitting would.
fn lines(text: &str) -> Vec<&str> {
    let bounds: Vec<(usize, usize)> = {
        let mut v = Vec::new();
        let mut start = 0;
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                v.push((start, i));
                start = i + 1;
            }
        }
        v.push((start, text.len()));
        v
    };
    let mut out = Vec::with_capacity(bounds.len());
    let mut i = 0;
    while i < bounds.len() {
        let (start, end) = bounds[i];
        let mut next = i + 1;
        let mut quote = QuoteState::default();
        quote.scan(&text[start..end]);
        if quote.open {
            // Scan only what each further line adds, not the whole joined text again.
            let last = (i + MAX_JOINED_LINES).min(bounds.len() - 1);
            for j in i + 1..=last {
                quote.scan(&text[bounds[j - 1].1..bounds[j].1]);
                if !quote.open {
                    let joined = &text[start..bounds[j].1];
                    if matches!(parse_lines(joined).next(), Some(Ok(_))) {
                        next = j + 1;
                    }
                    break;
                }
            }
        }
        out.push(&text[start..bounds[next - 1].1]);
        i = next;
    }
    out
}

/// Whether text scanned so far ends inside a double-quoted string (`\"` and `\\` are
/// escapes).
#[derive(Default)]
struct QuoteState {
    open: bool,
    escaped: bool,
}

impl QuoteState {
    fn scan(&mut self, text: &str) {
        for b in text.bytes() {
            match b {
                _ if self.escaped => self.escaped = false,
                b'\\' => self.escaped = true,
                b'"' => self.open = !self.open,
                _ => {}
            }
        }
    }
}

fn push_line(out: &mut Vec<Line>, raw: &[u8], clusters: &Clusters) {
    let trimmed = raw.trim_ascii();
    if trimmed.is_empty() || trimmed.starts_with(b"#") {
        return;
    }
    let decoded = match std::str::from_utf8(trimmed) {
        Ok(text) => decode_line(text, clusters),
        Err(e) => Decoded::Invalid(
            RejectKind::Decode,
            format!("invalid UTF-8 at byte {}", e.valid_up_to()),
        ),
    };
    out.push(Line {
        index: out.len(),
        raw: trimmed.to_vec(),
        decoded,
    });
}

fn decode_line(text: &str, clusters: &Clusters) -> Decoded {
    let parsed = match parse_lines(text).next() {
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            return Decoded::Invalid(RejectKind::Decode, format!("malformed line protocol: {e}"))
        }
        None => return Decoded::Metric,
    };
    let kind = match line_kind(&parsed) {
        Ok(Some(k)) => k,
        Ok(None) => return Decoded::Metric,
        Err(reason) => return Decoded::Invalid(RejectKind::Decode, reason),
    };
    match parsed.field_value("event") {
        Some(FieldValue::String(json)) => decode_event(kind, json, clusters),
        _ => Decoded::Invalid(RejectKind::Decode, "field `event` must be a string".into()),
    }
}

/// What a parsed line is: `Ok(None)` for a metric line, an error for an unusable event line.
fn line_kind(p: &ParsedLine<'_>) -> Result<Option<Kind>, String> {
    let has_event = p.field_value("event").is_some();
    if !has_event {
        return if p.field_value("value").is_some() {
            Ok(None)
        } else {
            Err("line has neither an `event` nor a `value` field".into())
        };
    }
    match p.series.measurement.as_str() {
        "job" => match p
            .tag_value("function")
            .map(influxdb_line_protocol::EscapedStr::as_str)
        {
            Some("start_job") => Ok(Some(Kind::StartJob)),
            Some("stop_job") => Ok(Some(Kind::StopJob)),
            Some(other) => Err(format!("unknown job function {other:?}")),
            None => Err("job line without a `function` tag".into()),
        },
        "nodestate" => Ok(Some(Kind::NodeState)),
        other => Err(format!("unknown event measurement {other:?}")),
    }
}

/// JSON of a `kind` event → a valid event or the reason it is not one. The single judge
/// of payloads, for NATS lines and HTTP bodies alike.
pub fn decode_event(kind: Kind, json: &str, clusters: &Clusters) -> Decoded {
    if has_escaped_nul(json) {
        // Postgres cannot store NUL in text; refuse it everywhere so both databases agree.
        return Decoded::Invalid(
            RejectKind::Json,
            "JSON strings must not contain \\u0000".into(),
        );
    }
    match decode_json(kind, json) {
        Ok(unchecked) => match unchecked.validate(clusters) {
            Ok(ev) => Decoded::Event(ev),
            Err(reason) => Decoded::Invalid(RejectKind::Invalid, reason),
        },
        Err(reason) => Decoded::Invalid(RejectKind::Json, reason),
    }
}

/// Does the JSON text contain the escape `\u0000` (not a literal backslash before `u0000`)?
fn has_escaped_nul(json: &str) -> bool {
    let b = json.as_bytes();
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'\\' {
            if b[i + 1] == b'u' && b.get(i + 2..i + 6) == Some(b"0000") {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// A JSON payload that serde accepted, not yet checked against the domain rules.
pub enum Unchecked {
    Start(Box<crate::wire::StartJobWire>),
    Stop(crate::wire::StopJobWire),
    NodeState(crate::wire::NodeStatesWire),
}

/// JSON → payload shape. Shared by NATS and the HTTP API so both judge alike.
pub fn decode_json(kind: Kind, json: &str) -> Result<Unchecked, String> {
    let bad = |e: serde_json::Error| format!("bad JSON in {}: {e}", kind.name());
    Ok(match kind {
        Kind::StartJob => Unchecked::Start(serde_json::from_str(json).map_err(bad)?),
        Kind::StopJob => Unchecked::Stop(serde_json::from_str(json).map_err(bad)?),
        Kind::NodeState => Unchecked::NodeState(serde_json::from_str(json).map_err(bad)?),
    })
}

impl Unchecked {
    pub fn validate(self, clusters: &Clusters) -> Result<Event, String> {
        match self {
            Unchecked::Start(w) => StartJob::parse(*w, clusters)
                .map(|j| Event::Start(Box::new(j)))
                .map_err(|e| format!("invalid start_job: {e}")),
            Unchecked::Stop(w) => StopJob::parse(w)
                .map(Event::Stop)
                .map_err(|e| format!("invalid stop_job: {e}")),
            Unchecked::NodeState(w) => NodeStates::parse(w)
                .map(Event::NodeState)
                .map_err(|e| format!("invalid nodestate: {e}")),
        }
    }
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::StartJob => "start_job",
            Kind::StopJob => "stop_job",
            Kind::NodeState => "nodestate",
        }
    }
}

#[cfg(test)]
mod tests;
