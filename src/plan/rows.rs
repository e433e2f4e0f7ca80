//! Variables and rows: a scenario with variables, a `dataset` or `rows` has its
//! templates rendered, and a dataset scenario's case becomes one case per row,
//! `name[row=ID]`. Every row is rendered here, so `validate` finds every problem.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use super::template::{TemplateError, Templates, context, row_context};
use super::{Case, DatasetPlan, Plan};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::explain::closest;
use crate::load::LoadedScenario;
use crate::load::dataset::{Dataset, Row};
use crate::scenario::Scenario;

/// The most cases a dataset scenario expands to (rows times matrix combinations).
pub(crate) const MAX_ROW_CASES: usize = 1_000_000;
/// The expected label of a row when `metrics.label.expected` is not given.
const DEFAULT_EXPECTED: &str = "{{ label }}";

/// The scenario's compiled templates, when it has variables or rows (a scenario
/// without either sends its text as written, braces and all).
pub(super) fn templates(s: &LoadedScenario) -> Result<Option<Arc<Templates>>, Vec<Diagnostic>> {
    let has_vars = s.spec.vars.as_ref().is_some_and(|v| !v.is_empty());
    if s.dataset.is_none() && !has_vars {
        return Ok(None);
    }
    if let Some(d) = &s.dataset {
        let combinations = s
            .value
            .get("matrix")
            .and_then(|m| m.as_object())
            .map_or(1, |m| m.values().map(|v| v.as_array().map_or(1, Vec::len)).product::<usize>());
        if d.rows.len().saturating_mul(combinations) > MAX_ROW_CASES {
            return Err(vec![s.diagnostic(
                "",
                format!("{} rows make more than {MAX_ROW_CASES} cases; split the dataset", d.rows.len()),
            )]);
        }
    }
    let mut spec = s.spec.clone();
    with_label_default(&mut spec);
    let (templates, errors) = Templates::compile(&spec);
    if errors.is_empty() {
        Ok(Some(Arc::new(templates)))
    } else {
        Err(errors.iter().map(|e| located(s, &e.pointer, e.line, describe(e))).collect())
    }
}

/// `case` rendered (once), or one case per row of the scenario's dataset. Every row
/// is rendered here to find every problem, but not kept: a row's case is rendered
/// again when it runs ([`Case::rendered`]), so ten thousand rows cost their variables,
/// not ten thousand prompts.
pub(super) fn expand(s: &LoadedScenario, templates: &Arc<Templates>, mut case: Case, plan: &mut Plan) {
    with_label_default(Arc::make_mut(&mut case.spec));
    let base_vars = case.spec.vars.clone().unwrap_or_default();
    let base = context(&base_vars);
    let Some(dataset) = &s.dataset else {
        let mut undefined = false;
        for (pointer, reads) in templates.reads() {
            for var in reads.iter().filter(|v| !base_vars.contains_key(*v)) {
                let hint = closest(var, base_vars.keys().map(String::as_str))
                    .map(|c| format!("; did you mean `{c}`?"))
                    .unwrap_or_default();
                let line = s.value.pointer(pointer).and_then(|v| v.as_str()).and_then(|t| line_of(t, var));
                let message = format!("undefined variable `{var}`: no `vars` entry defines it{hint}");
                say_once(plan, located(s, pointer, line, message));
                undefined = true;
            }
        }
        if undefined {
            return;
        }
        match templates.render(&case.spec, &base) {
            Ok(spec) => {
                case.spec = Arc::new(spec);
                plan.push(case);
            }
            Err(e) => say_once(plan, located(s, &e.pointer, e.line, describe(&e))),
        }
        return;
    };
    let undefined = undefined(templates, &base_vars.keys().cloned().collect(), dataset);
    if !undefined.is_empty() {
        for ((pointer, var), rows) in undefined {
            let message = if rows.len() == dataset.rows.len() {
                let known: Vec<String> = base_vars
                    .keys()
                    .cloned()
                    .chain(dataset.rows.iter().flat_map(|r| r.vars().into_iter().map(|(k, _)| k)))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let hint = closest(&var, known.iter().map(String::as_str))
                    .map(|c| format!("; did you mean `{c}`?"))
                    .unwrap_or_default();
                format!(
                    "undefined variable `{var}`: neither `vars` nor any row of {} defines it{hint}",
                    crate::fs::shown(&dataset.file)
                )
            } else {
                format!("undefined variable `{var}`{}", in_rows(dataset, &rows))
            };
            let line = s.value.pointer(&pointer).and_then(|v| v.as_str()).and_then(|t| line_of(t, &var));
            say_once(plan, located(s, &pointer, line, message));
        }
        return;
    }
    // What rows share: the template, not the scenario's variables (a long policy).
    Arc::make_mut(&mut case.spec).vars = None;
    let group = Arc::new(DatasetPlan {
        id: case.id.clone(),
        file: dataset.file.clone(),
        source: crate::load::absolute(&dataset.file)
            .strip_prefix(&s.project_root)
            .map(std::path::Path::to_path_buf)
            .unwrap_or_else(|_| dataset.file.clone()),
        rows: dataset.rows.iter().cloned().collect(),
        metrics: case.spec.metrics.clone(),
        templates: templates.clone(),
        base,
    });
    // A regex that is a template is only a regex once rendered: checked per row.
    let regexes: Vec<usize> = (0..case.spec.expect.len())
        .filter(|i| templates.reads().any(|(p, _)| p == format!("/expect/{i}/regex")))
        .collect();
    let mut failures: BTreeMap<(String, String), Vec<&Row>> = BTreeMap::new();
    // Every row is rendered to find every problem; its case is made only when asked for.
    for row in &dataset.rows {
        let rendered = templates.render(&case.spec, &row_context(&row.vars(), &group.base)).and_then(|spec| {
            for &i in &regexes {
                let pattern = spec.expect[i].regex.as_deref().unwrap_or_default();
                if let Err(e) = regex::Regex::new(pattern) {
                    let why = e.to_string().lines().rfind(|l| !l.trim().is_empty()).unwrap_or("").trim().to_owned();
                    return Err(TemplateError {
                        pointer: format!("/expect/{i}/regex"),
                        line: None,
                        message: format!("rendered, this is not a valid regex: {}", why.trim_start_matches("error: ")),
                    });
                }
            }
            Ok(spec)
        });
        if let Err(e) = rendered {
            failures.entry((e.pointer.clone(), describe(&e))).or_default().push(row.as_ref());
        }
    }
    if failures.is_empty() {
        plan.push_rows(case, group);
    }
    for ((pointer, message), rows) in failures {
        say_once(plan, located(s, &pointer, None, format!("{message}{}", in_rows(dataset, &rows))));
    }
}

