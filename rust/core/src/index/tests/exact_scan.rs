//! The exact paths (key lists, full scans) give exactly the answer of scoring every
//! row with the f32 kernels, for every metric: the code-bounded scan (`exact.rs`) may
//! skip rows only when the codes prove they cannot make the top k. Vectors here are
//! not normalised (dot and L2 see norms from 0.1 to 10), some are exact copies of
//! others (ties), and key lists repeat keys.

use super::data::Rng;
use crate::index::distance::kernels;
use crate::index::metric::{self, Metric};
use crate::index::{Candidates, HnswIndex, HnswParams};

const DIMS: usize = 48;
const ROWS: usize = 600;

fn rows(seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(ROWS * DIMS);
    for i in 0..ROWS {
        if i % 7 == 6 {
            // An exact copy of an earlier row: a tie for every query.
            let src = rng.below(i) * DIMS;
            out.extend_from_within(src..src + DIMS);
            continue;
        }
        let norm = 0.1 + 10.0 * rng.uniform() as f32;
        out.extend((0..DIMS).map(|_| rng.gaussian() * norm));
    }
    out
}

/// Scores (higher is better) of every key in `keys` against `q`, as the index defines
/// them, from the f32 kernels.
fn reference(metric: Metric, data: &[f32], q: &[f32], keys: &[u32]) -> Vec<(u32, f32)> {
    let q = metric::prepare(metric, q, DIMS).unwrap();
    let mut keys = keys.to_vec();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .filter(|&k| (k as usize) < ROWS)
        .map(|k| {
            let row = &data[k as usize * DIMS..(k as usize + 1) * DIMS];
            let row = metric::prepare(metric, row, DIMS).unwrap();
            let score = match metric {
                Metric::L2 => -kernels().l2_squared(&q, &row),
                Metric::Cosine | Metric::Dot => kernels().dot(&q, &row),
            };
            (k, score)
        })
        .collect()
}

fn check(metric: Metric, got: &[crate::index::Neighbour], all: &[(u32, f32)], k: usize) {
    let mut want: Vec<f32> = all.iter().map(|&(_, s)| s).collect();
    want.sort_unstable_by(|a, b| b.total_cmp(a));
    want.truncate(k);
    let scores: Vec<f32> = got.iter().map(|n| n.score).collect();
    assert_eq!(scores, want, "{metric:?}: the k best scores, in order");
    for n in got {
        let own = all.iter().find(|&&(key, _)| key == n.key).map(|&(_, s)| s);
        assert_eq!(
            own,
            Some(n.score),
            "{metric:?}: key {} has its own score",
            n.key
        );
    }
}

#[test]
fn exact_paths_match_scoring_every_row() {
    for (seed, metric) in [(1, Metric::Cosine), (2, Metric::Dot), (3, Metric::L2)] {
        let data = rows(seed);
        let index = HnswIndex::new(HnswParams::new(DIMS, metric)).unwrap();
        let keys: Vec<u32> = (0..ROWS as u32).collect();
        index.insert_batch(&keys, &data, 2).unwrap();
        let mut rng = Rng::new(seed + 100);
        for round in 0..40 {
            let q: Vec<f32> = if round % 4 == 0 {
                // A stored row as the query: its copies tie at the top.
                let r = rng.below(ROWS) * DIMS;
                data[r..r + DIMS].to_vec()
            } else {
                (0..DIMS).map(|_| rng.gaussian()).collect()
            };
            let k = [1, 5, 10, 40][round % 4];
            let mut list: Vec<u32> = (0..ROWS as u32).filter(|_| rng.uniform() < 0.3).collect();
            list.extend_from_within(..list.len() / 3); // repeated keys
            list.push(ROWS as u32 + 5); // an unknown key
            let got = index.search_exact(&q, k, Candidates::Keys(&list)).unwrap();
            check(metric, &got, &reference(metric, &data, &q, &list), k);

            let odd = |key: u32| key % 2 == 1;
            let filter = Candidates::Filter {
                admits: &odd,
                estimate: ROWS / 2,
            };
            let got = index.search_exact(&q, k, filter).unwrap();
            let odd_keys: Vec<u32> = keys.iter().copied().filter(|&k| odd(k)).collect();
            check(metric, &got, &reference(metric, &data, &q, &odd_keys), k);

            let got = index.search_exact(&q, k, Candidates::All).unwrap();
            check(metric, &got, &reference(metric, &data, &q, &keys), k);
        }
    }
}
