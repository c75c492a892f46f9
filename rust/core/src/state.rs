//! The in-memory view of the committed store: every memory, its unit-length vector in one
//! contiguous buffer (so a scan streams through memory), and a posting list per scope id
//! value so that a scoped query touches only that scope's rows.
//!
//! Only the writer thread mutates it, and only after the transaction that made the change
//! has committed; readers take the read lock and never see uncommitted data.

use std::collections::HashMap;
use std::sync::Arc;

use crate::index::HnswIndex;
use crate::keywords::KeywordIndex;
use crate::record::{Field, MemoryRecord};

/// Index of a memory's row in the slot table and of its vector in the buffer.
pub(crate) type Slot = u32;

const SCOPE_FIELDS: [Field; 3] = [Field::UserId, Field::AgentId, Field::RunId];

#[derive(Default)]
pub(crate) struct State {
    /// Vector length; 0 until the first vector is stored or the embedder tells.
    pub(crate) dims: usize,
    pub(crate) slots: Vec<Option<Arc<MemoryRecord>>>,
    /// `slots.len() * dims` floats; a free slot keeps stale floats until reused.
    pub(crate) vectors: Vec<f32>,
    free: Vec<Slot>,
    by_id: HashMap<String, Slot>,
    /// Slots of each (scope field, value), in insertion order.
    postings: HashMap<(Field, String), Vec<Slot>>,
    /// Analysed terms of each slot's text, for keyword scoring.
    pub(crate) keywords: KeywordIndex,
    /// Slot of each memory by rowid: the approximate index is keyed by rowid.
    by_seq: HashMap<i64, Slot>,
    /// The approximate index over every vector, for large stores (see `ann.rs`).
    pub(crate) index: Option<Arc<HnswIndex>>,
}

impl State {
    pub(crate) fn new(dims: usize) -> Self {
        State {
            dims,
            ..State::default()
        }
    }

    /// Makes room for `additional` more memories (so loading does not regrow the buffer).
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.slots.reserve(additional);
        self.vectors.reserve(additional * self.dims);
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Arc<MemoryRecord>> {
        self.by_id
            .get(id)
            .and_then(|&slot| self.slots[slot as usize].as_ref())
    }

    pub(crate) fn vector(&self, slot: Slot) -> &[f32] {
        let start = slot as usize * self.dims;
        &self.vectors[start..start + self.dims]
    }

    pub(crate) fn postings(&self, field: Field, value: &str) -> &[Slot] {
        // Allocating the key is cheaper than it looks next to a scan, and keeps the map simple.
        self.postings
            .get(&(field, value.to_owned()))
            .map_or(&[], Vec::as_slice)
    }

    /// Adds a memory with its unit vector (whose length must equal `dims`).
    pub(crate) fn insert(&mut self, record: Arc<MemoryRecord>, unit_vector: &[f32]) {
        if self.dims == 0 {
            self.dims = unit_vector.len();
        }
        debug_assert_eq!(unit_vector.len(), self.dims);
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                self.vectors.resize(self.slots.len() * self.dims, 0.0);
                (self.slots.len() - 1) as Slot
            }
        };
        let start = slot as usize * self.dims;
        self.vectors[start..start + self.dims].copy_from_slice(unit_vector);
        for field in SCOPE_FIELDS {
            if let Some(value) = record.field(field) {
                self.postings
                    .entry((field, value.to_owned()))
                    .or_default()
                    .push(slot);
            }
        }
        self.keywords.set(slot as usize, &record.memory);
        self.by_seq.insert(record.seq, slot);
        self.by_id.insert(record.id.clone(), slot);
        self.slots[slot as usize] = Some(record);
    }

    /// Replaces a memory's row (same id and scope) and, if given, its vector.
    pub(crate) fn replace(&mut self, record: Arc<MemoryRecord>, unit_vector: Option<&[f32]>) {
        let Some(&slot) = self.by_id.get(&record.id) else {
            return;
        };
        if let Some(v) = unit_vector {
            let start = slot as usize * self.dims;
            self.vectors[start..start + self.dims].copy_from_slice(v);
        }
        let text_changed = self.slots[slot as usize]
            .as_ref()
            .is_none_or(|old| old.memory != record.memory);
        if text_changed {
            self.keywords.set(slot as usize, &record.memory);
        }
        self.slots[slot as usize] = Some(record);
    }

    pub(crate) fn remove(&mut self, id: &str) -> Option<Arc<MemoryRecord>> {
        let slot = self.by_id.remove(id)?;
        let record = self.slots[slot as usize].take()?;
        for field in SCOPE_FIELDS {
            if let Some(value) = record.field(field) {
                let key = (field, value.to_owned());
                if let Some(list) = self.postings.get_mut(&key) {
                    // Keep insertion order: listing returns memories oldest first.
                    if let Some(pos) = list.iter().position(|&s| s == slot) {
                        list.remove(pos);
                    }
                    if list.is_empty() {
                        self.postings.remove(&key);
                    }
                }
            }
        }
        self.keywords.remove(slot as usize);
        self.by_seq.remove(&record.seq);
        self.free.push(slot);
        Some(record)
    }

    /// Empties everything, the approximate index included.
    pub(crate) fn clear(&mut self) {
        *self = State::new(self.dims);
    }

    /// Every occupied slot, in slot order.
    pub(crate) fn all_slots(&self) -> impl Iterator<Item = Slot> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_some())
            .map(|(i, _)| i as Slot)
    }

    /// The slot of the memory with this rowid.
    pub(crate) fn slot_of_seq(&self, seq: i64) -> Option<Slot> {
        self.by_seq.get(&seq).copied()
    }

    pub(crate) fn record(&self, slot: Slot) -> Option<&Arc<MemoryRecord>> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }
}
