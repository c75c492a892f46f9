//! The similarity a graph is built for, and how a kernel result becomes a distance.
//!
//! Inside the graph everything is a *distance*, lower is closer, as in the HNSW paper.
//! Callers see a *score*, higher is better (qdrant's convention and the rest of memlane's:
//! `query.rs` returns cosine similarity): `score = -distance`.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// How two vectors are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Cosine similarity. Vectors (and queries) are normalised to unit length on the way
    /// in, so the kernel is the inner product; score = cosine similarity in [-1, 1].
    Cosine,
    /// Raw inner product (no normalisation); score = the inner product.
    Dot,
    /// Euclidean; score = minus the squared Euclidean distance.
    L2,
}

impl Metric {
    /// Stable one-byte code used by the snapshot format.
    pub(crate) fn code(self) -> u8 {
        match self {
            Metric::Cosine => 1,
            Metric::Dot => 2,
            Metric::L2 => 3,
        }
    }

    /// Inverse of [`Metric::code`]; `None` for an unknown code.
    pub(crate) fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Metric::Cosine),
            2 => Some(Metric::Dot),
            3 => Some(Metric::L2),
            _ => None,
        }
    }

    /// The name accepted by [`FromStr`] and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::Dot => "dot",
            Metric::L2 => "l2",
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Metric {
    type Err = Error;

    /// Accepts "cosine", "dot" (or "ip", hnswlib's name) and "l2" (or "euclidean").
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "cosine" => Ok(Metric::Cosine),
            "dot" | "ip" => Ok(Metric::Dot),
            "l2" | "euclidean" => Ok(Metric::L2),
            other => Err(Error::invalid(format!(
                "unknown metric {other:?}: expected \"cosine\", \"dot\" or \"l2\""
            ))),
        }
    }
}

/// Checks a vector for this metric and returns the form the graph stores: the right
/// length, every value finite, and (for cosine) a unit-length copy.
pub(crate) fn prepare(metric: Metric, v: &[f32], dims: usize) -> Result<Vec<f32>> {
    if v.len() != dims {
        return Err(Error::invalid(format!(
            "the vector has {} dimensions but this index holds {dims}-dimensional vectors",
            v.len()
        )));
    }
    if let Some(pos) = v.iter().position(|x| !x.is_finite()) {
        return Err(Error::invalid(format!(
            "the vector holds a non-finite value ({}) at position {pos}",
            v[pos]
        )));
    }
    match metric {
        Metric::Cosine => {
            let n = crate::kernels::norm(v);
            if n == 0.0 || !n.is_finite() {
                return Err(Error::invalid(
                    "the vector is all zeros (or its norm overflows): cosine is undefined",
                ));
            }
            Ok(crate::kernels::normalised(v, n))
        }
        Metric::Dot | Metric::L2 => Ok(v.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for m in [Metric::Cosine, Metric::Dot, Metric::L2] {
            assert_eq!(m.as_str().parse::<Metric>().unwrap(), m);
            assert_eq!(Metric::from_code(m.code()), Some(m));
        }
        assert_eq!("IP".parse::<Metric>().unwrap(), Metric::Dot);
        assert!("manhattan".parse::<Metric>().is_err());
        assert_eq!(Metric::from_code(0), None);
    }

    #[test]
    fn prepare_checks_and_normalises() {
        assert!(prepare(Metric::L2, &[1.0, 2.0], 3).is_err());
        assert!(prepare(Metric::L2, &[1.0, f32::NAN], 2).is_err());
        assert!(prepare(Metric::Cosine, &[0.0, 0.0], 2).is_err());
        assert_eq!(prepare(Metric::L2, &[0.0, 0.0], 2).unwrap(), vec![0.0, 0.0]);
        let u = prepare(Metric::Cosine, &[3.0, 4.0], 2).unwrap();
        assert!((u[0] - 0.6).abs() < 1e-6 && (u[1] - 0.8).abs() < 1e-6);
    }
}
