//! An agent's tools: each call's input is validated against the tool's `input_schema`
//! (jsonschema), then answered by its implementation: a fixed `result`, the first
//! matching entry of `cases`, or a local `command`. Failures become error results for
//! the model, as Strands does, never errors of the run.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::json::contains_value;
use crate::scenario::Tool;

/// The default time limit of a `command` tool.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// A tool ready to call.
struct Ready {
    tool: Tool,
    validator: jsonschema::Validator,
    timeout: Duration,
}

/// The tools of one agent case.
pub(crate) struct Toolbox {
    tools: HashMap<String, Ready>,
    /// The scenario's folder: where commands run.
    dir: PathBuf,
}

/// What a command sees of the environment besides the variables its tool lists.
const BASE_ENV: [&str; 5] = ["PATH", "HOME", "LANG", "TZ", "TMPDIR"];

/// What a call gave: the text fed back to the model, and whether it is an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) text: String,
    pub(crate) is_error: bool,
}

impl Outcome {
    fn ok(text: String) -> Outcome {
        Outcome { text, is_error: false }
    }

    fn error(text: String) -> Outcome {
        Outcome { text, is_error: true }
    }
}

/// A tool whose `input_schema` is not a valid JSON Schema.
#[derive(Debug, thiserror::Error)]
#[error("tool `{tool}`: invalid input_schema: {message}")]
pub(crate) struct ToolSchemaError {
    tool: String,
    message: String,
}

impl Toolbox {
    /// Schemas were checked when the scenario loaded; one that fails here is reported.
    pub(crate) fn new(
        tools: &[Tool],
        timeouts: &BTreeMap<String, Duration>,
        dir: &Path,
    ) -> Result<Toolbox, ToolSchemaError> {
        let mut ready = HashMap::new();
        for tool in tools {
            let validator = jsonschema::validator_for(&tool.input_schema)
                .map_err(|e| ToolSchemaError { tool: tool.name.clone(), message: e.to_string() })?;
            let timeout = timeouts.get(&tool.name).copied().unwrap_or(COMMAND_TIMEOUT);
            ready.insert(tool.name.clone(), Ready { tool: tool.clone(), validator, timeout });
        }
        Ok(Toolbox { tools: ready, dir: dir.to_owned() })
    }

    /// Calls a tool the model asked for.
    pub(crate) async fn call(&self, name: &str, input: &Value) -> Outcome {
        let Some(ready) = self.tools.get(name) else {
            return Outcome::error(format!("Unknown tool: {name}"));
        };
        let violations: Vec<String> = ready
            .validator
            .iter_errors(input)
            .map(|e| format!("{}: {e}", pointer_or_root(e.instance_path().as_str())))
            .collect();
        if !violations.is_empty() {
            return Outcome::error(format!("Invalid input for {name}: {}", violations.join("; ")));
        }
        let tool = &ready.tool;
        if let Some(result) = &tool.result {
            return Outcome::ok(text_of(result));
        }
        if let Some(cases) = &tool.cases {
            return match cases
                .iter()
                .find(|c| contains_value(input, &c.when))
                .map(|c| &c.result)
                .or(tool.default.as_ref())
            {
                Some(result) => Outcome::ok(text_of(result)),
                None => Outcome::error(format!("{name} has no answer for the input {input}")),
            };
        }
        match &tool.command {
            Some(command) => {
                let env = tool.env.as_deref().unwrap_or_default();
                run_command(command, env, &self.dir, input, ready.timeout).await
            }
            None => Outcome::error(format!("{name} has no implementation")),
        }
    }
}

fn pointer_or_root(pointer: &str) -> &str {
    if pointer.is_empty() { "(input)" } else { pointer }
}

/// Results are text for the model: strings as they are, anything else as JSON.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Runs a command tool: in the scenario's folder, with a scrubbed environment, its
/// input on stdin (written without waiting on a program that never reads), and its
/// whole process group killed when the time is up.
async fn run_command(command: &[String], env: &[String], dir: &Path, input: &Value, timeout: Duration) -> Outcome {
    let Some((program, args)) = command.split_first() else {
        return Outcome::error("the tool's command is empty".into());
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .envs(std::env::vars().filter(|(name, _)| {
            BASE_ENV.contains(&name.as_str()) || name.starts_with("LC_") || env.iter().any(|e| e == name)
        }))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return Outcome::error(format!("cannot start {program}: {e}")),
    };
    let group = child.id();
    if let Some(mut stdin) = child.stdin.take() {
        let bytes = input.to_string().into_bytes();
        // A program that exits, or never reads, without taking its input is not an
        // error of ours; the write ends when the child does.
        tokio::spawn(async move {
            let _ = stdin.write_all(&bytes).await;
        });
    }
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Err(_) => {
            kill_group(group);
            Outcome::error(format!("{program} did not finish within {}s", timeout.as_secs_f64()))
        }
        Ok(Err(e)) => Outcome::error(format!("{program} failed: {e}")),
        Ok(Ok(output)) if output.status.success() => {
            Outcome::ok(String::from_utf8_lossy(&output.stdout).trim_end().to_owned())
        }
        Ok(Ok(output)) => {
            let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            let why = if stderr.is_empty() { format!("exit status {}", output.status) } else { stderr };
            Outcome::error(format!("{program} failed: {why}"))
        }
    }
}

