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

pub(crate) mod int8;
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
/// A kernel between an f32 query and a row of `i8` codes with its scale (see
/// `int8.rs`).
type CodeFn = unsafe fn(&[f32], &[i8], f32) -> f32;

/// The kernels for one instruction set: f32 x f32, and f32 x `i8` codes where the
/// instruction set widens codes in SIMD registers (`None` elsewhere: the graph then
/// walks the f32 rows, which costs the scalar fallback less than converting codes one
/// by one would save).
#[derive(Clone, Copy)]
pub struct Kernels {
    dot: KernelFn,
    l2: KernelFn,
    codes: Option<(CodeFn, CodeFn)>,
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
            codes: None,
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
                    codes: Some((x86::dot_i8_avx512, x86::l2_i8_avx512)),
                    name: "avx512f",
                });
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                found.push(Kernels {
                    dot: x86::dot_avx2,
                    l2: x86::l2_avx2,
                    codes: Some((x86::dot_i8_avx2, x86::l2_i8_avx2)),
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
                    codes: None,
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

    /// True if these kernels have SIMD versions of the code kernels.
    pub fn has_codes(&self) -> bool {
        self.codes.is_some()
    }

    /// Inner product of an f32 query and the row `scale * codes`.
    #[inline]
    pub fn dot_codes(&self, a: &[f32], codes: &[i8], scale: f32) -> f32 {
        // SAFETY: as in `dot` (the scalar fallback has no requirements).
        unsafe { self.codes.map_or(int8::dot as CodeFn, |c| c.0)(a, codes, scale) }
    }

    /// Squared Euclidean distance between an f32 query and the row `scale * codes`.
    #[inline]
    pub fn l2_codes(&self, a: &[f32], codes: &[i8], scale: f32) -> f32 {
        // SAFETY: as in `dot`.
        unsafe { self.codes.map_or(int8::l2 as CodeFn, |c| c.1)(a, codes, scale) }
    }
}

/// The `i8` codes of `v` (written to `out`, at least as long) and their scale: the form
/// of the rows the `*_codes` kernels read (`v[i] ~= scale * out[i]`).
pub fn quantize(v: &[f32], out: &mut [i8]) -> f32 {
    int8::quantize(v, out)
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

    /// The code kernels against an f64 reference on the decoded values.
    #[test]
    fn code_kernels_match_the_reference_for_all_lengths_and_alignments() {
        let pool_a: Vec<f32> = (0..80)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.0173)
            .collect();
        let pool_b: Vec<i8> = (0..80).map(|i| (i * 53 % 255 - 127) as i8).collect();
        let scale = 0.0031f32;
        for k in Kernels::all_supported() {
            for len in 0..=70 {
                for off_a in 0..4 {
                    let off_b = (off_a * 3 + 1) % 4;
                    let a = &pool_a[off_a..off_a + len];
                    let codes = &pool_b[off_b..off_b + len];
                    let b: Vec<f32> = codes.iter().map(|&c| scale * f32::from(c)).collect();
                    let (want_dot, want_l2) = reference(a, &b);
                    let magnitude: f64 = a
                        .iter()
                        .zip(&b)
                        .map(|(x, y)| f64::from((x * y).abs()))
                        .sum();
                    let got = k.dot_codes(a, codes, scale);
                    assert!(
                        close(got, want_dot, magnitude),
                        "{} dot len {len}: {got} vs {want_dot}",
                        k.name()
                    );
                    let got = k.l2_codes(a, codes, scale);
                    assert!(
                        close(got, want_l2, want_l2),
                        "{} l2 len {len}: {got} vs {want_l2}",
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
