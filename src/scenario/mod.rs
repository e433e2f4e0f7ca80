//! The scenario format: the serde model of scenario files and `defaults.yaml`.
//!
//! These types are the single source of truth for the format. The JSON Schema
//! (`schema/scenario.schema.json`) is generated from them, so every doc comment on a
//! field here is also the description an editor shows. The main type is [`Scenario`].
//!
//! Fields that a `defaults.yaml` may supply (`api`, `model`, ...) are optional here;
//! the planner resolves them into a concrete case and reports what is still missing.

mod batch;
mod expect;
mod metrics;
mod pricing;
mod snapshot;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub(crate) use batch::BatchConfig;
pub use batch::Engine;
pub(crate) use expect::*;
pub(crate) use metrics::*;
pub(crate) use pricing::*;
pub(crate) use snapshot::*;

/// A scenario: one prompt sent to one API and model, judged by assertions and a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Unique name across the suite. It starts every case id and names the snapshot
    /// file, so it is limited to letters, digits, `.`, `_` and `-`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"), length(min = 1, max = 100))]
    pub(crate) name: String,
    /// What the scenario checks, in a sentence. Shown in reports and snapshot headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    /// Free labels for selecting cases (`run --tag`). Tags from `defaults.yaml` files are added first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Which API the prompt is sent through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) api: Option<Api>,
    /// The model id, e.g. `openai.gpt-oss-20b-1:0` or `openai.gpt-oss-120b-1:0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub(crate) model: Option<String>,
    /// The AWS region of the Bedrock endpoint. Default: `us-west-2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"))]
    pub(crate) region: Option<String>,
    /// Endpoint overrides, for private endpoints and local OpenAI-compatible servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) endpoints: Option<Endpoints>,
    /// Inference parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Params>,
    /// The system prompt. Sent as a Converse `system` block, or as a `developer` message on chat completions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) system: Option<String>,
    /// The user prompt for a single-turn scenario. Use `messages` for several turns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) prompt: Option<String>,
    /// The conversation for a multi-turn scenario, in order. Use instead of `prompt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub(crate) messages: Option<Vec<Message>>,
    /// Cartesian expansion: one case per combination of the listed values. Keys are
    /// `api`, `model`, `region`, `params.<name>` or `params.extra.<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Map<String, Value>>", extend("additionalProperties" = {"type": "array", "minItems": 1}))]
    pub(crate) matrix: Option<Map<String, Value>>,
    /// Template variables (Jinja2 syntax, `{{ name }}`) for `system`, `prompt`,
    /// `messages`, `description`, assertion values and tool results. Each is a string,
    /// number, boolean or list, or `{file: PATH}` for a file's text, relative to the file
    /// that declares it. A row's own fields win over these. Templates are rendered only
    /// in scenarios that have variables, a `dataset` or `rows`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "vars_schema")]
    pub(crate) vars: Option<Map<String, Value>>,
    /// A file of rows, relative to this file: JSON Lines (`.jsonl`), CSV with a header
    /// line (`.csv`) or a YAML list (`.yaml`). Each row is a map of variables and makes one
    /// case, `name[row=ID]`, where ID is the row's `id` field or its 1-based number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"\.(jsonl|ndjson|csv|ya?ml)$"))]
    pub(crate) dataset: Option<String>,
    /// Rows given inline instead of a `dataset` file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub(crate) rows: Option<Vec<Map<String, Value>>>,
    /// What is measured over the rows of a `dataset` (or `rows`), and the thresholds
    /// the scenario must meet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) metrics: Option<Metrics>,
    /// How many times each case runs. Default: 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub(crate) samples: Option<u32>,
    /// `api: agent` only: the API each model turn goes through. Default: `converse-stream`
    /// (as Strands' BedrockModel streams).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) transport: Option<Transport>,
    /// `api: agent` only: the tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) tools: Vec<Tool>,
    /// `api: agent` only: the most model turns before the run is an error. Default: 8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub(crate) max_turns: Option<u32>,
    /// Where answers come from: `auto` (the default), `live`, `replay` or `record`.
    /// `run --mode` wins over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) mode: Option<Mode>,
    /// At most this many cases with this scenario's model run at once (the smallest
    /// value given for a model wins). The run's `--concurrency` still caps everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub(crate) max_concurrency: Option<u32>,
    /// The share of samples (0 to 1) that must pass for the case to pass. Default: 1
    /// (0 when only `min_pass_rate_lower_bound` is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub(crate) min_pass_rate: Option<f64>,
    /// The least lower bound (0 to 1) of the pass rate's 95% Wilson interval: the case
    /// passes only when its samples show, with 95% confidence, a pass rate at least
    /// this high. It takes more samples than a point estimate: 10 of 10 passed gives a
    /// bound of 0.72, 20 of 20 one of 0.84.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), extend("exclusiveMaximum" = 1))]
    pub(crate) min_pass_rate_lower_bound: Option<f64>,
    /// Time limit for one run of a case, e.g. `90s`, `2m`, `500ms`. Default: `120s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h|d))+$"))]
    pub(crate) timeout: Option<String>,
    /// Skip this scenario's cases; they are reported as skipped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) skip: bool,
    /// Run only scenarios marked `only` (when any scenario in the run is).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) only: bool,
    /// Assertions on the response. Assertions from `defaults.yaml` files come first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) expect: Vec<Expectation>,
    /// What of the response is snapshotted, and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) snapshot: Option<SnapshotPolicy>,
    /// The model that grades this scenario's `judge` checks and `semantic` snapshots,
    /// merged field by field over the `grader` of `defaults.yaml` files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) grader: Option<Grader>,
    /// Prices over the table the tool ships, usually set in `defaults.yaml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pricing: Option<Pricing>,
    /// Where answers come from: live calls, or Bedrock batch inference jobs (`batch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) engine: Option<Engine>,
    /// The S3 folders and the role of batch inference jobs, usually set in `defaults.yaml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) batch: Option<BatchConfig>,
}

