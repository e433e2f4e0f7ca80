//! Plan: expand each loaded scenario's `matrix` into concrete [`Case`]s with stable
//! ids, resolve what defaults left open (api, model, region, timeout), and mark the
//! cases that `skip`/`only` leave out. Pure: no I/O. [`select`] narrows a plan to
//! what the command line asks for.

pub(crate) mod duration;
pub(crate) mod grader;
pub(crate) mod models;
mod rows;
pub(crate) mod select;
pub(crate) mod template;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use self::duration::parse_limit;
use crate::diagnostic::Diagnostic;
use crate::diagnostic::explain::{explain, plain};
use crate::load::LoadedScenario;
use crate::scenario::{Api, Grader, Metrics, PartPolicy, Scenario};
use crate::schema::validators;

/// The region used when neither the scenario nor a defaults file names one.
pub(crate) const DEFAULT_REGION: &str = "us-west-2";
/// The time limit for one run of a case when none is given.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// The same for a `flex` case: the flex tier serves from spare capacity and may queue a
/// request before it starts, so the time to a first token is minutes, not seconds.
/// Fifteen minutes is what OpenAI advises for its own flex processing; a run's
/// `--deadline` still bounds the whole run.
pub(crate) const FLEX_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// z² for a 95% interval, as `verdict::metrics` computes Wilson's.
const Z95_SQUARED: f64 = 1.959_963_984_540_054 * 1.959_963_984_540_054;
/// A matrix larger than this is almost certainly a mistake.
pub(crate) const MAX_CASES_PER_SCENARIO: usize = 10_000;

/// One runnable case: a scenario with one combination of its matrix applied.
#[derive(Debug, Clone)]
pub struct Case {
    /// `name`, or `name[key=value,...]` for a matrix case, keys in matrix order.
    pub id: String,
    pub file: PathBuf,
    /// The project the scenario belongs to (`snapshots/` lives here).
    pub project_root: PathBuf,
    /// The scenario file below the project root.
    pub source: PathBuf,
    /// The matrix combination of this case, in matrix order.
    pub variant: Vec<(String, Value)>,
    pub api: Api,
    pub model: String,
    pub region: String,
    pub samples: u32,
    pub timeout: Duration,
    /// A `command` tool's `timeout`, by tool name, where the scenario sets one.
    pub tool_timeouts: BTreeMap<String, Duration>,
    pub skip: Option<SkipReason>,
    /// The scenario with defaults merged, this combination applied (`matrix` removed)
    /// and, where it has variables, its templates rendered. A dataset row's is rendered
    /// when it runs ([`Case::rendered`]): until then it is the template every row shares.
    pub spec: Arc<Scenario>,
    /// The dataset row this case runs, for a `dataset` or `rows` scenario.
    pub row: Option<RowCase>,
}

/// A dataset row's part in a case.
#[derive(Debug, Clone)]
pub struct RowCase {
    /// The row's id: the case id is `name[row=ID]`.
    pub id: String,
    /// Where the row is: `file:line`.
    pub at: String,
    pub dataset: Arc<DatasetPlan>,
    /// The row's variables, shared with the loaded dataset.
    pub(crate) row: Arc<crate::load::dataset::Row>,
}

/// One dataset scenario (one matrix combination of it): what its rows share.
#[derive(Debug)]
pub struct DatasetPlan {
    /// The id its rows have without `row=`: `name` or `name[key=value,...]`.
    pub id: String,
    /// The data file (the scenario file for inline rows), as shown to the user.
    pub file: PathBuf,
    /// The data file below the project root.
    pub source: PathBuf,
    /// Every row of the dataset, in order, whether selected or not.
    pub(crate) rows: Arc<[Arc<crate::load::dataset::Row>]>,
    /// What is measured and the thresholds (expected labels are per row, in `spec`).
    pub(crate) metrics: Option<Metrics>,
    /// The scenario's templates, and its `vars` as their context under each row's.
    pub(crate) templates: Arc<template::Templates>,
    pub(crate) base: minijinja::Value,
}

