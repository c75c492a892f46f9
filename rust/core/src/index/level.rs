//! The seeded level generator: node levels follow the paper's exponentially decaying
//! distribution, `level = floor(-ln(U) * mL)` with `mL = 1 / ln(m)` (Malkov & Yashunin,
//! section 4.1), where `U` is uniform in (0, 1].
//!
//! `U` for the n-th node is a pure function of `(seed, n)` (SplitMix64, Steele et al.
//! 2014), so a build is reproducible for a given insertion order, whatever the number of
//! threads: no shared RNG state is advanced concurrently.

use super::graph::MAX_LEVEL;

/// SplitMix64's finaliser: a bijective 64-bit mixer.
#[inline]
pub(crate) fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The level of the `n`-th node drawn with `seed`, for links per node `m`.
pub(crate) fn draw_level(seed: u64, n: u64, m: usize) -> usize {
    let bits = splitmix64(seed ^ splitmix64(n));
    // 53 random bits -> (0, 1]: never 0, so the logarithm is finite.
    let u = ((bits >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let ml = 1.0 / (m.max(2) as f64).ln();
    let level = (-u.ln() * ml).floor();
    (level as usize).min(MAX_LEVEL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_seeded_and_geometric() {
        let levels: Vec<usize> = (0..100_000).map(|n| draw_level(7, n, 16)).collect();
        let again: Vec<usize> = (0..100_000).map(|n| draw_level(7, n, 16)).collect();
        assert_eq!(levels, again);
        let other: Vec<usize> = (0..1000).map(|n| draw_level(8, n, 16)).collect();
        assert_ne!(&levels[..1000], &other[..]);
        // P(level >= 1) = 1/16.
        let above = levels.iter().filter(|&&l| l >= 1).count() as f64 / levels.len() as f64;
        assert!((above - 1.0 / 16.0).abs() < 0.005, "{above}");
        let above2 = levels.iter().filter(|&&l| l >= 2).count() as f64 / levels.len() as f64;
        assert!((above2 - 1.0 / 256.0).abs() < 0.0015, "{above2}");
    }
}
