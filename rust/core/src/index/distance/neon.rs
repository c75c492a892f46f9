//! aarch64 kernels: NEON (4 lanes), which every aarch64 CPU has.
//!
//! Four independent accumulators hide the FMA latency, as in the x86 kernels.

use std::arch::aarch64::*;

/// Inner product, NEON.
///
/// # Safety
/// The CPU must support NEON (every aarch64 CPU does).
#[target_feature(enable = "neon")]
pub(super) unsafe fn dot_neon(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    // SAFETY (every load below): `i + 4 * j + 3 < n`, inside both slices.
    while i + 16 <= n {
        for (j, s) in acc.iter_mut().enumerate() {
            let (x, y) = unsafe { (vld1q_f32(pa.add(i + 4 * j)), vld1q_f32(pb.add(i + 4 * j))) };
            *s = vfmaq_f32(*s, x, y);
        }
        i += 16;
    }
    while i + 4 <= n {
        let (x, y) = unsafe { (vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i))) };
        acc[0] = vfmaq_f32(acc[0], x, y);
        i += 4;
    }
    let s = vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3]));
    let tail: f32 = a[i..n].iter().zip(&b[i..n]).map(|(x, y)| x * y).sum();
    vaddvq_f32(s) + tail
}

/// Squared Euclidean distance, NEON.
///
/// # Safety
/// The CPU must support NEON (every aarch64 CPU does).
#[target_feature(enable = "neon")]
pub(super) unsafe fn l2_neon(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    // SAFETY: the same bounds as in `dot_neon`.
    while i + 16 <= n {
        for (j, s) in acc.iter_mut().enumerate() {
            let d =
                unsafe { vsubq_f32(vld1q_f32(pa.add(i + 4 * j)), vld1q_f32(pb.add(i + 4 * j))) };
            *s = vfmaq_f32(*s, d, d);
        }
        i += 16;
    }
    while i + 4 <= n {
        let d = unsafe { vsubq_f32(vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i))) };
        acc[0] = vfmaq_f32(acc[0], d, d);
        i += 4;
    }
    let s = vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3]));
    let tail: f32 = a[i..n]
        .iter()
        .zip(&b[i..n])
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    vaddvq_f32(s) + tail
}