impl Case {
    /// The folder of the scenario file: relative paths in it start here.
    pub(crate) fn scenario_dir(&self) -> PathBuf {
        self.project_root.join(self.source.parent().unwrap_or(std::path::Path::new("")))
    }

    /// The case's snapshot file: `snapshots/` at the project root, mirroring the
    /// scenario file's folder below its suite folder, named after the scenario and,
    /// for a matrix case, its values: `snapshots/basic/compare-decimals@chat-stream.snap`.
    pub(crate) fn snapshot_path(&self) -> PathBuf {
        let mut dir = self.project_root.join("snapshots");
        // The first folder is the suite itself (`scenarios/`); below it, the layout is mirrored.
        let folders: Vec<_> = self.source.parent().into_iter().flat_map(|p| p.components()).skip(1).collect();
        for folder in folders {
            dir.push(folder);
        }
        dir.join(format!("{}.snap", self.snapshot_name()))
    }

    /// The API its model calls go through: its own, or an agent's transport.
    pub fn wire_api(&self) -> Api {
        self.api.through(self.spec.transport)
    }

    /// The id shared by a dataset's rows (`name[...]` without `row=`), else the case id.
    pub(crate) fn group_id(&self) -> &str {
        self.row.as_ref().map_or(&self.id, |r| &r.dataset.id)
    }

    /// `name`, then `@value` for each matrix value, in characters safe in file names.
    pub(crate) fn snapshot_name(&self) -> String {
        let mut name = self.spec.name.clone();
        for (_, value) in &self.variant {
            name.push('@');
            name.extend(
                plain(value).chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }),
            );
        }
        name
    }
}

/// Why a case will not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The scenario says `skip: true`.
    Skip,
    /// Another scenario says `only: true` and this one does not.
    NotOnly,
}

impl DatasetPlan {
    /// Every row id of the dataset, in order.
    pub(crate) fn row_ids(&self) -> impl Iterator<Item = &String> {
        self.rows.iter().map(|r| &r.id)
    }

    /// The case of one of its rows, made from the case every row shares.
    fn row_case(self: &Arc<Self>, template: &Case, row: &Arc<crate::load::dataset::Row>) -> Case {
        Case {
            id: rows::row_case_id(&self.id, &row.id),
            row: Some(RowCase {
                id: row.id.clone(),
                at: format!("{}:{}", crate::fs::shown(&self.file), row.line),
                dataset: self.clone(),
                row: row.clone(),
            }),
            ..template.clone()
        }
    }
}

/// All cases of a suite, and the problems found while expanding it. A dataset's rows
/// are one entry until they are asked for ([`Plan::cases`]): validating or listing a
/// million rows makes each row's case in turn, never all of them at once.
#[derive(Debug, Default)]
pub struct Plan {
    entries: Vec<Planned>,
    pub diagnostics: Vec<Diagnostic>,
    /// What runs but looks wrong (an unknown gpt-oss model id), each said once.
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug)]
enum Planned {
    Case(Case),
    /// A case per row of `group`, each `template` with its row.
    Rows {
        template: Case,
        group: Arc<DatasetPlan>,
    },
}

