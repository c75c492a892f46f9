//! Per-search scratch space (visited set and heaps), pooled so that a search allocates
//! nothing in the steady state.
//!
//! The visited set is hnswlib's epoch trick: one `u16` tag per slot, and a search marks
//! a slot by writing the current epoch, so clearing the set between searches is one
//! increment instead of a `memset` of the whole array (a full clear happens once every
//! 65,535 searches, when the epoch wraps).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Mutex;

use super::scored::Scored;

/// A set of slots visited by one search.
pub(crate) struct VisitedSet {
    tags: Vec<u16>,
    epoch: u16,
}

impl VisitedSet {
    fn new() -> Self {
        VisitedSet {
            tags: Vec::new(),
            epoch: 0,
        }
    }

    /// Empties the set and makes room for slots `0..slots`.
    pub(crate) fn reset(&mut self, slots: usize) {
        if self.tags.len() < slots {
            self.tags.resize(slots, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.tags.fill(0);
            self.epoch = 1;
        }
    }

    /// Marks `slot`; true if it was not marked yet. Slots past the size given to
    /// `reset` count as already visited (never traversed), which can only happen for a
    /// slot published after the search started.
    #[inline]
    pub(crate) fn insert(&mut self, slot: u32) -> bool {
        match self.tags.get_mut(slot as usize) {
            Some(tag) if *tag != self.epoch => {
                *tag = self.epoch;
                true
            }
            _ => false,
        }
    }
}

/// Everything one search needs besides the graph.
pub(crate) struct Scratch {
    pub(crate) visited: VisitedSet,
    /// Frontier, closest first (min-heap).
    pub(crate) candidates: BinaryHeap<Reverse<Scored>>,
    /// Best admitted results so far, farthest on top (max-heap).
    pub(crate) results: BinaryHeap<Scored>,
    /// Unvisited neighbours of the node being expanded.
    pub(crate) batch: Vec<u32>,
    /// Neighbour-selection buffers.
    pub(crate) picked: Vec<Scored>,
    pub(crate) pool: Vec<Scored>,
}

impl Scratch {
    fn new() -> Self {
        Scratch {
            visited: VisitedSet::new(),
            candidates: BinaryHeap::new(),
            results: BinaryHeap::new(),
            batch: Vec::new(),
            picked: Vec::new(),
            pool: Vec::new(),
        }
    }
}

/// A pool of [`Scratch`] (hnswlib's `VisitedListPool`, generalised to the heaps).
#[derive(Default)]
pub(crate) struct ScratchPool {
    free: Mutex<Vec<Scratch>>,
}

impl ScratchPool {
    /// A scratch ready for a search over `slots` slots; back to the pool on drop.
    pub(crate) fn get(&self, slots: usize) -> PooledScratch<'_> {
        let taken = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let mut scratch = taken.unwrap_or_else(Scratch::new);
        scratch.visited.reset(slots);
        scratch.candidates.clear();
        scratch.results.clear();
        PooledScratch {
            pool: self,
            scratch: Some(scratch),
        }
    }
}

/// A [`Scratch`] on loan from a [`ScratchPool`].
pub(crate) struct PooledScratch<'a> {
    pool: &'a ScratchPool,
    scratch: Option<Scratch>,
}

impl std::ops::Deref for PooledScratch<'_> {
    type Target = Scratch;
    fn deref(&self) -> &Scratch {
        self.scratch.as_ref().expect("present until drop")
    }
}

impl std::ops::DerefMut for PooledScratch<'_> {
    fn deref_mut(&mut self) -> &mut Scratch {
        self.scratch.as_mut().expect("present until drop")
    }
}

impl Drop for PooledScratch<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.scratch.take() {
            let mut free = self
                .pool
                .free
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            free.push(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visited_set_resets_and_wraps() {
        let mut v = VisitedSet::new();
        v.reset(10);
        assert!(v.insert(3));
        assert!(!v.insert(3));
        assert!(!v.insert(10), "out of range counts as visited");
        for _ in 0..70_000 {
            v.reset(10);
            assert!(v.insert(3));
        }
    }

    #[test]
    fn pool_reuses_scratch() {
        let pool = ScratchPool::default();
        {
            let mut s = pool.get(5);
            s.batch.reserve(100);
        }
        let s = pool.get(5);
        assert!(s.batch.capacity() >= 100);
    }
}
