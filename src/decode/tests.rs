use super::*;
use crate::domain::Event;

const START: &str = r#"job,function=start_job,hostname=n1,type=node,type-id=0 event="{\"jobId\":7,\"cluster\":\"c\",\"user\":\"u\",\"startTime\":100,\"numNodes\":1,\"resources\":[{\"hostname\":\"h1\",\"hwthreads\":null}],\"metaData\":{\"jobScript\":\"echo \\\"hi\\\" \\\\ done\"},\"tags\":null}" 1700000000000000000"#;

fn one(text: &str) -> Decoded {
    let mut lines = decode_message(text.as_bytes(), &Clusters::default());
    assert_eq!(lines.len(), 1);
    lines.remove(0).decoded
}

fn reason(d: Decoded) -> (RejectKind, String) {
    match d {
        Decoded::Invalid(k, r) => (k, r),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn start_line_with_escapes_and_extra_tags_decodes() {
    let Decoded::Event(Event::Start(j)) = one(START) else {
        panic!()
    };
    assert_eq!((j.job_id, j.start_time), (7, 100));
    assert_eq!(j.meta_data["jobScript"], r#"echo "hi" \ done"#);
}

#[test]
fn timestamp_is_optional() {
    let line = START.rsplit_once(' ').unwrap().0;
    assert!(matches!(one(line), Decoded::Event(Event::Start(_))));
}

#[test]
fn metric_lines_are_skipped_not_rejected() {
    assert!(matches!(
        one("cpu_load,hostname=n1 value=0.5 1"),
        Decoded::Metric
    ));
}

#[test]
fn one_bad_line_never_drops_its_neighbours() {
    let msg = format!("{START}\nthis is not line protocol\n{START}");
    let lines = decode_message(msg.as_bytes(), &Clusters::default());
    assert_eq!(lines.len(), 3);
    assert!(matches!(lines[0].decoded, Decoded::Event(_)));
    assert!(matches!(
        lines[1].decoded,
        Decoded::Invalid(RejectKind::Decode, _)
    ));
    assert!(matches!(lines[2].decoded, Decoded::Event(_)));
    assert_eq!(lines[2].index, 2);
}

#[test]
fn invalid_utf8_is_judged_per_line() {
    let mut msg = START.as_bytes().to_vec();
    msg.extend_from_slice(b"\njob,function=stop_job event=\"\xff\xfe\"\n");
    let lines = decode_message(&msg, &Clusters::default());
    assert!(matches!(lines[0].decoded, Decoded::Event(_)));
    let (kind, r) = reason(lines.into_iter().nth(1).unwrap().decoded);
    assert_eq!(kind, RejectKind::Decode);
    assert!(r.contains("invalid UTF-8"), "{r}");
}

#[test]
fn unknown_json_key_is_named() {
    let (kind, r) = reason(one(
        r#"job,function=stop_job event="{\"jobId\":1,\"stopTime\":2,\"colour\":\"red\"}""#,
    ));
    assert_eq!(kind, RejectKind::Json);
    assert!(r.contains("colour"), "{r}");
}

#[test]
fn bad_json_and_failed_validation_have_reasons() {
    let (k, r) = reason(one(r#"job,function=stop_job event="{not json""#));
    assert!(k == RejectKind::Json && r.contains("bad JSON"), "{r}");
    let (k, r) = reason(one(r#"job,function=stop_job event="{\"jobId\":1}""#));
    assert!(
        k == RejectKind::Invalid && r.contains("stopTime is required"),
        "{r}"
    );
}

#[test]
fn event_lines_need_a_known_function_and_measurement() {
    let (_, r) = reason(one(r#"job event="{}""#));
    assert!(r.contains("function"), "{r}");
    let (_, r) = reason(one(r#"job,function=pause_job event="{}""#));
    assert!(r.contains("pause_job"), "{r}");
    let (_, r) = reason(one(r#"jobs,function=start_job event="{}""#));
    assert!(r.contains("measurement"), "{r}");
}

#[test]
fn nodestate_lines_decode() {
    let line = r#"nodestate event="{\"cluster\":\"c\",\"nodes\":[{\"hostname\":\"n1\",\"states\":[\"ALLOCATED\"],\"cpusAllocated\":8}]}" 1"#;
    let Decoded::Event(Event::NodeState(n)) = one(line) else {
        panic!()
    };
    assert_eq!(n.nodes[0].state, "allocated");
}

#[test]
fn nul_characters_are_refused_but_an_escaped_backslash_is_not_one() {
    let (_, r) = reason(one(
        r#"job,function=stop_job event="{\"jobId\":1,\"cluster\":\"a\\u0000\",\"stopTime\":2}""#,
    ));
    assert!(r.contains("u0000"), "{r}");
    assert!(!has_escaped_nul(r#"{"a":"x\\u0000"}"#));
    assert!(has_escaped_nul(r#"{"a":"x\u0000"}"#));
}

#[test]
fn a_truncated_line_never_swallows_the_good_lines_after_it() {
    let truncated = &START[..60];
    let text = format!("{truncated}\n{START}\n{START}");
    let lines = decode_message(text.as_bytes(), &Clusters::default());
    assert_eq!(lines.len(), 3);
    assert!(matches!(lines[0].decoded, Decoded::Invalid(..)));
    assert!(matches!(lines[1].decoded, Decoded::Event(_)));
    assert!(matches!(lines[2].decoded, Decoded::Event(_)));
}

#[test]
fn a_string_field_may_still_span_lines() {
    let text = "m,host=a note=\"two\nlines\",value=1\nm,host=b value=2";
    let lines = decode_message(text.as_bytes(), &Clusters::default());
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].raw, b"m,host=a note=\"two\nlines\",value=1");
    assert!(matches!(lines[0].decoded, Decoded::Metric));
}
