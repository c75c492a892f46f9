//! The scope-aware planner (design decision 2): the caller says what it knows about the
//! admissible keys, the planner picks an exact scan or a filtered graph search.
//!
//! - a short list of keys (one user's memories) -> exact SIMD scan over just those
//!   vectors: exact results, and cheaper than walking the graph;
//! - a long list, or a predicate that admits a large share -> HNSW with the filter
//!   applied during traversal (`search.rs`);
//! - a predicate that admits a tiny share -> exact scan over every node, testing the
//!   predicate first: a filtered graph search would have to expand about
//!   `ef / selectivity` nodes before it holds `ef` admitted ones, more than the scan.
//!
//! The thresholds come from `benches/planner.rs` (see its numbers in the constants' docs
//! and in benches/README.md).

use super::keymap::KeySet;

/// What the caller knows about which keys a search may return.
#[derive(Clone, Copy)]
pub enum Candidates<'a> {
    /// Every live key.
    All,
    /// Only these keys (typically one scope's memories). Unknown or removed keys are
    /// skipped; repeated keys are returned once.
    Keys(&'a [u32]),
    /// Keys for which `admits(key)` is true; `estimate` is the caller's guess of how
    /// many live keys pass (it only steers the plan, results never depend on it).
    Filter {
        admits: &'a (dyn Fn(u32) -> bool + Sync),
        estimate: usize,
    },
}

impl std::fmt::Debug for Candidates<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Candidates::All => f.write_str("All"),
            Candidates::Keys(keys) => write!(f, "Keys({} keys)", keys.len()),
            Candidates::Filter { estimate, .. } => write!(f, "Filter(~{estimate})"),
        }
    }
}

/// A key list at most this long is scanned exactly, whatever the index size.
///
/// Measured (`cargo bench -p memlane-core --bench planner`, 100,000 x 384 clustered,
/// cosine, this machine): scanning a list costs about 45 ns per key, while the
/// filtered graph search at the ef that reaches recall@10 >= 0.95 costs at least
/// ~0.35 ms at 10 % selectivity and more below it; the two meet near 8,000 keys.
pub const EXACT_SCAN_MAX_KEYS: usize = 4096;

/// A key list or filter admitting at most this share of the live keys is searched
/// exactly (list scan, or full scan testing the filter): below it the filtered graph
/// search expands most of the graph anyway (same measurement as above).
pub const EXACT_SCAN_MAX_SHARE: f64 = 0.02;

/// The plan for one search (built once per batch of queries).
pub(crate) enum Plan<'a> {
    /// Exact scan over these keys.
    ScanKeys(&'a [u32]),
    /// Exact scan over every live node, with an optional key predicate.
    ScanAll(Option<&'a (dyn Fn(u32) -> bool + Sync)>),
    /// Graph search, no filter.
    Graph,
    /// Graph search, filtered by a caller's predicate.
    GraphFilter(&'a (dyn Fn(u32) -> bool + Sync)),
    /// Graph search, filtered by membership in a key list.
    GraphKeySet(KeySet),
}

/// Chooses the plan for `candidates` over an index of `live` keys.
pub(crate) fn plan<'a>(candidates: Candidates<'a>, live: usize) -> Plan<'a> {
    let small =
        |n: usize| n <= EXACT_SCAN_MAX_KEYS || (n as f64) <= EXACT_SCAN_MAX_SHARE * live as f64;
    match candidates {
        Candidates::All if live <= EXACT_SCAN_MAX_KEYS => Plan::ScanAll(None),
        Candidates::All => Plan::Graph,
        Candidates::Keys(keys) if small(keys.len()) => Plan::ScanKeys(keys),
        Candidates::Keys(keys) => Plan::GraphKeySet(KeySet::new(keys)),
        Candidates::Filter { admits, estimate }
            if live <= EXACT_SCAN_MAX_KEYS || small(estimate) =>
        {
            Plan::ScanAll(Some(admits))
        }
        Candidates::Filter { admits, .. } => Plan::GraphFilter(admits),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_follow_the_thresholds() {
        let keys: Vec<u32> = (0..10_000).collect();
        let yes = |_: u32| true;
        assert!(matches!(plan(Candidates::All, 100), Plan::ScanAll(None)));
        assert!(matches!(plan(Candidates::All, 100_000), Plan::Graph));
        assert!(matches!(
            plan(Candidates::Keys(&keys[..100]), 100_000),
            Plan::ScanKeys(_)
        ));
        assert!(matches!(
            plan(Candidates::Keys(&keys), 100_000),
            Plan::GraphKeySet(_)
        ));
        assert!(matches!(
            plan(Candidates::Keys(&keys), 1_000_000),
            Plan::ScanKeys(_)
        ));
        let f = Candidates::Filter {
            admits: &yes,
            estimate: 100,
        };
        assert!(matches!(plan(f, 100_000), Plan::ScanAll(Some(_))));
        let f = Candidates::Filter {
            admits: &yes,
            estimate: 50_000,
        };
        assert!(matches!(plan(f, 100_000), Plan::GraphFilter(_)));
    }
}
