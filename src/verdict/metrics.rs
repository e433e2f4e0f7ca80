//! Metrics over a dataset's rows: classification scores from expected and extracted
//! labels, and the share of rows that passed with its Wilson interval. Pure functions
//! of counts, so merged shard reports recompute them from the sums.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A share with its 95% Wilson score interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Share {
    /// Successes.
    pub(crate) k: u64,
    /// Trials.
    pub(crate) n: u64,
    /// k / n (0 when n is 0).
    pub(crate) value: f64,
    /// The interval's lower bound.
    pub(crate) low: f64,
    /// The interval's upper bound.
    pub(crate) high: f64,
}

/// The z of a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// `k` of `n` with its 95% Wilson interval, which stays inside [0, 1] and is honest at
/// 0 and n, unlike the normal approximation.
pub(crate) fn wilson(k: u64, n: u64) -> Share {
    if n == 0 {
        return Share { k, n, value: 0.0, low: 0.0, high: 1.0 };
    }
    let (kf, nf) = (k as f64, n as f64);
    let p = kf / nf;
    let z2 = Z95 * Z95;
    let centre = p + z2 / (2.0 * nf);
    let spread = Z95 * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
    let denominator = 1.0 + z2 / nf;
    Share {
        k,
        n,
        value: p,
        low: ((centre - spread) / denominator).max(0.0),
        high: ((centre + spread) / denominator).min(1.0),
    }
}

/// Counts of a classification: `confusion[expected][predicted]`, where a predicted
/// label that could not be extracted counts under `unextracted[expected]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Confusion {
    /// Rows by expected label, then by extracted label.
    pub(crate) matrix: BTreeMap<String, BTreeMap<String, u64>>,
    /// Rows whose label could not be extracted, by expected label.
    pub(crate) unextracted: BTreeMap<String, u64>,
}

impl Confusion {
    pub(crate) fn add(&mut self, expected: &str, got: Option<&str>) {
        match got {
            Some(got) => *self.matrix.entry(expected.to_owned()).or_default().entry(got.to_owned()).or_default() += 1,
            None => *self.unextracted.entry(expected.to_owned()).or_default() += 1,
        }
    }

    /// Sums two confusions (merged shards).
    pub(crate) fn merge(&mut self, other: &Confusion) {
        for (expected, row) in &other.matrix {
            for (got, n) in row {
                *self.matrix.entry(expected.clone()).or_default().entry(got.clone()).or_default() += n;
            }
        }
        for (expected, n) in &other.unextracted {
            *self.unextracted.entry(expected.clone()).or_default() += n;
        }
    }

    /// Every label seen, expected or extracted, sorted.
    pub(crate) fn classes(&self) -> Vec<String> {
        let mut all: BTreeSet<&String> = self.matrix.keys().chain(self.unextracted.keys()).collect();
        all.extend(self.matrix.values().flat_map(BTreeMap::keys));
        all.into_iter().cloned().collect()
    }

    fn count(&self, expected: &str, got: &str) -> u64 {
        self.matrix.get(expected).and_then(|r| r.get(got)).copied().unwrap_or(0)
    }

    pub(crate) fn total(&self) -> u64 {
        self.matrix.values().flat_map(BTreeMap::values).sum::<u64>() + self.unextracted.values().sum::<u64>()
    }

    pub(crate) fn unextracted_total(&self) -> u64 {
        self.unextracted.values().sum()
    }

    /// The scores these counts give; `positive` picks the class whose precision, recall
    /// and F1 are the headline (otherwise the macro averages are).
    pub(crate) fn scores(&self, positive: Option<&str>) -> Scores {
        let classes = self.classes();
        let per_class: Vec<ClassScore> = classes.iter().map(|c| self.class_score(c)).collect();
        let total = self.total();
        let correct: u64 = classes.iter().map(|c| self.count(c, c)).sum();
        let n = per_class.len().max(1) as f64;
        let macro_of = |f: fn(&ClassScore) -> f64| per_class.iter().map(f).sum::<f64>() / n;
        let (macro_p, macro_r, macro_f1) = (macro_of(|c| c.precision), macro_of(|c| c.recall), macro_of(|c| c.f1));
        let headline =
            positive.map(|p| per_class.iter().find(|c| c.label == p).cloned().unwrap_or_else(|| ClassScore::empty(p)));
        Scores {
            accuracy: wilson(correct, total),
            precision: headline.as_ref().map_or(macro_p, |c| c.precision),
            recall: headline.as_ref().map_or(macro_r, |c| c.recall),
            f1: headline.as_ref().map_or(macro_f1, |c| c.f1),
            macro_f1,
            unextracted: self.unextracted_total(),
            per_class,
        }
    }

