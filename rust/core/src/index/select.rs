//! Neighbour selection: the heuristic of Malkov & Yashunin (Algorithm 4,
//! SELECT-NEIGHBORS-HEURISTIC), without the optional candidate extension and without
//! keeping pruned connections, as hnswlib does.
//!
//! A candidate is kept only if it is closer to the base node than to every neighbour
//! already kept. On clustered data this spreads a node's links over the directions in
//! which its neighbours lie instead of spending all of them inside its own cluster,
//! which is what keeps the graph navigable between clusters (the paper's Fig. 2).

use super::graph::Graph;
use super::scored::Scored;

/// Picks at most `m` of `candidates` (sorted closest first; `dist` = distance to the
/// base node) into `out`.
pub(crate) fn select_neighbours(g: &Graph, candidates: &[Scored], m: usize, out: &mut Vec<Scored>) {
    out.clear();
    if candidates.len() <= m {
        // Nothing to prune: the heuristic can only drop candidates, and a node with
        // fewer links than it may hold gains nothing from dropping more.
        out.extend_from_slice(candidates);
        return;
    }
    for c in candidates {
        if out.len() >= m {
            break;
        }
        let vc = g.vector(c.slot);
        let diverse = out
            .iter()
            .all(|kept| g.walk_distance(vc, kept.slot) >= c.dist);
        if diverse {
            out.push(*c);
        }
    }
}
