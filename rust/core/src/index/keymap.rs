//! Caller keys -> internal slots, and the key sets the planner builds from key lists.
//!
//! Keys are `u32` ids chosen by the caller (the engine's slot numbers, or a Python
//! user's ids); slots are the graph's own, recycled after deletes. Keys are often
//! small dense integers, which a multiplicative (Fibonacci) hash spreads well enough and
//! far faster than SipHash; nothing here is keyed by untrusted input where hash flooding
//! would matter more than speed (a caller controls only its own index).

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

/// Key -> slot of every live node.
pub(crate) type KeyMap = HashMap<u32, u32, BuildHasherDefault<IdHasher>>;

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
