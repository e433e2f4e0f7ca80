//! `engine` and `batch`: whether a suite's answers come from live calls or from Amazon
//! Bedrock batch inference jobs, and where those jobs read and write. Usually set once in
//! `defaults.yaml`; `run --engine` wins over both.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a case's answers are got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    /// One call per sample, as the case's `mode` says.
    Live,
    /// Every case batch can carry goes into Bedrock batch inference jobs (`batch:` says
    /// where); the rest run live in the same run. A model whose cases are fewer than a
    /// job's minimum runs them live too.
    Batch,
    /// As `batch`, but a model whose cases are fewer than a job's minimum refuses the run
    /// before anything is uploaded.
    BatchStrict,
}

impl Engine {
    pub const ALL: [Engine; 3] = [Engine::Live, Engine::Batch, Engine::BatchStrict];

    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Live => "live",
            Engine::Batch => "batch",
            Engine::BatchStrict => "batch-strict",
        }
    }
}

/// Where batch inference jobs read their records and write their answers, and the role
/// they run as. Each run adds a folder of its own under `input` and `output`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchConfig {
    /// The S3 folder the records are uploaded to, e.g. `s3://my-bucket/batch/input/`.
    #[schemars(regex(pattern = r"^s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](/.*)?$"))]
    pub(crate) input: String,
    /// The S3 folder the jobs write their answers to, e.g. `s3://my-bucket/batch/output/`.
    #[schemars(regex(pattern = r"^s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](/.*)?$"))]
    pub(crate) output: String,
    /// The service role the jobs run as: it trusts `bedrock.amazonaws.com` and may read
    /// `input` and write `output`.
    #[schemars(regex(pattern = r"^arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+$"))]
    pub(crate) role_arn: String,
    /// How long a job may take before Bedrock ends it, in hours. Default: 24.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 24, max = 168))]
    pub(crate) timeout_hours: Option<u32>,
    /// The fewest records a job takes (the account's "Minimum number of records per
    /// batch inference job" quota). Default: 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub(crate) min_records: Option<u32>,
    /// The most records a job takes ("Records per batch inference job"); a larger suite
    /// is split into several jobs. Default: 50000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub(crate) max_records: Option<u32>,
}
