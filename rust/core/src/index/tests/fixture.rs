//! One shared index (built once per test binary) for the read-only tests.

use std::sync::OnceLock;

use super::data::{mixture, Rng};
use crate::index::{HnswIndex, HnswParams, Metric};

pub(crate) const N: usize = 5_000;
pub(crate) const DIMS: usize = 64;
pub(crate) const CENTRES: usize = 50;
pub(crate) const SIGMA: f32 = 0.35;
pub(crate) const QUERIES: usize = 100;

pub(crate) struct Fixture {
    pub(crate) index: HnswIndex,
    pub(crate) vectors: Vec<f32>,
    pub(crate) queries: Vec<f32>,
}

impl Fixture {
    pub(crate) fn rows(&self) -> Vec<(u32, &[f32])> {
        self.vectors
            .chunks_exact(DIMS)
            .enumerate()
            .map(|(i, v)| (key_of(i), v))
            .collect()
    }

    pub(crate) fn query(&self, i: usize) -> &[f32] {
        &self.queries[i * DIMS..(i + 1) * DIMS]
    }
}

/// Keys are not the row numbers (sparse, shuffled) so that a key/slot mix-up shows.
pub(crate) fn key_of(row: usize) -> u32 {
    (row as u32).wrapping_mul(2_654_435_761) >> 3
}

/// A clustered data set and held-out queries from the same mixture.
pub(crate) fn data(seed: u64, n: usize) -> (Vec<f32>, Vec<f32>) {
    let (all, _) = mixture(seed, n + QUERIES, DIMS, CENTRES, SIGMA);
    let (v, q) = all.split_at(n * DIMS);
    (v.to_vec(), q.to_vec())
}

pub(crate) fn build(metric: Metric, vectors: &[f32], threads: usize) -> HnswIndex {
    let index = HnswIndex::new(HnswParams::new(DIMS, metric)).unwrap();
    let keys: Vec<u32> = (0..vectors.len() / DIMS).map(key_of).collect();
    index.insert_batch(&keys, vectors, threads).unwrap();
    index
}

pub(crate) fn shared() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let (vectors, queries) = data(42, N);
        let index = build(Metric::Cosine, &vectors, 2);
        Fixture {
            index,
            vectors,
            queries,
        }
    })
}

/// A random subset of `share` of the rows' keys.
pub(crate) fn subset(seed: u64, share: f64) -> Vec<u32> {
    let mut rng = Rng::new(seed);
    (0..N)
        .filter(|_| rng.uniform() < share)
        .map(key_of)
        .collect()
}
