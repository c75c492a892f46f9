//! [`HnswIndex`]: the vector index the engine keeps next to SQLite (design decision 1:
//! SQLite is the truth, this is derived, rebuilt or loaded from a snapshot).
//!
//! Concurrency: every method takes `&self`. Searches run concurrently with each other
//! and with one mutation at a time (mutations serialise on an internal writer lock;
//! a batch insert is itself parallel). Locks, always taken in this order:
//! 1. `writer` (mutations only) - the free-slot list and the level counter;
//! 2. `graph` - read by searches and by inserts (which synchronise per node, see
//!    `graph.rs`), written only to grow the arrays or to recycle tombstoned slots;
//! 3. `keys` - the key -> slot map.

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::{
    Mutex, MutexGuard, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard,
};

use super::consolidate;
use super::distance::kernels;
use super::exact;
use super::graph::{Graph, SlotState};
use super::insert;
use super::keymap::KeyMap;
use super::level::draw_level;
use super::metric::{self, Metric};
use super::par::{for_each_chunk, resolve_threads};
use super::params::{HnswParams, MemoryUsage, Neighbour};
use super::planner::{plan, Candidates, Plan};
use super::scored::Scored;
use super::search::{knn, AdmitAll, AdmitKeys, AdmitLive};
use super::visited::ScratchPool;
use crate::error::{Error, Result};

/// Tombstones are consolidated (their slots repaired out of the graph and recycled)
/// once they exceed this share of the nodes...
pub const CONSOLIDATE_SHARE: f64 = 0.2;
/// ...and number at least this many (small indexes are not worth the pass).
pub const CONSOLIDATE_MIN: usize = 64;
/// The writer checks that every node is reachable (and relinks those that are not)
/// once the nodes inserted since the last check reach this share of the index: the
/// check is one walk of level 0, so its cost per insert stays constant.
pub const REACHABILITY_CHECK_SHARE: f64 = 0.05;
/// The writer's private state.
#[derive(Default)]
pub(crate) struct Writer {
    /// Recycled slots, reused (smallest first) before new ones.
    pub(crate) free: Vec<u32>,
    /// Levels drawn so far (the level generator's counter).
    pub(crate) draws: u64,
    /// Nodes inserted since the last reachability check.
    pub(crate) unchecked: usize,
}

/// An HNSW graph over `u32` keys, with exact scan for small scopes.
pub struct HnswIndex {
    pub(crate) params: HnswParams,
    pub(crate) graph: RwLock<Graph>,
    pub(crate) keys: RwLock<KeyMap>,
    pub(crate) writer: Mutex<Writer>,
    pub(crate) scratch: ScratchPool,
}

pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn lock<T>(l: &Mutex<T>) -> MutexGuard<'_, T> {
    l.lock().unwrap_or_else(PoisonError::into_inner)
}

impl HnswIndex {
    /// An empty index.
    pub fn new(params: HnswParams) -> Result<Self> {
        params.validate()?;
        let graph = Graph::new(params.dims, params.metric, params.m, *kernels());
        Ok(Self::from_parts(
            params,
            graph,
            KeyMap::default(),
            Writer::default(),
        ))
    }

    pub(crate) fn from_parts(
        params: HnswParams,
        graph: Graph,
        keys: KeyMap,
        writer: Writer,
    ) -> Self {
        HnswIndex {
            params,
            graph: RwLock::new(graph),
            keys: RwLock::new(keys),
            writer: Mutex::new(writer),
            scratch: ScratchPool::default(),
        }
    }

    /// The parameters the index was built with.
    pub fn params(&self) -> &HnswParams {
        &self.params
    }

    /// Live keys.
    pub fn len(&self) -> usize {
        read(&self.graph).live.load(Ordering::Acquire)
    }

    /// True if no key is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if `key` is live.
    pub fn contains(&self, key: u32) -> bool {
        read(&self.keys).contains_key(key)
    }

    /// Removed keys whose nodes are still in the graph (see [`HnswIndex::consolidate`]).
    pub fn tombstones(&self) -> usize {
        read(&self.graph).deleted.load(Ordering::Acquire)
    }

    /// Every key held, in no particular order.
    pub fn keys(&self) -> Vec<u32> {
        read(&self.keys).keys().collect()
    }

    /// The stored vector of `key` (unit length for cosine).
    pub fn vector(&self, key: u32) -> Option<Vec<f32>> {
        let g = read(&self.graph);
        let slot = read(&self.keys).get(key)?;
        Some(g.vector(slot).to_vec())
    }

