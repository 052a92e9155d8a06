//! One chunk: a series' samples on its metric's `timestep` grid (a gap is NaN), compressed
//! with pcodec. Lossless: what is written is what is read, bit for bit.

use pco::standalone::{simple_compress, simple_decompress};
use pco::ChunkConfig;

/// Compress one chunk's grid.
pub fn encode(values: &[f64]) -> Vec<u8> {
    // Level 4 of 0-12: within a few per cent of the default's size on metric chunks and
    // about twice as fast (benches/metrics.rs).
    let config = ChunkConfig::default().with_compression_level(4);
    match simple_compress(values, &config) {
        Ok(bytes) => bytes,
        // pcodec refuses only bad configurations, and this one is fixed; a chunk of raw
        // values is never expected but still readable (see `decode`).
        Err(e) => unreachable!("pcodec refused a fixed configuration: {e}"),
    }
}

/// The grid a chunk holds; an error for bytes that are not a chunk.
pub fn decode(bytes: &[u8]) -> Result<Vec<f64>, String> {
    simple_decompress(bytes).map_err(|e| format!("not a metric chunk: {e}"))
}

/// `newer` laid over `older`, slot by slot: a value replaces, a gap keeps what was there.
/// `None` if that changes nothing (the chunk is stored already).
pub fn merge(older: &[f64], newer: &[f64]) -> Option<Vec<f64>> {
    let len = older.len().max(newer.len());
    let mut out: Vec<f64> = (0..len)
        .map(|i| older.get(i).copied().unwrap_or(f64::NAN))
        .collect();
    let mut changed = false;
    for (slot, v) in out.iter_mut().zip(newer) {
        if !v.is_nan() && slot.to_bits() != v.to_bits() {
            *slot = *v;
            changed = true;
        }
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip_bit_for_bit() {
        let v = vec![1.5, f64::NAN, -0.0, 1e300, 42.25, f64::NAN, 3.0];
        let back = decode(&encode(&v)).unwrap();
        assert_eq!(
            back.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        assert!(decode(b"not a chunk").is_err());
    }

    #[test]
    fn merging_fills_gaps_and_replaces_values() {
        let merged = merge(&[1.0, f64::NAN, 3.0], &[f64::NAN, 2.0, 4.0]).unwrap();
        assert_eq!(merged, vec![1.0, 2.0, 4.0]);
        assert_eq!(merge(&[1.0, 2.0], &[1.0, f64::NAN]), None);
    }
}
