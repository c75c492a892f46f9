//! Distance kernels on `f32` slices, with the instruction set chosen once at run time.
//!
//! One binary must be fast on every machine it lands on (a wheel is built once and
//! installed everywhere), so the kernels are not chosen by `-C target-cpu` but by
//! [`Kernels::detect`]: AVX-512F, else AVX2+FMA, else NEON on aarch64, else the portable
//! scalar loops of [`scalar`]. The choice is made once per process ([`kernels`]) and
//! the graph code calls through two plain function pointers, which costs a predictable
//! indirect call per distance and no feature test in the hot loop.
//!
//! Every kernel accepts slices of any length and alignment; if the two lengths differ it
//! reads the shorter length (callers always pass equal lengths, this only keeps a bug
//! from reading out of bounds).

pub(crate) mod half;
pub(crate) mod scalar;

#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod x86;

use std::sync::OnceLock;

/// A kernel entry point. `unsafe` because the SIMD versions require CPU features that
/// the caller must have checked; [`Kernels`] only ever holds pointers whose features
/// were detected, which is what makes its safe methods sound.
type KernelFn = unsafe fn(&[f32], &[f32]) -> f32;
/// A kernel between an f32 query and a binary16 row (see `half.rs`).
type HalfFn = unsafe fn(&[f32], &[u16]) -> f32;

/// The kernels for one instruction set: f32 x f32, and f32 x binary16 where the
/// instruction set converts halves in hardware (`None` elsewhere: the graph then walks
/// the f32 rows).
#[derive(Clone, Copy)]
pub struct Kernels {
    dot: KernelFn,
    l2: KernelFn,
    half: Option<(HalfFn, HalfFn)>,
    name: &'static str,
}

impl std::fmt::Debug for Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernels").field("isa", &self.name).finish()
    }
}

impl Kernels {
    /// The portable kernels (always available).
    pub fn scalar() -> Self {
        Kernels {
            dot: scalar::dot,
            l2: scalar::l2_squared,
            half: None,
            name: "scalar",
        }
    }

    /// The fastest kernels this CPU supports.
    pub fn detect() -> Self {
        Self::all_supported()
            .into_iter()
            .next()
            .unwrap_or_else(Self::scalar)
    }

    /// Every kernel set this CPU can run, fastest first (scalar last). Tests compare each
    /// against the scalar reference; benches compare their speed.
    pub fn all_supported() -> Vec<Self> {
        let mut found = Vec::new();
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                found.push(Kernels {
                    dot: x86::dot_avx512,
                    l2: x86::l2_avx512,
                    half: Some((x86::dot_f16_avx512, x86::l2_f16_avx512)),
                    name: "avx512f",
                });
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                let f16c = std::arch::is_x86_feature_detected!("f16c");
                found.push(Kernels {
                    dot: x86::dot_avx2,
                    l2: x86::l2_avx2,
                    half: f16c.then_some((x86::dot_f16_avx2 as HalfFn, x86::l2_f16_avx2 as HalfFn)),
                    name: "avx2+fma",
                });
            }
        }
        #[cfg(target_arch = "aarch64")]
        {
            if std::arch::is_aarch64_feature_detected!("neon") {
                found.push(Kernels {
                    dot: neon::dot_neon,
                    l2: neon::l2_neon,
                    half: None,
                    name: "neon",
                });
            }
        }
        found.push(Self::scalar());
        found
    }

    /// Which instruction set these kernels use ("avx512f", "avx2+fma", "neon", "scalar").
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Inner product of `a` and `b`.
    #[inline]
    pub fn dot(&self, a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: `self.dot` is either the scalar kernel or one whose CPU features
        // `all_supported` detected on this machine; every kernel is sound for any two
        // slices (it reads `min(a.len(), b.len())` elements of each).
        unsafe { (self.dot)(a, b) }
    }

    /// Squared Euclidean distance between `a` and `b`.
    #[inline]
    pub fn l2_squared(&self, a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: as in `dot`.
        unsafe { (self.l2)(a, b) }
    }

    /// True if these kernels convert binary16 in hardware.
    pub fn has_half(&self) -> bool {
        self.half.is_some()
    }

    /// Inner product of an f32 query and a binary16 row.
    #[inline]
    pub fn dot_half(&self, a: &[f32], b: &[u16]) -> f32 {
        // SAFETY: as in `dot` (the scalar fallback has no requirements).
        unsafe { self.half.map_or(half::dot_f16 as HalfFn, |h| h.0)(a, b) }
    }

    /// Squared Euclidean distance between an f32 query and a binary16 row.
    #[inline]
    pub fn l2_half(&self, a: &[f32], b: &[u16]) -> f32 {
        // SAFETY: as in `dot`.
        unsafe { self.half.map_or(half::l2_f16 as HalfFn, |h| h.1)(a, b) }
    }
}

