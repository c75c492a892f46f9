//! Graph search: the greedy descent through the upper levels and the best-first
//! search of one level (Malkov & Yashunin 2018, arXiv:1603.09320, Algorithm 2,
//! SEARCH-LAYER; Algorithm 5, K-NN-SEARCH).
//!
//! Filtering happens during traversal (as in hnswlib's `isIdAllowed`): every reached
//! node is expanded, so the graph stays navigable through regions the filter rejects,
//! but only admitted nodes enter the result set. A filtered search therefore does not
//! stop until it holds `ef` admitted nodes (or runs out of graph); when the filter
//! admits very few nodes that means walking most of the graph, which is why the
//! planner (`planner.rs`) sends such queries to an exact scan instead.

use std::cmp::Reverse;

use super::graph::{Graph, SlotState};
use super::scored::Scored;
use super::visited::{Scratch, ScratchPool};

/// Which reached nodes may enter the result set.
pub(crate) trait Admit {
    fn admits(&self, g: &Graph, slot: u32) -> bool;
}

/// Every node (no tombstones, no filter): the check compiles away.
pub(crate) struct AdmitAll;

impl Admit for AdmitAll {
    #[inline(always)]
    fn admits(&self, _: &Graph, _: u32) -> bool {
        true
    }
}

/// Live nodes (skips tombstones).
pub(crate) struct AdmitLive;

impl Admit for AdmitLive {
    #[inline(always)]
    fn admits(&self, g: &Graph, slot: u32) -> bool {
        g.state(slot) == SlotState::Live
    }
}

/// Live nodes whose key passes a caller's predicate.
pub(crate) struct AdmitKeys<'a>(pub(crate) &'a (dyn Fn(u32) -> bool + Sync));

impl Admit for AdmitKeys<'_> {
    #[inline]
    fn admits(&self, g: &Graph, slot: u32) -> bool {
        g.state(slot) == SlotState::Live && (self.0)(g.key(slot))
    }
}

/// Greedy search with `ef = 1` from `cur` down through levels `from..=to` (from > to):
/// the zoom-in phase of Algorithm 5. Distances are walk distances.
pub(crate) fn descend(g: &Graph, q: &[f32], mut cur: Scored, from: usize, to: usize) -> Scored {
    for level in (to..=from).rev() {
        loop {
            let mut moved = false;
            for n in g.neighbours(cur.slot, level) {
                let d = g.walk_distance(q, n);
                if d < cur.dist {
                    cur = Scored::new(d, n);
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
    }
    cur
}

/// Algorithm 2: best-first search of `level` from `entry`, keeping the `ef` closest
/// admitted nodes in `s.results` (a max-heap, farthest on top). Distances are walk
/// distances (`Graph::walk_distance`).
///
/// Each expansion first collects the unvisited neighbours and prefetches their rows,
/// then computes the distances, so that the memory loads of one node's neighbours
/// overlap instead of each distance waiting for its own cache misses; the list of the
/// next node to expand is prefetched while the current batch is scored.
pub(crate) fn search_layer<A: Admit>(
    g: &Graph,
    q: &[f32],
    entry: Scored,
    level: usize,
    ef: usize,
    admit: &A,
    s: &mut Scratch,
) {
    let ef = ef.max(1);
    s.visited.reset(g.capacity());
    s.candidates.clear();
    s.results.clear();
    s.visited.insert(entry.slot);
    s.candidates.push(Reverse(entry));
    if admit.admits(g, entry.slot) {
        s.results.push(entry);
    }
    // The distance a node must beat to matter: infinite until `ef` results are held.
    let mut bound = f32::INFINITY;
    while let Some(Reverse(c)) = s.candidates.pop() {
        if c.dist > bound {
            break;
        }
        s.batch.clear();
        for n in g.neighbours(c.slot, level) {
            if s.visited.insert(n) {
                g.prefetch_walk_row(n);
                s.batch.push(n);
            }
        }
        for i in 0..s.batch.len() {
            let n = s.batch[i];
            let d = g.walk_distance(q, n);
            if d < bound {
                s.candidates.push(Reverse(Scored::new(d, n)));
                if admit.admits(g, n) {
                    s.results.push(Scored::new(d, n));
                    if s.results.len() > ef {
                        s.results.pop();
                    }
                    if s.results.len() >= ef {
                        bound = s.results.peek().map_or(f32::INFINITY, |w| w.dist);
                    }
                }
            }
        }
    }
}

/// Algorithm 5: the `k` nearest admitted nodes to `q`, closest first, searching level 0
/// with `max(ef, k)` candidates. When the walk used the `i8` codes, the candidates are
/// re-scored with the f32 rows, so the order and the distances returned are exact.
pub(crate) fn knn<A: Admit>(
    g: &Graph,
    q: &[f32],
    k: usize,
    ef: usize,
    admit: &A,
    pool: &ScratchPool,
) -> Vec<Scored> {
    let Some((ep, top)) = g.entry() else {
        return Vec::new();
    };
    let mut cur = Scored::new(g.walk_distance(q, ep), ep);
    if top > 0 {
        cur = descend(g, q, cur, top, 1);
    }
    let mut s = pool.get(g.capacity());
    search_layer(g, q, cur, 0, ef.max(k), admit, &mut s);
    let mut found: Vec<Scored> = s.results.drain().collect();
    if g.walks_codes() {
        for f in &mut found {
            f.dist = g.distance_to(q, f.slot);
        }
    }
    found.sort_unstable();
    found.truncate(k);
    found
}
