//! HNSW build and search speed on seeded clustered data, in pure Rust (no Python
//! overhead): build time on 2 threads, then recall@10 and single-thread QPS per ef, and
//! 2-thread batch QPS.
//!
//! `cargo bench -p memlane-core --bench hnsw -- n=100000 dims=384 queries=1000`

mod common;

use std::time::Instant;

use memlane_core::index::{Candidates, HnswIndex, HnswParams, Metric};

use common::{arg, clustered, median, recall, truth};

fn main() {
    let (n, dims, nq) = (arg("n", 100_000), arg("dims", 384), arg("queries", 1_000));
    let threads = arg("threads", 2);
    let all = clustered(42, n + nq, dims, 1_000);
    let (data, queries) = all.split_at(n * dims);
    let t = Instant::now();
    // `truth=0` skips the brute-force oracle (recall then reads 0) when profiling.
    let exact = if arg("truth", 1) == 1 {
        truth(data, queries, dims, 10)
    } else {
        vec![Vec::new(); nq]
    };
    eprintln!("truth in {:.1?}", t.elapsed());

    // `snapshot=1` reuses /tmp/memlane-hnsw-bench-<n>-<dims>.idx across runs (to
    // profile searches without rebuilding).
    let path = format!("/tmp/memlane-hnsw-bench-{n}-{dims}.idx");
    let reuse = arg("snapshot", 0) == 1;
    let (t, c) = (Instant::now(), common::cpu_time());
    let index = match std::fs::File::open(&path) {
        Ok(f) if reuse => {
            HnswIndex::load(std::io::BufReader::new(f), Some(dims))
                .expect("load")
                .0
        }
        _ => {
            let index = HnswIndex::new(HnswParams::new(dims, Metric::Cosine)).expect("params");
            let keys: Vec<u32> = (0..n as u32).collect();
            index.insert_batch(&keys, data, threads).expect("insert");
            if reuse {
                let f = std::fs::File::create(&path).expect("create");
                index.save(std::io::BufWriter::new(f), 0).expect("save");
            }
            index
        }
    };
    println!(
        "build n={n} dims={dims} threads={threads}: {:.2?} wall, {:.2?} CPU, {:.0} bytes/vector, kernels {}",
        t.elapsed(),
        common::cpu_time() - c,
        index.memory_usage().per_vector(),
        memlane_core::index::distance::kernels().name()
    );
    let scan = median(3, || {
        for q in queries.chunks_exact(dims) {
            index.search_exact(q, 10, Candidates::All).expect("scan");
        }
    });
    println!(
        "exact scan of all {n}: {:.1} us CPU/query",
        scan.1.as_secs_f64() * 1e6 / nq as f64
    );
    let efs: Vec<usize> = match arg("ef", 0) {
        0 => vec![10, 16, 24, 32, 48, 64, 128],
        ef => vec![ef],
    };
    let passes = arg("passes", 3);
    for ef in efs {
        let mut got = Vec::new();
        let time = median(passes, || {
            got = queries
                .chunks_exact(dims)
                .map(|q| {
                    index
                        .search(q, 10, ef)
                        .expect("search")
                        .iter()
                        .map(|h| h.key)
                        .collect()
                })
                .collect();
        });
        let batch = median(passes, || {
            index
                .search_batch(queries, 10, ef, Candidates::All, threads)
                .expect("batch");
        });
        println!(
            "ef {ef:4}: recall@10 {:.4}  1-thread {:7.0} QPS ({:5.1} us CPU/query)  \
             {threads}-thread batch {:7.0} QPS ({:5.1} us CPU/query)",
            recall(&got, &exact),
            nq as f64 / time.0.as_secs_f64(),
            time.1.as_secs_f64() * 1e6 / nq as f64,
            nq as f64 / batch.0.as_secs_f64(),
            batch.1.as_secs_f64() * 1e6 / nq as f64,
        );
    }
}
