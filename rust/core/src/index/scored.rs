//! A slot with its distance to a query, ordered by distance (then slot, so that ties
//! break the same way every time).

use std::cmp::Ordering;

/// A slot and its distance (lower is closer).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scored {
    pub(crate) dist: f32,
    pub(crate) slot: u32,
}

impl Scored {
    #[inline]
    pub(crate) fn new(dist: f32, slot: u32) -> Self {
        Scored { dist, slot }
    }
}

impl PartialEq for Scored {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        self.dist
            .total_cmp(&other.dist)
            .then(self.slot.cmp(&other.slot))
    }
}
