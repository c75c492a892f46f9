//! Distance kernel speed per instruction set, on vectors that sit in L1 (so this is the
//! arithmetic, not memory): ns per call for f32 x f32 dot and L2, and f32 x binary16
//! dot (the graph's walk kernel for cosine).
//!
//! `cargo bench -p memlane-core --bench kernels -- dims=384`

mod common;

use std::hint::black_box;

use memlane_core::index::Kernels;

use common::{arg, median, Rng};

fn main() {
    let dims = arg("dims", 384);
    let calls = arg("calls", 2_000_000);
    let mut rng = Rng::new(1);
    let a: Vec<f32> = (0..dims).map(|_| rng.gaussian()).collect();
    let b: Vec<f32> = (0..dims).map(|_| rng.gaussian()).collect();
    let h: Vec<u16> = b
        .iter()
        .map(|&x| memlane_core::index::distance::to_half(x))
        .collect();
    println!("dims={dims}, ns per call (CPU, median of 5)");
    for k in Kernels::all_supported() {
        let per = |f: &dyn Fn() -> f32| {
            let t = median(5, || {
                for _ in 0..calls {
                    black_box(f());
                }
            });
            t.1.as_secs_f64() * 1e9 / calls as f64
        };
        let dot = per(&|| k.dot(black_box(&a), black_box(&b)));
        let l2 = per(&|| k.l2_squared(black_box(&a), black_box(&b)));
        let half = per(&|| k.dot_half(black_box(&a), black_box(&h)));
        println!(
            "{:>9}: dot {dot:6.1}  l2 {l2:6.1}  dot(f32, f16) {half:6.1}",
            k.name()
        );
    }
}