impl Case {
    /// The case as it runs: a dataset row's templates rendered with its variables. The
    /// plan rendered every row already, so an error here means the files changed since.
    pub(crate) fn rendered(&self) -> Result<Case, TemplateError> {
        let Some(row) = &self.row else { return Ok(self.clone()) };
        let context = row_context(&row.row.vars(), &row.dataset.base);
        let spec = row.dataset.templates.render(&self.spec, &context)?;
        Ok(Case { spec: Arc::new(spec), ..self.clone() })
    }
}

/// `name[row=ID]`, or `name[key=value,row=ID]` for a matrix case.
pub(crate) fn row_case_id(group: &str, row: &str) -> String {
    match group.strip_suffix(']') {
        Some(open) => format!("{open},row={row}]"),
        None => format!("{group}[row={row}]"),
    }
}

/// A label metric's expected value is `{{ label }}` unless given.
fn with_label_default(spec: &mut Scenario) {
    if let Some(label) = spec.metrics.as_mut().and_then(|m| m.label.as_mut()) {
        label.expected.get_or_insert_with(|| DEFAULT_EXPECTED.to_owned());
    }
}

/// For each template and variable it reads that neither the scenario nor a row
/// defines: the rows that lack it.
fn undefined<'a>(
    templates: &Templates,
    base: &HashSet<String>,
    dataset: &'a Dataset,
) -> BTreeMap<(String, String), Vec<&'a Row>> {
    let mut out: BTreeMap<(String, String), Vec<&Row>> = BTreeMap::new();
    let wanted: Vec<(&str, &String)> = templates
        .reads()
        .flat_map(|(pointer, reads)| reads.iter().filter(|v| !base.contains(*v)).map(move |v| (pointer, v)))
        .collect();
    if wanted.is_empty() {
        return out;
    }
    // Each row's variables parsed once, for every template that reads from it.
    for row in &dataset.rows {
        let vars = row.vars();
        for (pointer, var) in &wanted {
            if !vars.contains_key(*var) {
                out.entry(((*pointer).to_owned(), (*var).clone())).or_default().push(row.as_ref());
            }
        }
    }
    out
}

/// `, in row `3` (data/q.csv:4) and 9 more rows; rows have: id, label, question`.
fn in_rows(dataset: &Dataset, rows: &[&Row]) -> String {
    let Some(first) = rows.first() else { return String::new() };
    let more = match rows.len() - 1 {
        0 => String::new(),
        1 => " and 1 more row".to_owned(),
        n => format!(" and {n} more rows"),
    };
    let mut names: Vec<String> = first.vars().into_iter().map(|(k, _)| k).collect();
    names.sort_unstable();
    format!(", in row `{}` ({}){more}; that row has: {}", first.id, dataset.locate(first), names.join(", "))
}

fn describe(e: &TemplateError) -> String {
    match e.line {
        Some(line) if line > 1 => format!("{} (line {line} of the template)", e.message),
        _ => e.message.clone(),
    }
}

/// A diagnostic at line `line` (1-based) of the template at `pointer`: a block scalar's
/// lines are the file's lines from where the value starts.
fn located(s: &LoadedScenario, pointer: &str, line: Option<usize>, message: String) -> Diagnostic {
    let mut d = s.diagnostic(pointer, message);
    if let (Some(pos), Some(line)) = (&mut d.pos, line) {
        pos.line += line.saturating_sub(1) as u64;
    }
    d
}

/// The first line (1-based) of `template` that names `var`.
fn line_of(template: &str, var: &str) -> Option<usize> {
    let word = regex::Regex::new(&format!(r"\b{}\b", regex::escape(var))).ok()?;
    template.lines().position(|l| word.is_match(l)).map(|i| i + 1)
}

/// A problem every matrix combination would repeat is said once.
fn say_once(plan: &mut Plan, d: Diagnostic) {
    if !plan.diagnostics.contains(&d) {
        plan.diagnostics.push(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_ids_join_the_matrix_values() {
        assert_eq!(row_case_id("spam", "7"), "spam[row=7]");
        assert_eq!(row_case_id("spam[model=m]", "a-1"), "spam[model=m,row=a-1]");
    }
}
