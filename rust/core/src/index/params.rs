//! The index's parameters and the values its methods return.

use super::metric::Metric;
use crate::error::{Error, Result};

/// Largest `m` accepted (level-0 lists hold `2m` links).
pub const MAX_M: usize = 128;
/// Largest vector length accepted.
pub const MAX_DIMS: usize = 65_536;

/// Build and search parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct HnswParams {
    /// Vector length.
    pub dims: usize,
    /// How vectors are compared.
    pub metric: Metric,
    /// Links per node on levels >= 1 (level 0 holds 2m). hnswlib's `M`.
    pub m: usize,
    /// Candidates considered when linking a node (the paper's `efConstruction`).
    pub ef_construction: usize,
    /// Default candidates kept by a search when the caller passes `ef = 0`.
    pub ef_search: usize,
    /// Seed of the level generator.
    pub seed: u64,
}

impl HnswParams {
    /// hnswlib's usual defaults: m = 16, ef_construction = 200; ef_search = 64.
    pub fn new(dims: usize, metric: Metric) -> Self {
        HnswParams {
            dims,
            metric,
            m: 16,
            ef_construction: 200,
            ef_search: 64,
            seed: 0x6d65_6d6c_616e_6533,
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.dims == 0 || self.dims > MAX_DIMS {
            return Err(Error::invalid(format!(
                "dims must be in 1..={MAX_DIMS}, got {}",
                self.dims
            )));
        }
        if self.m < 2 || self.m > MAX_M {
            return Err(Error::invalid(format!(
                "m must be in 2..={MAX_M}, got {}",
                self.m
            )));
        }
        if self.ef_construction == 0 || self.ef_search == 0 {
            return Err(Error::invalid(
                "ef_construction and ef_search must be positive",
            ));
        }
        Ok(())
    }
}

/// A search hit: the caller's key and its score (higher is better; see [`Metric`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Neighbour {
    pub key: u32,
    pub score: f32,
}

/// Memory held by an index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryUsage {
    /// Bytes of every array, list and map the index owns (capacity, not just length).
    pub bytes: usize,
    /// Live vectors.
    pub vectors: usize,
}

impl MemoryUsage {
    /// Bytes per live vector (0 for an empty index).
    pub fn per_vector(&self) -> f64 {
        if self.vectors == 0 {
            0.0
        } else {
            self.bytes as f64 / self.vectors as f64
        }
    }
}
