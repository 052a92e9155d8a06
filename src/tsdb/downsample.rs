//! Fewer points for a long series: Largest-Triangle-Three-Buckets, as cc-backend does for
//! its `resolution` parameter. The output keeps the series' first and last point and,
//! from each bucket between, the point that spans the largest triangle with its
//! neighbours, so peaks survive where averaging would flatten them. Gaps (NaN) are
//! skipped; a bucket of gaps stays a gap.

/// `values` reduced to `out` points (unchanged if it has no more than that).
pub(crate) fn lttb(values: &[f64], out: usize) -> Vec<f64> {
    let n = values.len();
    if out >= n || out < 3 {
        return values.to_vec();
    }
    let every = (n - 2) as f64 / (out - 2) as f64;
    let mut result = Vec::with_capacity(out);
    result.push(values[0]);
    let mut a = 0usize;
    for bucket in 0..out - 2 {
        let lo = (bucket as f64 * every) as usize + 1;
        let hi = (((bucket + 1) as f64 * every) as usize + 1).min(n - 1);
        // The average of the next bucket is the triangle's third corner.
        let next_lo = hi;
        let next_hi = ((((bucket + 2) as f64) * every) as usize + 1).min(n);
        let (mut sx, mut sy, mut k) = (0.0, 0.0, 0.0);
        for (i, v) in values.iter().enumerate().take(next_hi).skip(next_lo) {
            if !v.is_nan() {
                sx += i as f64;
                sy += v;
                k += 1.0;
            }
        }
        let (cx, cy) = if k > 0.0 {
            (sx / k, sy / k)
        } else {
            (next_lo as f64, f64::NAN)
        };
        let (ax, ay) = (a as f64, values[a]);
        let mut best: Option<(usize, f64)> = None;
        for (i, v) in values.iter().enumerate().take(hi.max(lo + 1)).skip(lo) {
            if v.is_nan() {
                continue;
            }
            let area = if ay.is_nan() || cy.is_nan() {
                0.0
            } else {
                ((ax - cx) * (v - ay) - (ax - i as f64) * (cy - ay)).abs()
            };
            if best.is_none_or(|(_, b)| area > b) {
                best = Some((i, area));
            }
        }
        match best {
            Some((i, _)) => {
                result.push(values[i]);
                a = i;
            }
            None => result.push(f64::NAN),
        }
    }
    result.push(values[n - 1]);
    result
}

#[cfg(test)]
mod tests {
    use super::lttb;

    #[test]
    fn keeps_ends_and_peaks() {
        let mut v: Vec<f64> = (0..100).map(|i| f64::from(i % 7)).collect();
        v[50] = 1000.0;
        let d = lttb(&v, 10);
        assert_eq!(d.len(), 10);
        assert_eq!((d[0], d[9]), (v[0], v[99]));
        assert!(d.contains(&1000.0));
        assert_eq!(lttb(&v, 200), v);
    }

    #[test]
    fn gaps_stay_gaps() {
        let v = vec![f64::NAN; 50];
        assert!(lttb(&v, 5).iter().all(|x| x.is_nan()));
    }
}
