//! Read queries over the in-memory [`State`]: list, search (semantic, keyword, hybrid),
//! scope match.
//!
//! The planner starts from the smallest posting list of a scope id the filter requires
//! (the usual case: one user's memories) and otherwise scans every row; each candidate
//! is then checked against the whole filter, so the result is exact either way.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::filter::Filter;
use crate::index::{Candidates, EXACT_SCAN_MAX_KEYS};
use crate::kernels;
use crate::record::MemoryRecord;
use crate::state::{Slot, State};

/// A search hit: the memory and its score in [0, 1], higher is better.
pub type Hit = (Arc<MemoryRecord>, f32);

/// How `search` ranks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SearchMode {
    /// Cosine similarity of the vectors (clamped to [0, 1]).
    Semantic,
    /// BM25 over the scope, divided by the best BM25 of the query; memories sharing no
    /// word with the query are not returned.
    Keyword,
    /// `semantic_weight * semantic + (1 - semantic_weight) * keyword`.
    Hybrid { semantic_weight: f32 },
}

impl SearchMode {
    fn uses_vectors(self) -> bool {
        !matches!(self, SearchMode::Keyword)
    }
}

/// One search.
pub struct SearchRequest<'a> {
    /// The query's unit vector (needed unless the mode is keyword-only).
    pub unit_vector: Option<&'a [f32]>,
    /// The query's text (used by keyword and hybrid modes).
    pub text: &'a str,
    pub filter: &'a Filter,
    pub limit: usize,
    /// Drop hits scoring below this.
    pub threshold: Option<f32>,
    pub mode: SearchMode,
}

/// Candidate slots for a filter: the posting lists of the scope values it requires (the
/// cheapest field's), or every slot.
fn candidates<'a>(state: &'a State, filter: &Filter) -> Box<dyn Iterator<Item = Slot> + 'a> {
    let smallest = filter
        .required_scope_values()
        .into_iter()
        .map(|(field, values)| {
            // A memory has one value per scope field: the lists of distinct values are
            // disjoint, so chaining them lists each candidate once.
            let mut distinct = values;
            distinct.sort_unstable();
            distinct.dedup();
            let lists: Vec<&[Slot]> = distinct.iter().map(|v| state.postings(field, v)).collect();
            (lists.iter().map(|l| l.len()).sum::<usize>(), lists)
        })
        .min_by_key(|(total, _)| *total);
    match smallest {
        Some((_, lists)) => Box::new(lists.into_iter().flatten().copied()),
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

/// Candidates taken from the graph when a search is too large to scan exactly: at least
/// this many, however small the limit, so that fusion with keyword scores has a pool.
const GRAPH_POOL: usize = 100;

/// The `limit` best memories for the request among those matching its filter, best
/// first, ties broken by age (older first).
///
/// Up to `EXACT_SCAN_MAX_KEYS` matching memories (every scoped search in practice),
/// every one is scored: exact. Beyond, with an approximate index, the graph proposes the
/// semantically nearest (with the filter applied during its walk) and the keyword scores
/// the best matches by words; only that pool is scored and ranked.
pub(crate) fn search(state: &State, request: &SearchRequest<'_>) -> Vec<Hit> {
    if request.limit == 0 {
        return Vec::new();
    }
    let mut slots: Vec<Slot> = matching(state, request.filter)
        .map(|(slot, _)| slot)
        .collect();
    if let (Some(index), Some(q), true) = (
        &state.index,
        request.unit_vector,
        slots.len() > EXACT_SCAN_MAX_KEYS && request.mode.uses_vectors(),
    ) {
        slots = graph_pool(state, index, q, request, slots);
    }
    let semantic: Vec<f32> = match (request.mode.uses_vectors(), request.unit_vector) {
        (true, Some(q)) if q.len() == state.dims => slots
            .iter()
            .map(|&s| kernels::dot(q, state.vector(s)).clamp(0.0, 1.0))
            .collect(),
        (true, _) => return Vec::new(), // no vectors stored yet, or none given
        (false, _) => Vec::new(),
    };
    let keyword = match request.mode {
        SearchMode::Semantic => Vec::new(),
        _ => {
            let terms = state.keywords.query_terms(request.text);
            let mut bm25 = state.keywords.bm25(&terms, &slots);
            let best = bm25.iter().copied().fold(0.0f32, f32::max);
            if best > 0.0 {
                bm25.iter_mut().for_each(|s| *s /= best);
            }
            bm25
        }
    };
    let mut scored: Vec<(f32, i64, Slot)> = slots
        .iter()
        .enumerate()
        .filter_map(|(i, &slot)| {
            let score = match request.mode {
                SearchMode::Semantic => semantic[i],
                SearchMode::Keyword if keyword[i] > 0.0 => keyword[i],
                SearchMode::Keyword => return None,
                SearchMode::Hybrid { semantic_weight: w } => {
                    w * semantic[i] + (1.0 - w) * keyword[i]
                }
            };
            if request.threshold.is_some_and(|t| score < t) {
                return None;
            }
            Some((score, state.record(slot)?.seq, slot))
        })
        .collect();
    let order = |a: &(f32, i64, Slot), b: &(f32, i64, Slot)| {
        b.0.partial_cmp(&a.0)
            .unwrap_or(Ordering::Equal)
            .then(a.1.cmp(&b.1))
    };
    if scored.len() > request.limit {
        scored.select_nth_unstable_by(request.limit - 1, order);
        scored.truncate(request.limit);
    }
    scored.sort_unstable_by(order);
    scored
        .into_iter()
        .filter_map(|(score, _, slot)| state.record(slot).map(|r| (Arc::clone(r), score)))
        .collect()
}

/// The pool an approximate search scores: the graph's nearest matching memories plus,
/// for modes that use words, the best keyword matches among all matching memories.
fn graph_pool(
    state: &State,
    index: &crate::index::HnswIndex,
    query: &[f32],
    request: &SearchRequest<'_>,
    matching_slots: Vec<Slot>,
) -> Vec<Slot> {
    let pool = request.limit.max(GRAPH_POOL);
    let admits = |key: u32| {
        state
            .slot_of_seq(i64::from(key))
            .and_then(|slot| state.record(slot))
            .is_some_and(|record| request.filter.matches(record))
    };
    let candidates = Candidates::Filter {
        admits: &admits,
        estimate: matching_slots.len(),
    };
    let Ok(neighbours) = index.search_filtered(query, pool, pool, candidates) else {
        return matching_slots; // the graph could not answer: score everything
    };
    let mut chosen: Vec<Slot> = neighbours
        .iter()
        .filter_map(|n| state.slot_of_seq(i64::from(n.key)))
        .collect();
    if !matches!(request.mode, SearchMode::Semantic) {
        let terms = state.keywords.query_terms(request.text);
        let bm25 = state.keywords.bm25(&terms, &matching_slots);
        let mut by_words: Vec<(f32, Slot)> = bm25
            .into_iter()
            .zip(matching_slots.iter().copied())
            .filter(|(score, _)| *score > 0.0)
            .collect();
        if by_words.len() > pool {
            by_words.select_nth_unstable_by(pool - 1, |a, b| {
                b.0.partial_cmp(&a.0).unwrap_or(Ordering::Equal)
            });
            by_words.truncate(pool);
        }
        chosen.extend(by_words.into_iter().map(|(_, slot)| slot));
    }
    chosen.sort_unstable();
    chosen.dedup();
    chosen
}
