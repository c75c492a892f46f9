//! Scoped search over a few large scopes (benches/ann_bench.py's "10 users x 10,000"
//! case, without Python): `users` contiguous key ranges, each query restricted to one
//! of them through a key list, which the planner sends to the filtered graph walk once
//! the list is longer than `EXACT_SCAN_MAX_KEYS`. Prints recall@10 against the exact
//! answer within the scope and CPU us per query for every ef in a fine sweep.
//!
//! Data: benches/support/precomputed.py's recipe (`spread=60` is its 0.6).
//!
//! `cargo bench -p memlane-core --bench scoped -- n=100000 users=10`

mod common;

use memlane_core::index::{Candidates, Neighbour};

use common::{arg, cached_index, median, mixture, recall};

fn keys_of(hits: &[Neighbour]) -> Vec<u32> {
    hits.iter().map(|h| h.key).collect()
}

fn main() {
    let (n, dims, nq) = (arg("n", 100_000), arg("dims", 384), arg("queries", 200));
    let users = arg("users", 10);
    let spread = arg("spread", 60) as f32 / 100.0;
    let all = mixture(42, n + nq, dims, 1_000, spread);
    let (data, queries) = all.split_at(n * dims);
    let path = format!("/tmp/memlane-scoped-bench-{n}-{dims}-{spread}.idx");
    let index = cached_index(&path, data, dims);
    let per_user = n / users;
    let scopes: Vec<Vec<u32>> = (0..users)
        .map(|u| ((u * per_user) as u32..((u + 1) * per_user) as u32).collect())
        .collect();
    // Query i is restricted to user i % users.
    let scope_of = |i: usize| scopes[i % users].as_slice();
    let exact: Vec<Vec<u32>> = queries
        .chunks_exact(dims)
        .enumerate()
        .map(|(i, q)| {
            keys_of(
                &index
                    .search_exact(q, 10, Candidates::Keys(scope_of(i)))
                    .expect("scan"),
            )
        })
        .collect();
    println!(
        "n={n} dims={dims} queries={nq} users={users} x {per_user}; CPU us per query, median of 5"
    );
    println!("{:>4} {:>7} {:>9}", "ef", "recall", "us/query");
    for ef in [10, 12, 14, 16, 18, 20, 24, 28, 32, 40, 48, 64] {
        let search = |i: usize, q: &[f32]| {
            index
                .search_filtered(q, 10, ef, Candidates::Keys(scope_of(i)))
                .expect("graph")
        };
        let got: Vec<Vec<u32>> = queries
            .chunks_exact(dims)
            .enumerate()
            .map(|(i, q)| keys_of(&search(i, q)))
            .collect();
        let r = recall(&got, &exact);
        let t = median(5, || {
            for (i, q) in queries.chunks_exact(dims).enumerate() {
                std::hint::black_box(search(i, q));
            }
        });
        println!(
            "{ef:>4} {r:>7.4} {:>9.1}",
            t.1.as_secs_f64() * 1e6 / nq as f64
        );
    }
}
