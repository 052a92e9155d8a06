//! One chunk: a series' samples on its metric's `timestep` grid (a gap is NaN), compressed
//! with pcodec. Lossless: what is written is what is read, bit for bit.

use pco::standalone::{simple_compress, simple_decompress, simple_decompress_into};
use pco::{ChunkConfig, PagingSpec};

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

/// A block: `grids` (of equal length) one after the other in one pcodec file, so that
/// the series of one metric on one node share a row. Each grid is a pcodec chunk of its
/// own: one chunk for all of them is about 15 % larger (benches/metrics.rs), since its
/// bins must fit series of different levels at once.
/// `None` for no grids or an empty one, which pcodec cannot page.
pub fn encode_block(grids: &[Vec<f64>]) -> Option<Vec<u8>> {
    if grids.is_empty() || grids.iter().any(Vec::is_empty) {
        return None;
    }
    let lens = grids.iter().map(Vec::len).collect();
    let config = ChunkConfig::default()
        .with_compression_level(4)
        .with_paging_spec(PagingSpec::Exact(lens));
    simple_compress(&grids.concat(), &config).ok()
}

/// The `members` grids of a block; an error if the chunk does not split evenly.
pub fn decode_block(bytes: &[u8], members: usize) -> Result<Vec<Vec<f64>>, String> {
    decode_block_prefix(bytes, members, usize::MAX)
}

/// As `decode_block`, but a block of one series (a node metric's day) is decoded only
/// as far as its first `len` slots: pcodec decodes in order, so a read that ends in
/// the morning spares the rest of the day. Blocks of several series are decoded whole.
pub fn decode_block_prefix(
    bytes: &[u8],
    members: usize,
    len: usize,
) -> Result<Vec<Vec<f64>>, String> {
    if members == 1 && len <= PREFIX_MAX {
        let mut values = vec![0.0; len];
        let progress = simple_decompress_into(bytes, &mut values)
            .map_err(|e| format!("not a metric chunk: {e}"))?;
        values.truncate(progress.n_processed);
        return Ok(vec![values]);
    }
    let all = decode(bytes)?;
    if members == 0 || all.len() % members != 0 {
        return Err(format!(
            "a metric block of {} values does not hold {members} equal series",
            all.len()
        ));
    }
    if members == 1 {
        return Ok(vec![all]);
    }
    Ok(all
        .chunks(all.len() / members)
        .map(<[f64]>::to_vec)
        .collect())
}

/// The longest prefix decoded into a buffer of that size (a block holds a day, 86,400
/// slots at 1 s); longer asks decode the whole block.
const PREFIX_MAX: usize = 1 << 17;

/// A block's member series ids: a zero byte, then each id as 8 bytes little-endian.
/// Raw, because decompressing is a fixed cost per call that a block's few ids do not
/// repay: pcodec would save a few hundred bytes on a block of 100,000 samples.
pub fn encode_ids(ids: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + ids.len() * 8);
    out.push(RAW_IDS);
    for id in ids {
        out.extend_from_slice(&id.to_le_bytes());
    }
    out
}

/// The ids `encode_ids` wrote, or pcodec-compressed ids as earlier blocks hold them
/// (a pcodec file starts with "pco!", never a zero byte).
pub fn decode_ids(bytes: &[u8]) -> Result<Vec<i64>, String> {
    match bytes.split_first() {
        Some((&RAW_IDS, raw)) if raw.len() % 8 == 0 => Ok(raw
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap_or_default()))
            .collect()),
        _ => simple_decompress(bytes).map_err(|e| format!("not a list of metric series: {e}")),
    }
}

const RAW_IDS: u8 = 0;

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
    fn blocks_split_into_their_members() {
        let grids = vec![vec![1.0, f64::NAN], vec![3.0, 4.0], vec![5.0, 6.0]];
        let back = decode_block(&encode_block(&grids).unwrap(), 3).unwrap();
        assert_eq!(back[1..], grids[1..]);
        assert!(back[0][1].is_nan());
        assert!(decode_block(&encode_block(&grids).unwrap(), 4).is_err());
        // One series: as far as asked, or all of it if it is shorter.
        let day: Vec<f64> = (0..1440).map(f64::from).collect();
        let one = encode_block(std::slice::from_ref(&day)).unwrap();
        for len in [0, 1, 255, 256, 257, 700, 1440] {
            assert_eq!(
                decode_block_prefix(&one, 1, len).unwrap(),
                vec![day[..len].to_vec()]
            );
        }
        assert_eq!(
            decode_block_prefix(&one, 1, 5000).unwrap(),
            vec![day.clone()]
        );
        assert!(decode_block_prefix(b"not a block", 1, 10).is_err());
        assert_eq!(decode_ids(&encode_ids(&[7, 8, 9])).unwrap(), vec![7, 8, 9]);
        assert_eq!(decode_ids(&encode_ids(&[])).unwrap(), Vec::<i64>::new());
        // Blocks written before ids were stored raw.
        let pco = simple_compress(&[7i64, -8, 9], &ChunkConfig::default()).unwrap();
        assert_eq!(decode_ids(&pco).unwrap(), vec![7, -8, 9]);
        assert!(decode_ids(&[0, 1, 2]).is_err());
        assert!(encode_block(&[]).is_none());
        assert!(encode_block(&[vec![]]).is_none());
    }

    #[test]
    fn merging_fills_gaps_and_replaces_values() {
        let merged = merge(&[1.0, f64::NAN, 3.0], &[f64::NAN, 2.0, 4.0]).unwrap();
        assert_eq!(merged, vec![1.0, 2.0, 4.0]);
        assert_eq!(merge(&[1.0, 2.0], &[1.0, f64::NAN]), None);
    }
}
