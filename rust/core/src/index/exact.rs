//! Exact search: a SIMD scan over a given set of slots, keeping the `k` best in a
//! bounded max-heap. This is the planner's path for small scopes (design decision 2:
//! one user's few hundred memories are scanned faster than a graph is walked, and the
//! answer is exact).

use std::collections::BinaryHeap;

use super::graph::{Graph, SlotState};
use super::scored::Scored;

/// How far ahead of the distance computation the scan prefetches vectors.
const PREFETCH_AHEAD: usize = 4;

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

/// The `k` slots of `slots` closest to `q`, closest first (live slots only).
pub(crate) fn scan_slots(g: &Graph, q: &[f32], slots: &[u32], k: usize) -> Vec<Scored> {
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
    let mut top = TopK::new(k);
    for s in 0..g.used() as u32 {
        if g.state(s) != SlotState::Live {
            continue;
        }
        if admits.is_some_and(|f| !f(g.key(s))) {
            continue;
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
