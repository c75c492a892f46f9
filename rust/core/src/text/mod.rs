//! Text analysis for the keyword path: case folding, word splitting, English stop words
//! and stemming, so that "Travelling", "travels" and "travel" meet. Numbers stay tokens
//! ("2023", "7pm" → "7pm"), so dates and amounts remain searchable.

mod analyzer;
mod stopwords;

pub use analyzer::analyze;
