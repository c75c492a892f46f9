//! The node store of the HNSW graph: vectors, neighbour lists, keys, levels, states.
//!
//! Layout (structure of arrays, indexed by the internal slot id `u32`):
//! - `vectors`: one row per slot, padded to whole 64-byte lines and line-aligned, so a
//!   row never straddles more cache lines than it must and SIMD loads never split one;
//! - `links0`: level 0 lists inline, `1 + m0` words per slot (hnswlib's flat level-0
//!   block, which keeps the hot layer free of pointer chasing); word 0 holds the count
//!   and the slot's lock bit;
//! - `codes` + `scales`: on CPUs with SIMD code kernels, a second copy of each row as
//!   `i8` codes with one scale per row, which graph walks read instead (a quarter of
//!   the memory traffic; see `distance/int8.rs`); the f32 rows stay the reference for
//!   exact scans and for re-scoring the final candidates. The scales sit in their own
//!   small array (400 KB per 100,000 rows, cache-resident) so that a 384-dimension row
//!   of codes is exactly six lines;
//! - `upper`: for the few slots above level 0 (1/m of them), a pointer to one
//!   allocation holding `level` lists of `1 + m` words.
//!
//! Concurrency (readers search while one writer, internally parallel, inserts):
//! - a neighbour list is an array of atomics. Writers hold the slot's lock bit while they
//!   change it, write the ids first and publish the count last (Release); readers load
//!   the count (Acquire), then the ids. A reader may see a list mid-rewrite (a mix of
//!   old and new ids), which is harmless: every id ever stored is a slot whose vector is
//!   complete, which is all a search needs (hnswlib tolerates the same, with plain
//!   loads);
//! - a vector row is written once, by the thread that reserved its slot, *before* the
//!   slot's id is stored into any list or the entry point (Release). A reader only
//!   learns an id through those Acquire loads, so it never reads a row being written;
//! - a slot is recycled only after every list has been purged of it and a grace period
//!   has passed under `&mut Graph` (the index's write lock; see `consolidate.rs`);
//! - growing the arrays needs `&mut Graph` too.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::distance::{quantize, Kernels};
use super::metric::Metric;

/// Highest level a node can have. With the paper's `mL = 1/ln(m)` a level above 16 has
/// probability `m^-17`; the cap bounds allocations made from a snapshot.
pub(crate) const MAX_LEVEL: usize = 16;
/// The lock bit in word 0 of a slot's level-0 list.
const LOCK_BIT: u32 = 1 << 31;
/// The count bits of word 0 of a list.
const COUNT_MASK: u32 = !LOCK_BIT;
/// `entry` when the graph has no node.
const NO_ENTRY: u64 = u64::MAX;
/// Floats per 64-byte line.
const LINE_FLOATS: usize = 16;
/// Bytes per 64-byte line.
const LINE_BYTES: usize = 64;

/// The state of a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum SlotState {
    /// Never used, or recycled: not in the graph.
    Free = 0,
    /// In the graph and returned by searches.
    Live = 1,
    /// Tombstone: still in the graph (it routes searches) but never returned.
    Deleted = 2,
}

impl SlotState {
    pub(crate) fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(SlotState::Free),
            1 => Some(SlotState::Live),
            2 => Some(SlotState::Deleted),
            _ => None,
        }
    }
}

/// One 64-byte line of a vector row.
#[repr(C, align(64))]
struct Line(UnsafeCell<[f32; LINE_FLOATS]>);

impl Line {
    fn zero() -> Self {
        Line(UnsafeCell::new([0.0; LINE_FLOATS]))
    }
}

