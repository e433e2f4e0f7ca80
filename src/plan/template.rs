//! Templates: the text fields of a scenario that may hold Jinja2 syntax (minijinja),
//! compiled once per scenario and rendered once per row. Pure: variables in, text out.
//!
//! The fields are `description`, `system`, `prompt`, `messages[].content`, assertion
//! values and `judge` rubrics, tool results, a semantic snapshot's rubric and
//! `metrics.label.expected`. Each template is known by its
//! JSON pointer, so an error names the field, and through it `file:line:col`.

use std::collections::{BTreeSet, HashMap};

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::{Map, Value};

use crate::load::yaml::escape_token;
use crate::scenario::Scenario;

/// The most instructions one render may run; a prompt needs a few hundred.
const FUEL: u64 = 1_000_000;

/// Names minijinja provides itself: never undefined.
const GLOBALS: [&str; 3] = ["range", "dict", "namespace"];

/// The compiled templates of one scenario.
pub(crate) struct Templates {
    env: Environment<'static>,
    /// Template pointer -> the variables it reads, sorted.
    reads: HashMap<String, BTreeSet<String>>,
}

/// A template that does not compile or render: at `pointer`, line `line` of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateError {
    pub(crate) pointer: String,
    pub(crate) line: Option<usize>,
    pub(crate) message: String,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").field("reads", &self.reads).finish_non_exhaustive()
    }
}

impl Templates {
    /// Compiles every template field of `spec` (a string holding `{{`, `{%` or `{#`).
    pub(crate) fn compile(spec: &Scenario) -> (Templates, Vec<TemplateError>) {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // A template is a user's text: a loop of a billion turns ends in an error.
        env.set_fuel(Some(FUEL));
        // Pointers are not file names: nothing is HTML.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        // The text is sent as written: a prompt's last newline stays.
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder().keep_trailing_newline(true).build() {
            env.set_syntax(syntax);
        }
        let mut errors = Vec::new();
        let mut reads = HashMap::new();
        let mut copy = spec.clone();
        visit(&mut copy, &mut |pointer, text| {
            if !is_template(text) {
                return;
            }
            match env.add_template_owned(pointer.to_owned(), text.clone()) {
                Ok(()) => {
                    let vars = env
                        .get_template(pointer)
                        .map(|t| t.undeclared_variables(false))
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|v| !GLOBALS.contains(&v.as_str()))
                        .collect();
                    reads.insert(pointer.to_owned(), vars);
                }
                Err(e) => errors.push(error_at(pointer, &e)),
            }
        });
        (Templates { env, reads }, errors)
    }

    /// Every template and the variables it reads.
    pub(crate) fn reads(&self) -> impl Iterator<Item = (&str, &BTreeSet<String>)> {
        self.reads.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// `spec` with every template rendered with `context` (see [`context`]); the first
    /// error stops it.
    pub(crate) fn render(&self, spec: &Scenario, context: &minijinja::Value) -> Result<Scenario, TemplateError> {
        let mut out = spec.clone();
        if self.reads.is_empty() {
            return Ok(out);
        }
        let mut failed = None;
        visit(&mut out, &mut |pointer, text| {
            if failed.is_some() || !self.reads.contains_key(pointer) {
                return;
            }
            match self.env.get_template(pointer).and_then(|t| t.render(context.clone())) {
                Ok(rendered) => *text = rendered,
                Err(e) => failed = Some(error_at(pointer, &e)),
            }
        });
        match failed {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}

/// Variables as a template context. Converted once: a long policy text shared by every
/// row is not copied per row.
pub(crate) fn context(vars: &Map<String, Value>) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(vars))
}

/// A row's context: its own variables over the scenario's `base`.
pub(crate) fn row_context(row: &Map<String, Value>, base: &minijinja::Value) -> minijinja::Value {
    minijinja::value::merge_maps([base.clone(), context(row)])
}

/// Whether `text` holds template syntax.
pub(crate) fn is_template(text: &str) -> bool {
    crate::load::is_template(text)
}

fn error_at(pointer: &str, e: &minijinja::Error) -> TemplateError {
    let message = match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    };
    TemplateError { pointer: pointer.to_owned(), line: e.line(), message: message.to_lowercase() }
}

/// Calls `f` with the pointer and text of every field that may be a template.
fn visit(spec: &mut Scenario, f: &mut dyn FnMut(&str, &mut String)) {
    for (pointer, value) in
        [("/description", &mut spec.description), ("/system", &mut spec.system), ("/prompt", &mut spec.prompt)]
    {
        if let Some(value) = value {
            f(pointer, value);
        }
    }
    for (i, m) in spec.messages.iter_mut().flatten().enumerate() {
        f(&format!("/messages/{i}/content"), &mut m.content);
    }
    for (i, e) in spec.expect.iter_mut().enumerate() {
        let at = format!("/expect/{i}");
        for (key, value) in [
            ("equals", &mut e.equals),
            ("contains", &mut e.contains),
            ("icontains", &mut e.icontains),
            ("regex", &mut e.regex),
            ("starts_with", &mut e.starts_with),
        ] {
            if let Some(value) = value {
                f(&format!("{at}/{key}"), value);
            }
        }
        for (key, list) in [("contains_any", &mut e.contains_any), ("contains_all", &mut e.contains_all)] {
            for (j, value) in list.iter_mut().flatten().enumerate() {
                f(&format!("{at}/{key}/{j}"), value);
            }
        }
        if let Some(check) = &mut e.json_pointer {
            json(&format!("{at}/json_pointer/equals"), &mut check.equals, f);
        }
        if let Some(judge) = &mut e.judge {
            f(&format!("{at}/judge/rubric"), &mut judge.rubric);
        }
        for (key, check) in [("tool_called", &mut e.tool_called), ("tool_args", &mut e.tool_args)] {
            if let Some(input) = check.as_mut().and_then(|c| c.input.as_mut()) {
                json(&format!("{at}/{key}/input"), input, f);
            }
        }
    }
    for (i, tool) in spec.tools.iter_mut().enumerate() {
        let at = format!("/tools/{i}");
        if let Some(result) = &mut tool.result {
            json(&format!("{at}/result"), result, f);
        }
        for (j, case) in tool.cases.iter_mut().flatten().enumerate() {
            json(&format!("{at}/cases/{j}/result"), &mut case.result, f);
        }
        if let Some(default) = &mut tool.default {
            json(&format!("{at}/default"), default, f);
        }
    }
    if let Some(rubric) = spec.snapshot.as_mut().and_then(|s| s.semantic.as_mut()).and_then(|s| s.rubric.as_mut()) {
        f("/snapshot/semantic/rubric", rubric);
    }
    if let Some(expected) = spec.metrics.as_mut().and_then(|m| m.label.as_mut()).and_then(|l| l.expected.as_mut()) {
        f("/metrics/label/expected", expected);
    }
}

