//! Exact search: a SIMD scan over a given set of slots, keeping the `k` best in a
//! bounded max-heap. This is the planner's path for small scopes (design decision 2:
//! one user's few hundred memories are scanned faster than a graph is walked, and the
//! answer is exact).
//!
//! A scan is bound by memory traffic (a 384-dimension row is 24 cache lines, and a
//! scope's rows are rarely in cache), so when the graph keeps `i8` codes the scan reads
//! those first (a quarter of the bytes) and bounds every exact distance from them; only
//! the rows whose lower bound could still beat the k-th best upper bound are read in
//! f32 and scored exactly. The bounds are rigorous (`Graph::distance_bounds`), so the
//! answer is the same as scoring every row: exact, not approximate.

use std::collections::BinaryHeap;

use super::graph::{Graph, SlotState};
use super::scored::Scored;

/// How far ahead of the distance computation the scan prefetches vectors.
const PREFETCH_AHEAD: usize = 4;
/// How many whole f32 rows ahead the bounded scan's second pass prefetches: its rows
/// are scattered (only the survivors), and a whole row is 24 lines at 384 dims, so a
/// short distance keeps the outstanding loads within what the core can track.
const ROW_PREFETCH_AHEAD: usize = 2;

/// The `k` smallest distances pushed so far.
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Scored>,
}

impl TopK {
    pub(crate) fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    /// Offers `s`; a slot already held is not taken twice (key lists may repeat keys).
    #[inline]
    pub(crate) fn push(&mut self, s: Scored) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            if !self.heap.iter().any(|h| h.slot == s.slot) {
                self.heap.push(s);
            }
        } else if self.heap.peek().is_some_and(|worst| s < *worst)
            && !self.heap.iter().any(|h| h.slot == s.slot)
        {
            if let Some(mut worst) = self.heap.peek_mut() {
                *worst = s;
            }
        }
    }

    /// The kept entries, closest first.
    pub(crate) fn into_sorted(self) -> Vec<Scored> {
        self.heap.into_sorted_vec()
    }
}

/// Rows below this count are scored directly: the two passes only pay off once most
/// rows can be skipped.
const BOUNDED_SCAN_MIN_ROWS: usize = 32;

/// The `k` slots of `slots` closest to `q`, closest first (live slots only).
pub(crate) fn scan_slots(g: &Graph, q: &[f32], slots: &[u32], k: usize) -> Vec<Scored> {
    if g.walks_codes() && slots.len() >= BOUNDED_SCAN_MIN_ROWS.max(2 * k) {
        let live: Vec<u32> = slots
            .iter()
            .copied()
            .filter(|&s| g.state(s) == SlotState::Live)
            .collect();
        return bounded_scan(g, q, k, &live);
    }
    let mut top = TopK::new(k);
    for &s in slots.iter().take(PREFETCH_AHEAD) {
        g.prefetch_vector(s);
    }
    for (i, &s) in slots.iter().enumerate() {
        if let Some(&ahead) = slots.get(i + PREFETCH_AHEAD) {
            g.prefetch_vector(ahead);
        }
        if g.state(s) == SlotState::Live {
            top.push(Scored::new(g.distance_to(q, s), s));
        }
    }
    top.into_sorted()
}

/// The `k` live slots closest to `q` among those whose key passes `admits` (all live
/// slots if `None`), by scanning every slot.
pub(crate) fn scan_all(
    g: &Graph,
    q: &[f32],
    k: usize,
    admits: Option<&(dyn Fn(u32) -> bool + Sync)>,
) -> Vec<Scored> {
    let eligible = (0..g.used() as u32)
        .filter(|&s| g.state(s) == SlotState::Live && admits.is_none_or(|f| f(g.key(s))));
    if g.walks_codes() {
        let eligible: Vec<u32> = eligible.collect();
        return bounded_scan(g, q, k, &eligible);
    }
    let mut top = TopK::new(k);
    for s in eligible {
        top.push(Scored::new(g.distance_to(q, s), s));
    }
    top.into_sorted()
}

/// The exact `k` closest of `slots` (live, eligible) in two passes: bounds from the
/// codes for every slot, then exact distances for the slots whose lower bound is at
/// most the k-th smallest upper bound (any other slot is beaten by at least `k` slots
/// for certain). Same answer as scoring every slot.
fn bounded_scan(g: &Graph, q: &[f32], k: usize, slots: &[u32]) -> Vec<Scored> {
    if k == 0 {
        return Vec::new();
    }
    let q_l1: f32 = q.iter().map(|x| x.abs()).sum();
    let mut lowers: Vec<(f32, u32)> = Vec::new();
    // The k smallest upper bounds (max-heap: the k-th smallest on top).
    let mut uppers: BinaryHeap<Scored> = BinaryHeap::with_capacity(k + 1);
    for &s in slots.iter().take(PREFETCH_AHEAD) {
        g.prefetch_walk_row(s);
    }
    for (i, &s) in slots.iter().enumerate() {
        if let Some(&next) = slots.get(i + PREFETCH_AHEAD) {
            g.prefetch_walk_row(next);
        }
        let (lo, hi) = g.distance_bounds(q, q_l1, s);
        // A repeated slot must not count twice among the k upper bounds.
        let held = |uppers: &BinaryHeap<Scored>| uppers.iter().any(|w| w.slot == s);
        if uppers.len() < k {
            if !held(&uppers) {
                uppers.push(Scored::new(hi, s));
            }
        } else if uppers.peek().is_some_and(|w| hi < w.dist) {
            if !held(&uppers) {
                if let Some(mut w) = uppers.peek_mut() {
                    *w = Scored::new(hi, s);
                }
            }
        } else if uppers.peek().is_some_and(|w| lo > w.dist) {
            continue; // already beaten for certain
        }
        lowers.push((lo, s));
    }
    let cut = if uppers.len() < k {
        f32::INFINITY
    } else {
        uppers.peek().map_or(f32::INFINITY, |w| w.dist)
    };
    let mut top = TopK::new(k);
    let survivors: Vec<u32> = lowers
        .into_iter()
        .filter(|&(lo, _)| lo <= cut)
        .map(|(_, s)| s)
        .collect();
    for &s in survivors.iter().take(ROW_PREFETCH_AHEAD) {
        g.prefetch_row(s);
    }
    for (i, &s) in survivors.iter().enumerate() {
        if let Some(&next) = survivors.get(i + ROW_PREFETCH_AHEAD) {
            g.prefetch_row(next);
        }
        top.push(Scored::new(g.distance_to(q, s), s));
    }
    top.into_sorted()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_keeps_the_smallest_once() {
        let mut t = TopK::new(3);
        for (d, s) in [
            (5.0, 1),
            (1.0, 2),
            (3.0, 3),
            (1.0, 2),
            (0.5, 4),
            (9.0, 5),
            (0.5, 4),
        ] {
            t.push(Scored::new(d, s));
        }
        let got: Vec<u32> = t.into_sorted().iter().map(|s| s.slot).collect();
        assert_eq!(got, vec![4, 2, 3]);
        let mut none = TopK::new(0);
        none.push(Scored::new(1.0, 1));
        assert!(none.into_sorted().is_empty());
    }
}
