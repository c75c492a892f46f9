//! Seeded test data: a Gaussian mixture (clustered, like real embeddings; uniform
//! random data is far easier for a graph index and hides bugs), and the brute-force
//! oracle the index is checked against.

use crate::index::level::splitmix64;

/// A small seeded generator (SplitMix64 stream + Box-Muller).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(1);
        splitmix64(self.0)
    }

    /// Uniform in [0, 1).
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub(crate) fn gaussian(&mut self) -> f32 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }
}

/// `n` vectors of `dims` floats drawn around `centres` random centres (spread `sigma`
/// around unit-scale centres), row after row; also returns each vector's centre.
pub(crate) fn mixture(
    seed: u64,
    n: usize,
    dims: usize,
    centres: usize,
    sigma: f32,
) -> (Vec<f32>, Vec<usize>) {
    let mut rng = Rng::new(seed);
    let c: Vec<f32> = (0..centres * dims).map(|_| rng.gaussian()).collect();
    let mut out = Vec::with_capacity(n * dims);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let which = rng.below(centres);
        labels.push(which);
        for d in 0..dims {
            out.push(c[which * dims + d] + sigma * rng.gaussian());
        }
    }
    (out, labels)
}

/// Cosine similarity (the test's own, in f64).
pub(crate) fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum();
    let na: f64 = a.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// The `k` keys most cosine-similar to `q` among `(key, vector)` pairs admitted by
/// `admit`, best first.
pub(crate) fn brute_force(
    q: &[f32],
    rows: &[(u32, &[f32])],
    k: usize,
    admit: impl Fn(u32) -> bool,
) -> Vec<u32> {
    // Ranking by dot / |v| is ranking by cosine (|q| is the same for every row).
    let mut scored: Vec<(f64, u32)> = rows
        .iter()
        .filter(|(key, _)| admit(*key))
        .map(|(key, v)| {
            let (dot, nv) = v.iter().zip(q).fold((0.0f64, 0.0f64), |(d, n), (&x, &y)| {
                (
                    d + f64::from(x) * f64::from(y),
                    n + f64::from(x) * f64::from(x),
                )
            });
            (dot / nv.sqrt(), *key)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(k).map(|(_, key)| key).collect()
}

/// Share of `truth` found in `got`.
pub(crate) fn recall(got: &[u32], truth: &[u32]) -> f64 {
    if truth.is_empty() {
        return 1.0;
    }
    truth.iter().filter(|t| got.contains(t)).count() as f64 / truth.len() as f64
}