/// A file holding several scenarios.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScenarioList {
    /// The scenarios of this file.
    #[schemars(length(min = 1))]
    pub(crate) scenarios: Vec<Scenario>,
}

/// `defaults.yaml`: values for every scenario in this folder and below it.
/// The closest file wins; a scenario's own fields win over all of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Defaults {
    /// Tags added to every scenario below.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) tags: Vec<String>,
    /// Default API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) api: Option<Api>,
    /// Default model id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub(crate) model: Option<String>,
    /// Default AWS region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"))]
    pub(crate) region: Option<String>,
    /// Default endpoint overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) endpoints: Option<Endpoints>,
    /// Default parameters, merged key by key with each scenario's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) params: Option<Params>,
    /// Default system prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) system: Option<String>,
    /// Template variables for every scenario below, merged name by name (the closest
    /// file wins; a scenario's own `vars` and its rows win over all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "vars_schema")]
    pub(crate) vars: Option<Map<String, Value>>,
    /// Default number of samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub(crate) samples: Option<u32>,
    /// Default agent transport.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) transport: Option<Transport>,
    /// Default most model turns of an agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub(crate) max_turns: Option<u32>,
    /// Default mode for every scenario below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) mode: Option<Mode>,
    /// At most this many cases per model at once, for every scenario below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub(crate) max_concurrency: Option<u32>,
    /// Default share of samples that must pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub(crate) min_pass_rate: Option<f64>,
    /// Default least lower bound of the pass rate's 95% Wilson interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), extend("exclusiveMaximum" = 1))]
    pub(crate) min_pass_rate_lower_bound: Option<f64>,
    /// Default time limit for one run of a case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h|d))+$"))]
    pub(crate) timeout: Option<String>,
    /// Assertions applied to every scenario below, before its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) expect: Vec<Expectation>,
    /// Default snapshot policy, merged key by key with each scenario's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) snapshot: Option<SnapshotPolicy>,
    /// The grader for every scenario below: the model that answers `judge` checks and
    /// `semantic` snapshots, e.g. `{api: converse, model: openai.gpt-oss-120b-1:0,
    /// params: {reasoning_effort: high}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) grader: Option<Grader>,
    /// What tokens cost, per model id and tier, over the table the tool ships (USD per
    /// million tokens), e.g. `{openai.gpt-oss-120b-1:0: {flex: {input: 0.075, output: 0.3}}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pricing: Option<Pricing>,
    /// The engine for every scenario below: `live`, or `batch` (Bedrock batch
    /// inference, configured by `batch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) engine: Option<Engine>,
    /// Where batch inference jobs read and write, and the role they run as, e.g.
    /// `{input: s3://bucket/batch/in/, output: s3://bucket/batch/out/, role_arn: arn:aws:iam::123456789012:role/BedrockBatch}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) batch: Option<BatchConfig>,
}

/// The model that grades: any model and transport the tool speaks. Fields not given
/// come from the `grader` above (a scenario's, then `defaults.yaml` files'); `api`,
/// `region` and `endpoints` fall back to the case's own, `params` to none of the case's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Grader {
    /// The API the grader is asked through. Default: the case's (an agent's transport).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) api: Option<Transport>,
    /// The grading model, e.g. `openai.gpt-oss-120b-1:0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub(crate) model: Option<String>,
    /// The grader's AWS region. Default: the case's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"))]
    pub(crate) region: Option<String>,
    /// The grader's endpoint overrides. Default: the case's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) endpoints: Option<Endpoints>,
    /// The grader's inference parameters (the case's are not used), e.g.
    /// `{reasoning_effort: high, max_tokens: 2048}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) params: Option<Params>,
}

