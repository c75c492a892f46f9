//! The keyword index: each memory's analysed terms with their frequencies, and one shared
//! term dictionary. It lives beside the vectors in the in-memory state and is updated in
//! the same step as they are, after the transaction that stored the text has committed;
//! on open it is rebuilt from the stored texts, so it can never disagree with them.
//!
//! Scoring is BM25 (Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25
//! and Beyond", 2009) with statistics taken over the candidates of the query, i.e. the
//! scope being searched: a word that every one of this user's memories contains says
//! nothing, whatever other users wrote.

use std::collections::HashMap;

use crate::text::analyze;

/// BM25 term-frequency saturation.
const K1: f32 = 1.2;
/// BM25 length normalisation.
const B: f32 = 0.75;

/// One memory's terms: `(term id, frequency)` sorted by term id, and its length.
#[derive(Debug, Clone, Default)]
pub(crate) struct DocTerms {
    terms: Box<[(u32, u32)]>,
    len: u32,
}

impl DocTerms {
    fn frequency(&self, term: u32) -> u32 {
        self.terms
            .binary_search_by_key(&term, |&(t, _)| t)
            .map_or(0, |i| self.terms[i].1)
    }
}

#[derive(Default)]
pub(crate) struct KeywordIndex {
    dictionary: HashMap<String, u32>,
    /// By slot; `None` for free slots.
    docs: Vec<Option<DocTerms>>,
}

impl KeywordIndex {
    /// Indexes `text` as the memory in `slot` (replacing what was there).
    pub(crate) fn set(&mut self, slot: usize, text: &str) {
        let mut counts: HashMap<u32, u32> = HashMap::new();
        let words = analyze(text);
        for word in &words {
            let next_id = self.dictionary.len() as u32;
            let id = *self.dictionary.entry(word.clone()).or_insert(next_id);
            *counts.entry(id).or_default() += 1;
        }
        let mut terms: Vec<(u32, u32)> = counts.into_iter().collect();
        terms.sort_unstable();
        if self.docs.len() <= slot {
            self.docs.resize(slot + 1, None);
        }
        self.docs[slot] = Some(DocTerms {
            terms: terms.into_boxed_slice(),
            len: words.len() as u32,
        });
    }

    pub(crate) fn remove(&mut self, slot: usize) {
        if let Some(doc) = self.docs.get_mut(slot) {
            *doc = None;
        }
    }

    /// The distinct known terms of a query; words never indexed cannot match anything.
    pub(crate) fn query_terms(&self, text: &str) -> Vec<u32> {
        let mut ids: Vec<u32> = analyze(text)
            .iter()
            .filter_map(|w| self.dictionary.get(w).copied())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// BM25 scores of `slots` for `query` (term ids), with document frequencies and
    /// average length computed over `slots` themselves.
    pub(crate) fn bm25(&self, query: &[u32], slots: &[u32]) -> Vec<f32> {
        let mut scores = vec![0.0f32; slots.len()];
        if query.is_empty() || slots.is_empty() {
            return scores;
        }
        let docs: Vec<Option<&DocTerms>> = slots
            .iter()
            .map(|&s| self.docs.get(s as usize).and_then(Option::as_ref))
            .collect();
        let n = slots.len() as f32;
        let total_len: u64 = docs.iter().flatten().map(|d| u64::from(d.len)).sum();
        let avg_len = (total_len as f32 / n).max(1.0);
        for &term in query {
            let freqs: Vec<u32> = docs
                .iter()
                .map(|d| d.map_or(0, |d| d.frequency(term)))
                .collect();
            let df = freqs.iter().filter(|&&f| f > 0).count() as f32;
            if df == 0.0 {
                continue;
            }
            // Lucene's variant: never negative, even for a term in every document.
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            for ((score, &f), doc) in scores.iter_mut().zip(&freqs).zip(&docs) {
                if f == 0 {
                    continue;
                }
                let len = doc.map_or(0.0, |d| d.len as f32);
                let f = f as f32;
                *score += idf * f * (K1 + 1.0) / (f + K1 * (1.0 - B + B * len / avg_len));
            }
        }
        scores
    }
}

#[cfg(test)]
mod tests {
    use super::KeywordIndex;

    #[test]
    fn rarer_and_repeated_terms_score_higher() {
        let mut index = KeywordIndex::default();
        index.set(0, "I love hiking in the mountains");
        index.set(1, "Hiking hiking hiking every weekend");
        index.set(2, "I love cooking pasta");
        let query = index.query_terms("hiking");
        let scores = index.bm25(&query, &[0, 1, 2]);
        assert!(
            scores[1] > scores[0] && scores[0] > 0.0 && scores[2] == 0.0,
            "{scores:?}"
        );
        let query = index.query_terms("love pasta");
        let scores = index.bm25(&query, &[0, 1, 2]);
        assert!(
            scores[2] > scores[0],
            "pasta is rarer than love: {scores:?}"
        );
    }

    #[test]
    fn unknown_words_and_removed_docs_score_nothing() {
        let mut index = KeywordIndex::default();
        index.set(0, "tea");
        assert!(index.query_terms("coffee").is_empty());
        let query = index.query_terms("tea");
        index.remove(0);
        assert_eq!(index.bm25(&query, &[0]), vec![0.0]);
    }
}
