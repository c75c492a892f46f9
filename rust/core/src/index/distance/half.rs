//! IEEE 754 half precision (binary16) for the graph's traversal copy of unit vectors.
//!
//! Graph search is bound by memory traffic, not arithmetic: a 384-dimension f32 vector
//! is 24 cache lines and a query touches hundreds of them at random. A cosine index
//! therefore keeps a second, half-precision copy of each (unit-length) vector and walks
//! the graph on it, reading half the bytes; the f32 rows stay the reference for the
//! exact scan and for re-scoring the final candidates, so returned scores are exact.
//! For components of a unit vector (|x| <= 1) binary16 keeps 11 significant bits: the
//! error of a 384-dimension dot product is around 1e-5, far below the gaps that decide
//! a graph walk. (Only for cosine: raw dot/L2 values could overflow binary16's 65504.)
//!
//! The conversions are written out (no `f16` type on stable Rust); the x86 kernels
//! convert with F16C's `vcvtph2ps` instead.

/// Rounds an f32 to the nearest binary16 (ties to even), as the bits of the half.
pub(crate) fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xFF) as i32;
    let mant = bits & 0x007F_FFFF;
    if exp == 0xFF {
        // Inf stays inf; NaN stays a (quiet) NaN.
        let nan = if mant != 0 { 0x0200 } else { 0 };
        return sign | 0x7C00 | nan;
    }
    let e = exp - 127 + 15;
    if e >= 0x1F {
        return sign | 0x7C00;
    }
    if e <= 0 {
        // Subnormal half (or zero): shift the full significand into place, rounding.
        if e < -10 {
            return sign;
        }
        let m = mant | 0x0080_0000;
        let shift = (14 - e) as u32;
        let half = m >> shift;
        let rest = m & ((1 << shift) - 1);
        let midpoint = 1 << (shift - 1);
        let round = rest > midpoint || (rest == midpoint && half & 1 == 1);
        return sign | (half + u32::from(round)) as u16;
    }
    let half = ((e as u32) << 10) | (mant >> 13);
    let rest = mant & 0x1FFF;
    let round = rest > 0x1000 || (rest == 0x1000 && half & 1 == 1);
    // A carry out of the mantissa correctly bumps the exponent (up to infinity).
    sign | (half + u32::from(round)) as u16
}

/// The f32 value of a binary16 (exact: every half is representable).
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exp = u32::from((h >> 10) & 0x1F);
    let mant = u32::from(h & 0x03FF);
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: normalise.
            let shift = mant.leading_zeros() - 21;
            let m = (mant << shift) & 0x03FF;
            sign | ((113 - shift) << 23) | (m << 13)
        }
        (0x1F, 0) => sign | 0x7F80_0000,
        (0x1F, _) => sign | 0x7FC0_0000 | (mant << 13),
        _ => sign | ((exp + 112) << 23) | (mant << 13),
    };
    f32::from_bits(bits)
}

/// Inner product of an f32 query and a binary16 row (scalar reference).
///
/// # Safety
/// None: `unsafe` only so that it has the same type as the SIMD kernels.
pub(crate) unsafe fn dot_f16(a: &[f32], b: &[u16]) -> f32 {
    let mut acc = [0.0f32; 8];
    let n = a.len().min(b.len());
    for i in 0..n {
        acc[i % 8] += a[i] * f16_to_f32(b[i]);
    }
    acc.iter().sum()
}

/// Squared Euclidean distance between an f32 query and a binary16 row (scalar).
///
/// # Safety
/// None: `unsafe` only so that it has the same type as the SIMD kernels.
pub(crate) unsafe fn l2_f16(a: &[f32], b: &[u16]) -> f32 {
    let mut acc = [0.0f32; 8];
    let n = a.len().min(b.len());
    for i in 0..n {
        let d = a[i] - f16_to_f32(b[i]);
        acc[i % 8] += d * d;
    }
    acc.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_conversions() {
        for (x, h) in [
            (0.0f32, 0x0000u16),
            (-0.0, 0x8000),
            (1.0, 0x3C00),
            (-2.0, 0xC000),
            (65504.0, 0x7BFF),
            (65520.0, 0x7C00), // rounds up to infinity
            (f32::INFINITY, 0x7C00),
            (f32::NEG_INFINITY, 0xFC00),
            (6.103_515_6e-5, 0x0400), // smallest normal
            (5.960_464_5e-8, 0x0001), // smallest subnormal
            (2.98e-8, 0x0000),        // below half the smallest subnormal
            (0.333_333_34, 0x3555),
            (1.000_488_3, 0x3C00), // exactly halfway between 0x3C00 and 0x3C01: to even
            (1.001_464_8, 0x3C02), // halfway between 0x3C01 and 0x3C02: to even
        ] {
            assert_eq!(f32_to_f16(x), h, "{x}");
        }
        assert!(f16_to_f32(f32_to_f16(f32::NAN)).is_nan());
    }

    #[test]
    fn every_half_round_trips() {
        for h in 0..=u16::MAX {
            let x = f16_to_f32(h);
            if x.is_nan() {
                assert!(f16_to_f32(f32_to_f16(x)).is_nan());
            } else {
                assert_eq!(f32_to_f16(x), h, "{h:#06x} -> {x}");
            }
        }
    }

    /// Against the CPU's own conversion (F16C), on many f32 bit patterns.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn matches_hardware_conversion() {
        if !std::arch::is_x86_feature_detected!("f16c") {
            return;
        }
        #[target_feature(enable = "f16c")]
        fn hw(x: f32) -> u16 {
            use std::arch::x86_64::*;
            let v = _mm_cvtps_ph::<{ _MM_FROUND_TO_NEAREST_INT }>(_mm_set1_ps(x));
            _mm_extract_epi16::<0>(v) as u16
        }
        let mut bits = 0u32;
        for _ in 0..2_000_000 {
            bits = bits.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let x = f32::from_bits(bits);
            // SAFETY: F16C was detected above.
            let want = unsafe { hw(x) };
            if x.is_nan() {
                assert!(f16_to_f32(f32_to_f16(x)).is_nan());
            } else {
                assert_eq!(f32_to_f16(x), want, "{x} ({bits:#010x})");
            }
        }
    }
}
