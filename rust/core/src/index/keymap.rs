//! Caller keys -> internal slots, and the key sets the planner builds from key lists.
//!
//! Keys are `u32` ids chosen by the caller (the engine's row numbers, or a Python
//! user's ids); slots are the graph's own, recycled after deletes. Keys are usually
//! small dense integers, so the map keeps them in a plain array indexed by key while
//! they stay dense, and only the keys far beyond that range in a hash map. The array
//! matters for scoped scans: the keys of one scope are often a run of neighbouring
//! integers, whose slots then come from a few cache lines, where a hash map would take
//! a cache miss per key (measured: ~8 us of a 100-key scan over a 100,000-key index).
//! The hash is multiplicative (Fibonacci), far faster than SipHash; nothing here is
//! keyed by untrusted input where hash flooding would matter more than speed (a caller
//! controls only its own index).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Fibonacci hashing of one integer: the top bits of `x * 2^64/phi`.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    #[inline]
    fn write_u32(&mut self, x: u32) {
        self.0 = u64::from(x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The array entry of a key that is not in the map.
const ABSENT: u32 = u32::MAX;

/// The array stays at most this many times longer than the number of keys held (plus
/// [`DENSE_SLACK`]): 4 bytes per array entry against ~9-18 per hash map entry, so a
/// quarter-full array costs no more memory than the hash map.
const DENSE_GROWTH_LIMIT: usize = 4;
/// Array entries allowed whatever the number of keys (a small index may use any keys
/// below this for free).
const DENSE_SLACK: usize = 1024;

/// Key -> slot of every live node: keys below `dense.len()` in the array, the rest in
/// the hash map (never both).
#[derive(Default)]
pub(crate) struct KeyMap {
    dense: Vec<u32>,
    sparse: HashMap<u32, u32, BuildHasherDefault<IdHasher>>,
    len: usize,
}

impl KeyMap {
    /// Number of keys held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The slot of `key`.
    #[inline]
    pub(crate) fn get(&self, key: u32) -> Option<u32> {
        match self.dense.get(key as usize) {
            Some(&ABSENT) => None,
            Some(&slot) => Some(slot),
            None => self.sparse.get(&key).copied(),
        }
    }

    pub(crate) fn contains_key(&self, key: u32) -> bool {
        self.get(key).is_some()
    }

    /// Maps `key` to `slot`; returns the slot it had. `slot` must not be `u32::MAX`
    /// (slots are below the graph's capacity, itself below `u32::MAX`).
    pub(crate) fn insert(&mut self, key: u32, slot: u32) -> Option<u32> {
        debug_assert_ne!(slot, ABSENT);
        let k = key as usize;
        if k >= self.dense.len() {
            self.grow_dense_for(k);
        }
        let old = match self.dense.get_mut(k) {
            Some(entry) => Some(std::mem::replace(entry, slot)).filter(|&o| o != ABSENT),
            None => self.sparse.insert(key, slot),
        };
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Unmaps `key`; returns its slot.
    pub(crate) fn remove(&mut self, key: u32) -> Option<u32> {
        let old = match self.dense.get_mut(key as usize) {
            Some(entry) => Some(std::mem::replace(entry, ABSENT)).filter(|&o| o != ABSENT),
            None => self.sparse.remove(&key),
        };
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// Every key held (array keys ascending, then the hash map's in no order).
    pub(crate) fn keys(&self) -> impl Iterator<Item = u32> + '_ {
        self.dense
            .iter()
            .enumerate()
            .filter(|&(_, &slot)| slot != ABSENT)
            .map(|(key, _)| key as u32)
            .chain(self.sparse.keys().copied())
    }

    /// Makes room for `additional` more keys in the hash map part (the array grows on
    /// demand).
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.sparse.reserve(additional.min(DENSE_SLACK));
    }

    /// Bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        // hashbrown: one (key, slot) pair and one control byte per bucket.
        self.dense.capacity() * 4 + self.sparse.capacity() * (size_of::<(u32, u32)>() + 1)
    }

    /// Extends the array to cover key index `k` if that keeps it dense enough; moves
    /// the hash map's keys that the longer array covers into it.
    fn grow_dense_for(&mut self, k: usize) {
        let limit = (self.len + 1) * DENSE_GROWTH_LIMIT + DENSE_SLACK;
        // Grow by at least half each time (else keep the key in the hash map for now),
        // so the moves below cost O(1) amortised per key.
        let at_least = (k + 1).max(self.dense.len() + self.dense.len() / 2);
        if at_least > limit {
            return;
        }
        let new_len = at_least.max(self.dense.len() * 2).max(64).min(limit);
        self.dense.resize(new_len, ABSENT);
        let covered: Vec<u32> = self
            .sparse
            .keys()
            .copied()
            .filter(|&key| (key as usize) < new_len)
            .collect();
        for key in covered {
            if let Some(slot) = self.sparse.remove(&key) {
                self.dense[key as usize] = slot;
            }
        }
    }
}

/// Membership test over a set of keys: a bitmap when the keys are dense enough (one bit
/// per key up to the largest), else a hash set.
pub(crate) enum KeySet {
    Bits(Vec<u64>),
    Hashed(HashSet<u32, BuildHasherDefault<IdHasher>>),
}

impl KeySet {
    pub(crate) fn new(keys: &[u32]) -> Self {
        let max = keys.iter().copied().max().unwrap_or(0) as usize;
        // A bitmap costs max/8 bytes; take it while that is within 64x the list
        // (or under 128 KiB), where it is both smaller and faster than hashing.
        if max < (keys.len() * 64).max(1 << 20) {
            let mut bits = vec![0u64; max / 64 + 1];
            for &k in keys {
                bits[k as usize / 64] |= 1 << (k % 64);
            }
            KeySet::Bits(bits)
        } else {
            KeySet::Hashed(keys.iter().copied().collect())
        }
    }

    #[inline]
    pub(crate) fn contains(&self, key: u32) -> bool {
        match self {
            KeySet::Bits(bits) => bits
                .get(key as usize / 64)
                .is_some_and(|w| w & (1 << (key % 64)) != 0),
            KeySet::Hashed(set) => set.contains(&key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The map against a `std` HashMap over a mix of dense, growing and far keys,
    /// inserted, replaced and removed in a scrambled order.
    #[test]
    fn key_map_matches_a_hash_map() {
        let mut map = KeyMap::default();
        let mut model = std::collections::HashMap::new();
        let mut x = 12345u64;
        for step in 0..20_000u32 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = (x >> 33) as u32;
            let key = match r % 4 {
                0 => r % 3_000,
                1 => step,
                2 => r,
                _ => 4_000_000_000 + r % 100,
            };
            if r.is_multiple_of(5) {
                assert_eq!(map.remove(key), model.remove(&key), "remove {key}");
            } else {
                let slot = r % 1_000_000;
                assert_eq!(
                    map.insert(key, slot),
                    model.insert(key, slot),
                    "insert {key}"
                );
            }
            assert_eq!(map.len(), model.len());
        }
        for (&k, &v) in &model {
            assert_eq!(map.get(k), Some(v));
        }
        let mut keys: Vec<u32> = map.keys().collect();
        let mut want: Vec<u32> = model.keys().copied().collect();
        keys.sort_unstable();
        want.sort_unstable();
        assert_eq!(keys, want);
        for probe in [0, 1, 2_999, 25_000, u32::MAX - 1, 4_000_000_050] {
            assert_eq!(map.get(probe), model.get(&probe).copied(), "{probe}");
        }
        assert!(map.dense.len() <= map.len() * DENSE_GROWTH_LIMIT + DENSE_SLACK);
    }

    #[test]
    fn dense_keys_stay_in_the_array() {
        let mut map = KeyMap::default();
        for k in 0..100_000 {
            map.insert(k, k + 7);
        }
        assert!(map.sparse.is_empty());
        assert_eq!(map.get(99_999), Some(100_006));
        assert_eq!(map.get(100_000), None);
        let mut far = KeyMap::default();
        far.insert(u32::MAX, 1);
        assert_eq!(far.dense.len(), 0);
        assert_eq!(far.get(u32::MAX), Some(1));
    }

    #[test]
    fn key_sets_agree() {
        let dense: Vec<u32> = (0..1000).filter(|k| k % 3 == 0).collect();
        let sparse: Vec<u32> = vec![5, u32::MAX, 4_000_000_000, 17];
        for keys in [&dense, &sparse] {
            let set = KeySet::new(keys);
            for probe in [0, 3, 4, 5, 17, 18, 999, 1000, 4_000_000_000, u32::MAX] {
                assert_eq!(set.contains(probe), keys.contains(&probe), "{probe}");
            }
        }
        assert!(matches!(KeySet::new(&sparse), KeySet::Hashed(_)));
        assert!(matches!(KeySet::new(&dense), KeySet::Bits(_)));
        assert!(!KeySet::new(&[]).contains(0));
    }
}
