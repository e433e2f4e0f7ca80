//! The grader a judge asks, resolved: a check's own `grader` over the scenario's (which
//! load merged over `defaults.yaml` files'), then the case's api, region and endpoints.
//! [`GraderPlan::case_for`] makes the grader's question a [`Case`] of its own, so it
//! goes through the same transports, retries, reasoning separation and cassettes.

use std::sync::Arc;

use super::Case;
use crate::scenario::{Api, Endpoints, Grader, Params, Scenario};

/// Where and how a judge's questions are sent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GraderPlan {
    pub(crate) api: Api,
    pub(crate) model: String,
    pub(crate) region: String,
    pub(crate) endpoints: Option<Endpoints>,
    pub(crate) params: Option<Params>,
}

/// A judge with no grading model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no grader model: set `grader: {{model: ...}}` (e.g. openai.gpt-oss-120b-1:0) in the scenario or in a defaults.yaml above it"
)]
pub(crate) struct NoGrader;

/// The grader of a judge of `case`, whose own settings are `own`.
pub(crate) fn resolve(case: &Case, own: Option<&Grader>) -> Result<GraderPlan, NoGrader> {
    let suite = case.spec.grader.as_ref();
    fn pick<T: Clone>(own: Option<&Grader>, suite: Option<&Grader>, field: fn(&Grader) -> Option<&T>) -> Option<T> {
        own.and_then(field).or_else(|| suite.and_then(field)).cloned()
    }
    let model = pick(own, suite, |g| g.model.as_ref()).ok_or(NoGrader)?;
    let api = pick(own, suite, |g| g.api.as_ref()).map_or_else(|| case.wire_api(), |t| t.api());
    Ok(GraderPlan {
        api,
        model,
        region: pick(own, suite, |g| g.region.as_ref()).unwrap_or_else(|| case.region.clone()),
        endpoints: pick(own, suite, |g| g.endpoints.as_ref()).or_else(|| case.spec.endpoints.clone()),
        params: merge_params(suite.and_then(|g| g.params.as_ref()), own.and_then(|g| g.params.as_ref())),
    })
}

/// Field by field, `own` over `suite`; `extra` name by name.
fn merge_params(suite: Option<&Params>, own: Option<&Params>) -> Option<Params> {
    let (suite, own) = match (suite, own) {
        (None, None) => return None,
        (Some(p), None) | (None, Some(p)) => return Some(p.clone()),
        (Some(s), Some(o)) => (s, o),
    };
    let extra = match (&suite.extra, &own.extra) {
        (Some(s), Some(o)) => {
            let mut merged = s.clone();
            merged.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
            Some(merged)
        }
        (s, o) => o.clone().or_else(|| s.clone()),
    };
    Some(Params {
        max_tokens: own.max_tokens.or(suite.max_tokens),
        temperature: own.temperature.or(suite.temperature),
        top_p: own.top_p.or(suite.top_p),
        reasoning_effort: own.reasoning_effort.or(suite.reasoning_effort),
        stop: own.stop.clone().or_else(|| suite.stop.clone()),
        service_tier: own.service_tier.or(suite.service_tier),
        extra,
    })
}

impl GraderPlan {
    /// The grader's question about `case` as a case of its own: one sample, the case's
    /// timeout, its project (for cassettes) and its id with ` (judge)` after it.
    pub(crate) fn case_for(&self, case: &Case, system: String, user: String) -> Case {
        let spec = Scenario {
            name: case.spec.name.clone(),
            api: Some(self.api),
            model: Some(self.model.clone()),
            region: Some(self.region.clone()),
            endpoints: self.endpoints.clone(),
            params: self.params.clone(),
            system: Some(system),
            prompt: Some(user),
            // The case's prices (its `defaults.yaml`'s) price its grader too.
            pricing: case.spec.pricing.clone(),
            ..Scenario::default()
        };
        Case {
            id: format!("{} (judge)", case.id),
            file: case.file.clone(),
            project_root: case.project_root.clone(),
            source: case.source.clone(),
            variant: Vec::new(),
            api: self.api,
            model: self.model.clone(),
            region: self.region.clone(),
            samples: 1,
            // A grader on the flex tier waits as a flex case does.
            timeout: match self.params.as_ref().and_then(|p| p.service_tier) {
                Some(crate::scenario::ServiceTier::Flex) => case.timeout.max(super::FLEX_TIMEOUT),
                _ => case.timeout,
            },
            tool_timeouts: Default::default(),
            skip: None,
            spec: Arc::new(spec),
            row: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{ReasoningEffort, Transport};
    use serde_json::json;

    fn case(spec: serde_json::Value) -> Case {
        let spec: Scenario = serde_json::from_value(spec).unwrap();
        Case {
            id: "c".into(),
            file: "scenarios/c.yaml".into(),
            project_root: ".".into(),
            source: "scenarios/c.yaml".into(),
            variant: Vec::new(),
            api: Api::Agent,
            model: "m".into(),
            region: "eu-west-1".into(),
            samples: 1,
            timeout: std::time::Duration::from_secs(5),
            tool_timeouts: Default::default(),
            skip: None,
            spec: Arc::new(spec),
            row: None,
        }
    }

    #[test]
    fn a_checks_grader_wins_field_by_field_and_the_case_fills_the_rest() {
        let c = case(
            json!({"name": "c", "transport": "chat", "grader": {"model": "big", "params": {"reasoning_effort": "high", "max_tokens": 100}}}),
        );
        let own = Grader { params: Some(Params { max_tokens: Some(50), ..Params::default() }), ..Grader::default() };
        let plan = resolve(&c, Some(&own)).unwrap();
        assert_eq!((plan.api, plan.model.as_str(), plan.region.as_str()), (Api::Chat, "big", "eu-west-1"));
        let params = plan.params.unwrap();
        assert_eq!((params.max_tokens, params.reasoning_effort), (Some(50), Some(ReasoningEffort::High)));
        let own = Grader { api: Some(Transport::Converse), model: Some("other".into()), ..Grader::default() };
        let plan = resolve(&c, Some(&own)).unwrap();
        assert_eq!((plan.api, plan.model.as_str()), (Api::Converse, "other"));
        assert_eq!(resolve(&case(json!({"name": "c"})), None), Err(NoGrader));
    }

    #[test]
    fn the_graders_case_asks_one_question_with_none_of_the_cases_settings() {
        let c = case(json!({"name": "c", "params": {"temperature": 0.1}, "tools": [], "grader": {"model": "big"}}));
        let g = resolve(&c, None).unwrap().case_for(&c, "sys".into(), "q".into());
        assert_eq!((g.id.as_str(), g.api, g.samples), ("c (judge)", Api::ConverseStream, 1));
        assert_eq!(g.spec.params, None);
        assert_eq!((g.spec.system.as_deref(), g.spec.prompt.as_deref()), (Some("sys"), Some("q")));
    }
}