/// Kills the process group a timed-out command leads, so that what it started dies
/// with it (dropping the child kills only the leader).
fn kill_group(group: Option<u32>) {
    #[cfg(unix)]
    if let Some(pid) = group.and_then(|id| i32::try_from(id).ok()) {
        // SAFETY: kill(2) with a negative pid signals that process group; the group
        // was created for this child by `process_group(0)`.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    #[cfg(not(unix))]
    let _ = group;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A toolbox whose timeouts the plan resolved from each tool's `timeout`.
    fn toolbox(tools: Value) -> Toolbox {
        let tools = serde_json::from_value::<Vec<Tool>>(tools).unwrap();
        let timeouts = tools
            .iter()
            .filter_map(|t| {
                Some((t.name.clone(), crate::plan::duration::parse_duration(t.timeout.as_deref()?).unwrap()))
            })
            .collect();
        Toolbox::new(&tools, &timeouts, &std::env::temp_dir()).unwrap()
    }

    fn schema() -> Value {
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
    }

    #[tokio::test]
    async fn fixed_results_cases_and_defaults() {
        let tb = toolbox(json!([
            {"name": "fixed", "description": "d", "input_schema": schema(), "result": {"temp": 20}},
            {"name": "by_city", "description": "d", "input_schema": schema(),
             "cases": [{"when": {"city": "Tokyo"}, "result": "sunny"}], "default": "unknown city"},
            {"name": "strict", "description": "d", "input_schema": schema(), "cases": [{"when": {"city": "Tokyo"}, "result": "sunny"}]},
        ]));
        assert_eq!(tb.call("fixed", &json!({"city": "x"})).await, Outcome::ok("{\"temp\":20}".into()));
        assert_eq!(tb.call("by_city", &json!({"city": "Tokyo"})).await, Outcome::ok("sunny".into()));
        assert_eq!(tb.call("by_city", &json!({"city": "Paris"})).await, Outcome::ok("unknown city".into()));
        assert!(tb.call("strict", &json!({"city": "Paris"})).await.is_error);
    }

    #[tokio::test]
    async fn unknown_tools_and_invalid_inputs_are_error_results() {
        let tb = toolbox(json!([{"name": "w", "description": "d", "input_schema": schema(), "result": "ok"}]));
        assert_eq!(tb.call("nope", &json!({})).await, Outcome::error("Unknown tool: nope".into()));
        let invalid = tb.call("w", &json!({"city": 3})).await;
        assert!(invalid.is_error);
        assert_eq!(invalid.text, "Invalid input for w: /city: 3 is not of type \"string\"");
        assert!(tb.call("w", &json!({})).await.text.contains("\"city\" is a required property"));
    }

    #[tokio::test]
    async fn commands_read_stdin_and_fail_on_non_zero_exit() {
        let tb = toolbox(json!([
            {"name": "echo", "description": "d", "input_schema": schema(), "command": ["cat"]},
            {"name": "fail", "description": "d", "input_schema": schema(), "command": ["sh", "-c", "echo broken >&2; exit 3"]},
            {"name": "slow", "description": "d", "input_schema": schema(), "command": ["sleep", "5"], "timeout": "200ms"},
        ]));
        assert_eq!(tb.call("echo", &json!({"city": "Tokyo"})).await, Outcome::ok("{\"city\":\"Tokyo\"}".into()));
        assert_eq!(tb.call("fail", &json!({"city": "Tokyo"})).await, Outcome::error("sh failed: broken".into()));
        let slow = tb.call("slow", &json!({"city": "Tokyo"})).await;
        assert!(slow.is_error && slow.text.contains("did not finish"), "{slow:?}");
    }

    fn command_tool(command: &[&str], extra: Value) -> Toolbox {
        let mut tool = json!({"name": "t", "description": "d", "input_schema": {"type": "object"}, "command": command});
        tool.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let tools: Vec<Tool> = serde_json::from_value(json!([tool])).unwrap();
        let timeouts = [("t".to_owned(), Duration::from_millis(300))].into();
        Toolbox::new(&tools, &timeouts, &std::env::temp_dir()).unwrap()
    }

    /// Issue 13: commands ran with the full environment, credentials included.
    #[tokio::test]
    async fn commands_see_a_scrubbed_environment_in_the_scenario_folder() {
        let seen = command_tool(&["env"], json!({"env": ["CARGO_PKG_NAME"]})).call("t", &json!({})).await;
        assert!(!seen.is_error, "{seen:?}");
        for line in seen.text.lines() {
            let name = line.split('=').next().unwrap_or_default();
            let allowed = BASE_ENV.contains(&name) || name.starts_with("LC_") || name == "CARGO_PKG_NAME";
            assert!(allowed, "{name} reached the command");
        }
        assert!(seen.text.contains("CARGO_PKG_NAME=gpt-oss-scenarios"), "a listed variable passes: {}", seen.text);
        let pwd = command_tool(&["pwd"], json!({})).call("t", &json!({})).await;
        let here = std::env::temp_dir().canonicalize().unwrap();
        assert_eq!(std::path::Path::new(&pwd.text).canonicalize().unwrap(), here);
    }

    /// Issue 13: a tool that never reads stdin could hang the agent.
    #[tokio::test]
    async fn a_command_that_never_reads_its_input_times_out() {
        let big = json!({"pad": "x".repeat(1 << 20)});
        let out = command_tool(&["sleep", "30"], json!({})).call("t", &big).await;
        assert!(out.is_error && out.text.contains("did not finish"), "{out:?}");
    }

    /// Issue 13: on timeout only the command itself was killed, not what it started.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_timeout_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let out = command_tool(&["sh", "-c", &script], json!({})).call("t", &json!({})).await;
        assert!(out.text.contains("did not finish"), "{out:?}");
        let pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_owned();
        let gone = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map_or(true, |stat| stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
        };
        for _ in 0..200 {
            if gone() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the grandchild {pid} outlived its tool's timeout");
    }
}