/// The string leaves of a JSON value.
fn json(pointer: &str, value: &mut Value, f: &mut dyn FnMut(&str, &mut String)) {
    match value {
        Value::String(s) => f(pointer, s),
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                json(&format!("{pointer}/{i}"), item, f);
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                json(&format!("{pointer}/{}", escape_token(k)), item, f);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: Value) -> Scenario {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn templates_render_every_field_and_leave_plain_text_alone() {
        let s = spec(json!({
            "name": "t", "system": "{{ policy }}", "prompt": "Classify: {{ text | upper }}\n",
            "description": "row {{ id }}",
            "expect": [{"equals": "{{ label }}"}, {"contains_any": ["a", "{{ label }}!"]}, {"regex": "^x{2}$"}, {"judge": {"rubric": "Says {{ label }}."}}],
            "metrics": {"label": {"extract": {"json_pointer": "/v"}, "expected": "{{ label }}"}}
        }));
        let (t, errors) = Templates::compile(&s);
        assert!(errors.is_empty(), "{errors:?}");
        let vars = json!({"policy": "No spam.", "text": "buy now", "label": 1, "id": "r1"});
        let r = t.render(&s, &context(vars.as_object().unwrap())).unwrap();
        assert_eq!(r.system.as_deref(), Some("No spam."));
        assert_eq!(r.prompt.as_deref(), Some("Classify: BUY NOW\n"));
        assert_eq!(r.description.as_deref(), Some("row r1"));
        assert_eq!(r.expect[0].equals.as_deref(), Some("1"));
        assert_eq!(r.expect[1].contains_any, Some(vec!["a".into(), "1!".into()]));
        assert_eq!(r.expect[2].regex.as_deref(), Some("^x{2}$"));
        assert_eq!(r.expect[3].judge.as_ref().unwrap().rubric, "Says 1.");
        assert_eq!(r.metrics.unwrap().label.unwrap().expected.as_deref(), Some("1"));
    }

    #[test]
    fn tool_results_are_templates_at_every_depth() {
        let s = spec(json!({"name": "t", "api": "agent", "prompt": "p", "tools": [{
            "name": "lookup", "description": "d", "input_schema": {"type": "object"},
            "result": {"city": "{{ city }}", "list": ["{{ n }}", 2]}
        }]}));
        let (t, _) = Templates::compile(&s);
        let reads: Vec<_> = t.reads().map(|(p, v)| (p.to_owned(), v.clone())).collect();
        assert_eq!(reads.len(), 2);
        let base = context(json!({"city": "Bergen", "n": 7}).as_object().unwrap());
        let r = t.render(&s, &row_context(json!({"city": "Oslo"}).as_object().unwrap(), &base)).unwrap();
        assert_eq!(r.tools[0].result, Some(json!({"city": "Oslo", "list": ["7", 2]})));
    }

    proptest::proptest! {
        /// Whatever a user writes, a template compiles and renders or says why.
        #[test]
        fn any_text_compiles_and_renders_without_panicking(text in "[{}%#a-z |()\\[\\].,'\"0-9-]{0,60}") {
            let s = spec(json!({"name": "t", "prompt": text}));
            let (t, _) = Templates::compile(&s);
            let _ = t.render(&s, &context(json!({"a": "x", "b": [1, 2]}).as_object().unwrap()));
        }
    }

    #[test]
    fn a_runaway_template_is_an_error_not_a_hang() {
        let s = spec(
            json!({"name": "t", "prompt": "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"}),
        );
        let (t, errors) = Templates::compile(&s);
        assert!(errors.is_empty());
        let e = t.render(&s, &context(&Map::new())).unwrap_err();
        assert!(e.message.contains("fuel"), "{e:?}");
    }

    #[test]
    fn syntax_and_undefined_variables_are_errors_at_the_field() {
        let s = spec(json!({"name": "t", "prompt": "line one\n{{ question }", "system": "{{ polcy }}"}));
        let (t, errors) = Templates::compile(&s);
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].pointer.as_str(), errors[0].line), ("/prompt", Some(2)));
        assert_eq!(
            t.reads().next().map(|(p, v)| (p, v.iter().cloned().collect::<Vec<_>>())),
            Some(("/system", vec!["polcy".to_owned()]))
        );
        let e = t.render(&s, &context(json!({"policy": "x"}).as_object().unwrap())).unwrap_err();
        assert_eq!(e.pointer, "/system");
        assert!(e.message.contains("undefined"), "{e:?}");
    }
}
