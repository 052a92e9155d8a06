//! The `data.json`-shaped answer as JSON text, written by hand.
//!
//! A day-long job answer holds about a million numbers, and formatting them is most of
//! its cost. Samples are kept rounded to `[metrics] decimals`, so almost every value is
//! an integer count of hundredths (say): printed with `itoa` as `int.frac`, that is a few
//! times faster than the shortest round-trip search of `ryu` and gives the same text.
//! Anything else (lossless values, huge ones) goes through `ryu`, as serde_json would.
//! The series are written on two threads; names and units go through serde_json.

use super::shape::{MetricData, SeriesData};

/// `data` as JSON; `decimals` is what samples were rounded to.
pub(crate) fn to_json(data: &MetricData, decimals: Option<u32>) -> Vec<u8> {
    let all: Vec<&SeriesData> = data
        .values()
        .flat_map(|scopes| scopes.values())
        .flat_map(|scope| &scope.series)
        .collect();
    let a = super::on_two_threads(&all, |s| series_json(s, decimals));
    let size: usize = a.iter().map(String::len).sum();
    let mut out = String::with_capacity(size + 1024);
    let mut parts = a.into_iter();
    out.push('{');
    for (i, (metric, scopes)) in data.iter().enumerate() {
        comma(&mut out, i);
        push_str(&mut out, metric);
        out.push_str(":{");
        for (j, (scope, sd)) in scopes.iter().enumerate() {
            comma(&mut out, j);
            push_str(&mut out, scope);
            out.push_str(":{\"unit\":");
            out.push_str(&sd.unit.to_string());
            out.push_str(",\"timestep\":");
            out.push_str(itoa::Buffer::new().format(sd.timestep));
            out.push_str(",\"series\":[");
            for k in 0..sd.series.len() {
                comma(&mut out, k);
                out.extend(parts.next());
            }
            out.push_str("]}");
        }
        out.push('}');
    }
    out.push('}');
    out.into_bytes()
}

fn series_json(s: &SeriesData, decimals: Option<u32>) -> String {
    let mut out = String::with_capacity(s.data.len() * 8 + 128);
    out.push_str("{\"hostname\":");
    push_str(&mut out, &s.hostname);
    if let Some(id) = &s.id {
        out.push_str(",\"id\":");
        push_str(&mut out, id);
    }
    if let Some(st) = &s.statistics {
        out.push_str(",\"statistics\":{\"min\":");
        push_number(&mut out, st.min, None);
        out.push_str(",\"avg\":");
        push_number(&mut out, st.avg, None);
        out.push_str(",\"max\":");
        push_number(&mut out, st.max, None);
        out.push('}');
    }
    out.push_str(",\"data\":");
    push_values(&mut out, &s.data, decimals);
    out.push('}');
    out
}

fn comma(out: &mut String, i: usize) {
    if i > 0 {
        out.push(',');
    }
}

/// A JSON string, escaped as serde_json escapes it.
fn push_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::Value::from(s).to_string());
}

/// `values` as a JSON array, NaN as `null`.
fn push_values(out: &mut String, values: &[f64], decimals: Option<u32>) {
    out.push('[');
    let scale = decimals.filter(|d| *d <= 4).map(|d| (d, 10i64.pow(d)));
    for (i, v) in values.iter().enumerate() {
        comma(out, i);
        push_number(out, *v, scale);
    }
    out.push(']');
}

fn push_number(out: &mut String, v: f64, scale: Option<(u32, i64)>) {
    if !v.is_finite() {
        // serde_json writes non-finite numbers as null too.
        out.push_str("null");
        return;
    }
    if let Some((digits, scale)) = scale {
        let x = v * scale as f64;
        // Rounded half away from zero, as f64::round (a libm call here) would; the cast
        // saturates, and the check below refuses whatever did not round-trip.
        let n = (x + 0.5f64.copysign(x)) as i64;
        // (ryu writes 1e-5 and below with an exponent, hence at most 4 decimals.) Below
        // 10^15 a decimal with this many digits is the shortest text that reads back as
        // `v`, which is what ryu finds: the two agree character for character. (-0.0 is
        // left to ryu, which keeps its sign.)
        if n.unsigned_abs() < 1_000_000_000_000_000
            && n as f64 / scale as f64 == v
            && !(v == 0.0 && v.is_sign_negative())
        {
            push_scaled(out, n, digits as usize);
            return;
        }
    }
    out.push_str(ryu::Buffer::new().format_finite(v));
}

/// `n / 10^digits` in decimal, trailing zeros of the fraction dropped, at least one kept.
fn push_scaled(out: &mut String, n: i64, digits: usize) {
    if n < 0 {
        out.push('-');
    }
    let mut buf = itoa::Buffer::new();
    let text = buf.format(n.unsigned_abs());
    // Left-pad to more digits than the fraction has: 5 -> "005" -> "0.05".
    const ZEROS: &str = "00000";
    let pad = (digits + 1).saturating_sub(text.len());
    let (int, frac) = if pad > 0 {
        (&ZEROS[..1], (&ZEROS[..pad - 1], text))
    } else {
        let (int, frac) = text.split_at(text.len() - digits);
        (int, ("", frac))
    };
    out.push_str(int);
    out.push('.');
    let whole = frac.1.trim_end_matches('0');
    if whole.is_empty() {
        out.push('0');
    } else {
        out.push_str(frac.0);
        out.push_str(whole);
    }
}

#[cfg(test)]
mod tests {
    use super::push_values;

    fn values_json(values: &[f64], decimals: Option<u32>) -> String {
        let mut out = String::new();
        push_values(&mut out, values, decimals);
        out
    }
    use rand::{Rng, SeedableRng};

    /// Whatever the fast path prints is exactly what serde_json prints.
    #[test]
    fn the_text_is_serde_jsons() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for decimals in [0u32, 1, 2, 3, 6] {
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