impl Plan {
    /// Every case, in the suite's order.
    pub fn cases(&self) -> impl Iterator<Item = Case> + '_ {
        self.entries.iter().flat_map(|entry| -> Box<dyn Iterator<Item = Case> + '_> {
            match entry {
                Planned::Case(case) => Box::new(std::iter::once(case.clone())),
                Planned::Rows { template, group } => {
                    Box::new(group.rows.iter().map(|row| group.row_case(template, row)))
                }
            }
        })
    }

    /// The scenarios the cases come from, each once: `(file, name)`.
    pub(crate) fn scenarios(&self) -> usize {
        let mut names: Vec<(&PathBuf, &String)> = self
            .entries
            .iter()
            .map(|e| match e {
                Planned::Case(case) | Planned::Rows { template: case, .. } => (&case.file, &case.spec.name),
            })
            .collect();
        names.dedup();
        names.len()
    }

    /// How many cases there are.
    pub fn len(&self) -> usize {
        self.entries
            .iter()
            .map(|e| match e {
                Planned::Case(_) => 1,
                Planned::Rows { group, .. } => group.rows.len(),
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every case, made.
    pub fn into_cases(self) -> Vec<Case> {
        self.cases().collect()
    }

    pub(crate) fn push(&mut self, case: Case) {
        self.entries.push(Planned::Case(case));
    }

    pub(crate) fn push_rows(&mut self, template: Case, group: Arc<DatasetPlan>) {
        self.entries.push(Planned::Rows { template, group });
    }

    /// One case per snapshot file: a dataset's rows share theirs.
    fn snapshot_owners(&self) -> impl Iterator<Item = Case> + '_ {
        self.entries.iter().map(|entry| match entry {
            Planned::Case(case) => case.clone(),
            Planned::Rows { template, group } => match group.rows.first() {
                Some(row) => group.row_case(template, row),
                None => template.clone(),
            },
        })
    }
}

/// Expands every scenario into cases.
pub fn plan(scenarios: &[LoadedScenario]) -> Plan {
    let mut plan = Plan::default();
    let any_only = scenarios.iter().any(|s| s.spec.only);
    for scenario in scenarios {
        expand(scenario, any_only, &mut plan);
    }
    distinct_snapshots(scenarios, &mut plan);
    plan
}

/// Two cases must never share a snapshot file (matrix values that differ only in
/// characters a file name cannot hold).
fn distinct_snapshots(scenarios: &[LoadedScenario], plan: &mut Plan) {
    let mut seen: std::collections::HashMap<PathBuf, String> = std::collections::HashMap::new();
    let mut problems = Vec::new();
    for case in plan.snapshot_owners() {
        // Equal ids come from duplicate names, which the loader already reports.
        // A dataset's rows share one snapshot file, a table of rows.
        if let Some(first) = seen.insert(case.snapshot_path(), case.group_id().to_owned())
            && first != case.group_id()
        {
            let owner = scenarios.iter().find(|s| s.file == case.file && s.spec.name == case.spec.name);
            let message =
                format!("`{}` and `{first}` would share the snapshot file {}", case.id, case.snapshot_path().display());
            problems.push(match owner {
                Some(s) => s.diagnostic("/matrix", message),
                None => Diagnostic::file(&case.file, message),
            });
        }
    }
    plan.diagnostics.extend(problems);
}

fn expand(s: &LoadedScenario, any_only: bool, plan: &mut Plan) {
    let matrix: Vec<(String, Vec<Value>)> = s
        .value
        .get("matrix")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_array().cloned().unwrap_or_default())).collect())
        .unwrap_or_default();
    let total = matrix.iter().map(|(_, v)| v.len()).try_fold(1usize, |acc, n| acc.checked_mul(n));
    if total.is_none_or(|t| t > MAX_CASES_PER_SCENARIO) {
        plan.diagnostics.push(s.diagnostic(
            "/matrix",
            format!("the matrix expands to more than {MAX_CASES_PER_SCENARIO} cases; split the scenario"),
        ));
        return;
    }
    let mut base = s.value.clone();
    if let Some(map) = base.as_object_mut() {
        map.remove("matrix");
    }
    let templates = match rows::templates(s) {
        Ok(t) => t,
        Err(problems) => return plan.diagnostics.extend(problems),
    };
    for combination in combinations(&matrix) {
        let mut value = base.clone();
        let variant: Vec<(String, Value)> =
            combination.iter().map(|&(k, i)| (matrix[k].0.clone(), matrix[k].1[i].clone())).collect();
        for (key, v) in &variant {
            set_path(&mut value, key, v.clone());
        }
        if let Some(problems) = revalidate(s, &value, &matrix, &combination) {
            // A bad matrix value fails every combination it is in: report it once.
            for p in problems {
                if !plan.diagnostics.contains(&p) {
                    plan.diagnostics.push(p);
                }
            }
            continue;
        }
        match resolve(s, value, variant, any_only) {
            Ok(case) => {
                model_warnings(s, &case, plan);
                match &templates {
                    Some(t) => rows::expand(s, t, case, plan),
                    None => plan.push(case),
                }
            }
            Err(d) => {
                // A missing model or api is the same for every combination: say it once.
                if !plan.diagnostics.contains(&d) {
                    plan.diagnostics.push(d);
                }
            }
        }
    }
}

