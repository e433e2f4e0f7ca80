//! Which cases go to batch inference jobs, and in which job (pure). Every case batch can
//! carry (single-turn, not streamed, on `converse`, `invoke` or `chat`) whose engine is
//! `batch` goes in; a job holds one model's records of one invocation type, in one
//! region, under one `batch:` configuration, and a suite too big for one job is split
//! (a case's samples stay together). A group with fewer records than a job's minimum
//! runs live, or refuses the run with `batch-strict`: no job that fails validation is
//! ever submitted.

use std::collections::BTreeMap;

use crate::plan::Case;
use crate::recordings::batch::{self, Invocation, MAX_RECORDS, MIN_RECORDS};
use crate::scenario::{BatchConfig, Engine};

/// One job to submit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JobPlan {
    pub(crate) model: String,
    pub(crate) region: String,
    pub(crate) invocation: Invocation,
    pub(crate) config: BatchConfig,
    /// Indexes of its cases among those split.
    pub(crate) cases: Vec<usize>,
    /// Records: the samples of its cases.
    pub(crate) records: u64,
}

/// The cases split between jobs and live calls.
#[derive(Debug, Default)]
pub(crate) struct Split {
    pub(crate) jobs: Vec<JobPlan>,
    /// Cases whose engine is batch that run live, each with why (by index).
    pub(crate) live: Vec<(usize, String)>,
}

/// Why cases cannot be split into jobs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SplitError {
    #[error(
        "{scenario}: its engine is batch, and no `batch:` says where jobs read and write: add `batch: {{input: s3://…, output: s3://…, role_arn: …}}` to defaults.yaml, or pass --batch-input, --batch-output and --batch-role-arn"
    )]
    NoConfig { scenario: String },
    #[error("{scenario}: the batch role `{role}` is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")]
    NotRole { scenario: String, role: String },
    #[error("{}: `batch.{field}` is not an S3 folder (s3://bucket/prefix/)", .scenario)]
    NotS3 { scenario: String, field: &'static str },
    #[error(
        "{model} ({invocation}, {region}) has {records} records, and a batch job takes at least {min}: with --engine batch-strict the run stops here, before anything is uploaded (--engine batch runs them live)"
    )]
    TooFew { model: String, invocation: &'static str, region: String, records: u64, min: u64 },
    #[error("{case}: {samples} samples are more records than one batch job takes ({max})")]
    TooManySamples { case: String, samples: u32, max: u64 },
}

/// `--batch-input`, `--batch-output` and `--batch-role-arn`: over every case's `batch:`,
/// or in place of it (a workflow passes its bucket and role from its settings).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Overrides {
    pub(crate) input: Option<String>,
    pub(crate) output: Option<String>,
    pub(crate) role_arn: Option<String>,
}

impl Overrides {
    /// `case`'s configuration with these over it; `None` when neither gives all three.
    fn apply(&self, own: Option<&BatchConfig>) -> Option<BatchConfig> {
        let pick = |flag: &Option<String>, own: Option<&String>| flag.clone().or_else(|| own.cloned());
        Some(BatchConfig {
            input: pick(&self.input, own.map(|c| &c.input))?,
            output: pick(&self.output, own.map(|c| &c.output))?,
            role_arn: pick(&self.role_arn, own.map(|c| &c.role_arn))?,
            timeout_hours: own.and_then(|c| c.timeout_hours),
            min_records: own.and_then(|c| c.min_records),
            max_records: own.and_then(|c| c.max_records),
        })
    }
}

/// The engine of `case`: `--engine`, else its own, else live.
pub(crate) fn engine_of(case: &Case, flag: Option<Engine>) -> Engine {
    flag.or(case.spec.engine).unwrap_or(Engine::Live)
}

type Key = (String, String, Invocation, String);

