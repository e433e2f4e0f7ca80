//! `batch prepare` and `batch import`: a suite through Amazon Bedrock batch inference by
//! hand. `prepare` writes the records of every case batch can carry, a JSONL file per
//! model and invocation type (split at a job's most records), to submit with
//! `aws bedrock create-model-invocation-job`; `import` reads the job's output files back
//! into the cases' cassettes, so that `run --mode replay` judges the answers.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use crate::exit;
use crate::plan::Case;
use crate::recordings::batch::{self, Invocation, MAX_RECORDS, MIN_RECORDS};
use crate::recordings::{DatasetCassettes, Interaction, Recorder, request_for};
use crate::stdio::{errln, outln};
use crate::wire::WireResponse;

/// Why `batch` could not do its work.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BatchError {
    #[error(transparent)]
    Fs(#[from] crate::fs::FsError),
    #[error(transparent)]
    Recording(#[from] crate::recordings::cassette::RecordingError),
    #[error("{path}: cannot read it: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}:{line}: {error}")]
    Line { path: String, line: usize, error: batch::LineError },
    #[error("{path}: it counts {manifest} records, and the output files beside it hold {lines}")]
    Manifest { path: String, manifest: u64, lines: u64 },
    #[error("{0}: no `.jsonl.out` file there: give the folder a job wrote its output to")]
    NoOutput(String),
}

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
    match import_into(dir, &cases) {
        Ok(said) => {
            outln!("{said}");
            exit::SUCCESS
        }
        Err(e) => {
            errln!("error: {e}");
            exit::FAILURES
        }
    }
}

fn import_into(dir: &Path, cases: &[Case]) -> Result<String, BatchError> {
    // Each case found again by its request hash, as rendered.
    let rendered: Vec<Case> = cases
        .iter()
        .filter(|c| c.skip.is_none() && batch::invocation(c).is_ok())
        .filter_map(|c| c.rendered().ok())
        .collect();
    let mut by_hash: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, case) in rendered.iter().enumerate() {
        let id = batch::record_id(case, 0);
        let hash = batch::parse_record_id(&id).map(|(h, _)| h.to_owned()).unwrap_or_default();
        by_hash.entry(hash).or_default().push(i);
    }
    let api_of = |id: &str| {
        let (hash, _) = batch::parse_record_id(id)?;
        by_hash.get(hash).and_then(|at| at.first()).map(|&i| rendered[i].api)
    };
    let outputs = output_files(dir)?;
    if outputs.is_empty() {
        return Err(BatchError::NoOutput(crate::fs::shown(dir)));
    }
    let mut answers: HashMap<usize, BTreeMap<u32, WireResponse>> = HashMap::new();
    let (mut lines_read, mut errored) = (0u64, 0u64);
    let mut per_folder: BTreeMap<PathBuf, u64> = BTreeMap::new();
    for path in &outputs {
        let shown = crate::fs::shown(path);
        let file = crate::fs::open_regular(path, crate::fs::Links::Follow)
            .map_err(|source| crate::fs::FsError::Read { path: path.clone(), source })?;
        for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|source| BatchError::Read { path: shown.clone(), source })?;
            if line.trim().is_empty() {
                continue;
            }
            let (id, response) = batch::read_output(&line, api_of).map_err(|error| BatchError::Line {
                path: shown.clone(),
                line: n + 1,
                error,
            })?;
            lines_read += 1;
            errored += u64::from(response.status >= 400);
            *per_folder.entry(path.parent().map(Path::to_path_buf).unwrap_or_default()).or_default() += 1;
            let (hash, sample) = batch::parse_record_id(&id).unwrap_or_default();
            for &i in by_hash.get(hash).into_iter().flatten() {
                answers.entry(i).or_default().insert(sample, response.clone());
            }
        }
    }
    for (folder, lines) in &per_folder {
        check_manifest(folder, *lines)?;
    }
    let datasets = DatasetCassettes::default();
    let recorder =
        Recorder::batch(&datasets, format!("Amazon Bedrock batch inference, output {}", crate::fs::shown(dir)));
    let (mut written, mut incomplete) = (0, 0);
    let mut kept = Ok(());
    for (i, case) in rendered.iter().enumerate() {
        let Some(samples) = answers.get(&i) else { continue };
        if samples.len() < case.samples as usize {
            incomplete += 1;
            continue;
        }
        let request = request_for(case);
        let interactions = samples
            .values()
            .take(case.samples as usize)
            .map(|r| Interaction { request: request.clone(), response: r.clone() })
            .collect();
        let host = "bedrock-batch".to_owned();
        if let Err(e) = recorder.keep(case, host, interactions, Vec::new()) {
            kept = Err(e);
            break;
        }
        written += 1;
    }
    // The rows kept are folded into their datasets' cassettes even when one failed.
    let folded = rendered.iter().try_for_each(|case| datasets.fold(case));
    kept?;
    folded?;
    let mut said = format!(
        "imported {lines_read} answers ({errored} errored) from {} file{} into the cassettes of {written} case{}",
        outputs.len(),
        if outputs.len() == 1 { "" } else { "s" },
        if written == 1 { "" } else { "s" }
    );
    if incomplete > 0 {
        said.push_str(&format!("; {incomplete} cases lack some samples' answers and were left as they were"));
    }
    said.push_str("; judge them with `gpt-oss-scenarios run --mode replay`");
    Ok(said)
}

/// Every `.jsonl.out` file under `dir`, in order.
fn output_files(dir: &Path) -> Result<Vec<PathBuf>, BatchError> {
    let mut found = Vec::new();
    let read = std::fs::read_dir(dir).map_err(|source| BatchError::Read { path: crate::fs::shown(dir), source })?;
    let mut entries: Vec<PathBuf> = read.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            found.extend(output_files(&path)?);
        } else if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".out") && n != "manifest.json.out")
        {
            found.push(path);
        }
    }
    Ok(found)
}

/// A job's `manifest.json.out` must count the records its output files hold.
fn check_manifest(folder: &Path, lines: u64) -> Result<(), BatchError> {
    let path = folder.join("manifest.json.out");
    let shown = crate::fs::shown(&path);
    let text = match crate::fs::read_text_limited(&path, 1 << 20, crate::fs::Links::Follow) {
        Ok(text) => text,
        Err(crate::fs::ReadError::Missing) => return Ok(()),
        Err(source) => return Err(crate::fs::FsError::Read { path, source }.into()),
    };
    let manifest: serde_json::Value = serde_json::from_str(&text).map_err(|e| BatchError::Line {
        path: shown.clone(),
        line: e.line(),
        error: batch::LineError::NotJson(e.to_string()),
    })?;
    let counted = ["successRecordCount", "errorRecordCount"].iter().map(|k| manifest[*k].as_u64()).sum::<Option<u64>>();
    match counted {
        Some(manifest) if manifest != lines => Err(BatchError::Manifest { path: shown, manifest, lines }),
        _ => Ok(()),
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