/// Indices into each matrix entry, first key varying slowest.
fn combinations(matrix: &[(String, Vec<Value>)]) -> Vec<Vec<(usize, usize)>> {
    let mut out: Vec<Vec<(usize, usize)>> = vec![Vec::new()];
    for (k, (_, values)) in matrix.iter().enumerate() {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                (0..values.len()).map(move |i| {
                    let mut next = prefix.clone();
                    next.push((k, i));
                    next
                })
            })
            .collect();
    }
    out
}

/// Sets `api`, `params.temperature` or `params.extra.<name>` (the name may hold dots).
fn set_path(value: &mut Value, key: &str, v: Value) {
    let path: Vec<&str> = match key.strip_prefix("params.extra.") {
        Some(name) => vec!["params", "extra", name],
        None => key.split('.').collect(),
    };
    let mut node = value;
    for (i, segment) in path.iter().enumerate() {
        let Some(map) = node.as_object_mut() else { return };
        if i + 1 == path.len() {
            map.insert((*segment).to_owned(), v);
            return;
        }
        node = map.entry(*segment).or_insert_with(|| Value::Object(Map::new()));
    }
}

fn field_pointer(key: &str) -> String {
    match key.strip_prefix("params.extra.") {
        Some(name) => format!("/params/extra/{}", crate::load::yaml::escape_token(name)),
        None => format!("/{}", key.replace('.', "/")),
    }
}

/// Matrix values get the same checks as the fields they stand for; errors point at
/// the matrix value that caused them.
fn revalidate(
    s: &LoadedScenario,
    value: &Value,
    matrix: &[(String, Vec<Value>)],
    combination: &[(usize, usize)],
) -> Option<Vec<Diagnostic>> {
    let v = validators();
    let problems: Vec<Diagnostic> = v
        .scenario
        .iter_errors(value)
        .flat_map(|e| explain(&e, &v.root))
        .map(|e| {
            let culprit = combination.iter().find(|&&(k, _)| {
                let field = field_pointer(&matrix[k].0);
                crate::load::inside(&field, &e.pointer)
            });
            match culprit {
                Some(&(k, i)) => s.diagnostic(
                    &format!("/matrix/{}/{i}", crate::load::yaml::escape_token(&matrix[k].0)),
                    format!("as `{}`: {}", matrix[k].0, e.message),
                ),
                None => s.diagnostic(&e.pointer, e.message),
            }
        })
        .collect();
    (!problems.is_empty()).then_some(problems)
}