    /// Inserts (or replaces) one vector under `key`.
    pub fn insert(&self, key: u32, vector: &[f32]) -> Result<()> {
        self.insert_batch(&[key], vector, 1)
    }

    /// Inserts (or replaces) `keys.len()` vectors, stored row after row in `vectors`,
    /// linking them on `threads` threads (0 = all cores). Every vector is checked
    /// before anything changes: on error the index is untouched. A key given twice
    /// takes its last vector. A replaced key is absent from searches for the short
    /// time between the removal of its old node and the linking of the new one.
    pub fn insert_batch(&self, keys: &[u32], vectors: &[f32], threads: usize) -> Result<()> {
        let dims = self.params.dims;
        if vectors.len() != keys.len() * dims {
            return Err(Error::invalid(format!(
                "{} keys need {} floats ({dims} per vector), got {}",
                keys.len(),
                keys.len() * dims,
                vectors.len()
            )));
        }
        let rows = self.prepare_rows(vectors)?;
        let order = last_occurrences(keys);
        if order.is_empty() {
            return Ok(());
        }
        let mut w = lock(&self.writer);
        self.tombstone(keys_at(keys, &order));
        // Reserve slots: recycled ones first.
        let mut next = read(&self.graph).used() as u64;
        let mut slots = Vec::with_capacity(order.len());
        for _ in &order {
            let s = match w.free.pop() {
                Some(s) => s,
                None => {
                    let s = u32::try_from(next)
                        .ok()
                        .filter(|&s| s < u32::MAX)
                        .ok_or_else(|| Error::invalid("the index is full (2^32 - 1 slots)"))?;
                    next += 1;
                    s
                }
            };
            slots.push(s);
        }
        if next as usize > read(&self.graph).capacity() {
            write(&self.graph).reserve(next as usize);
        }
        let levels: Vec<usize> = order
            .iter()
            .map(|_| {
                w.draws += 1;
                draw_level(self.params.seed, w.draws - 1, self.params.m)
            })
            .collect();
        let g = read(&self.graph);
        g.used.fetch_max(next as u32, Ordering::AcqRel);
        let add = |i: usize| {
            let row = order[i];
            // SAFETY: `slots[i]` was reserved above by this writer (fresh, or recycled
            // after its grace period) and is published only by `insert::link` below.
            unsafe {
                g.init_slot(
                    slots[i],
                    keys[row],
                    levels[i],
                    &rows[row * dims..(row + 1) * dims],
                );
            }
            insert::link(
                &g,
                slots[i],
                levels[i],
                self.params.ef_construction,
                &self.scratch,
            );
        };
        // The first node of an empty graph becomes the entry point on its own.
        let first = usize::from(g.entry().is_none());
        if first == 1 {
            add(0);
        }
        for_each_chunk(
            resolve_threads(threads),
            order.len() - first,
            4,
            |_, range| {
                for i in range {
                    add(i + first);
                }
            },
        );
        {
            let mut map = write(&self.keys);
            for (i, &row) in order.iter().enumerate() {
                map.insert(keys[row], slots[i]);
            }
        }
        let live = g.live.fetch_add(order.len(), Ordering::AcqRel) + order.len();
        w.unchecked += order.len();
        if w.unchecked as f64 >= REACHABILITY_CHECK_SHARE * live as f64 {
            consolidate::ensure_reachable(&g, self.params.ef_construction, &self.scratch);
            w.unchecked = 0;
        }
        drop(g);
        self.maybe_consolidate(&mut w);
        Ok(())
    }

    /// Removes `key`; false if it was not live. Its node stays in the graph as a
    /// tombstone until the next consolidation (automatic past [`CONSOLIDATE_SHARE`]).
    pub fn remove(&self, key: u32) -> bool {
        self.remove_batch(&[key]) == 1
    }

    /// Removes every live key of `keys`; returns how many were live.
    pub fn remove_batch(&self, keys: &[u32]) -> usize {
        let mut w = lock(&self.writer);
        let removed = self.tombstone(keys.iter().copied());
        self.maybe_consolidate(&mut w);
        removed
    }

    /// Marks the nodes of `keys` deleted and forgets their keys (writer lock held).
    fn tombstone(&self, keys: impl Iterator<Item = u32>) -> usize {
        let g = read(&self.graph);
        let mut map = write(&self.keys);
        let mut removed = 0;
        for key in keys {
            if let Some(slot) = map.remove(key) {
                g.set_state(slot, SlotState::Deleted);
                removed += 1;
            }
        }
        g.live.fetch_sub(removed, Ordering::AcqRel);
        g.deleted.fetch_add(removed, Ordering::AcqRel);
        removed
    }

