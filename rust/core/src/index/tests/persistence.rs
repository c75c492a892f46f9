//! Snapshots: round trips, and corrupt / truncated / foreign / wrong-dimension files,
//! which must be errors (never panics, never a silently different graph).

use super::data::mixture;
use super::fixture::{shared, DIMS, QUERIES};
use crate::index::persist::MAGIC;
use crate::index::{Candidates, HnswIndex, HnswParams, Metric};

fn snapshot(index: &HnswIndex, tag: u64) -> Vec<u8> {
    let mut out = Vec::new();
    index.save(&mut out, tag).unwrap();
    out
}

/// Every query's results, for comparing two indexes.
fn answers(index: &HnswIndex, queries: &[f32], dims: usize) -> Vec<Vec<(u32, u32)>> {
    queries
        .chunks_exact(dims)
        .map(|q| {
            index
                .search(q, 10, 64)
                .unwrap()
                .iter()
                .map(|n| (n.key, n.score.to_bits()))
                .collect()
        })
        .collect()
}

/// A small index with tombstones and recycled slots, for byte-level tests.
fn small() -> (HnswIndex, Vec<f32>) {
    let (v, _) = mixture(3, 60, 4, 5, 0.3);
    let index = HnswIndex::new(HnswParams {
        m: 4,
        ..HnswParams::new(4, Metric::Cosine)
    })
    .unwrap();
    let keys: Vec<u32> = (0..60).map(|i| i * 7).collect();
    index.insert_batch(&keys, &v, 1).unwrap();
    index.remove_batch(&keys[..10]);
    index.consolidate();
    index.remove_batch(&keys[10..15]);
    (index, v)
}

#[test]
fn round_trip_keeps_every_answer_and_the_tag() {
    let f = shared();
    let bytes = snapshot(&f.index, 0xDEAD_BEEF);
    let (loaded, tag) = HnswIndex::load(bytes.as_slice(), Some(DIMS)).unwrap();
    assert_eq!(tag, 0xDEAD_BEEF);
    assert_eq!(loaded.len(), f.index.len());
    assert_eq!(loaded.params(), f.index.params());
    assert_eq!(
        answers(&loaded, &f.queries, DIMS),
        answers(&f.index, &f.queries, DIMS)
    );
    assert_eq!(loaded.unreachable(), 0);
    // Saving the loaded index gives the same bytes.
    assert_eq!(snapshot(&loaded, 0xDEAD_BEEF), bytes);
    let keys: Vec<u32> = (0..50).map(super::fixture::key_of).collect();
    let a = loaded
        .search_filtered(f.query(0), 5, 0, Candidates::Keys(&keys))
        .unwrap();
    let b = f
        .index
        .search_filtered(f.query(0), 5, 0, Candidates::Keys(&keys))
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(QUERIES * DIMS, f.queries.len());
}

#[test]
fn round_trip_with_tombstones_and_recycled_slots() {
    let (index, v) = small();
    let bytes = snapshot(&index, 1);
    let (loaded, _) = HnswIndex::load(bytes.as_slice(), None).unwrap();
    assert_eq!(loaded.len(), 45);
    assert_eq!(loaded.tombstones(), 5);
    assert_eq!(answers(&loaded, &v, 4), answers(&index, &v, 4));
    // The loaded index keeps working: insert, remove, consolidate.
    loaded.insert(1_000, &[1.0, 2.0, 3.0, 4.0]).unwrap();
    assert_eq!(
        loaded.search(&[1.0, 2.0, 3.0, 4.0], 1, 0).unwrap()[0].key,
        1_000
    );
    loaded.consolidate();
    assert_eq!(loaded.tombstones(), 0);
    assert_eq!(loaded.unreachable(), 0);
}

#[test]
fn empty_index_round_trips() {
    let index = HnswIndex::new(HnswParams::new(3, Metric::L2)).unwrap();
    let (loaded, tag) = HnswIndex::load(snapshot(&index, 9).as_slice(), Some(3)).unwrap();
    assert_eq!((loaded.len(), tag), (0, 9));
    assert_eq!(loaded.params().metric, Metric::L2);
}

#[test]
fn wrong_dimension_foreign_and_truncated_files_are_errors() {
    let (index, _) = small();
    let bytes = snapshot(&index, 1);
    let err = HnswIndex::load(bytes.as_slice(), Some(5)).err().unwrap();
    assert!(err.to_string().contains("4-dimensional"), "{err}");
    assert!(HnswIndex::load(&b""[..], None).is_err());
    assert!(HnswIndex::load(&MAGIC[..], None).is_err());
    assert!(HnswIndex::load(&b"SQLite format 3\0 and more bytes"[..], None).is_err());
    for len in 0..bytes.len() {
        assert!(
            HnswIndex::load(&bytes[..len], None).is_err(),
            "truncated to {len}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(HnswIndex::load(longer.as_slice(), None).is_err());
    let mut future = bytes.clone();
    future[8] = 2;
    let err = HnswIndex::load(future.as_slice(), None).err().unwrap();
    assert!(err.to_string().contains("version"), "{err}");
}

#[test]
fn every_single_byte_corruption_is_detected() {
    let (index, _) = small();
    let bytes = snapshot(&index, 1);
    for pos in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xFF] {
            let mut bad = bytes.clone();
            bad[pos] ^= flip;
            assert!(
                HnswIndex::load(bad.as_slice(), None).is_err(),
                "byte {pos} ^ {flip:#x}"
            );
        }
    }
}

/// Beyond the checksum: corrupt one byte, then fix the checksum so that the structural
/// checks alone stand between the bytes and the graph. Loading must never panic, and
/// an index that loads must answer searches without panicking.
#[test]
fn structural_checks_survive_corruption_with_a_valid_checksum() {
    let (index, v) = small();
    let bytes = snapshot(&index, 1);
    let body = bytes.len() - 4;
    let mut loaded_ok = 0;
    for pos in 0..body {
        for flip in [0x01u8, 0x10, 0xFF] {
            let mut bad = bytes.clone();
            bad[pos] ^= flip;
            let mut crc = crate::index::persist::crc32_of(&bad[..body]);
            bad[body..].copy_from_slice(&crc.to_le_bytes());
            if let Ok((idx, _)) = HnswIndex::load(bad.as_slice(), None) {
                loaded_ok += 1;
                for q in v.chunks_exact(4).take(5) {
                    let _ = idx.search(q, 5, 16);
                }
                let _ = idx.search_filtered(&v[..4], 5, 0, Candidates::Keys(&[0, 7, 14]));
                idx.insert(5_000, &v[..4]).unwrap();
                idx.consolidate();
            }
            crc = 0;
            let _ = crc;
        }
    }
    // Some corruptions are legitimately valid snapshots (a different tag or key, a
    // different link): those load. Most do not.
    assert!(loaded_ok < body * 3);
}