/// `vars`: names as in templates, each a value or `{file: PATH}`.
fn vars_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": ["object", "null"],
        "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "additionalProperties": {"anyOf": [
            {"type": ["string", "number", "boolean", "array"]},
            {"type": "object", "properties": {"file": {"type": "string", "minLength": 1}}, "required": ["file"], "additionalProperties": false}
        ]}
    })
}

/// The API a case is sent through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Api {
    /// Amazon Bedrock Converse.
    Converse,
    /// Amazon Bedrock ConverseStream.
    ConverseStream,
    /// OpenAI-compatible chat completions (Bedrock `/openai/v1` or any compatible server).
    Chat,
    /// OpenAI-compatible chat completions with `stream: true`.
    ChatStream,
    /// Amazon Bedrock InvokeModel: a chat completions body, a chat completion back.
    Invoke,
    /// Amazon Bedrock InvokeModelWithResponseStream: chat completion chunks in eventstream frames.
    InvokeStream,
    /// The Responses API (Bedrock Mantle's `/v1/responses` or any compatible server).
    Responses,
    /// The Responses API with `stream: true` (typed server-sent events).
    ResponsesStream,
    /// A Strands-style agent looping over tools.
    Agent,
}

impl Api {
    /// Every API, in the order help texts list them.
    pub const ALL: [Api; 9] = [
        Api::Converse,
        Api::ConverseStream,
        Api::Chat,
        Api::ChatStream,
        Api::Invoke,
        Api::InvokeStream,
        Api::Responses,
        Api::ResponsesStream,
        Api::Agent,
    ];

    /// The API model calls go through: an agent's transport (ConverseStream when it
    /// names none), else this one.
    pub(crate) fn through(self, transport: Option<Transport>) -> Api {
        match self {
            Api::Agent => transport.map_or(Api::ConverseStream, Transport::api),
            api => api,
        }
    }

    /// Whether requests on this API can carry stop sequences (the Responses API has none).
    pub(crate) fn has_stop_sequences(self) -> bool {
        !matches!(self, Api::Responses | Api::ResponsesStream)
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Api::Converse => "converse",
            Api::ConverseStream => "converse-stream",
            Api::Chat => "chat",
            Api::ChatStream => "chat-stream",
            Api::Invoke => "invoke",
            Api::InvokeStream => "invoke-stream",
            Api::Responses => "responses",
            Api::ResponsesStream => "responses-stream",
            Api::Agent => "agent",
        }
    }
}

impl std::fmt::Display for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The API an agent's model turns go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Transport {
    Converse,
    ConverseStream,
    Chat,
    ChatStream,
    Invoke,
    InvokeStream,
    Responses,
    ResponsesStream,
}

impl Transport {
    pub(crate) fn api(self) -> Api {
        match self {
            Transport::Converse => Api::Converse,
            Transport::ConverseStream => Api::ConverseStream,
            Transport::Chat => Api::Chat,
            Transport::ChatStream => Api::ChatStream,
            Transport::Invoke => Api::Invoke,
            Transport::InvokeStream => Api::InvokeStream,
            Transport::Responses => Api::Responses,
            Transport::ResponsesStream => Api::ResponsesStream,
        }
    }
}

/// A tool an agent may call, with exactly one implementation: `result`, `cases` or `command`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Tool {
    /// The name the model calls it by.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    pub(crate) name: String,
    /// What it does, for the model.
    pub(crate) description: String,
    /// A JSON Schema for its input; calls whose input does not validate get the
    /// violations back as an error result.
    #[schemars(extend("type" = "object"))]
    pub(crate) input_schema: Value,
    /// A fixed result (JSON or text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) result: Option<Value>,
    /// Results by input: the first case whose `when` is contained in the input wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub(crate) cases: Option<Vec<ToolCase>>,
    /// With `cases`: the result when no case matches (otherwise an error result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) default: Option<Value>,
    /// A local program and its arguments: the input goes to its stdin as JSON, its
    /// stdout is the result; a non-zero exit is an error result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub(crate) command: Option<Vec<String>>,
    /// With `command`: how long it may run, e.g. `10s`. Default: `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h|d))+$"))]
    pub(crate) timeout: Option<String>,
    /// With `command`: environment variables it may see besides `PATH`, `HOME`,
    /// `LANG`, `LC_*`, `TZ` and `TMPDIR`. Nothing else, credentials included, reaches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) env: Option<Vec<String>>,
}

