//! The vector index: HNSW (Malkov & Yashunin, "Efficient and robust approximate nearest
//! neighbor search using Hierarchical Navigable Small World graphs", 2018,
//! arXiv:1603.09320) plus an exact scan, behind a scope-aware planner.
//!
//! SQLite stays the source of truth (design decision 1); this index is derived state
//! the engine keeps in memory, rebuilds from SQLite or loads from a snapshot. Keys are
//! the caller's `u32` ids (the engine's slot numbers).
//!
//! One concept per file:
//! - `distance/` — SIMD kernels with run-time CPU dispatch;
//! - `metric` — cosine / dot / L2, and what a score means;
//! - `graph` — the node store and its lock-free read protocol;
//! - `level`, `select`, `search`, `insert` — the paper's algorithms 1, 2, 4 and 5;
//! - `consolidate` — tombstone repair and slot recycling;
//! - `exact`, `planner` — exact scan and the choice between scan and graph;
//! - `hnsw` — [`HnswIndex`], the public API; `params` — its parameters and results;
//!   `persist/` — snapshots.

mod consolidate;
pub mod distance;
mod exact;
mod graph;
mod hnsw;
mod insert;
mod keymap;
mod level;
mod metric;
mod par;
mod params;
mod persist;
mod planner;
mod scored;
mod search;
mod select;
mod visited;

#[cfg(test)]
mod tests;

pub use distance::Kernels;
pub use hnsw::{HnswIndex, CONSOLIDATE_MIN, CONSOLIDATE_SHARE, REACHABILITY_CHECK_SHARE};
pub use metric::Metric;
pub use params::{HnswParams, MemoryUsage, Neighbour, MAX_DIMS, MAX_M};
pub use planner::{Candidates, EXACT_SCAN_MAX_INDEX, EXACT_SCAN_MAX_KEYS, EXACT_SCAN_MAX_SHARE};
