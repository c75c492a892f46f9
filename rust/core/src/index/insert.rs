//! Insertion: Malkov & Yashunin, Algorithm 1 (INSERT), safe to run on several threads at
//! once and concurrently with searches.
//!
//! A node is linked level by level from its top level down: search the level for its
//! `ef_construction` nearest (Algorithm 2), keep `m` of them with the heuristic
//! (Algorithm 4), then add the reverse link to each, shrinking a full list with the same
//! heuristic. Only one slot lock is held at a time (never two), so inserts cannot
//! deadlock; searches take no lock at all (see `graph.rs` for why that is sound).
//!
//! Known benign race (hnswlib has it too): if another insert adds a link to this node on
//! a level before this node has written its own list there, that link is overwritten.
//! The other node keeps its link *to* this node, so nothing becomes unreachable.

use super::graph::Graph;
use super::scored::Scored;
use super::search::{descend, search_layer, AdmitAll};
use super::select::select_neighbours;
use super::visited::{Scratch, ScratchPool};

/// Links `slot` (already initialised by `Graph::init_slot`, so its vector is complete)
/// into the graph with `level` as its top level.
pub(crate) fn link(g: &Graph, slot: u32, level: usize, ef_construction: usize, pool: &ScratchPool) {
    let q = g.vector(slot);
    let (ep, top) = loop {
        if let Some(e) = g.entry() {
            break e;
        }
        let _entry = g
            .entry_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if g.entry().is_none() {
            g.set_entry(Some((slot, level)));
            return;
        }
    };
    if ep == slot {
        return;
    }
    let mut cur = Scored::new(g.walk_distance(q, ep), ep);
    if top > level {
        cur = descend(g, q, cur, top, level + 1);
    }
    let mut s = pool.get(g.capacity());
    for lc in (0..=level.min(top)).rev() {
        // Tombstones are admitted as neighbours (they still route searches, as in
        // hnswlib); consolidation replaces them later.
        search_layer(g, q, cur, lc, ef_construction, &AdmitAll, &mut s);
        let Scratch {
            results,
            pool: found,
            picked,
            batch,
            ..
        } = &mut *s;
        found.clear();
        found.extend(results.drain().filter(|c| c.slot != slot));
        found.sort_unstable();
        if let Some(best) = found.first() {
            cur = *best;
        }
        select_neighbours(g, found, g.m, picked);
        batch.clear();
        batch.extend(picked.iter().map(|p| p.slot));
        {
            let _guard = g.lock(slot);
            g.set_neighbours(slot, lc, batch);
        }
        for p in picked.iter() {
            add_reverse_link(g, p.slot, Scored::new(p.dist, slot), lc, found);
        }
    }
    if level > top {
        let _entry = g
            .entry_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if g.entry().is_none_or(|(_, t)| level > t) {
            g.set_entry(Some((slot, level)));
        }
    }
}

/// Adds `new` (with its distance to `target`) to `target`'s list on `level`; if the
/// list is full, re-selects it with the heuristic over the old links plus `new`.
/// `buf` is scratch space.
pub(crate) fn add_reverse_link(
    g: &Graph,
    target: u32,
    new: Scored,
    level: usize,
    buf: &mut Vec<Scored>,
) {
    let _guard = g.lock(target);
    let mut ids: Vec<u32> = Vec::with_capacity(g.max_neighbours(level) + 1);
    g.neighbours_into(target, level, &mut ids);
    if ids.contains(&new.slot) {
        return;
    }
    let cap = g.max_neighbours(level);
    if ids.len() < cap {
        ids.push(new.slot);
        g.set_neighbours(target, level, &ids);
        return;
    }
    let tv = g.vector(target);
    buf.clear();
    buf.extend(ids.iter().map(|&n| Scored::new(g.walk_distance(tv, n), n)));
    buf.push(new);
    buf.sort_unstable();
    let mut picked = Vec::with_capacity(cap);
    select_neighbours(g, buf, cap, &mut picked);
    ids.clear();
    ids.extend(picked.iter().map(|p| p.slot));
    g.set_neighbours(target, level, &ids);
}
