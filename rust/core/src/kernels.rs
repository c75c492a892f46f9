//! Vector arithmetic on f32 slices for the engine.
//!
//! [`dot`] dispatches at run time to the fastest SIMD kernel of this CPU (AVX-512F,
//! AVX2+FMA, NEON, else scalar; see `index::distance`), chosen once per process.

/// Dot product of two equally long slices (reads the common prefix if they differ).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    crate::index::distance::dot(a, b)
}

/// Euclidean norm, accumulated in f64 so that long or large vectors do not overflow.
pub fn norm(v: &[f32]) -> f64 {
    v.iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt()
}

/// Checks a vector is usable for cosine similarity: the right length, every value
/// finite, and not all zeros. Returns its norm.
pub fn check_vector(v: &[f32], dims: Option<usize>) -> Result<f64, String> {
    if v.is_empty() {
        return Err("the embedding vector is empty".into());
    }
    if let Some(d) = dims {
        if v.len() != d {
            return Err(format!(
                "the embedding has {} dimensions but this store holds {d}-dimensional vectors",
                v.len()
            ));
        }
    }
    if let Some(pos) = v.iter().position(|x| !x.is_finite()) {
        return Err(format!(
            "the embedding holds a non-finite value ({}) at position {pos}",
            v[pos]
        ));
    }
    let n = norm(v);
    if n == 0.0 || !n.is_finite() {
        return Err(
            "the embedding is all zeros (or its norm overflows): cosine similarity is undefined"
                .into(),
        );
    }
    Ok(n)
}

/// A unit-length copy of `v` (whose norm is `n`).
pub fn normalised(v: &[f32], n: f64) -> Vec<f32> {
    v.iter().map(|&x| (f64::from(x) / n) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive_sum_for_all_lengths() {
        for len in 1..40 {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - naive).abs() < 1e-4, "len {len}");
        }
    }

    #[test]
    fn check_vector_rejects_bad_vectors() {
        assert!(check_vector(&[], None).is_err());
        assert!(check_vector(&[0.0, 0.0], None).is_err());
        assert!(check_vector(&[1.0, f32::NAN], None).is_err());
        assert!(check_vector(&[1.0, f32::INFINITY], None).is_err());
        assert!(check_vector(&[1.0, 2.0], Some(3)).is_err());
        assert!((check_vector(&[3.0, 4.0], Some(2)).unwrap() - 5.0).abs() < 1e-9);
    }

    #[test]
    fn normalised_has_unit_length() {
        let v = [3.0f32, 4.0, 12.0];
        let n = check_vector(&v, None).unwrap();
        let u = normalised(&v, n);
        assert!((norm(&u) - 1.0).abs() < 1e-6);
    }
}