/// The graph's arrays. See the module docs for the concurrency rules.
pub(crate) struct Graph {
    pub(crate) dims: usize,
    pub(crate) metric: Metric,
    pub(crate) kernels: Kernels,
    /// Maximum neighbours per node on levels >= 1.
    pub(crate) m: usize,
    /// Maximum neighbours per node on level 0 (2m, as in the paper and hnswlib).
    pub(crate) m0: usize,
    row_lines: usize,
    vectors: Vec<Line>,
    /// Lines per row of codes (0 when the graph walks the f32 rows).
    code_lines: usize,
    codes: Vec<Line>,
    /// The scale of each row of codes, as f32 bits (written before the slot is
    /// published, like the rows).
    scales: Vec<AtomicU32>,
    links0: Vec<AtomicU32>,
    upper: Vec<AtomicPtr<AtomicU32>>,
    levels: Vec<AtomicU8>,
    states: Vec<AtomicU8>,
    keys: Vec<AtomicU32>,
    /// `(level << 32) | slot` of the entry point, or `NO_ENTRY`.
    entry: AtomicU64,
    /// Serialises entry point changes.
    pub(crate) entry_lock: Mutex<()>,
    /// One past the highest slot ever handed out.
    pub(crate) used: AtomicU32,
    pub(crate) live: AtomicUsize,
    pub(crate) deleted: AtomicUsize,
}

// SAFETY: every field but `vectors` and `codes` is Sync. Their rows are written only through
// `write_row`, whose contract (exclusive, unpublished slot) rules out a concurrent read
// of the same row; distinct rows are distinct memory.
unsafe impl Sync for Graph {}

impl Drop for Graph {
    fn drop(&mut self) {
        for slot in 0..self.upper.len() {
            self.free_upper(slot as u32);
        }
    }
}

impl Graph {
    /// An empty graph (no slots). `m >= 2`, `dims >= 1` are checked by the caller.
    pub(crate) fn new(dims: usize, metric: Metric, m: usize, kernels: Kernels) -> Self {
        Graph {
            dims,
            metric,
            kernels,
            m,
            m0: 2 * m,
            row_lines: dims.div_ceil(LINE_FLOATS),
            vectors: Vec::new(),
            code_lines: if kernels.has_codes() {
                dims.div_ceil(LINE_BYTES)
            } else {
                0
            },
            codes: Vec::new(),
            scales: Vec::new(),
            links0: Vec::new(),
            upper: Vec::new(),
            levels: Vec::new(),
            states: Vec::new(),
            keys: Vec::new(),
            entry: AtomicU64::new(NO_ENTRY),
            entry_lock: Mutex::new(()),
            used: AtomicU32::new(0),
            live: AtomicUsize::new(0),
            deleted: AtomicUsize::new(0),
        }
    }

    /// Number of slots allocated.
    pub(crate) fn capacity(&self) -> usize {
        self.keys.len()
    }

    /// Grows the arrays to hold at least `slots` slots (amortised doubling).
    pub(crate) fn reserve(&mut self, slots: usize) {
        if slots > self.capacity() {
            self.grow_to(slots.max(self.capacity() * 2).max(64));
        }
    }

    /// Grows the arrays to exactly `slots` slots, reporting an allocation failure
    /// instead of aborting (for sizes read from a snapshot).
    pub(crate) fn try_reserve(
        &mut self,
        slots: usize,
    ) -> Result<(), std::collections::TryReserveError> {
        if slots <= self.capacity() {
            return Ok(());
        }
        let extra = slots - self.capacity();
        self.vectors
            .try_reserve_exact(extra.saturating_mul(self.row_lines))?;
        self.codes
            .try_reserve_exact(extra.saturating_mul(self.code_lines))?;
        if self.code_lines > 0 {
            self.scales.try_reserve_exact(extra)?;
        }
        self.links0
            .try_reserve_exact(extra.saturating_mul(1 + self.m0))?;
        self.upper.try_reserve_exact(extra)?;
        self.levels.try_reserve_exact(extra)?;
        self.states.try_reserve_exact(extra)?;
        self.keys.try_reserve_exact(extra)?;
        self.grow_to(slots);
        Ok(())
    }

