//! Tests of the index as a whole, against brute force on seeded clustered data.
//!
//! Sizes are modest (5,000 x 64) so that the debug-build `cargo test` stays within a
//! few seconds; the Python tests and benches/ann_bench.py cover 100,000 x 384.

mod concurrency;
mod data;
mod deletes;
mod exact_scan;
mod filtered;
mod fixture;
mod persistence;
mod recall;
