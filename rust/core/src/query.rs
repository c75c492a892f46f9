//! Read queries over the in-memory [`State`]: list, exact vector search, scope match.
//!
//! The planner starts from the smallest posting list of a scope id the filter requires
//! (the usual case: one user's memories) and otherwise scans every row; each candidate
//! is then checked against the whole filter, so the result is exact either way.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::filter::Filter;
use crate::kernels;
use crate::record::MemoryRecord;
use crate::state::{Slot, State};

/// A search hit: the memory and its cosine similarity to the query.
pub type Hit = (Arc<MemoryRecord>, f32);

/// Candidate slots for a filter: one scope's posting list, or every slot.
fn candidates<'a>(state: &'a State, filter: &Filter) -> Box<dyn Iterator<Item = Slot> + 'a> {
    let smallest = filter
        .required_scope_values()
        .into_iter()
        .map(|(field, value)| state.postings(field, value))
        .min_by_key(|list| list.len());
    match smallest {
        Some(list) => Box::new(list.iter().copied()),
        None => Box::new(state.all_slots()),
    }
}

fn matching<'a>(
    state: &'a State,
    filter: &'a Filter,
) -> impl Iterator<Item = (Slot, &'a Arc<MemoryRecord>)> + 'a {
    candidates(state, filter).filter_map(move |slot| {
        let record = state.record(slot)?;
        filter.matches(record).then_some((slot, record))
    })
}

/// The memories matching `filter`, oldest first, at most `limit`.
pub(crate) fn list(state: &State, filter: &Filter, limit: usize) -> Vec<Arc<MemoryRecord>> {
    let mut found: Vec<Arc<MemoryRecord>> = matching(state, filter)
        .map(|(_, r)| Arc::clone(r))
        .collect();
    found.sort_unstable_by_key(|r| r.seq);
    found.truncate(limit);
    found
}

/// Every memory matching `filter` (for scope deletes).
pub(crate) fn all_matching(state: &State, filter: &Filter) -> Vec<Arc<MemoryRecord>> {
    list(state, filter, usize::MAX)
}

/// The `limit` memories most similar to `unit_query` among those matching `filter`,
/// best first, dropping those whose similarity is below `min_similarity`.
pub(crate) fn search(
    state: &State,
    unit_query: &[f32],
    filter: &Filter,
    limit: usize,
    min_similarity: Option<f32>,
) -> Vec<Hit> {
    if state.dims != unit_query.len() || limit == 0 {
        return Vec::new();
    }
    let mut scored: Vec<(f32, i64, Slot)> = matching(state, filter)
        .map(|(slot, record)| {
            (
                kernels::dot(unit_query, state.vector(slot)),
                record.seq,
                slot,
            )
        })
        .filter(|(score, _, _)| min_similarity.is_none_or(|t| *score >= t))
        .collect();
    let order = |a: &(f32, i64, Slot), b: &(f32, i64, Slot)| {
        b.0.partial_cmp(&a.0)
            .unwrap_or(Ordering::Equal)
            .then(a.1.cmp(&b.1))
    };
    if scored.len() > limit {
        scored.select_nth_unstable_by(limit - 1, order);
        scored.truncate(limit);
    }
    scored.sort_unstable_by(order);
    scored
        .into_iter()
        .filter_map(|(score, _, slot)| state.record(slot).map(|r| (Arc::clone(r), score)))
        .collect()
}
