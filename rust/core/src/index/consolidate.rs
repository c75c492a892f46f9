//! Delete consolidation: turns tombstones back into free slots without a rebuild.
//!
//! A removed key only marks its node deleted (a tombstone keeps routing searches, and is
//! never returned). Once tombstones pile up they waste memory and search time, so the
//! index consolidates them (FreshDiskANN, Singh et al. 2021, arXiv:2105.09613,
//! Algorithm 4): every live node that links to a tombstone `d` replaces that link with
//! `d`'s own live neighbours, re-pruned with the HNSW heuristic, so the paths that ran
//! through `d` survive. Then:
//! - the entry point moves to a live node of the highest level if it was deleted;
//! - a breadth-first walk of level 0 from the entry point finds live nodes that lost
//!   every incoming link, and relinks each like a fresh insert, forcing one incoming
//!   link if the heuristic dropped them all (so every live node stays reachable);
//! - the same walk also runs after inserts (see `hnsw.rs`): the heuristic's pruning of
//!   reverse links leaves about one node in a thousand with no incoming link on
//!   clustered data, unreachable by any search (hnswlib has the same defect);
//! - last, under the index's write lock (which waits out every in-flight search: the
//!   grace period), the tombstoned slots are recycled.

use super::graph::{Graph, SlotState};
use super::insert::add_reverse_link;
use super::par::for_each_chunk;
use super::scored::Scored;
use super::search::{descend, search_layer, AdmitLive};
use super::select::select_neighbours;
use super::visited::ScratchPool;

/// Tombstone neighbours' neighbours considered per repaired list, as a multiple of the
/// list's capacity (the closest are kept): bounds the heuristic's quadratic cost.
const CANDIDATE_FACTOR: usize = 3;
/// Reachability passes per repair.
const REACHABILITY_ROUNDS: usize = 3;

/// Purges tombstones from every live node's lists, fixes the entry point and
/// reconnects unreachable nodes. Returns the tombstoned slots, ready to recycle once no
/// search can hold them. Runs with the index's writer lock held (no concurrent insert).
pub(crate) fn repair(
    g: &Graph,
    ef_construction: usize,
    pool: &ScratchPool,
    threads: usize,
) -> Vec<u32> {
    let used = g.used();
    let dead: Vec<bool> = (0..used as u32)
        .map(|s| g.state(s) == SlotState::Deleted)
        .collect();
    let deleted: Vec<u32> = (0..used as u32).filter(|&s| dead[s as usize]).collect();
    if deleted.is_empty() {
        return deleted;
    }
    for_each_chunk(threads, used, 256, |_, range| {
        let mut bufs = Buffers::default();
        for s in range {
            let s = s as u32;
            if g.state(s) == SlotState::Live {
                for level in 0..=g.level(s) {
                    repair_list(g, s, level, &dead, &mut bufs);
                }
            }
        }
    });
    fix_entry(g);
    ensure_reachable(g, ef_construction, pool);
    deleted
}

/// Relinks unreachable live nodes until none is left (at most a few rounds: a forced
/// link can, rarely, orphan the node it evicts). Returns how many were relinked.
pub(crate) fn ensure_reachable(g: &Graph, ef_construction: usize, pool: &ScratchPool) -> usize {
    let dead: Vec<bool> = (0..g.used() as u32)
        .map(|s| g.state(s) == SlotState::Deleted)
        .collect();
    let mut total = 0;
    for _ in 0..REACHABILITY_ROUNDS {
        let relinked = reconnect_unreachable(g, &dead, ef_construction, pool);
        total += relinked;
        if relinked == 0 {
            break;
        }
    }
    total
}

#[derive(Default)]
struct Buffers {
    ids: Vec<u32>,
    candidates: Vec<u32>,
    scored: Vec<Scored>,
    picked: Vec<Scored>,
}

/// Replaces the tombstones in `slot`'s list on `level` by their live neighbours.
fn repair_list(g: &Graph, slot: u32, level: usize, dead: &[bool], b: &mut Buffers) {
    let is_dead = |n: u32| dead.get(n as usize).copied().unwrap_or(false);
    g.neighbours_into(slot, level, &mut b.ids);
    if !b.ids.iter().any(|&n| is_dead(n)) {
        return;
    }
    b.candidates.clear();
    for &n in &b.ids {
        if !is_dead(n) {
            b.candidates.push(n);
        } else {
            b.candidates.extend(
                g.neighbours(n, level)
                    .filter(|&nn| nn != slot && !is_dead(nn)),
            );
        }
    }
    b.candidates.sort_unstable();
    b.candidates.dedup();
    let cap = g.max_neighbours(level);
    if b.candidates.len() > cap {
        let v = g.vector(slot);
        b.scored.clear();
        b.scored.extend(
            b.candidates
                .iter()
                .map(|&n| Scored::new(g.walk_distance(v, n), n)),
        );
        b.scored.sort_unstable();
        b.scored.truncate(CANDIDATE_FACTOR * cap);
        select_neighbours(g, &b.scored, cap, &mut b.picked);
        b.candidates.clear();
        b.candidates.extend(b.picked.iter().map(|p| p.slot));
    }
    let _guard = g.lock(slot);
    g.set_neighbours(slot, level, &b.candidates);
}

