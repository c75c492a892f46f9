//! x86 kernels: AVX-512F (16 lanes) and AVX2+FMA (8 lanes).
//!
//! Four independent accumulators hide the FMA latency (4 cycles, 2 per cycle on recent
//! cores): with one accumulator every FMA would wait for the previous one, which is
//! what caps single-accumulator kernels at a quarter of the machine's throughput. The
//! AVX-512 tail uses a masked load, so no element is read past the end of a slice.

#[cfg(target_arch = "x86")]
use std::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Sum of the eight lanes of `v`.
#[inline]
#[target_feature(enable = "avx2")]
fn hsum256(v: __m256) -> f32 {
    let lo = _mm256_castps256_ps128(v);
    let hi = _mm256_extractf128_ps::<1>(v);
    let x = _mm_add_ps(lo, hi);
    let x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    let x = _mm_add_ss(x, _mm_shuffle_ps::<1>(x, x));
    _mm_cvtss_f32(x)
}

/// Inner product, AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn dot_avx512(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm512_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY (every load below): `i + 16 * j + 15 < n` for the unmasked loads, and the
    // masked load reads only lanes `i..n`, so no read leaves either slice.
    while i + 64 <= n {
        for (j, s) in acc.iter_mut().enumerate() {
            let (x, y) = unsafe {
                (
                    _mm512_loadu_ps(pa.add(i + 16 * j)),
                    _mm512_loadu_ps(pb.add(i + 16 * j)),
                )
            };
            *s = _mm512_fmadd_ps(x, y, *s);
        }
        i += 64;
    }
    while i + 16 <= n {
        let (x, y) = unsafe { (_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i))) };
        acc[0] = _mm512_fmadd_ps(x, y, acc[0]);
        i += 16;
    }
    if i < n {
        let mask: __mmask16 = ((1u32 << (n - i)) - 1) as __mmask16;
        let (x, y) = unsafe {
            (
                _mm512_maskz_loadu_ps(mask, pa.add(i)),
                _mm512_maskz_loadu_ps(mask, pb.add(i)),
            )
        };
        acc[1] = _mm512_fmadd_ps(x, y, acc[1]);
    }
    let s = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    _mm512_reduce_add_ps(s)
}

/// Squared Euclidean distance, AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn l2_avx512(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm512_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY: the same bounds as in `dot_avx512`.
    while i + 64 <= n {
        for (j, s) in acc.iter_mut().enumerate() {
            let d = unsafe {
                _mm512_sub_ps(
                    _mm512_loadu_ps(pa.add(i + 16 * j)),
                    _mm512_loadu_ps(pb.add(i + 16 * j)),
                )
            };
            *s = _mm512_fmadd_ps(d, d, *s);
        }
        i += 64;
    }
    while i + 16 <= n {
        let d = unsafe { _mm512_sub_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i))) };
        acc[0] = _mm512_fmadd_ps(d, d, acc[0]);
        i += 16;
    }
    if i < n {
        let mask: __mmask16 = ((1u32 << (n - i)) - 1) as __mmask16;
        let d = unsafe {
            _mm512_sub_ps(
                _mm512_maskz_loadu_ps(mask, pa.add(i)),
                _mm512_maskz_loadu_ps(mask, pb.add(i)),
            )
        };
        acc[1] = _mm512_fmadd_ps(d, d, acc[1]);
    }
    let s = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    _mm512_reduce_add_ps(s)
}

/// Inner product, AVX2 + FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY (every load below): `i + 8 * j + 7 < n`, inside both slices.
    while i + 32 <= n {
        for (j, s) in acc.iter_mut().enumerate() {
            let (x, y) = unsafe {
                (
                    _mm256_loadu_ps(pa.add(i + 8 * j)),
                    _mm256_loadu_ps(pb.add(i + 8 * j)),
                )
            };
            *s = _mm256_fmadd_ps(x, y, *s);
        }
        i += 32;
    }
    while i + 8 <= n {
        let (x, y) = unsafe { (_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i))) };
        acc[0] = _mm256_fmadd_ps(x, y, acc[0]);
        i += 8;
    }
    let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let tail: f32 = a[i..n].iter().zip(&b[i..n]).map(|(x, y)| x * y).sum();
    hsum256(s) + tail
}

/// Squared Euclidean distance, AVX2 + FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn l2_avx2(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY: the same bounds as in `dot_avx2`.
    while i + 32 <= n {
        for (j, s) in acc.iter_mut().enumerate() {
            let d = unsafe {
                _mm256_sub_ps(
                    _mm256_loadu_ps(pa.add(i + 8 * j)),
                    _mm256_loadu_ps(pb.add(i + 8 * j)),
                )
            };
            *s = _mm256_fmadd_ps(d, d, *s);
        }
        i += 32;
    }
    while i + 8 <= n {
        let d = unsafe { _mm256_sub_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i))) };
        acc[0] = _mm256_fmadd_ps(d, d, acc[0]);
        i += 8;
    }
    let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let tail: f32 = a[i..n]
        .iter()
        .zip(&b[i..n])
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    hsum256(s) + tail
}

