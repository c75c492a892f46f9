//! 8-bit codes of the vectors for graph walks (scalar quantisation, one scale per row).
//!
//! Graph search is bound by memory traffic, not arithmetic: a 384-dimension f32 vector
//! is 24 cache lines and a query touches thousands of them at random. The graph
//! therefore keeps a second copy of each vector as `i8` codes, `x ~= scale * code`
//! with `scale = max |x| / 127` for that row, and walks on it, reading a quarter of the
//! bytes; the f32 rows stay the reference for exact scans and for re-scoring the final
//! candidates, so returned scores are exact. The rounding error of one component is at
//! most `scale / 2`; for a 384-dimension unit vector (components around 0.05, largest
//! around 0.2) the error of a dot product with a unit query is around 1e-3, below the
//! gaps that decide which neighbours a walk keeps (measured: recall@10 at every ef is
//! the same as with f32 walks, `cargo bench -p memlane-core --bench hnsw`).
//!
//! A scale per row (not one per index) keeps every row's full 8 bits whatever its
//! norm, so the codes suit dot and L2 indexes of unnormalised vectors as well.
//!
//! The query stays f32: kernels widen 16 codes at a time to f32 and multiply-add, so
//! the only error is the row's.

/// Largest code magnitude.
const CODE_MAX: f32 = 127.0;

/// Writes the codes of `v` into `out` (`out.len() >= v.len()`) and returns the row's
/// scale (`v[i] ~= scale * out[i]`). A zero row gets scale 0 and zero codes.
pub(crate) fn quantize(v: &[f32], out: &mut [i8]) -> f32 {
    let largest = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if largest == 0.0 || !largest.is_finite() {
        out[..v.len()].fill(0);
        return 0.0;
    }
    let to_code = CODE_MAX / largest;
    for (o, &x) in out.iter_mut().zip(v) {
        // |x * to_code| <= 127 by construction; the clamp only absorbs rounding of
        // `to_code` itself.
        *o = (x * to_code).round().clamp(-CODE_MAX, CODE_MAX) as i8;
    }
    largest / CODE_MAX
}

/// `sum a[i] * scale * b[i]` over the common prefix.
///
/// # Safety
/// None: `unsafe` only so that it has the same type as the SIMD kernels.
pub(crate) unsafe fn dot(a: &[f32], b: &[i8], scale: f32) -> f32 {
    let s: f32 = a.iter().zip(b).map(|(x, &c)| x * f32::from(c)).sum();
    s * scale
}

/// `sum (a[i] - scale * b[i])^2` over the common prefix.
///
/// # Safety
/// None: as in [`dot`].
pub(crate) unsafe fn l2(a: &[f32], b: &[i8], scale: f32) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, &c)| {
            let d = x - scale * f32::from(c);
            d * d
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_reconstruct_within_half_a_step() {
        let v: Vec<f32> = (0..97)
            .map(|i| ((i * 31 % 17) as f32 - 8.0) * 0.013)
            .collect();
        let mut codes = vec![0i8; v.len()];
        let scale = quantize(&v, &mut codes);
        assert!(scale > 0.0);
        let largest = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(
            codes.iter().any(|&c| c.unsigned_abs() == 127),
            "uses the full range"
        );
        for (x, &c) in v.iter().zip(&codes) {
            assert!(
                (x - scale * f32::from(c)).abs() <= scale / 2.0 + 1e-7,
                "{x} vs {c}"
            );
        }
        assert!((scale * 127.0 - largest).abs() < 1e-6);
    }

    #[test]
    fn zero_and_tiny_rows() {
        let mut codes = [5i8; 4];
        assert_eq!(quantize(&[0.0; 4], &mut codes), 0.0);
        assert_eq!(codes, [0; 4]);
        let scale = quantize(&[1e-30, -1e-30, 0.0, 5e-31], &mut codes);
        assert_eq!(codes, [127, -127, 0, 64]);
        assert!(scale > 0.0);
    }

    #[test]
    fn scalar_kernels_use_the_scale() {
        let a = [1.0f32, 2.0, -1.0];
        let b = [10i8, -20, 30];
        // SAFETY: no requirements.
        unsafe {
            assert_eq!(dot(&a, &b, 0.5), (10.0 - 40.0 - 30.0) * 0.5);
            assert_eq!(l2(&a, &b, 0.1), 0.0 + 16.0 + 16.0);
        }
    }
}