fn resolve(
    s: &LoadedScenario,
    value: Value,
    variant: Vec<(String, Value)>,
    any_only: bool,
) -> Result<Case, Diagnostic> {
    let spec: Scenario = serde_json::from_value(value).map_err(|e| s.diagnostic("", e.to_string()))?;
    let Some(api) = spec.api else {
        return Err(s.diagnostic("/name", "no api: set `api:` (converse, converse-stream, chat, chat-stream, invoke, invoke-stream, responses, responses-stream or agent) here or in a defaults.yaml above this file"));
    };
    let Some(model) = spec.model.clone() else {
        return Err(s.diagnostic(
            "/name",
            "no model: set `model:` (e.g. openai.gpt-oss-20b-1:0) here or in a defaults.yaml above this file",
        ));
    };
    if api != Api::Agent {
        for (field, set) in [
            ("tools", !spec.tools.is_empty()),
            ("transport", spec.transport.is_some()),
            ("max_turns", spec.max_turns.is_some()),
        ] {
            if set {
                return Err(s.diagnostic(
                    &format!("/{field}"),
                    format!("`{field}` is for `api: agent` scenarios (this one uses {api})"),
                ));
            }
        }
    }
    let wire = api.through(spec.transport);
    if !wire.has_stop_sequences() && spec.params.as_ref().is_some_and(|p| p.stop.is_some()) {
        return Err(s.diagnostic(
            "/params/stop",
            format!("the Responses API has no stop sequences, so {wire} cannot send `params.stop` (set here or in a defaults.yaml above this file): remove it, or use chat"),
        ));
    }
    let timeout = match &spec.timeout {
        Some(t) => parse_limit(t).map_err(|e| s.diagnostic("/timeout", e.to_string()))?,
        None if spec.params.as_ref().and_then(|p| p.service_tier) == Some(crate::scenario::ServiceTier::Flex) => {
            FLEX_TIMEOUT
        }
        None => DEFAULT_TIMEOUT,
    };
    let mut tool_timeouts = BTreeMap::new();
    for (i, tool) in spec.tools.iter().enumerate() {
        if let Some(t) = &tool.timeout {
            let d = parse_limit(t).map_err(|e| s.diagnostic(&format!("/tools/{i}/timeout"), e.to_string()))?;
            tool_timeouts.insert(tool.name.clone(), d);
        }
    }
    let id = if variant.is_empty() {
        spec.name.clone()
    } else {
        let parts: Vec<String> = variant.iter().map(|(k, v)| format!("{k}={}", plain(v))).collect();
        format!("{}[{}]", spec.name, parts.join(","))
    };
    let skip = if spec.skip {
        Some(SkipReason::Skip)
    } else if any_only && !spec.only {
        Some(SkipReason::NotOnly)
    } else {
        None
    };
    let samples = spec.samples.unwrap_or(1);
    if let Some(bound) = spec.min_pass_rate_lower_bound {
        // All n of n passed bound the rate at n / (n + z²): fewer samples can never pass.
        let need = (bound * Z95_SQUARED / (1.0 - bound)).ceil().max(1.0);
        if f64::from(samples) < need {
            return Err(s.diagnostic(
                "/name",
                format!(
                    "min_pass_rate_lower_bound {bound} needs at least {need} samples to be reachable (even all of them passing), and this case runs {samples}: raise `samples` or lower the bound"
                ),
            ));
        }
    }
    let case = Case {
        id,
        file: s.file.clone(),
        project_root: s.project_root.clone(),
        source: s.source.clone(),
        variant,
        api,
        model,
        region: spec.region.clone().unwrap_or_else(|| DEFAULT_REGION.to_owned()),
        samples,
        timeout,
        tool_timeouts,
        skip,
        spec: Arc::new(spec),
        row: None,
    };
    graders(s, &case)?;
    Ok(case)
}

/// Every judge of the case has a grader with a model; a dataset's table is not
/// semantic (here, after merging: a defaults.yaml may have said `semantic`).
fn graders(s: &LoadedScenario, case: &Case) -> Result<(), Diagnostic> {
    let spec = &case.spec;
    let semantic = spec.snapshot.as_ref().is_some_and(|p| p.final_answer == Some(PartPolicy::Semantic));
    if semantic && (spec.dataset.is_some() || spec.rows.is_some()) {
        return Err(s.diagnostic(
            "/snapshot/final",
            "a dataset's rows share one snapshot table, which `semantic` does not apply to: set another `final` policy (a defaults.yaml may have set this one) and judge each row's meaning with a `judge` check",
        ));
    }
    for (what, own) in grader_sources(spec) {
        let grader = grader::resolve(case, own).map_err(|e| s.diagnostic("/name", format!("{what} has {e}")))?;
        if !grader.api.has_stop_sequences() && grader.params.as_ref().is_some_and(|p| p.stop.is_some()) {
            return Err(s.diagnostic(
                "/grader",
                format!("{what}'s grader asks over {}, which has no stop sequences: remove its `params.stop` (set in a `grader` here or in a defaults.yaml above this file)", grader.api),
            ));
        }
    }
    Ok(())
}