    fn grow_to(&mut self, new_cap: usize) {
        self.vectors
            .resize_with(new_cap * self.row_lines, Line::zero);
        self.codes
            .resize_with(new_cap * self.code_lines, Line::zero);
        if self.code_lines > 0 {
            self.scales.resize_with(new_cap, || AtomicU32::new(0));
        }
        self.links0
            .resize_with(new_cap * (1 + self.m0), || AtomicU32::new(0));
        self.upper
            .resize_with(new_cap, || AtomicPtr::new(std::ptr::null_mut()));
        self.levels.resize_with(new_cap, || AtomicU8::new(0));
        self.states.resize_with(new_cap, || AtomicU8::new(0));
        self.keys.resize_with(new_cap, || AtomicU32::new(0));
    }

    /// Bytes held by the arrays and the upper-level lists.
    pub(crate) fn heap_bytes(&self) -> usize {
        let upper_words: usize = (0..self.used())
            .map(|s| self.level(s as u32) * (1 + self.m))
            .sum();
        (self.vectors.capacity() + self.codes.capacity()) * size_of::<Line>()
            + self.scales.capacity() * 4
            + (self.links0.capacity() + upper_words) * 4
            + self.upper.capacity() * size_of::<AtomicPtr<AtomicU32>>()
            + self.levels.capacity()
            + self.states.capacity()
            + self.keys.capacity() * 4
    }

