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
//! The thresholds come from `benches/planner.rs` (its numbers are in the constants'
//! docs and in benches/README.md).

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
/// Measured with `cargo bench -p memlane-core --bench planner` (100,000 x 384
/// clustered unit vectors, random key subsets, CPU time per query, the filtered graph
/// at the lowest ef reaching recall@10 >= 0.95): the list scan (bounded by the `i8`
/// codes, see `exact.rs`) costs 6 us for 100 keys and about 33 ns per key beyond
/// (0.26 ms at 8,000, 0.33 ms at 10,000); the filtered graph costs 6.6 ms at 0.1 %
/// selectivity, 1.7 ms at 4 %, 0.66 ms at 8 %, then drops to 0.10 ms at 10 % (ef 10
/// suffices once admitted nodes are dense). The curves cross between 8,000 and 10,000
/// keys; below 8,192 the scan is cheaper at any share up to 8 % and exact.
pub const EXACT_SCAN_MAX_KEYS: usize = 8192;

/// A key list or filter admitting at most this share of the live keys is searched
/// exactly (list scan, or a full scan testing the filter on every key): in the same
/// measurement the full scan (about 8 ns per key tested plus the bounded distances)
/// costs 0.93 ms at 4 % against 1.7 ms for the filtered graph, and 1.2 ms at 6 %
/// against 0.86 ms; the two cross near 5 %.
pub const EXACT_SCAN_MAX_SHARE: f64 = 0.05;

/// An unfiltered search of an index with at most this many live keys scans them all:
/// exact, and about as fast as the graph walk at that size (`cargo bench -p memlane-core
/// --bench hnsw -- n=1000` and `n=2000`, code-bounded scans: a full scan costs 26 us at
/// 1,000 vectors and 53 us at 2,000, the graph walk 11-30 us at 1,000 to 2,000 nodes
/// depending on ef).
pub const EXACT_SCAN_MAX_INDEX: usize = 1024;

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
    let share = |n: usize| n as f64 / live.max(1) as f64;
    let small = |n: usize| n <= EXACT_SCAN_MAX_KEYS || share(n) <= EXACT_SCAN_MAX_SHARE;
    match candidates {
        Candidates::All if live <= EXACT_SCAN_MAX_INDEX => Plan::ScanAll(None),
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
        assert!(matches!(plan(Candidates::All, 5_000), Plan::Graph));
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
