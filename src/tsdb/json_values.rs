//! The `data.json`-shaped answer as JSON text, written by hand.
//!
//! A day-long job answer holds about a million numbers, and formatting them is most of
//! its cost. Samples are kept rounded to `[metrics] decimals`, so almost every value is
//! an integer count of hundredths (say): printed as `int.frac` from digit pairs, that is
//! several times faster than the shortest round-trip search of `ryu` and gives the same
//! text (921,600 values of the job benchmark: 14.0 ms with a digit loop, 7.0 ms without
//! branches on the number of digits and with a block on the stack, one thread).
//! Anything else (lossless values, huge ones) goes through `ryu`, as serde_json would.
//! Each node's series are written where they are shaped (`shape.rs`), both cores at
//! once; names and units go through serde_json.

use crate::domain::jobdata::SeriesData;

/// `"scope":{"unit":…,"timestep":…,"series":[…]}`, after a comma unless it is the first;
/// `series`: each written by `series_json`.
pub(crate) fn push_scope(
    out: &mut Vec<u8>,
    comma_first: bool,
    scope: &str,
    unit: &serde_json::Value,
    timestep: i64,
    series: &[&[u8]],
) {
    out.reserve(series.iter().map(|s| s.len() + 1).sum::<usize>() + 256);
    comma(out, usize::from(comma_first));
    push_str(out, scope);
    out.extend_from_slice(b":{\"unit\":");
    let _ = serde_json::to_writer(&mut *out, unit);
    out.extend_from_slice(b",\"timestep\":");
    out.extend_from_slice(itoa::Buffer::new().format(timestep).as_bytes());
    out.extend_from_slice(b",\"series\":[");
    for (k, s) in series.iter().enumerate() {
        comma(out, k);
        out.extend_from_slice(s);
    }
    out.extend_from_slice(b"]}");
}

/// One series: `{"hostname":…,"id"?:…,"statistics"?:{…},"data":[…]}`.
pub(crate) fn series_json(s: &SeriesData, decimals: Option<u32>) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.data.len() * 8 + 128);
    out.extend_from_slice(b"{\"hostname\":");
    push_str(&mut out, &s.hostname);
    if let Some(id) = &s.id {
        out.extend_from_slice(b",\"id\":");
        push_str(&mut out, id);
    }
    if let Some(st) = &s.statistics {
        out.extend_from_slice(b",\"statistics\":{\"min\":");
        push_any(&mut out, st.min);
        out.extend_from_slice(b",\"avg\":");
        push_any(&mut out, st.avg);
        out.extend_from_slice(b",\"max\":");
        push_any(&mut out, st.max);
        out.push(b'}');
    }
    out.extend_from_slice(b",\"data\":");
    push_values(&mut out, &s.data, decimals);
    out.push(b'}');
    out
}

fn comma(out: &mut Vec<u8>, i: usize) {
    if i > 0 {
        out.push(b',');
    }
}

/// A JSON string, escaped as serde_json escapes it.
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// `values` as a JSON array, NaN as `null`. The loop is compiled once per number of
/// decimals, so that splitting off the fraction divides by a constant.
fn push_values(out: &mut Vec<u8>, values: &[f64], decimals: Option<u32>) {
    out.reserve(values.len() * 8 + 2);
    out.push(b'[');
    match decimals {
        Some(0) => push_all::<0>(out, values),
        Some(1) => push_all::<1>(out, values),
        Some(2) => push_all::<2>(out, values),
        Some(3) => push_all::<3>(out, values),
        Some(4) => push_all::<4>(out, values),
        // (ryu writes 1e-5 and below with an exponent, hence at most 4 decimals.)
        _ => {
            for (i, v) in values.iter().enumerate() {
                comma(out, i);
                push_any(out, *v);
            }
        }
    }
    out.push(b']');
}

fn push_all<const D: u32>(out: &mut Vec<u8>, values: &[f64]) {
    // Numbers are written into a block on the stack and appended a block at a time,
    // which spares the vector's length and capacity bookkeeping per number.
    const BLOCK: usize = 4096;
    let mut block = [0u8; BLOCK];
    let mut pos = 0;
    for (i, v) in values.iter().enumerate() {
        if pos + 25 > BLOCK {
            out.extend_from_slice(&block[..pos]);
            pos = 0;
        }
        block[pos] = b',';
        pos += usize::from(i > 0);
        // (The check above leaves room for 24 bytes at `pos`.)
        let written = block[pos..]
            .first_chunk_mut::<24>()
            .and_then(|slot| scaled::<D>(*v, slot));
        if let Some(len) = written {
            pos += len;
        } else {
            out.extend_from_slice(&block[..pos]);
            pos = 0;
            push_any(out, *v);
        }
    }
    out.extend_from_slice(&block[..pos]);
}

