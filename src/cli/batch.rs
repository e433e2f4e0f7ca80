//! `batch prepare` and `batch import`: a suite through Amazon Bedrock batch inference by
//! hand. `prepare` writes the records of every case batch can carry, a JSONL file per
//! model and invocation type (split at a job's most records), to submit with
//! `aws bedrock create-model-invocation-job`; `import` reads the job's output files back
//! into the cases' cassettes, so that `run --mode replay` judges the answers.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::batch::collect;
use crate::exit;
use crate::plan::Case;
use crate::recordings::batch::{self, Invocation, MAX_RECORDS, MIN_RECORDS};
use crate::stdio::{errln, outln};

/// `batch prepare [PATHS] --out DIR`.
pub(crate) fn prepare(paths: &[PathBuf], out: &Path) -> u8 {
    let cases = match cases(paths) {
        Ok(cases) => cases,
        Err(code) => return code,
    };
    // Cases are kept as planned (a dataset row unrendered) and rendered as written.
    let mut groups: BTreeMap<(String, Invocation), Vec<&Case>> = BTreeMap::new();
    let mut live: BTreeMap<&'static str, usize> = BTreeMap::new();
    for case in cases.iter().filter(|c| c.skip.is_none()) {
        match batch::invocation(case) {
            Ok(invocation) => groups.entry((case.model.clone(), invocation)).or_default().push(case),
            Err(why) => *live.entry(why).or_default() += 1,
        }
    }
    let mut written = 0;
    for ((model, invocation), group) in &groups {
        let records: usize = group.iter().map(|c| c.samples as usize).sum();
        // A job takes at most MAX_RECORDS: a case's samples stay in one file.
        let mut parts: Vec<Vec<&Case>> = vec![Vec::new()];
        let mut in_part = 0;
        for case in group {
            if in_part > 0 && in_part + case.samples as usize > MAX_RECORDS {
                parts.push(Vec::new());
                in_part = 0;
            }
            in_part += case.samples as usize;
            parts.last_mut().expect("one part at least").push(case);
        }
        for (part, chunk) in parts.iter().enumerate() {
            let name = format!("{}.{}.{}.jsonl", file_safe(model), invocation.as_str(), part + 1);
            let path = out.join(&name);
            let filled = crate::fs::write_atomic_with(&path, |w| {
                for case in chunk {
                    let case =
                        case.rendered().map_err(|e| std::io::Error::other(format!("{}: {}", e.pointer, e.message)))?;
                    for sample in 0..case.samples {
                        writeln!(w, "{}", batch::record(&case, *invocation, sample))?;
                    }
                }
                Ok(())
            });
            if let Err(e) = filled {
                errln!("error: {e}");
                return exit::FAILURES;
            }
            written += 1;
            outln!("wrote {} ({}, {model})", crate::fs::shown(&path), invocation.as_str());
        }
        if records < MIN_RECORDS {
            errln!(
                "warning: {model} ({}) has {records} records: Bedrock refuses a job of fewer than {MIN_RECORDS}; run those cases live",
                invocation.as_str()
            );
        }
    }
    for (why, n) in &live {
        outln!("{n} case{} not for batch ({why}): run them live", if *n == 1 { "" } else { "s" });
    }
    outln!(
        "{written} file{} in {}; submit each as a job (modelInvocationType as its name says), then `gpt-oss-scenarios batch import OUTPUT`",
        if written == 1 { "" } else { "s" },
        crate::fs::shown(out)
    );
    exit::SUCCESS
}

/// `batch import DIR [PATHS]`.
pub(crate) fn import(dir: &Path, paths: &[PathBuf]) -> u8 {
    let cases = match cases(paths) {
        Ok(cases) => cases,
        Err(code) => return code,
    };
    let source = format!("Amazon Bedrock batch inference, output {}", crate::fs::shown(dir));
    let by_hash = collect::hashes(&cases, 0..cases.len());
    match collect::import(dir, &cases, &by_hash, source) {
        Ok(done) => {
            let plural = |n: usize| if n == 1 { "" } else { "s" };
            let mut said = format!(
                "imported {} answers ({} errored) from {} file{} into the cassettes of {} case{}",
                done.lines,
                done.errored,
                done.files,
                plural(done.files),
                done.answered.len(),
                plural(done.answered.len())
            );
            if done.incomplete > 0 {
                said.push_str(&format!(
                    "; {} cases lack some samples' answers and were left as they were",
                    done.incomplete
                ));
            }
            outln!("{said}; judge them with `gpt-oss-scenarios run --mode replay`");
            exit::SUCCESS
        }
        Err(e) => {
            errln!("error: {e}");
            exit::FAILURES
        }
    }
}

/// The suite's cases, planned (problems printed as `validate` prints them).
fn cases(paths: &[PathBuf]) -> Result<Vec<Case>, u8> {
    let (plan, _) = super::commands::load_and_plan(paths)?;
    Ok(plan.cases().collect())
}

/// A model id as a file name: `openai.gpt-oss-120b-1:0` -> `openai.gpt-oss-120b-1_0`.
fn file_safe(model: &str) -> String {
    model.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect()
}

/// `batch serve`: the loopback stand-in for Bedrock's batch control plane, answering
/// jobs' records from recordings; S3 is wherever `AWS_ENDPOINT_URL_S3` points.
pub(crate) fn serve(options: ServeOptions) -> u8 {
    let zero = std::time::Duration::ZERO;
    let (playback, _) = match super::tools::load_playback(&options.cases, zero, options.matching, None) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let runtime = match super::tools::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let aws = crate::batch::aws::Aws::new(&options.settings.region).await;
        let stand_in = crate::batch::standin::StandIn::new(playback, options.settings, aws);
        let server =
            match crate::wire::server::WireServer::start_on(options.port, std::sync::Arc::new(stand_in), false).await {
                Ok(s) => s,
                Err(e) => {
                    errln!("error: cannot listen on 127.0.0.1:{}: {e}", options.port);
                    return exit::INVALID;
                }
            };
        outln!("serving Bedrock's batch control plane on {} (point AWS_ENDPOINT_URL_BEDROCK there)", server.url());
        let _ = tokio::signal::ctrl_c().await;
        exit::SUCCESS
    })
}

/// What `batch serve` serves.
pub(crate) struct ServeOptions {
    pub(crate) cases: Vec<PathBuf>,
    pub(crate) port: u16,
    pub(crate) matching: crate::recordings::playback::Match,
    pub(crate) settings: crate::batch::standin::Settings,
}