    /// One past the highest slot handed out.
    #[inline]
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire) as usize
    }

    // ----- vectors -----

    /// The vector of `slot`. Only call for slots learnt from a list, the entry point or
    /// the key map (all published), or under `&mut self`.
    #[inline]
    pub(crate) fn vector(&self, slot: u32) -> &[f32] {
        let line = &self.vectors[slot as usize * self.row_lines];
        // SAFETY: the row is `row_lines` whole lines inside `vectors` (checked by the
        // index above plus the fixed row size) holding `dims <= 16 * row_lines` floats;
        // the row is not being written (module docs: published rows are immutable).
        unsafe { std::slice::from_raw_parts(line.0.get().cast::<f32>(), self.dims) }
    }

    /// Writes the vector of `slot`.
    ///
    /// # Safety
    /// The caller must own `slot` exclusively: reserved for it and not yet published
    /// (not in any list, not the entry point, not in the key map), so that no thread
    /// reads the row concurrently.
    pub(crate) unsafe fn write_row(&self, slot: u32, v: &[f32]) {
        let line = &self.vectors[slot as usize * self.row_lines];
        let n = v.len().min(self.dims);
        // SAFETY: in bounds as in `vector`; exclusive by the caller's contract.
        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), line.0.get().cast::<f32>(), n) };
        if self.code_lines > 0 {
            let line = &self.codes[slot as usize * self.code_lines];
            // SAFETY: `n <= dims <= 64 * code_lines` bytes inside this slot's row of
            // codes; exclusive by the caller's contract.
            let dst = unsafe { std::slice::from_raw_parts_mut(line.0.get().cast::<i8>(), n) };
            let scale = quantize(&v[..n], dst);
            self.scales[slot as usize].store(scale.to_bits(), Ordering::Relaxed);
        }
    }

    /// The codes and scale of `slot` (only when the graph has codes). Same rules as
    /// [`Graph::vector`].
    #[inline]
    fn code_row(&self, slot: u32) -> (&[i8], f32) {
        let line = &self.codes[slot as usize * self.code_lines];
        // SAFETY: as in `vector`: `dims <= 64 * code_lines` bytes of this slot's row,
        // which is immutable once published.
        let codes = unsafe { std::slice::from_raw_parts(line.0.get().cast::<i8>(), self.dims) };
        let scale = f32::from_bits(self.scales[slot as usize].load(Ordering::Relaxed));
        (codes, scale)
    }

    /// The distance a graph walk uses between `q` (stored form) and `slot`: from the
    /// codes when there are some, else exact.
    #[inline]
    pub(crate) fn walk_distance(&self, q: &[f32], slot: u32) -> f32 {
        if self.code_lines == 0 {
            return self.distance_to(q, slot);
        }
        let (codes, scale) = self.code_row(slot);
        match self.metric {
            Metric::L2 => self.kernels.l2_codes(q, codes, scale),
            Metric::Cosine | Metric::Dot => -self.kernels.dot_codes(q, codes, scale),
        }
    }

    /// Bounds `(lo, hi)` on the exact distance `distance_to(q, slot)`, from the codes
    /// alone (only when the graph has codes; `q_l1` is the L1 norm of `q`).
    ///
    /// A code reconstructs each component within half a step (`scale / 2`), so
    /// `|q.x - scale * q.c| <= scale / 2 * |q|_1`, and for L2, by the triangle
    /// inequality, `| |q - x| - |q - scale * c| | <= scale / 2 * sqrt(dims)`. Both are
    /// widened by the worst-case f32 rounding of the two kernels' sums (about
    /// `dims * EPSILON` relative), so the bounds hold for the computed exact distance,
    /// not just the real one.
    #[inline]
    pub(crate) fn distance_bounds(&self, q: &[f32], q_l1: f32, slot: u32) -> (f32, f32) {
        let (codes, scale) = self.code_row(slot);
        let rounding = 2.0 * self.dims as f32 * f32::EPSILON;
        match self.metric {
            Metric::Cosine | Metric::Dot => {
                let approx = -self.kernels.dot_codes(q, codes, scale);
                let err = scale * q_l1 * (0.5 + 127.0 * rounding) + f32::MIN_POSITIVE;
                (approx - err, approx + err)
            }
            Metric::L2 => {
                let r = self.kernels.l2_codes(q, codes, scale).sqrt();
                let delta = scale * 0.5 * (self.dims as f32).sqrt();
                let lo = (r - delta).max(0.0);
                let hi = r + delta;
                (
                    lo * lo * (1.0 - rounding),
                    hi * hi * (1.0 + rounding) + f32::MIN_POSITIVE,
                )
            }
        }
    }

    /// True if walks use approximate distances (the codes), so that results must be
    /// re-scored with [`Graph::distance_to`].
    #[inline]
    pub(crate) fn walks_codes(&self) -> bool {
        self.code_lines > 0
    }

    /// Hints the CPU to load the row a walk reads for `slot`, every line of it.
    #[inline]
    pub(crate) fn prefetch_walk_row(&self, slot: u32) {
        let (rows, lines) = if self.code_lines > 0 {
            (&self.codes, self.code_lines)
        } else {
            (&self.vectors, self.row_lines)
        };
        let start = slot as usize * lines;
        if let Some(row) = rows.get(start..start + lines) {
            for line in row {
                prefetch(line.0.get().cast::<i8>().cast_const());
            }
        }
    }

    /// Hints the CPU to load every line of `slot`'s f32 vector (for rows read at
    /// random, where the hardware prefetcher cannot guess the next one).
    #[inline]
    pub(crate) fn prefetch_row(&self, slot: u32) {
        let start = slot as usize * self.row_lines;
        if let Some(row) = self.vectors.get(start..start + self.row_lines) {
            for line in row {
                prefetch(line.0.get().cast::<i8>().cast_const());
            }
        }
    }

    /// Hints the CPU to start loading the first lines of `slot`'s vector.
    #[inline]
    pub(crate) fn prefetch_vector(&self, slot: u32) {
        if let Some(line) = self.vectors.get(slot as usize * self.row_lines) {
            let p = line.0.get().cast::<i8>().cast_const();
            prefetch(p);
            if self.row_lines > 1 {
                prefetch(p.wrapping_add(64));
            }
        }
    }

    /// Distance between a query (already in stored form) and `slot`.
    #[inline]
    pub(crate) fn distance_to(&self, q: &[f32], slot: u32) -> f32 {
        self.distance(q, self.vector(slot))
    }

    /// Distance between two stored-form vectors (lower is closer).
    #[inline]
    pub(crate) fn distance(&self, a: &[f32], b: &[f32]) -> f32 {
        match self.metric {
            Metric::L2 => self.kernels.l2_squared(a, b),
            Metric::Cosine | Metric::Dot => -self.kernels.dot(a, b),
        }
    }

    // ----- per-slot scalars -----

    #[inline]
    pub(crate) fn key(&self, slot: u32) -> u32 {
        self.keys[slot as usize].load(Ordering::Acquire)
    }

    #[inline]
    pub(crate) fn level(&self, slot: u32) -> usize {
        usize::from(self.levels[slot as usize].load(Ordering::Acquire))
    }

    #[inline]
    pub(crate) fn state(&self, slot: u32) -> SlotState {
        SlotState::from_u8(self.states[slot as usize].load(Ordering::Acquire))
            .unwrap_or(SlotState::Free)
    }

    pub(crate) fn set_state(&self, slot: u32, state: SlotState) {
        self.states[slot as usize].store(state as u8, Ordering::Release);
    }

    /// Prepares a reserved slot: vector, key, level and empty lists.
    ///
    /// # Safety
    /// As for [`Graph::write_row`]: `slot` is reserved by the caller and unpublished.
    pub(crate) unsafe fn init_slot(&self, slot: u32, key: u32, level: usize, v: &[f32]) {
        let level = level.min(MAX_LEVEL);
        // SAFETY: forwarded contract.
        unsafe { self.write_row(slot, v) };
        self.keys[slot as usize].store(key, Ordering::Release);
        self.links0[slot as usize * (1 + self.m0)].store(0, Ordering::Release);
        let old = self.upper[slot as usize].swap(std::ptr::null_mut(), Ordering::AcqRel);
        debug_assert!(old.is_null(), "a recycled slot keeps no upper lists");
        if level > 0 {
            let words: Box<[AtomicU32]> = (0..level * (1 + self.m))
                .map(|_| AtomicU32::new(0))
                .collect();
            let ptr = Box::into_raw(words).cast::<AtomicU32>();
            self.upper[slot as usize].store(ptr, Ordering::Release);
        }
        self.levels[slot as usize].store(level as u8, Ordering::Release);
        self.set_state(slot, SlotState::Live);
    }

    /// Frees the upper lists of `slot` (only with exclusive access to the graph, or from
    /// `Drop`).
    fn free_upper(&mut self, slot: u32) {
        let level = self.level(slot);
        let ptr = self.upper[slot as usize].swap(std::ptr::null_mut(), Ordering::AcqRel);
        if !ptr.is_null() {
            let len = level * (1 + self.m);
            // SAFETY: `ptr` came from `Box::into_raw` of a `[AtomicU32]` of exactly
            // `level * (1 + m)` words in `init_slot` (the level is never changed while
            // the pointer is set), and `&mut self` means nobody else holds it.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) });
        }
    }

    /// Returns `slot` to the free state (exclusive access: no reader can hold it).
    pub(crate) fn recycle(&mut self, slot: u32) {
        self.free_upper(slot);
        self.levels[slot as usize].store(0, Ordering::Release);
        self.links0[slot as usize * (1 + self.m0)].store(0, Ordering::Release);
        self.set_state(slot, SlotState::Free);
    }

    // ----- neighbour lists -----

    /// The words of `slot`'s list on `level` (word 0 = count [+ lock bit]), or an empty
    /// slice if the slot has no such level.
    #[inline]
    fn list_words(&self, slot: u32, level: usize) -> &[AtomicU32] {
        if level == 0 {
            let start = slot as usize * (1 + self.m0);
            return &self.links0[start..start + 1 + self.m0];
        }
        let have = self.level(slot);
        let ptr = self.upper[slot as usize].load(Ordering::Acquire);
        if level > have || ptr.is_null() {
            return &[];
        }
        let stride = 1 + self.m;
        // SAFETY: a non-null `upper` pointer owns `have * stride` words (see
        // `init_slot`), freed only under `&mut self`; `level - 1 < have`.
        unsafe { std::slice::from_raw_parts(ptr.add((level - 1) * stride), stride) }
    }

    /// The neighbours of `slot` on `level` (a snapshot read of the list).
    #[inline]
    pub(crate) fn neighbours(&self, slot: u32, level: usize) -> impl Iterator<Item = u32> + '_ {
        let words = self.list_words(slot, level);
        let count = match words.first() {
            Some(w) => ((w.load(Ordering::Acquire) & COUNT_MASK) as usize).min(words.len() - 1),
            None => 0,
        };
        words
            .get(1..1 + count)
            .unwrap_or(&[])
            .iter()
            .map(|w| w.load(Ordering::Acquire))
    }

    /// Copies the neighbours of `slot` on `level` into `out` (cleared first).
    #[inline]
    pub(crate) fn neighbours_into(&self, slot: u32, level: usize, out: &mut Vec<u32>) {
        out.clear();
        out.extend(self.neighbours(slot, level));
    }

    /// Replaces the list of `slot` on `level` with `ids` (truncated to the level's
    /// capacity). The caller holds `slot`'s lock.
    pub(crate) fn set_neighbours(&self, slot: u32, level: usize, ids: &[u32]) {
        let words = self.list_words(slot, level);
        let Some((head, body)) = words.split_first() else {
            return;
        };
        let n = ids.len().min(body.len());
        for (w, &id) in body.iter().zip(&ids[..n]) {
            w.store(id, Ordering::Release);
        }
        let lock = if level == 0 { LOCK_BIT } else { 0 };
        head.store(n as u32 | lock, Ordering::Release);
    }

    /// Maximum list length on `level`.
    #[inline]
    pub(crate) fn max_neighbours(&self, level: usize) -> usize {
        if level == 0 {
            self.m0
        } else {
            self.m
        }
    }

    /// Takes `slot`'s lock (a spin lock in word 0 of its level-0 list). Contention is
    /// rare (two inserts touching one node at once), so spinning briefly then yielding
    /// beats a parked mutex and costs no extra memory.
    pub(crate) fn lock(&self, slot: u32) -> SlotGuard<'_> {
        let word = &self.links0[slot as usize * (1 + self.m0)];
        let mut spins = 0u32;
        loop {
            let cur = word.load(Ordering::Relaxed);
            if cur & LOCK_BIT == 0
                && word
                    .compare_exchange_weak(
                        cur,
                        cur | LOCK_BIT,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    )
                    .is_ok()
            {
                return SlotGuard { word };
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    // ----- entry point -----

    /// `(slot, level)` of the entry point, if the graph has a node.
    #[inline]
    pub(crate) fn entry(&self) -> Option<(u32, usize)> {
        let e = self.entry.load(Ordering::Acquire);
        (e != NO_ENTRY).then_some((e as u32, (e >> 32) as usize))
    }

    /// Sets the entry point (the caller holds `entry_lock` or `&mut self`).
    pub(crate) fn set_entry(&self, entry: Option<(u32, usize)>) {
        let e = entry.map_or(NO_ENTRY, |(slot, level)| {
            ((level as u64) << 32) | u64::from(slot)
        });
        self.entry.store(e, Ordering::Release);
    }
}

/// Holds a slot's lock; releases it on drop.
pub(crate) struct SlotGuard<'a> {
    word: &'a AtomicU32,
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        self.word.fetch_and(COUNT_MASK, Ordering::Release);
    }
}

#[inline]
fn prefetch(p: *const i8) {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: a prefetch is a hint; it never faults, whatever the address.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