/// Inner product of f32 `a` and the row `scale * b`, AVX-512F: 16 codes at a time
/// sign-extended to i32, converted and multiply-added; the scale is applied once at
/// the end.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn dot_i8_avx512(a: &[f32], b: &[i8], scale: f32) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm512_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY (every load below): `i + 16 * j + 15 < n` for both slices.
    while i + 64 <= n {
        for (j, s) in acc.iter_mut().enumerate() {
            let (x, y) = unsafe {
                (
                    _mm512_loadu_ps(pa.add(i + 16 * j)),
                    widen16(_mm_loadu_si128(pb.add(i + 16 * j).cast())),
                )
            };
            *s = _mm512_fmadd_ps(x, y, *s);
        }
        i += 64;
    }
    while i + 16 <= n {
        let (x, y) = unsafe {
            (
                _mm512_loadu_ps(pa.add(i)),
                widen16(_mm_loadu_si128(pb.add(i).cast())),
            )
        };
        acc[0] = _mm512_fmadd_ps(x, y, acc[0]);
        i += 16;
    }
    let s = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    // SAFETY: the scalar kernel has no requirements.
    (_mm512_reduce_add_ps(s) + unsafe { super::int8::dot(&a[i..n], &b[i..n], 1.0) }) * scale
}

/// 16 codes as 16 f32 lanes.
#[inline]
#[target_feature(enable = "avx512f")]
fn widen16(codes: __m128i) -> __m512 {
    _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(codes))
}

/// Squared Euclidean distance between f32 `a` and the row `scale * b`, AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn l2_i8_avx512(a: &[f32], b: &[i8], scale: f32) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let k = _mm512_set1_ps(scale);
    let mut acc = [_mm512_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY (every load below): `i + 16 * j + 15 < n` for both slices.
    while i + 64 <= n {
        for (j, s) in acc.iter_mut().enumerate() {
            let d = unsafe {
                let y = widen16(_mm_loadu_si128(pb.add(i + 16 * j).cast()));
                _mm512_fnmadd_ps(k, y, _mm512_loadu_ps(pa.add(i + 16 * j)))
            };
            *s = _mm512_fmadd_ps(d, d, *s);
        }
        i += 64;
    }
    while i + 16 <= n {
        let d = unsafe {
            let y = widen16(_mm_loadu_si128(pb.add(i).cast()));
            _mm512_fnmadd_ps(k, y, _mm512_loadu_ps(pa.add(i)))
        };
        acc[0] = _mm512_fmadd_ps(d, d, acc[0]);
        i += 16;
    }
    let s = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    // SAFETY: the scalar kernel has no requirements.
    _mm512_reduce_add_ps(s) + unsafe { super::int8::l2(&a[i..n], &b[i..n], scale) }
}

/// 8 codes (the low 8 bytes of `codes`) as 8 f32 lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn widen8(codes: __m128i) -> __m256 {
    _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(codes))
}

/// Inner product of f32 `a` and the row `scale * b`, AVX2 + FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn dot_i8_avx2(a: &[f32], b: &[i8], scale: f32) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY (every load below): `i + 8 * j + 7 < n` for both slices; the code loads
    // read 8 bytes (`_mm_loadl_epi64`).
    while i + 32 <= n {
        for (j, s) in acc.iter_mut().enumerate() {
            let (x, y) = unsafe {
                (
                    _mm256_loadu_ps(pa.add(i + 8 * j)),
                    widen8(_mm_loadl_epi64(pb.add(i + 8 * j).cast())),
                )
            };
            *s = _mm256_fmadd_ps(x, y, *s);
        }
        i += 32;
    }
    while i + 8 <= n {
        let (x, y) = unsafe {
            (
                _mm256_loadu_ps(pa.add(i)),
                widen8(_mm_loadl_epi64(pb.add(i).cast())),
            )
        };
        acc[0] = _mm256_fmadd_ps(x, y, acc[0]);
        i += 8;
    }
    let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    // SAFETY: the scalar kernel has no requirements.
    (hsum256(s) + unsafe { super::int8::dot(&a[i..n], &b[i..n], 1.0) }) * scale
}

/// Squared Euclidean distance between f32 `a` and the row `scale * b`, AVX2 + FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn l2_i8_avx2(a: &[f32], b: &[i8], scale: f32) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let k = _mm256_set1_ps(scale);
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY (every load below): `i + 8 * j + 7 < n` for both slices.
    while i + 32 <= n {
        for (j, s) in acc.iter_mut().enumerate() {
            let d = unsafe {
                let y = widen8(_mm_loadl_epi64(pb.add(i + 8 * j).cast()));
                _mm256_fnmadd_ps(k, y, _mm256_loadu_ps(pa.add(i + 8 * j)))
            };
            *s = _mm256_fmadd_ps(d, d, *s);
        }
        i += 32;
    }
    while i + 8 <= n {
        let d = unsafe {
            let y = widen8(_mm_loadl_epi64(pb.add(i).cast()));
            _mm256_fnmadd_ps(k, y, _mm256_loadu_ps(pa.add(i)))
        };
        acc[0] = _mm256_fmadd_ps(d, d, acc[0]);
        i += 8;
    }
    let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    // SAFETY: the scalar kernel has no requirements.
    hsum256(s) + unsafe { super::int8::l2(&a[i..n], &b[i..n], scale) }
}
