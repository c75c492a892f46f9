//! Filtered search: never a key outside the filter, and the true top-k when the filter
//! admits 0.1 %, 1 % or 10 % of the vectors, on every path the planner can take.

use super::data::{brute_force, recall};
use super::fixture::{shared, subset, QUERIES};
use crate::index::hnsw::read;
use crate::index::keymap::KeySet;
use crate::index::planner::Plan;
use crate::index::search::{knn, AdmitKeys};
use crate::index::Candidates;

const K: usize = 10;

#[test]
fn key_lists_and_filters_return_the_exact_top_k() {
    let f = shared();
    let rows = f.rows();
    for (seed, share) in [(1, 0.001), (2, 0.01), (3, 0.1)] {
        let keys = subset(seed, share);
        let set = KeySet::new(&keys);
        let admits = |k: u32| set.contains(k);
        for i in 0..QUERIES {
            let q = f.query(i);
            let truth = brute_force(q, &rows, K, admits);
            let by_list: Vec<u32> = f
                .index
                .search_filtered(q, K, 0, Candidates::Keys(&keys))
                .unwrap()
                .iter()
                .map(|n| n.key)
                .collect();
            assert_eq!(by_list, truth, "key list, share {share}, query {i}");
            let by_filter: Vec<u32> = f
                .index
                .search_filtered(
                    q,
                    K,
                    0,
                    Candidates::Filter {
                        admits: &admits,
                        estimate: keys.len(),
                    },
                )
                .unwrap()
                .iter()
                .map(|n| n.key)
                .collect();
            assert_eq!(by_filter, truth, "filter, share {share}, query {i}");
        }
    }
}

/// The graph path itself (which the planner uses for large scopes), forced here on
/// selective filters too: it must never leak a key and must still find the top-k.
#[test]
fn filtered_graph_search_stays_inside_the_filter_and_finds_the_top_k() {
    let f = shared();
    let rows = f.rows();
    let g = read(&f.index.graph);
    for (seed, share) in [(4, 0.001), (5, 0.01), (6, 0.1)] {
        let keys = subset(seed, share);
        let set = KeySet::new(&keys);
        let admits = |k: u32| set.contains(k);
        let mut total = 0.0;
        for i in 0..QUERIES {
            let q = crate::index::metric::prepare(g.metric, f.query(i), g.dims).unwrap();
            let found = knn(&g, &q, K, 64, &AdmitKeys(&admits), &f.index.scratch);
            let got: Vec<u32> = found.iter().map(|s| g.key(s.slot)).collect();
            assert!(
                got.iter().all(|&k| set.contains(k)),
                "leaked a key at share {share}"
            );
            total += recall(&got, &brute_force(f.query(i), &rows, K, admits));
        }
        let r = total / QUERIES as f64;
        assert!(r >= 0.95, "graph recall {r} at share {share}");
    }
}

/// The planner's graph plans (key set and predicate), run directly: the shared index is
/// small enough that the planner itself would scan.
#[test]
fn graph_plans_stay_inside_the_scope() {
    let f = shared();
    let keys = subset(8, 0.5);
    let set = KeySet::new(&keys);
    let admits = |k: u32| set.contains(k);
    let g = read(&f.index.graph);
    for plan in [
        Plan::GraphKeySet(KeySet::new(&keys)),
        Plan::GraphFilter(&admits),
    ] {
        let mut total = 0.0;
        for i in 0..QUERIES {
            let q = crate::index::metric::prepare(g.metric, f.query(i), g.dims).unwrap();
            let hits = f.index.run(&g, &plan, &q, K, 64);
            assert_eq!(hits.len(), K);
            assert!(hits.iter().all(|n| set.contains(n.key)));
            let got: Vec<u32> = hits.iter().map(|n| n.key).collect();
            total += recall(&got, &brute_force(f.query(i), &f.rows(), K, admits));
        }
        assert!(total / QUERIES as f64 >= 0.95);
    }
}

#[test]
fn unknown_and_repeated_keys_in_a_list_are_harmless() {
    let f = shared();
    let mut keys = subset(9, 0.002);
    keys.extend_from_slice(&keys.clone());
    keys.push(u32::MAX);
    let hits = f
        .index
        .search_filtered(f.query(0), 100, 0, Candidates::Keys(&keys))
        .unwrap();
    assert_eq!(hits.len(), keys.len() / 2);
    let mut seen: Vec<u32> = hits.iter().map(|n| n.key).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), hits.len());
}