/// One `cases` entry of a tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ToolCase {
    /// A partial input: every key given must be in the call's input with an equal value.
    #[schemars(extend("type" = "object"))]
    pub(crate) when: Value,
    /// The result for a matching call.
    pub(crate) result: Value,
}

/// Endpoint overrides. Plain `http://` URLs are allowed (loopback servers).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Endpoints {
    /// Bedrock runtime endpoint for `converse`, `converse-stream`, `invoke` and
    /// `invoke-stream` (like `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://"))]
    pub(crate) bedrock_runtime: Option<String>,
    /// Base URL for `chat` and `chat-stream` (like `OPENAI_BASE_URL`).
    /// Default: `https://bedrock-runtime.{region}.amazonaws.com/openai/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://"))]
    pub(crate) openai_base_url: Option<String>,
    /// Base URL for `responses` and `responses-stream` (like `GPT_OSS_SCENARIOS_RESPONSES_BASE_URL`).
    /// Default: Bedrock Mantle, `https://bedrock-mantle.{region}.api.aws/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://"))]
    pub(crate) responses_base_url: Option<String>,
}

/// Inference parameters, mapped onto each API's own field names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Most tokens to generate (Converse `inferenceConfig.maxTokens`, chat and InvokeModel
    /// `max_completion_tokens`, Responses `max_output_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 131072))]
    pub(crate) max_tokens: Option<u32>,
    /// Sampling temperature; 1.0 is the recommended setting for gpt-oss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 2))]
    pub temperature: Option<f64>,
    /// Nucleus sampling probability mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub top_p: Option<f64>,
    /// How much the model reasons before answering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) reasoning_effort: Option<ReasoningEffort>,
    /// Stop sequences (not on the Responses API, which has no such field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4))]
    pub(crate) stop: Option<Vec<String>>,
    /// Bedrock's service tier: `priority` answers first at a premium, `flex` answers
    /// when capacity allows at a discount (and a case's default timeout is longer), and
    /// `default` is the standard tier. Converse `serviceTier`, InvokeModel's
    /// `X-Amzn-Bedrock-Service-Tier`, chat and Responses `service_tier`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) service_tier: Option<ServiceTier>,
    /// Free JSON passed through as is: Converse `additionalModelRequestFields`,
    /// or extra top-level fields of the chat completions, InvokeModel or Responses body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) extra: Option<Map<String, Value>>,
}

/// Where answers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Call the real endpoint.
    Live,
    /// Never touch the network: serve the case's cassette through the loopback server.
    Replay,
    /// Call the real endpoint and write (or overwrite) the case's cassette.
    Record,
    /// Replay when a cassette matching the request exists, otherwise live.
    Auto,
}

impl Mode {
    pub const ALL: [Mode; 4] = [Mode::Live, Mode::Replay, Mode::Record, Mode::Auto];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Replay => "replay",
            Mode::Record => "record",
            Mode::Auto => "auto",
        }
    }
}

/// gpt-oss reasoning effort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ReasoningEffort {
    Low,
    Medium,
    High,
}

impl ReasoningEffort {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ReasoningEffort::Low => "low",
            ReasoningEffort::Medium => "medium",
            ReasoningEffort::High => "high",
        }
    }
}

/// A Bedrock service tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ServiceTier {
    Default,
    Flex,
    Priority,
}

impl ServiceTier {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ServiceTier::Default => "default",
            ServiceTier::Flex => "flex",
            ServiceTier::Priority => "priority",
        }
    }
}

/// One message of a multi-turn conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Message {
    /// Who speaks.
    pub(crate) role: Role,
    /// What is said.
    pub(crate) content: String,
}

/// The role of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    System,
    Developer,
    User,
    Assistant,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ALL` lists every API: a new variant fails this match until it is listed.
    #[test]
    fn all_lists_every_api_once() {
        let index = |api: Api| match api {
            Api::Converse => 0,
            Api::ConverseStream => 1,
            Api::Chat => 2,
            Api::ChatStream => 3,
            Api::Invoke => 4,
            Api::InvokeStream => 5,
            Api::Responses => 6,
            Api::ResponsesStream => 7,
            Api::Agent => 8,
        };
        for (i, api) in Api::ALL.into_iter().enumerate() {
            assert_eq!(index(api), i, "{api}");
        }
        for (i, mode) in Mode::ALL.into_iter().enumerate() {
            let index = match mode {
                Mode::Live => 0,
                Mode::Replay => 1,
                Mode::Record => 2,
                Mode::Auto => 3,
            };
            assert_eq!(index, i);
            assert_eq!(serde_json::to_value(mode).unwrap(), mode.as_str());
        }
    }
}
