//! The measurement behind the planner's thresholds (`index/planner.rs`): for a scope of
//! `c` keys out of `n`, what an exact scan costs against the filtered graph search at
//! the lowest ef that reaches recall@10 >= 0.95 (0.99 with `recall=99`).
//!
//! - list scan: `search_exact` over the key list (what `Candidates::Keys` does when
//!   the list is short);
//! - full scan: `search_exact` with a predicate, which tests every live key;
//! - graph: `search_filtered` with `Candidates::Filter { estimate: n }`, which forces
//!   the filtered graph walk.
//!
//! Keys of a scope are a random subset (not a contiguous range), the harder case for a
//! scan's memory access. `cargo bench -p memlane-core --bench planner -- n=100000`

mod common;

use std::collections::HashSet;
use std::time::Duration;

use memlane_core::index::Candidates;

use common::{arg, cached_index, clustered, median, recall, Rng};

const EFS: [usize; 10] = [10, 16, 24, 32, 48, 64, 96, 128, 256, 512];

fn per_query(total: Duration, nq: usize) -> f64 {
    total.as_secs_f64() * 1e6 / nq as f64
}

fn main() {
    let (n, dims, nq) = (arg("n", 100_000), arg("dims", 384), arg("queries", 200));
    let target = arg("recall", 95) as f64 / 100.0;
    let all = clustered(42, n + nq, dims, 1_000);
    let (data, queries) = all.split_at(n * dims);
    let path = format!("/tmp/memlane-hnsw-bench-{n}-{dims}.idx");
    let index = cached_index(&path, data, dims);
    println!("n={n} dims={dims} queries={nq}, times are CPU us per query (median of 5)");
    println!(
        "{:>7} {:>6} | {:>9} {:>9} | {:>9} {:>4} {:>7}",
        "keys", "share", "list scan", "full scan", "graph", "ef", "recall"
    );
    let mut rng = Rng::new(7);
    let sizes = match arg("keys", 0) {
        0 => vec![
            100, 300, 1_000, 2_000, 4_000, 6_000, 8_000, 10_000, 12_000, 16_000, 32_000,
        ],
        c => vec![c],
    };
    for c in sizes {
        if c > n {
            break;
        }
        let mut keys: Vec<u32> = (0..n as u32).collect();
        for i in 0..c {
            let j = i + (rng.next_u64() % (n - i) as u64) as usize;
            keys.swap(i, j);
        }
        keys.truncate(c);
        let set: HashSet<u32> = keys.iter().copied().collect();
        let admits = |k: u32| set.contains(&k);
        let exact: Vec<Vec<u32>> = queries
            .chunks_exact(dims)
            .map(|q| {
                keys_of(
                    &index
                        .search_exact(q, 10, Candidates::Keys(&keys))
                        .expect("scan"),
                )
            })
            .collect();
        let list = median(5, || {
            for q in queries.chunks_exact(dims) {
                index
                    .search_exact(q, 10, Candidates::Keys(&keys))
                    .expect("scan");
            }
        });
        let full = median(5, || {
            for q in queries.chunks_exact(dims) {
                index
                    .search_exact(
                        q,
                        10,
                        Candidates::Filter {
                            admits: &admits,
                            estimate: c,
                        },
                    )
                    .expect("scan");
            }
        });
        let forced = Candidates::Filter {
            admits: &admits,
            estimate: n,
        };
        let mut chosen = (EFS[EFS.len() - 1], 0.0);
        for ef in EFS {
            let got: Vec<Vec<u32>> = queries
                .chunks_exact(dims)
                .map(|q| keys_of(&index.search_filtered(q, 10, ef, forced).expect("graph")))
                .collect();
            chosen = (ef, recall(&got, &exact));
            if chosen.1 >= target {
                break;
            }
        }
        let graph = median(5, || {
            for q in queries.chunks_exact(dims) {
                index
                    .search_filtered(q, 10, chosen.0, forced)
                    .expect("graph");
            }
        });
        println!(
            "{c:>7} {:>5.1}% | {:>9.1} {:>9.1} | {:>9.1} {:>4} {:>7.3}",
            100.0 * c as f64 / n as f64,
            per_query(list.1, nq),
            per_query(full.1, nq),
            per_query(graph.1, nq),
            chosen.0,
            chosen.1
        );
    }
}

fn keys_of(hits: &[memlane_core::index::Neighbour]) -> Vec<u32> {
    hits.iter().map(|h| h.key).collect()
}