/// `x` rounded to IEEE binary16 (nearest, ties to even), as its bits: the form of the
/// rows the `*_half` kernels read.
pub fn to_half(x: f32) -> u16 {
    half::f32_to_f16(x)
}

/// The kernels of this process, detected on first use.
pub fn kernels() -> &'static Kernels {
    static CHOSEN: OnceLock<Kernels> = OnceLock::new();
    CHOSEN.get_or_init(Kernels::detect)
}

/// Inner product with the process's fastest kernel.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    kernels().dot(a, b)
}

/// Squared Euclidean distance with the process's fastest kernel.
#[inline]
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    kernels().l2_squared(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference in f64 so that it is (much) more precise than every kernel under test.
    fn reference(a: &[f32], b: &[f32]) -> (f64, f64) {
        let dot = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| f64::from(x) * f64::from(y))
            .sum();
        let l2 = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
            .sum();
        (dot, l2)
    }

    fn close(got: f32, want: f64, scale: f64) -> bool {
        (f64::from(got) - want).abs() <= 1e-5 * scale.max(1.0)
    }

    /// Every supported kernel, every length 0..=70, every start offset 0..4 (so the
    /// loads are misaligned in every way an f32 slice can be).
    #[test]
    fn every_kernel_matches_the_reference_for_all_lengths_and_alignments() {
        let kernels = Kernels::all_supported();
        assert!(kernels.iter().any(|k| k.name() == "scalar"));
        let pool_a: Vec<f32> = (0..80)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.173)
            .collect();
        let pool_b: Vec<f32> = (0..80)
            .map(|i| ((i * 53 % 29) as f32 - 14.0) * 0.091)
            .collect();
        for k in &kernels {
            for len in 0..=70 {
                for off_a in 0..4 {
                    let off_b = (off_a * 3 + 1) % 4;
                    let a = &pool_a[off_a..off_a + len];
                    let b = &pool_b[off_b..off_b + len];
                    let (want_dot, want_l2) = reference(a, b);
                    let scale: f64 = a.iter().zip(b).map(|(x, y)| f64::from((x * y).abs())).sum();
                    assert!(
                        close(k.dot(a, b), want_dot, scale),
                        "{} dot len {len} off {off_a}: {} vs {want_dot}",
                        k.name(),
                        k.dot(a, b)
                    );
                    assert!(
                        close(k.l2_squared(a, b), want_l2, want_l2),
                        "{} l2 len {len} off {off_a}: {} vs {want_l2}",
                        k.name(),
                        k.l2_squared(a, b)
                    );
                }
            }
        }
    }

    /// The binary16 kernels against an f64 reference on the rounded values.
    #[test]
    fn half_kernels_match_the_reference_for_all_lengths_and_alignments() {
        let pool_a: Vec<f32> = (0..80)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.0173)
            .collect();
        let pool_b: Vec<u16> = (0..80)
            .map(|i| half::f32_to_f16(((i * 53 % 29) as f32 - 14.0) * 0.031))
            .collect();
        for k in Kernels::all_supported() {
            for len in 0..=70 {
                for off_a in 0..4 {
                    let off_b = (off_a * 3 + 1) % 4;
                    let a = &pool_a[off_a..off_a + len];
                    let b16 = &pool_b[off_b..off_b + len];
                    let b: Vec<f32> = b16.iter().map(|&h| half::f16_to_f32(h)).collect();
                    let (want_dot, want_l2) = reference(a, &b);
                    let scale: f64 = a
                        .iter()
                        .zip(&b)
                        .map(|(x, y)| f64::from((x * y).abs()))
                        .sum();
                    assert!(
                        close(k.dot_half(a, b16), want_dot, scale),
                        "{} dot len {len}",
                        k.name()
                    );
                    assert!(
                        close(k.l2_half(a, b16), want_l2, want_l2),
                        "{} l2 len {len}",
                        k.name()
                    );
                }
            }
        }
    }

    #[test]
    fn mismatched_lengths_read_only_the_common_prefix() {
        let a = [1.0f32; 40];
        let b = [2.0f32; 33];
        for k in Kernels::all_supported() {
            assert_eq!(k.dot(&a, &b), 66.0, "{}", k.name());
            assert_eq!(k.dot(&b, &a), 66.0, "{}", k.name());
            assert_eq!(k.l2_squared(&a, &b), 33.0, "{}", k.name());
        }
    }

    #[test]
    fn detection_is_stable() {
        assert_eq!(kernels().name(), Kernels::detect().name());
    }
}
