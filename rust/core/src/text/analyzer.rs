//! Text → index terms.

use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};

use super::stopwords::is_stopword;

/// Tokens longer than this are not words (hashes, base64, URLs): keep them whole but
/// stop them from bloating the dictionary with stems of garbage.
const MAX_TOKEN_CHARS: usize = 40;

fn stemmer() -> &'static Stemmer {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    STEMMER.get_or_init(|| Stemmer::create(Algorithm::English))
}

/// The index terms of `text`, in order (duplicates kept: term frequency matters).
///
/// Words are maximal runs of letters, digits and inner apostrophes, lower-cased; a
/// possessive or contraction tail ("Caroline's", "don't") is cut at the apostrophe;
/// stop words are dropped; the rest is Snowball-English stemmed (Porter2).
pub fn analyze(text: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut word = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let inner_apostrophe = matches!(c, '\'' | '’')
            && !word.is_empty()
            && chars.peek().is_some_and(|n| n.is_alphanumeric());
        if c.is_alphanumeric() || inner_apostrophe {
            word.extend(c.to_lowercase());
        } else if !word.is_empty() {
            push_term(&mut terms, &word);
            word.clear();
        }
    }
    if !word.is_empty() {
        push_term(&mut terms, &word);
    }
    terms
}

fn push_term(terms: &mut Vec<String>, word: &str) {
    if is_stopword(word) {
        return;
    }
    // "caroline's" → "caroline", "don't" → "don" (a stop word after the cut: dropped).
    let base = match word.find(['\'', '’']) {
        Some(pos) => &word[..pos],
        None => word,
    };
    if base.is_empty() || is_stopword(base) {
        return;
    }
    if base.chars().count() > MAX_TOKEN_CHARS {
        terms.push(base.to_owned());
    } else {
        terms.push(stemmer().stem(base).into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::analyze;

    #[test]
    fn folds_case_splits_punctuation_and_stems() {
        assert_eq!(analyze("Travelling to SF!"), vec!["travel", "sf"]);
        assert_eq!(
            analyze("She travels; they travel."),
            vec!["travel", "travel"]
        );
    }

    #[test]
    fn drops_stop_words_and_possessives() {
        assert_eq!(
            analyze("What is Caroline's favourite book?"),
            vec!["carolin", "favourit", "book"]
        );
        assert_eq!(analyze("I don't know"), vec!["know"]);
    }

    #[test]
    fn keeps_numbers_and_dates() {
        assert_eq!(
            analyze("On 8 May, 2023 at 7pm"),
            vec!["8", "may", "2023", "7pm"]
        );
    }

    #[test]
    fn handles_unicode_and_empty_text() {
        assert!(analyze("").is_empty());
        assert!(analyze("?!... --").is_empty());
        assert_eq!(analyze("Café ÜBER"), vec!["café", "über"]);
    }
}