    fn maybe_consolidate(&self, w: &mut Writer) {
        let (live, deleted) = {
            let g = read(&self.graph);
            (
                g.live.load(Ordering::Acquire),
                g.deleted.load(Ordering::Acquire),
            )
        };
        if deleted >= CONSOLIDATE_MIN
            && deleted as f64 >= CONSOLIDATE_SHARE * (live + deleted) as f64
        {
            self.consolidate_locked(w);
        }
    }

    /// Repairs every tombstone out of the graph and recycles its slot. Searches go on
    /// meanwhile (they pause only for the final recycling step); mutations wait.
    pub fn consolidate(&self) {
        let mut w = lock(&self.writer);
        self.consolidate_locked(&mut w);
    }

    fn consolidate_locked(&self, w: &mut Writer) {
        let deleted = {
            let g = read(&self.graph);
            consolidate::repair(
                &g,
                self.params.ef_construction,
                &self.scratch,
                resolve_threads(0),
            )
        };
        if deleted.is_empty() {
            return;
        }
        // The write lock waits for every search in flight: after it, no search can
        // hold a tombstoned slot, so recycling them is safe.
        let mut g = write(&self.graph);
        for &s in &deleted {
            g.recycle(s);
        }
        g.deleted.fetch_sub(deleted.len(), Ordering::AcqRel);
        w.free.extend(deleted);
        w.free.sort_unstable_by(|a, b| b.cmp(a));
    }

    /// The `k` best keys for `query` among all live keys; `ef = 0` uses the default.
    pub fn search(&self, query: &[f32], k: usize, ef: usize) -> Result<Vec<Neighbour>> {
        self.search_filtered(query, k, ef, Candidates::All)
    }

