//! Shared bench helpers: seeded clustered data (the same Gaussian-mixture recipe as
//! benches/ann_bench.py: 1,000 centres, unit-variance noise, L2-normalised), the
//! brute-force oracle, and a timer that reports the median of several passes.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use memlane_core::index::{HnswIndex, HnswParams, Metric};

/// SplitMix64 stream with Box-Muller Gaussians.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn gaussian(&mut self) -> f32 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }
}

/// `n` unit vectors from a mixture of `centres` Gaussians (noise sigma 1 around
/// standard-normal centres), row after row.
pub fn clustered(seed: u64, n: usize, dims: usize, centres: usize) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let c: Vec<f32> = (0..centres * dims).map(|_| rng.gaussian()).collect();
    let mut out = Vec::with_capacity(n * dims);
    for _ in 0..n {
        let which = (rng.next_u64() % centres as u64) as usize;
        let start = out.len();
        for d in 0..dims {
            out.push(c[which * dims + d] + rng.gaussian());
        }
        let norm = out[start..].iter().map(|x| x * x).sum::<f32>().sqrt();
        out[start..].iter_mut().for_each(|x| *x /= norm);
    }
    out
}

/// `n` unit vectors with benches/support/precomputed.py's recipe: unit-length centres
/// plus isotropic noise of expected length `spread`, normalised (easier than
/// [`clustered`], whose noise is as large as the centres).
pub fn mixture(seed: u64, n: usize, dims: usize, centres: usize, spread: f32) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let mut c: Vec<f32> = (0..centres * dims).map(|_| rng.gaussian()).collect();
    for row in c.chunks_exact_mut(dims) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        row.iter_mut().for_each(|x| *x /= norm);
    }
    let sigma = spread / (dims as f32).sqrt();
    let mut out = Vec::with_capacity(n * dims);
    for _ in 0..n {
        let which = (rng.next_u64() % centres as u64) as usize;
        let start = out.len();
        for d in 0..dims {
            out.push(c[which * dims + d] + sigma * rng.gaussian());
        }
        let norm = out[start..].iter().map(|x| x * x).sum::<f32>().sqrt();
        out[start..].iter_mut().for_each(|x| *x /= norm);
    }
    out
}

/// Exact top-`k` ids by inner product for each query.
pub fn truth(data: &[f32], queries: &[f32], dims: usize, k: usize) -> Vec<Vec<u32>> {
    queries
        .chunks_exact(dims)
        .map(|q| {
            let mut s: Vec<(f32, u32)> = data
                .chunks_exact(dims)
                .enumerate()
                .map(|(i, v)| (memlane_core::kernels::dot(v, q), i as u32))
                .collect();
            s.select_nth_unstable_by(k, |a, b| b.0.total_cmp(&a.0));
            s.truncate(k);
            s.sort_by(|a, b| b.0.total_cmp(&a.0));
            s.into_iter().map(|x| x.1).collect()
        })
        .collect()
}

pub fn recall(got: &[Vec<u32>], truth: &[Vec<u32>]) -> f64 {
    let hits: usize = got
        .iter()
        .zip(truth)
        .map(|(g, t)| t.iter().filter(|x| g.contains(x)).count())
        .sum();
    hits as f64 / truth.iter().map(Vec::len).sum::<usize>().max(1) as f64
}

/// CPU time of the calling process (all threads), where the OS exposes it: on a
/// shared machine, CPU time is far less noisy than wall time.
#[cfg(target_os = "linux")]
pub fn cpu_time() -> Duration {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    let mut t = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `t` is a valid timespec for the call to fill.
    unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    Duration::new(t.sec as u64, t.nsec as u32)
}

#[cfg(not(target_os = "linux"))]
pub fn cpu_time() -> Duration {
    Duration::ZERO
}

/// Median (wall, CPU) time of `passes` runs of `f`.
pub fn median(passes: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..passes {
        let (t, c) = (Instant::now(), cpu_time());
        f();
        wall.push(t.elapsed());
        cpu.push(cpu_time() - c);
    }
    wall.sort();
    cpu.sort();
    if std::env::var("BENCH_MIN").is_ok() {
        return (wall[0], cpu[0]);
    }
    (wall[passes / 2], cpu[passes / 2])
}

/// `name=value` from the command line, else `default`.
pub fn arg(name: &str, default: usize) -> usize {
    std::env::args()
        .filter_map(|a| a.strip_prefix(&format!("{name}=")).map(str::to_owned))
        .find_map(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A cosine index (default parameters) over `data` with keys `0..n`, loaded from the
/// snapshot at `path` if there is one, else built on 2 threads and saved there, so that
/// repeated runs measure searches without rebuilding. Delete the file after changing
/// how graphs are built.
pub fn cached_index(path: &str, data: &[f32], dims: usize) -> HnswIndex {
    if let Ok(f) = std::fs::File::open(path) {
        return HnswIndex::load(std::io::BufReader::new(f), Some(dims))
            .expect("load")
            .0;
    }
    let index = HnswIndex::new(HnswParams::new(dims, Metric::Cosine)).expect("params");
    let keys: Vec<u32> = (0..(data.len() / dims) as u32).collect();
    index.insert_batch(&keys, data, 2).expect("insert");
    let f = std::fs::File::create(path).expect("create");
    index.save(std::io::BufWriter::new(f), 0).expect("save");
    index
}