    fn class_score(&self, class: &str) -> ClassScore {
        let tp = self.count(class, class);
        // Predicted `class` but expected another.
        let fp: u64 =
            self.matrix.iter().filter(|(e, _)| *e != class).map(|(_, r)| r.get(class).copied().unwrap_or(0)).sum();
        // Expected `class` but predicted another, or nothing could be extracted.
        let support: u64 =
            self.matrix.get(class).map_or(0, |r| r.values().sum()) + self.unextracted.get(class).copied().unwrap_or(0);
        let fn_ = support - tp;
        ClassScore::from_counts(class, tp, fp, fn_, support)
    }
}

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClassScore {
    pub(crate) label: String,
    pub(crate) precision: f64,
    pub(crate) recall: f64,
    pub(crate) f1: f64,
    /// Rows expecting this label.
    pub(crate) support: u64,
}

impl ClassScore {
    fn from_counts(label: &str, tp: u64, fp: u64, fn_: u64, support: u64) -> ClassScore {
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let precision = ratio(tp, tp + fp);
        let recall = ratio(tp, tp + fn_);
        let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
        ClassScore { label: label.to_owned(), precision, recall, f1, support }
    }

    fn empty(label: &str) -> ClassScore {
        ClassScore::from_counts(label, 0, 0, 0, 0)
    }
}

/// What a classification scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Scores {
    /// Correct rows over all rows (rows without an extracted label count as wrong).
    pub(crate) accuracy: Share,
    /// The positive class's precision, or the macro average.
    pub(crate) precision: f64,
    /// The positive class's recall, or the macro average.
    pub(crate) recall: f64,
    /// The positive class's F1, or macro-F1.
    pub(crate) f1: f64,
    pub(crate) macro_f1: f64,
    /// Rows whose label could not be extracted.
    pub(crate) unextracted: u64,
    pub(crate) per_class: Vec<ClassScore>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    #[test]
    fn wilson_matches_the_textbook_values() {
        // 8 of 10: the interval is [0.4902, 0.9433].
        let s = wilson(8, 10);
        assert!(close(s.value, 0.8) && close(s.low, 0.4902) && close(s.high, 0.9433), "{s:?}");
        // All passed: the upper bound is 1 and the lower one is not.
        let all = wilson(24, 24);
        assert!(close(all.high, 1.0) && close(all.low, 0.8620), "{all:?}");
        assert_eq!(wilson(0, 0).high, 1.0);
    }

    #[test]
    fn binary_scores_with_a_false_positive_and_an_unextracted_row() {
        let mut c = Confusion::default();
        for (expected, got) in
            [("1", Some("1")), ("1", Some("1")), ("1", None), ("0", Some("0")), ("0", Some("0")), ("0", Some("1"))]
        {
            c.add(expected, got);
        }
        let s = c.scores(Some("1"));
        assert_eq!((s.accuracy.k, s.accuracy.n, s.unextracted), (4, 6, 1));
        // Class 1: tp 2, fp 1, fn 1 (the unextracted row).
        assert!(close(s.precision, 2.0 / 3.0) && close(s.recall, 2.0 / 3.0) && close(s.f1, 2.0 / 3.0), "{s:?}");
        // Class 0: tp 2, fp 0, fn 1: p 1, r 2/3, f1 0.8; macro-F1 (0.8 + 2/3) / 2.
        assert!(close(s.macro_f1, (0.8 + 2.0 / 3.0) / 2.0), "{s:?}");
        assert_eq!(s.per_class.iter().map(|c| c.support).collect::<Vec<_>>(), [3, 3]);
        let macro_ = c.scores(None);
        assert!(close(macro_.f1, macro_.macro_f1));
    }

    #[test]
    fn merged_counts_score_like_one_run() {
        let (mut a, mut b, mut whole) = (Confusion::default(), Confusion::default(), Confusion::default());
        for (i, (e, g)) in [("x", Some("x")), ("y", Some("x")), ("y", None), ("z", Some("z"))].into_iter().enumerate() {
            if i % 2 == 0 {
                a.add(e, g)
            } else {
                b.add(e, g)
            }
            whole.add(e, g);
        }
        a.merge(&b);
        assert_eq!(a, whole);
        assert_eq!(a.classes(), ["x", "y", "z"]);
    }
}
