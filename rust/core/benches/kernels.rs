//! Distance kernel speed per instruction set, on vectors that sit in L1 (so this is the
//! arithmetic, not memory): ns per call for f32 x f32 dot and L2, and f32 x `i8` codes
//! dot and L2 (the graph's walk kernels).
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
    let mut codes = vec![0i8; dims];
    let scale = memlane_core::index::distance::quantize(&b, &mut codes);
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
        let dot8 = per(&|| k.dot_codes(black_box(&a), black_box(&codes), scale));
        let l28 = per(&|| k.l2_codes(black_box(&a), black_box(&codes), scale));
        println!(
            "{:>9}: dot {dot:6.1}  l2 {l2:6.1}  dot(f32, i8) {dot8:6.1}  l2(f32, i8) {l28:6.1}",
            k.name()
        );
    }
}