/// Splits `cases` (unrendered is fine: grouping needs no prompt) into jobs and live runs.
pub(crate) fn split(cases: &[Case], flag: Option<Engine>, overrides: &Overrides) -> Result<Split, SplitError> {
    let mut groups: BTreeMap<Key, (BatchConfig, bool, Vec<usize>)> = BTreeMap::new();
    let mut split = Split::default();
    for (i, case) in cases.iter().enumerate() {
        let engine = engine_of(case, flag);
        if engine == Engine::Live || case.skip.is_some() {
            continue;
        }
        let invocation = match batch::invocation(case) {
            Ok(invocation) => invocation,
            Err(why) => {
                split.live.push((i, why.to_owned()));
                continue;
            }
        };
        let scenario = crate::fs::shown(&case.file);
        let config = overrides
            .apply(case.spec.batch.as_ref())
            .ok_or_else(|| SplitError::NoConfig { scenario: scenario.clone() })?;
        if !config.role_arn.starts_with("arn:") || !config.role_arn.contains(":role/") {
            return Err(SplitError::NotRole { scenario, role: config.role_arn });
        }
        for (field, uri) in [("input", &config.input), ("output", &config.output)] {
            if super::aws::S3Uri::parse(uri).is_none() {
                return Err(SplitError::NotS3 { scenario, field });
            }
        }
        // The configuration is part of the key: two suites' jobs never share a file.
        let key =
            (case.model.clone(), case.region.clone(), invocation, serde_json::to_string(&config).unwrap_or_default());
        let entry = groups.entry(key).or_insert_with(|| (config, false, Vec::new()));
        entry.1 |= engine == Engine::BatchStrict;
        entry.2.push(i);
    }
    for ((model, region, invocation, _), (config, strict, members)) in groups {
        let min = u64::from(config.min_records.unwrap_or(MIN_RECORDS as u32));
        let max = u64::from(config.max_records.unwrap_or(MAX_RECORDS as u32));
        let records: u64 = members.iter().map(|&i| u64::from(cases[i].samples)).sum();
        if records < min {
            if strict {
                return Err(SplitError::TooFew { model, invocation: invocation.as_str(), region, records, min });
            }
            let why = format!(
                "{records} records for {model} ({}) are fewer than a batch job's minimum of {min}",
                invocation.as_str()
            );
            split.live.extend(members.iter().map(|&i| (i, why.clone())));
            continue;
        }
        let job = |cases: Vec<usize>, records| JobPlan {
            model: model.clone(),
            region: region.clone(),
            invocation,
            config: config.clone(),
            cases,
            records,
        };
        let mut part: (Vec<usize>, u64) = (Vec::new(), 0);
        for &i in &members {
            let samples = u64::from(cases[i].samples);
            if samples > max {
                return Err(SplitError::TooManySamples { case: cases[i].id.clone(), samples: cases[i].samples, max });
            }
            if part.1 + samples > max {
                let full = std::mem::take(&mut part);
                split.jobs.push(job(full.0, full.1));
            }
            part.0.push(i);
            part.1 += samples;
        }
        // The last part may fall below the minimum: it takes records from the one
        // before, which stays above the minimum since it was full.
        if part.1 < min
            && let Some(previous) = split.jobs.last_mut().filter(|j| j.model == model && j.invocation == invocation)
        {
            while part.1 < min {
                let Some(&moved) = previous.cases.last() else { break };
                let samples = u64::from(cases[moved].samples);
                if previous.records - samples < min {
                    break;
                }
                previous.cases.pop();
                previous.records -= samples;
                part.1 += samples;
                part.0.insert(0, moved);
            }
        }
        if part.1 < min {
            // Only when a case's samples are so many that no split reaches the minimum.
            let why = format!("{} records left over for {model} ({}) after splitting", part.1, invocation.as_str());
            split.live.extend(part.0.iter().map(|&i| (i, why.clone())));
        } else {
            split.jobs.push(job(part.0, part.1));
        }
    }
    split.live.sort();
    Ok(split)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn case(api: &str, model: &str, samples: u32, engine: Option<&str>) -> Case {
        let mut spec = json!({"name": "n", "api": api, "model": model, "prompt": "hi", "samples": samples,
            "batch": {"input": "s3://b/in/", "output": "s3://b/out/", "role_arn": "arn:aws:iam::123456789012:role/R",
                      "min_records": 3, "max_records": 5}});
        if let Some(engine) = engine {
            spec["engine"] = json!(engine);
        }
        Case::for_tests(spec)
    }

    #[test]
    fn eligible_cases_group_by_model_and_invocation_and_the_rest_say_why() {
        let cases = vec![
            case("chat", "m1", 1, Some("batch")),
            case("invoke", "m1", 2, Some("batch")),
            case("converse", "m1", 3, Some("batch")),
            case("chat-stream", "m1", 1, Some("batch")),
            case("chat", "m2", 1, Some("batch")),
            case("chat", "m1", 1, None),
        ];
        let split = split(&cases, None, &Overrides::default()).unwrap();
        let jobs: Vec<_> =
            split.jobs.iter().map(|j| (j.model.as_str(), j.invocation, j.cases.clone(), j.records)).collect();
        assert_eq!(
            jobs,
            vec![("m1", Invocation::InvokeModel, vec![0, 1], 3), ("m1", Invocation::Converse, vec![2], 3)]
        );
        assert_eq!(split.live[0], (3, "streamed: streaming is what it tests".to_owned()));
        assert!(split.live[1].1.contains("1 records for m2 (InvokeModel) are fewer than a batch job's minimum of 3"));
        assert_eq!(split.live.len(), 2, "a live-engine case is not the split's to run");
    }

    #[test]
    fn a_big_group_is_split_and_no_part_falls_below_the_minimum() {
        let cases: Vec<Case> = (0..11).map(|_| case("chat", "m", 1, Some("batch"))).collect();
        let split = split(&cases, None, &Overrides::default()).unwrap();
        let sizes: Vec<u64> = split.jobs.iter().map(|j| j.records).collect();
        assert_eq!(sizes, vec![5, 3, 3], "5 + 5 + 1 becomes 5 + 3 + 3");
        let mut all: Vec<usize> = split.jobs.iter().flat_map(|j| j.cases.clone()).collect();
        all.sort();
        assert_eq!(all, (0..11).collect::<Vec<_>>());
        assert!(split.jobs.iter().all(|j| j.records >= 3 && j.records <= 5));
    }

    #[test]
    fn strict_refuses_too_few_and_no_config_is_named() {
        let cases = vec![case("chat", "m", 1, Some("batch-strict"))];
        let e = split(&cases, None, &Overrides::default()).unwrap_err();
        assert!(matches!(e, SplitError::TooFew { records: 1, min: 3, .. }), "{e}");
        let mut bare = case("chat", "m", 1, None);
        std::sync::Arc::make_mut(&mut bare.spec).batch = None;
        let e = split(&[bare.clone()], Some(Engine::Batch), &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("no `batch:` says where"), "{e}");
        let flags = Overrides {
            input: Some("s3://flag/in/".into()),
            output: Some("s3://flag/out/".into()),
            role_arn: Some("arn:aws:iam::123456789012:role/Flag".into()),
        };
        let many: Vec<Case> = (0..100).map(|_| bare.clone()).collect();
        let from_flags = split(&many, Some(Engine::Batch), &flags).unwrap();
        assert_eq!(from_flags.jobs[0].config.input, "s3://flag/in/", "flags stand in for `batch:`");
        let bad = Overrides { role_arn: Some("BedrockBatch".into()), ..flags };
        assert!(matches!(split(&many, Some(Engine::Batch), &bad).unwrap_err(), SplitError::NotRole { .. }));
        let too_many = case("chat", "m", 6, Some("batch"));
        assert!(matches!(
            split(&[too_many], None, &Overrides::default()).unwrap_err(),
            SplitError::TooManySamples { samples: 6, .. }
        ));
    }
}
