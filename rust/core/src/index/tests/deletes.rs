//! Deletes, updates and consolidation: recall must hold after 30 % of the vectors are
//! removed and re-inserted with new vectors, removed keys must never come back, and the
//! graph must stay connected.

use std::collections::HashMap;

use super::data::{brute_force, mixture, recall, Rng};
use super::fixture::{build, data, key_of, CENTRES, DIMS, SIGMA};
use crate::index::{HnswIndex, HnswParams, Metric};

const K: usize = 10;
/// Vectors in the delete test (smaller than the shared fixture: it rebuilds often).
const N: usize = 2_500;

fn check_recall(index: &HnswIndex, current: &HashMap<u32, Vec<f32>>, queries: &[f32]) -> f64 {
    let rows: Vec<(u32, &[f32])> = current.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    let mut total = 0.0;
    for q in queries.chunks_exact(DIMS) {
        let got: Vec<u32> = index
            .search(q, K, 64)
            .unwrap()
            .iter()
            .map(|n| n.key)
            .collect();
        for key in &got {
            assert!(current.contains_key(key), "removed key {key} returned");
        }
        total += recall(&got, &brute_force(q, &rows, K, |_| true));
    }
    total / (queries.len() / DIMS) as f64
}

#[test]
fn recall_holds_after_30_percent_deletes_and_reinserts() {
    let (vectors, queries) = data(11, N);
    let index = build(Metric::Cosine, &vectors, 2);
    let mut current: HashMap<u32, Vec<f32>> = vectors
        .chunks_exact(DIMS)
        .enumerate()
        .map(|(i, v)| (key_of(i), v.to_vec()))
        .collect();
    let mut rng = Rng::new(5);
    let victims: Vec<u32> = (0..N).filter(|_| rng.uniform() < 0.3).map(key_of).collect();

    // Remove in a few batches (consolidation triggers automatically on the way).
    for chunk in victims.chunks(victims.len() / 3 + 1) {
        assert_eq!(index.remove_batch(chunk), chunk.len());
        for k in chunk {
            current.remove(k);
        }
        let r = check_recall(&index, &current, &queries);
        assert!(r >= 0.95, "recall after deletes {r}");
    }
    assert!(!index.remove(victims[0]), "already removed");
    assert_eq!(index.len(), N - victims.len());
    index.consolidate();
    assert_eq!(index.tombstones(), 0);
    assert_eq!(index.unreachable(), 0);

    // Re-insert the same keys with new vectors (from the same mixture).
    let (fresh, _) = mixture(99, victims.len(), DIMS, CENTRES, SIGMA);
    index.insert_batch(&victims, &fresh, 2).unwrap();
    for (k, v) in victims.iter().zip(fresh.chunks_exact(DIMS)) {
        current.insert(*k, v.to_vec());
    }
    assert_eq!(index.len(), N);
    let r = check_recall(&index, &current, &queries);
    assert!(r >= 0.95, "recall after re-inserts {r}");
    assert_eq!(index.unreachable(), 0);
    // Recycled slots were reused: the slot count did not grow past the original.
    assert!(crate::index::hnsw::read(&index.graph).used() <= N);
}

#[test]
fn update_replaces_the_vector_under_the_same_key() {
    let index = HnswIndex::new(HnswParams::new(2, Metric::Cosine)).unwrap();
    index
        .insert_batch(&[1, 2, 3], &[1.0, 0.0, 0.0, 1.0, -1.0, 0.0], 1)
        .unwrap();
    assert_eq!(index.search(&[1.0, 0.05], 1, 0).unwrap()[0].key, 1);
    index.insert(1, &[0.0, -1.0]).unwrap();
    assert_eq!(index.len(), 3);
    assert_eq!(index.tombstones(), 1);
    let hits = index.search(&[1.0, 0.05], 3, 0).unwrap();
    assert_eq!(hits.len(), 3);
    assert_ne!(hits[0].key, 1);
    assert_eq!(index.search(&[0.0, -1.0], 1, 0).unwrap()[0].key, 1);
}

#[test]
fn removing_everything_then_inserting_again_works() {
    let (vectors, queries) = data(3, 300);
    let index = build(Metric::Cosine, &vectors, 2);
    let keys: Vec<u32> = (0..300).map(key_of).collect();
    assert_eq!(index.remove_batch(&keys), 300);
    index.consolidate();
    assert!(index.is_empty());
    assert!(index.search(&queries[..DIMS], 5, 0).unwrap().is_empty());
    index.insert_batch(&keys, &vectors, 2).unwrap();
    assert_eq!(index.len(), 300);
    assert_eq!(index.search(&queries[..DIMS], 5, 0).unwrap().len(), 5);
    assert_eq!(index.unreachable(), 0);
}