/// Moves the entry point off a tombstone, to a live node of the highest level.
fn fix_entry(g: &Graph) {
    let _entry = g
        .entry_lock
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if g.entry()
        .is_some_and(|(s, _)| g.state(s) == SlotState::Live)
    {
        return;
    }
    let best = (0..g.used() as u32)
        .filter(|&s| g.state(s) == SlotState::Live)
        .max_by_key(|&s| (g.level(s), std::cmp::Reverse(s)));
    g.set_entry(best.map(|s| (s, g.level(s))));
}

/// Relinks every live node that a level-0 walk from the entry point cannot reach.
/// Returns how many were relinked.
fn reconnect_unreachable(
    g: &Graph,
    dead: &[bool],
    ef_construction: usize,
    pool: &ScratchPool,
) -> usize {
    let Some((ep, top)) = g.entry() else {
        return 0;
    };
    let used = g.used();
    let mut reached = vec![false; used];
    let mut stack = vec![ep];
    reached[ep as usize] = true;
    while let Some(s) = stack.pop() {
        for n in g.neighbours(s, 0) {
            let n_us = n as usize;
            if n_us < used && !reached[n_us] && !dead.get(n_us).copied().unwrap_or(false) {
                reached[n_us] = true;
                stack.push(n);
            }
        }
    }
    let mut relinked = 0;
    for s in 0..used as u32 {
        if g.state(s) != SlotState::Live || reached[s as usize] {
            continue;
        }
        relink(g, s, ep, top, ef_construction, pool);
        relinked += 1;
    }
    relinked
}

/// Links `slot` again on level 0 as an insert would, then makes sure at least one node
/// links to it.
fn relink(g: &Graph, slot: u32, ep: u32, top: usize, ef_construction: usize, pool: &ScratchPool) {
    let q = g.vector(slot);
    let mut cur = Scored::new(g.walk_distance(q, ep), ep);
    if top > 0 {
        cur = descend(g, q, cur, top, 1);
    }
    let mut s = pool.get(g.capacity());
    search_layer(g, q, cur, 0, ef_construction, &AdmitLive, &mut s);
    let mut found: Vec<Scored> = s.results.drain().filter(|c| c.slot != slot).collect();
    drop(s);
    found.sort_unstable();
    let mut picked = Vec::new();
    select_neighbours(g, &found, g.m, &mut picked);
    if g.neighbours(slot, 0).next().is_none() {
        let ids: Vec<u32> = picked.iter().map(|p| p.slot).collect();
        let _guard = g.lock(slot);
        g.set_neighbours(slot, 0, &ids);
    }
    let mut buf = Vec::new();
    for p in &picked {
        add_reverse_link(g, p.slot, Scored::new(p.dist, slot), 0, &mut buf);
    }
    let linked = picked
        .iter()
        .any(|p| g.neighbours(p.slot, 0).any(|n| n == slot));
    if let (false, Some(closest)) = (linked, picked.first()) {
        force_link(g, closest.slot, slot);
    }
}

/// Puts `new` into `target`'s level-0 list, evicting `target`'s farthest neighbour if
/// the list is full.
fn force_link(g: &Graph, target: u32, new: u32) {
    let _guard = g.lock(target);
    let mut ids = Vec::new();
    g.neighbours_into(target, 0, &mut ids);
    if ids.contains(&new) {
        return;
    }
    if ids.len() < g.max_neighbours(0) {
        ids.push(new);
    } else {
        let tv = g.vector(target);
        let farthest = ids
            .iter()
            .enumerate()
            .max_by(|a, b| {
                g.walk_distance(tv, *a.1)
                    .total_cmp(&g.walk_distance(tv, *b.1))
            })
            .map(|(i, _)| i);
        if let Some(i) = farthest {
            ids[i] = new;
        }
    }
    g.set_neighbours(target, 0, &ids);
}
