//! Recall@10 against brute force, graph health, and the basic API contract.

use super::data::{brute_force, recall};
use super::fixture::{build, data, key_of, shared, DIMS, N, QUERIES};
use crate::index::{HnswIndex, HnswParams, Metric};

const K: usize = 10;

fn mean_recall(index: &HnswIndex, rows: &[(u32, &[f32])], queries: &[f32], ef: usize) -> f64 {
    let total: f64 = queries
        .chunks_exact(DIMS)
        .map(|q| {
            let got: Vec<u32> = index
                .search(q, K, ef)
                .unwrap()
                .iter()
                .map(|n| n.key)
                .collect();
            recall(&got, &brute_force(q, rows, K, |_| true))
        })
        .sum();
    total / (queries.len() / DIMS) as f64
}

#[test]
fn recall_at_10_on_clustered_data() {
    let f = shared();
    let r = mean_recall(&f.index, &f.rows(), &f.queries, 64);
    assert!(r >= 0.95, "recall@10 = {r}");
    assert_eq!(f.index.len(), N);
}

#[test]
fn every_node_is_reachable_from_the_entry_point() {
    assert_eq!(shared().index.unreachable(), 0);
}

#[test]
fn scores_are_cosine_similarities_best_first() {
    let f = shared();
    let q = f.query(0);
    let hits = f.index.search(q, K, 64).unwrap();
    assert_eq!(hits.len(), K);
    for w in hits.windows(2) {
        assert!(w[0].score >= w[1].score);
    }
    let row = (0..N).find(|&i| key_of(i) == hits[0].key).unwrap();
    let want = super::data::cosine(q, &f.vectors[row * DIMS..(row + 1) * DIMS]);
    assert!((f64::from(hits[0].score) - want).abs() < 1e-4);
}

#[test]
fn single_threaded_build_and_other_metrics_reach_the_same_recall() {
    let (vectors, queries) = data(7, 1_500);
    let rows: Vec<(u32, &[f32])> = vectors
        .chunks_exact(DIMS)
        .enumerate()
        .map(|(i, v)| (key_of(i), v))
        .collect();
    let one = build(Metric::Cosine, &vectors, 1);
    assert!(mean_recall(&one, &rows, &queries, 64) >= 0.95);
    // Dot on unit vectors ranks like cosine; check L2 against its own oracle.
    let l2 = build(Metric::L2, &vectors, 2);
    let mut total = 0.0;
    for q in queries.chunks_exact(DIMS) {
        let mut truth: Vec<(f32, u32)> = rows
            .iter()
            .map(|(k, v)| {
                (
                    v.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum::<f32>(),
                    *k,
                )
            })
            .collect();
        truth.sort_by(|a, b| a.0.total_cmp(&b.0));
        let truth: Vec<u32> = truth.iter().take(K).map(|t| t.1).collect();
        let got: Vec<u32> = l2.search(q, K, 64).unwrap().iter().map(|n| n.key).collect();
        total += recall(&got, &truth);
    }
    assert!(total / QUERIES as f64 >= 0.95);
}

#[test]
fn search_edge_cases() {
    let empty = HnswIndex::new(HnswParams::new(4, Metric::Cosine)).unwrap();
    assert!(empty
        .search(&[1.0, 0.0, 0.0, 0.0], 5, 0)
        .unwrap()
        .is_empty());
    assert!(empty.search(&[1.0, 0.0], 5, 0).is_err(), "wrong dimension");
    assert!(
        empty.search(&[0.0; 4], 5, 0).is_err(),
        "zero query under cosine"
    );
    assert!(empty.insert(1, &[f32::NAN, 0.0, 0.0, 0.0]).is_err());
    assert!(empty.is_empty());
    empty.insert(7, &[1.0, 0.0, 0.0, 0.0]).unwrap();
    let hits = empty.search(&[1.0, 0.1, 0.0, 0.0], 5, 0).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].key, 7);
    assert!(empty
        .search(&[1.0, 0.1, 0.0, 0.0], 0, 0)
        .unwrap()
        .is_empty());
    assert!(HnswIndex::new(HnswParams {
        m: 1,
        ..HnswParams::new(4, Metric::L2)
    })
    .is_err());
    assert!(HnswIndex::new(HnswParams::new(0, Metric::L2)).is_err());
}

#[test]
fn batch_search_matches_single_search() {
    let f = shared();
    let batch = f
        .index
        .search_batch(&f.queries, K, 64, crate::index::Candidates::All, 2)
        .unwrap();
    assert_eq!(batch.len(), QUERIES);
    for (i, hits) in batch.iter().enumerate() {
        assert_eq!(hits, &f.index.search(f.query(i), K, 64).unwrap());
    }
}

#[test]
fn memory_per_vector_is_reported() {
    let usage = shared().index.memory_usage();
    assert_eq!(usage.vectors, N);
    // 64 floats + 33 level-0 words + per-slot scalars: at least 390 bytes a vector.
    assert!(
        usage.per_vector() > 390.0 && usage.per_vector() < 2_000.0,
        "{usage:?}"
    );
}

#[test]
fn duplicate_keys_in_a_batch_take_the_last_vector() {
    let index = HnswIndex::new(HnswParams::new(2, Metric::L2)).unwrap();
    index
        .insert_batch(&[1, 2, 1], &[0.0, 0.0, 5.0, 5.0, 9.0, 9.0], 2)
        .unwrap();
    assert_eq!(index.len(), 2);
    assert_eq!(index.vector(1).unwrap(), vec![9.0, 9.0]);
    assert!(index.insert_batch(&[1, 2], &[0.0; 3], 1).is_err());
}