/// What asks a grader (a `judge` check, the `semantic` snapshot) and its own settings.
fn grader_sources(spec: &Scenario) -> impl Iterator<Item = (&'static str, Option<&Grader>)> {
    let checks = spec.expect.iter().filter_map(|e| e.judge.as_ref()).map(|j| ("a `judge` check", j.grader.as_ref()));
    let semantic = spec.snapshot.as_ref().filter(|p| p.final_answer == Some(PartPolicy::Semantic));
    let snapshot = semantic.map(|p| ("the `semantic` snapshot", p.semantic.as_ref().and_then(|s| s.grader.as_ref())));
    checks.chain(snapshot)
}

/// The case's model id, and its graders', checked against the known gpt-oss ids.
fn model_warnings(s: &LoadedScenario, case: &Case, plan: &mut Plan) {
    let graders = grader_sources(&case.spec)
        .filter_map(|(_, own)| grader::resolve(case, own).ok())
        .map(|g| ("/grader", g.api, g.model));
    let own = std::iter::once(("/model", case.wire_api(), case.model.clone()));
    let graders: Vec<(&str, Api, String)> = graders.collect();
    for (pointer, api, model) in own.chain(graders) {
        let Some(message) = models::lint(api, &model) else { continue };
        let warning = s.diagnostic(pointer, message);
        if !plan.warnings.contains(&warning) {
            plan.warnings.push(warning);
        }
    }
}

/// A case of a scenario given as JSON, for tests elsewhere: its api (chat if none),
/// model and samples from the scenario, in us-west-2.
#[cfg(test)]
impl Case {
    pub(crate) fn for_tests(spec: serde_json::Value) -> Case {
        let spec: Scenario = serde_json::from_value(spec).expect("a scenario");
        Case {
            id: spec.name.clone(),
            file: "f.yaml".into(),
            project_root: ".".into(),
            source: "f.yaml".into(),
            variant: Vec::new(),
            api: spec.api.unwrap_or(Api::Chat),
            model: spec.model.clone().unwrap_or_default(),
            region: DEFAULT_REGION.into(),
            samples: spec.samples.unwrap_or(1),
            timeout: DEFAULT_TIMEOUT,
            tool_timeouts: Default::default(),
            row: None,
            skip: None,
            spec: Arc::new(spec),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn combinations_vary_the_last_key_fastest() {
        let m = vec![("a".into(), vec![json!(1), json!(2)]), ("b".into(), vec![json!("x"), json!("y")])];
        let c = combinations(&m);
        assert_eq!(c, vec![vec![(0, 0), (1, 0)], vec![(0, 0), (1, 1)], vec![(0, 1), (1, 0)], vec![(0, 1), (1, 1)]]);
    }

    #[test]
    fn no_matrix_is_one_combination() {
        assert_eq!(combinations(&[]), vec![Vec::<(usize, usize)>::new()]);
    }

    #[test]
    fn set_path_creates_parents_and_keeps_dotted_extra_names() {
        let mut v = json!({"name": "x"});
        set_path(&mut v, "params.temperature", json!(0.5));
        set_path(&mut v, "params.extra.a.b", json!(true));
        assert_eq!(v, json!({"name": "x", "params": {"temperature": 0.5, "extra": {"a.b": true}}}));
        assert_eq!(field_pointer("params.extra.a/b"), "/params/extra/a~1b");
    }
}