/// Any number as serde_json writes it: shortest round trip, non-finite as `null`.
fn push_any(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// `v` as a count of 10^-D written `int.frac` into `buf` (trailing zeros of the fraction
/// dropped, one kept), if that is exactly `v`: the length written; `None` otherwise.
///
/// Written without branches on the number of digits: on noisy series their lengths are
/// random, and a mispredicted branch per digit cost more than the digits themselves.
fn scaled<const D: u32>(v: f64, buf: &mut [u8; 24]) -> Option<usize> {
    let scale = 10u64.pow(D);
    let x = v * scale as f64;
    // Rounded half away from zero, as f64::round (a libm call here) would; the cast
    // saturates, and the check below refuses whatever did not round-trip. NaN and the
    // infinities fail it too.
    let n = (x + 0.5f64.copysign(x)) as i64;
    // Below 10^15 a decimal with this many digits is the shortest text that reads back as
    // `v`, which is what ryu finds: the two agree character for character. (-0.0 is left
    // to ryu, which keeps its sign.)
    if n.unsigned_abs() >= 1_000_000_000_000_000
        || n as f64 / scale as f64 != v
        || (v == 0.0 && v.is_sign_negative())
    {
        return None;
    }
    let u = n.unsigned_abs();
    let (int, frac) = (u / scale, u % scale);
    // At most 1 + 15 + 1 + 4 bytes are used (sign, integer, point, fraction).
    buf[0] = b'-';
    let mut pos = usize::from(n < 0);
    if int < 10_000 {
        let digits =
            1 + usize::from(int >= 10) + usize::from(int >= 100) + usize::from(int >= 1000);
        let word = four_digits(int) >> (8 * (4 - digits));
        buf[pos..pos + 4].copy_from_slice(&word.to_le_bytes());
        pos += digits;
    } else {
        let mut b = itoa::Buffer::new();
        let text = b.format(int).as_bytes();
        buf[pos..pos + text.len()].copy_from_slice(text);
        pos += text.len();
    }
    buf[pos] = b'.';
    pos += 1;
    // The fraction's digits, zero-padded (one "0" when there are no decimals), then as
    // many of them as are not trailing zeros, but one.
    let width = D.max(1);
    let word = four_digits(frac) >> (8 * (4 - width));
    buf[pos..pos + 4].copy_from_slice(&word.to_le_bytes());
    let zeros: u32 = (1..width)
        .map(|k| u32::from(frac % 10u64.pow(k) == 0))
        .sum();
    Some(pos + (width - zeros) as usize)
}

/// `x` (below 10,000) as four ASCII digits, zero-padded, the first in the lowest byte:
/// shifting right by 8·k drops the first k.
fn four_digits(x: u64) -> u32 {
    let (hi, lo) = ((x / 100 % 100) as usize * 2, (x % 100) as usize * 2);
    u32::from_le_bytes([PAIRS[hi], PAIRS[hi + 1], PAIRS[lo], PAIRS[lo + 1]])
}

/// "00" to "99".
const PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

#[cfg(test)]
mod tests {
    use super::push_values;

    fn values_json(values: &[f64], decimals: Option<u32>) -> String {
        let mut out = Vec::new();
        push_values(&mut out, values, decimals);
        String::from_utf8(out).unwrap()
    }
    use rand::{Rng, SeedableRng};

    /// Whatever the fast path prints is exactly what serde_json prints.
    #[test]
    fn the_text_is_serde_jsons() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for decimals in [0u32, 1, 2, 3, 4, 6] {
            let scale = 10f64.powi(decimals as i32);
            let mut values: Vec<f64> = (0..100_000)
                .map(|i| {
                    let mag = 10f64.powi(rng.gen_range(-3..16));
                    let v = rng.gen_range(-1.0..1.0) * mag;
                    // Mostly rounded as stored; every tenth value is not.
                    if i % 10 == 0 {
                        v
                    } else {
                        (v * scale).round() / scale
                    }
                })
                .collect();
            values.extend([0.0, -0.0, 0.5, -0.05, 1e15, 99.99, f64::NAN, 123456.7]);
            let expected: Vec<Option<f64>> =
                values.iter().map(|v| (!v.is_nan()).then_some(*v)).collect();
            let expected = serde_json::to_string(&expected).unwrap();
            assert_eq!(values_json(&values, Some(decimals)), expected);
            assert_eq!(values_json(&values, None), expected);
        }
    }
}
