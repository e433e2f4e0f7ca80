//! `pricing`: what tokens cost, per model id and tier, over the table the tool ships
//! (`crate::pricing`). Set in `defaults.yaml` (or a scenario); merged key by key, so a
//! file may change one tier of one model and keep the rest.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Prices by model id, e.g. `{openai.gpt-oss-120b-1:0: {default: {input: 0.15, output: 0.6}}}`.
pub(crate) type Pricing = BTreeMap<String, ModelPrices>;

/// One model's prices, by tier: USD per million tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModelPrices {
    /// The standard (on-demand) tier: `params.service_tier: default`, or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) default: Option<Price>,
    /// `params.service_tier: flex`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) flex: Option<Price>,
    /// `params.service_tier: priority`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) priority: Option<Price>,
    /// Bedrock batch inference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) batch: Option<Price>,
}

/// USD per million tokens, input (the prompt) and output (reasoning and answer).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Price {
    /// USD per million input tokens.
    #[schemars(range(min = 0))]
    pub(crate) input: f64,
    /// USD per million output tokens.
    #[schemars(range(min = 0))]
    pub(crate) output: f64,
}
