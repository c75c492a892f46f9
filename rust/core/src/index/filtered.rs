//! Filtered graph search with two-hop expansion (ACORN-1: Patel et al., "ACORN:
//! Performant and Predicate-Agnostic Search Over Vector Embeddings and Structured
//! Data", SIGMOD 2024, section 5.2, applied to a plain HNSW graph).
//!
//! The hnswlib way of filtering (`search.rs`) scores every node it reaches and keeps
//! the rejected ones as stepping stones, so at 10 % selectivity it reads ten vectors
//! for each one it may return, and reading vectors is what a search spends its time on.
//! Here a rejected neighbour is never scored: the walk looks through it instead, at its
//! own neighbours, and scores only the admitted ones (up to `m0` per expansion). A
//! rejected node then costs one neighbour-list read instead of a vector read, and the
//! admitted nodes two hops away keep the admitted subgraph connected.
//!
//! Rejected nodes still route the walk (design decision 2: the filter applies *during*
//! traversal) but never enter the results. Only the entry node may be a rejected node
//! in the candidate queue (it is where the walk starts).

use std::cmp::Reverse;

use super::graph::Graph;
use super::scored::Scored;
use super::search::{descend, Admit};
use super::visited::{Scratch, ScratchPool};

/// Level-0 best-first search from `entry` that scores admitted nodes only, expanding
/// through rejected neighbours to their neighbours. `s.results` ends with the `ef` best.
fn search_level0<A: Admit>(
    g: &Graph,
    q: &[f32],
    entry: Scored,
    ef: usize,
    admit: &A,
    s: &mut Scratch,
) {
    let ef = ef.max(1);
    let cap = g.max_neighbours(0);
    s.visited.reset(g.capacity());
    s.candidates.clear();
    s.results.clear();
    s.visited.insert(entry.slot);
    s.candidates.push(Reverse(entry));
    if admit.admits(g, entry.slot) {
        s.results.push(entry);
    }
    let mut bound = f32::INFINITY;
    while let Some(Reverse(c)) = s.candidates.pop() {
        if c.dist > bound {
            break;
        }
        s.batch.clear();
        // `picked` doubles as the list of rejected neighbours to look through.
        s.pool.clear();
        for n in g.neighbours(c.slot, 0) {
            if s.batch.len() >= cap {
                break;
            }
            if admit.admits(g, n) {
                if s.visited.insert(n) {
                    g.prefetch_walk_row(n);
                    s.batch.push(n);
                }
            } else {
                s.pool.push(Scored::new(0.0, n));
            }
        }
        for i in 0..s.pool.len() {
            if s.batch.len() >= cap {
                break;
            }
            let bridge = s.pool[i].slot;
            for n in g.neighbours(bridge, 0) {
                if s.batch.len() >= cap {
                    break;
                }
                if admit.admits(g, n) && s.visited.insert(n) {
                    g.prefetch_walk_row(n);
                    s.batch.push(n);
                }
            }
        }
        for i in 0..s.batch.len() {
            let n = s.batch[i];
            let d = g.walk_distance(q, n);
            if d < bound {
                s.candidates.push(Reverse(Scored::new(d, n)));
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

/// The `k` nearest admitted nodes to `q`, closest first (exact distances), by the
/// two-hop filtered walk on level 0 after an unfiltered descent.
pub(crate) fn knn_filtered<A: Admit>(
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
    search_level0(g, q, cur, ef.max(k), admit, &mut s);
    let mut found: Vec<Scored> = s.results.drain().collect();
    if g.walks_half() {
        for f in &mut found {
            f.dist = g.distance_to(q, f.slot);
        }
    }
    found.sort_unstable();
    found.truncate(k);
    found
}