    /// The `k` best keys for `query` among `candidates`, best first. The planner picks
    /// an exact scan (exact results) or the graph (approximate) - see `planner.rs`.
    pub fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        candidates: Candidates<'_>,
    ) -> Result<Vec<Neighbour>> {
        let q = metric::prepare(self.params.metric, query, self.params.dims)?;
        let g = read(&self.graph);
        let plan = plan(candidates, g.live.load(Ordering::Acquire));
        Ok(self.run(&g, &plan, &q, k, ef))
    }

    /// The exact `k` best keys among `candidates`, by scanning (never the graph),
    /// whatever their number: a key list is scanned key by key, a filter or `All` by
    /// testing every live key. For callers that need exactness on large scopes too.
    pub fn search_exact(
        &self,
        query: &[f32],
        k: usize,
        candidates: Candidates<'_>,
    ) -> Result<Vec<Neighbour>> {
        let q = metric::prepare(self.params.metric, query, self.params.dims)?;
        let g = read(&self.graph);
        let plan = match candidates {
            Candidates::All => Plan::ScanAll(None),
            Candidates::Keys(keys) => Plan::ScanKeys(keys),
            Candidates::Filter { admits, .. } => Plan::ScanAll(Some(admits)),
        };
        Ok(self.run(&g, &plan, &q, k, 0))
    }

    /// [`HnswIndex::search_filtered`] for `queries.len() / dims` queries stored row after
    /// row, on `threads` threads (0 = all cores); one result list per query.
    pub fn search_batch(
        &self,
        queries: &[f32],
        k: usize,
        ef: usize,
        candidates: Candidates<'_>,
        threads: usize,
    ) -> Result<Vec<Vec<Neighbour>>> {
        let dims = self.params.dims;
        if !queries.len().is_multiple_of(dims) {
            return Err(Error::invalid(format!(
                "queries hold {} floats, not a multiple of {dims}",
                queries.len()
            )));
        }
        let rows = self.prepare_rows(queries)?;
        let nq = queries.len() / dims;
        let g = read(&self.graph);
        let plan = plan(candidates, g.live.load(Ordering::Acquire));
        let out: Vec<OnceLock<Vec<Neighbour>>> = (0..nq).map(|_| OnceLock::new()).collect();
        for_each_chunk(resolve_threads(threads), nq, 8, |_, range| {
            for i in range {
                let found = self.run(&g, &plan, &rows[i * dims..(i + 1) * dims], k, ef);
                let _ = out[i].set(found);
            }
        });
        Ok(out
            .into_iter()
            .map(|c| c.into_inner().unwrap_or_default())
            .collect())
    }

    /// Runs one planned search for a prepared query.
    pub(crate) fn run(
        &self,
        g: &Graph,
        plan: &Plan<'_>,
        q: &[f32],
        k: usize,
        ef: usize,
    ) -> Vec<Neighbour> {
        if k == 0 {
            return Vec::new();
        }
        let ef = if ef == 0 { self.params.ef_search } else { ef };
        let found: Vec<Scored> = match plan {
            Plan::ScanKeys(keys) => {
                let slots: Vec<u32> = {
                    let map = read(&self.keys);
                    keys.iter().filter_map(|&k| map.get(k)).collect()
                };
                exact::scan_slots(g, q, &slots, k)
            }
            Plan::ScanAll(admits) => exact::scan_all(g, q, k, *admits),
            Plan::Graph if g.deleted.load(Ordering::Acquire) == 0 => {
                knn(g, q, k, ef, &AdmitAll, &self.scratch)
            }
            Plan::Graph => knn(g, q, k, ef, &AdmitLive, &self.scratch),
            Plan::GraphFilter(admits) => knn(g, q, k, ef, &AdmitKeys(*admits), &self.scratch),
            Plan::GraphKeySet(set) => {
                let admits = |key: u32| set.contains(key);
                knn(g, q, k, ef, &AdmitKeys(&admits), &self.scratch)
            }
        };
        found
            .into_iter()
            .map(|s| Neighbour {
                key: g.key(s.slot),
                score: -s.dist,
            })
            .collect()
    }

    /// Checks every row of `flat` and returns them in stored form (unit length for
    /// cosine); borrows when nothing needs changing.
    fn prepare_rows<'a>(&self, flat: &'a [f32]) -> Result<Cow<'a, [f32]>> {
        let dims = self.params.dims;
        if let Some(pos) = flat.iter().position(|x| !x.is_finite()) {
            return Err(Error::invalid(format!(
                "vector {} holds a non-finite value ({}) at position {}",
                pos / dims,
                flat[pos],
                pos % dims
            )));
        }
        if self.params.metric != Metric::Cosine {
            return Ok(Cow::Borrowed(flat));
        }
        let mut out = Vec::with_capacity(flat.len());
        for (i, row) in flat.chunks_exact(dims).enumerate() {
            let unit = metric::prepare(self.params.metric, row, dims)
                .map_err(|e| Error::invalid(format!("vector {i}: {e}")))?;
            out.extend_from_slice(&unit);
        }
        Ok(Cow::Owned(out))
    }

    /// Bytes held and live vectors.
    pub fn memory_usage(&self) -> MemoryUsage {
        let g = read(&self.graph);
        let map = read(&self.keys);
        MemoryUsage {
            bytes: g.heap_bytes() + map.heap_bytes(),
            vectors: g.live.load(Ordering::Acquire),
        }
    }

    /// Live keys that a level-0 walk from the entry point does not reach (0 in a
    /// healthy graph). For tests and diagnostics: it walks the whole graph.
    pub fn unreachable(&self) -> usize {
        let g = read(&self.graph);
        let Some((ep, _)) = g.entry() else {
            return 0;
        };
        let used = g.used();
        let mut seen = vec![false; used];
        let mut stack = vec![ep];
        seen[ep as usize] = true;
        while let Some(s) = stack.pop() {
            for n in g.neighbours(s, 0) {
                if (n as usize) < used && !seen[n as usize] {
                    seen[n as usize] = true;
                    stack.push(n);
                }
            }
        }
        (0..used as u32)
            .filter(|&s| g.state(s) == SlotState::Live && !seen[s as usize])
            .count()
    }

    /// Relinks live nodes that the entry point cannot reach; returns how many. (The
    /// writer does this on its own every [`REACHABILITY_CHECK_SHARE`] of inserts.)
    pub fn reconnect(&self) -> usize {
        let mut w = lock(&self.writer);
        w.unchecked = 0;
        let g = read(&self.graph);
        consolidate::ensure_reachable(&g, self.params.ef_construction, &self.scratch)
    }
}

/// Positions of the last occurrence of each key, in first-seen order of those last
/// occurrences (a key given twice takes its last vector).
fn last_occurrences(keys: &[u32]) -> Vec<usize> {
    let mut last: KeyMap = KeyMap::default();
    for (i, &k) in keys.iter().enumerate() {
        last.insert(k, i as u32);
    }
    if last.len() == keys.len() {
        return (0..keys.len()).collect();
    }
    (0..keys.len())
        .filter(|&i| last.get(keys[i]) == Some(i as u32))
        .collect()
}

fn keys_at<'a>(keys: &'a [u32], order: &'a [usize]) -> impl Iterator<Item = u32> + 'a {
    order.iter().map(|&i| keys[i])
}
