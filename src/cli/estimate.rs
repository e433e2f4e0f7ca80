//! `--dry-run`'s estimate of what a run costs, case by case and added up per model:
//! input tokens counted, output tokens bounded (see `execute::estimate`), priced.

use crate::execute::estimate::{Bound, Estimate, UNBOUNDED_OUTPUT};
use crate::pricing::usd;

/// `812 in / at most 4096 out tokens (max_tokens), at most $0.00252`; `about` where a
/// recording bounds the output.
pub(super) fn describe(e: &Estimate) -> String {
    let why = match e.bound {
        Bound::MaxTokens => "max_tokens",
        Bound::Recorded => "as recorded",
        Bound::Unbounded => "unbounded: no max_tokens, no recording",
    };
    // A recording says what the answer took then: an estimate, not a bound.
    let bounded = if e.bound == Bound::Recorded { "about" } else { "at most" };
    let cost = e.usd.map_or_else(|| "no price for this model".to_owned(), |c| format!("{bounded} {}", usd(c)));
    format!("{} in / {bounded} {} out tokens ({why}), {cost}", e.input_tokens, e.output_tokens)
}

/// The estimates of a run, added up.
#[derive(Debug, Default)]
pub(super) struct Total {
    cases: usize,
    input_tokens: u64,
    output_tokens: u64,
    usd: f64,
    unpriced: usize,
    unbounded: usize,
    recorded: usize,
    /// Per model: cases and cost, in the order they came.
    models: Vec<(String, usize, f64)>,
}

impl Total {
    pub(super) fn add(&mut self, model: &str, e: &Estimate) {
        self.cases += 1;
        self.input_tokens = self.input_tokens.saturating_add(e.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(e.output_tokens);
        self.unbounded += usize::from(e.bound == Bound::Unbounded);
        self.recorded += usize::from(e.bound == Bound::Recorded);
        let Some(cost) = e.usd else {
            self.unpriced += 1;
            return;
        };
        self.usd += cost;
        match self.models.iter_mut().find(|(m, _, _)| m == model) {
            Some((_, cases, total)) => {
                *cases += 1;
                *total += cost;
            }
            None => self.models.push((model.to_owned(), 1, cost)),
        }
    }

    /// The closing comment lines of `--dry-run`.
    pub(super) fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "# estimate: {} cases, {} input tokens, at most {} output tokens, at most {} live (prices of {}; pricing: in defaults.yaml overrides them)",
            self.cases,
            self.input_tokens,
            self.output_tokens,
            usd(self.usd),
            crate::pricing::TABLE_DATE
        )];
        if self.models.len() > 1 {
            for (model, cases, cost) in &self.models {
                lines.push(format!("#   {model}: {cases} cases, at most {}", usd(*cost)));
            }
        }
        if self.recorded > 0 {
            lines.push(format!("#   {} cases bounded by their recordings' output", self.recorded));
        }
        if self.unbounded > 0 {
            lines.push(format!(
                "#   {} cases have no max_tokens and no recording: counted at {UNBOUNDED_OUTPUT} output tokens each; set params.max_tokens for a closer bound",
                self.unbounded
            ));
        }
        if self.unpriced > 0 {
            lines.push(format!(
                "#   {} cases have no price for their model: add it under pricing: in defaults.yaml",
                self.unpriced
            ));
        }
        lines
    }
}
