//! Amazon Bedrock batch inference as an engine: a run's eligible cases go to jobs, and
//! their answers come back as cassettes that the runner judges like any recording.
//!
//! In pipeline order: `jobs` splits the cases (pure); `submit` writes each job's records
//! (the one encoder per API, `recordings::batch`), uploads them with `aws-sdk-s3` and
//! creates the jobs with `aws-sdk-bedrock`, keeping a `state` file from the first job
//! on; `wait` polls with backoff until every job has ended (or Ctrl-C, which leaves them
//! running); `collect` downloads their output, streamed, and reads it into cassettes
//! (`collect::import`), and says which cases each job answered. `standin` is the
//! loopback control plane that tests and users run offline, as `serve` is the runtime's.
//! Nothing here prints: what happens is told through a callback.

pub(crate) mod aws;
pub(crate) mod collect;
pub(crate) mod jobs;
pub(crate) mod standin;
pub(crate) mod state;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::{Stream, StreamExt};

use crate::plan::Case;
use crate::recordings::batch as records;
use crate::runner::FromBatch;
use aws::{Aws, JobStatus, NewJob, Piece, S3Uri};
use jobs::Split;
use state::{Job, State};

/// The cases a run's records came from, by the hash part of their record ids (indexes
/// among the run's cases): what a collect in the same run need not work out again.
pub(crate) type Known = HashMap<String, Vec<usize>>;

/// The most bytes one input file may hold (the "Batch inference input file size" quota).
pub(crate) const MAX_FILE_BYTES: u64 = 1 << 30;

/// What the engine has to say, for the command line to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Progress {
    /// A line of its own.
    Line(String),
    /// Where the jobs are: a terminal redraws it in place.
    Status(String),
}

/// Why batch could not do its part.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BatchError {
    #[error(transparent)]
    Split(#[from] jobs::SplitError),
    #[error(transparent)]
    Aws(#[from] aws::AwsError),
    #[error(transparent)]
    Fs(#[from] crate::fs::FsError),
    #[error(transparent)]
    Import(#[from] collect::ImportError),
    #[error("{case}: cannot be rendered: {message}")]
    Render { case: String, message: String },
    #[error(
        "{case}: {bytes} bytes of records, more than a batch input file may hold ({limit} bytes): set a lower `batch.max_records`"
    )]
    RecordTooLarge { case: String, bytes: u64, limit: u64 },
    #[error(
        "the suite changed since its jobs were submitted ({0}): collect it with the suite as it was then (the state file names its paths and selection)"
    )]
    Changed(String),
    #[error("interrupted while submitting, after {created} job(s) were created")]
    Interrupted { created: usize },
}

/// A run's id: when it started, and a random part. It names the run's S3 folders, jobs
/// and state file.
pub(crate) fn run_id(now: std::time::SystemTime) -> String {
    let secs = now.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let stamp = httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_secs(secs));
    // `Thu, 03 Dec 2026 15:24:01 GMT` -> `20261203t152401`.
    let parts: Vec<&str> = stamp.split([' ', ':']).collect();
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| parts.get(2) == Some(m))
        .map_or(0, |m| m + 1);
    let [_, day, _, year, h, m, s, ..] = parts.as_slice() else { return format!("run-{:06x}", fastrand::u32(..)) };
    format!("{year}{month:02}{day}t{h}{m}{s}-{:06x}", fastrand::u32(..0x0100_0000))
}

/// The clients of every region the jobs are in.
#[derive(Default)]
pub(crate) struct Regions(HashMap<String, Aws>);

impl Regions {
    pub(crate) async fn get(&mut self, region: &str) -> Aws {
        if let Some(aws) = self.0.get(region) {
            return aws.clone();
        }
        let aws = Aws::new(region).await;
        self.0.insert(region.to_owned(), aws.clone());
        aws
    }
}

/// Writes, uploads and submits the jobs of `split`, keeping `state` at `state_path` from
/// the first job created on: a failure after it still leaves the jobs collectable.
pub(crate) async fn submit(
    cases: &[Case],
    split: &Split,
    mut state: State,
    state_path: &Path,
    regions: &mut Regions,
    interrupts: &mut (dyn Stream<Item = ()> + Unpin + Send),
    tell: &mut dyn FnMut(Progress),
) -> Result<(State, Known), BatchError> {
    let mut known = Known::default();
    let uploaded = upload(cases, split, &mut known, &state.run, regions, tell).await?;
    for (job, (name, input)) in split.jobs.iter().zip(uploaded) {
        // A Ctrl-C while submitting stops before the next job is paid for; the jobs
        // already created are in the state file.
        if let Some(Some(())) = futures_util::FutureExt::now_or_never(interrupts.next()) {
            return Err(BatchError::Interrupted { created: state.jobs.len() });
        }
        let output = uri(&job.config.output).join(&format!("{}/", state.run));
        let aws = regions.get(&job.region).await;
        let new = NewJob {
            name: &name,
            model: &job.model,
            invocation: job.invocation,
            role_arn: &job.config.role_arn,
            input: &input,
            output: &output,
            timeout_hours: job.config.timeout_hours.unwrap_or(24),
        };
        let arn = aws.create_job(&new).await?;
        tell(Progress::Line(format!("submitted {arn} ({} records, {})", job.records, job.model)));
        state.jobs.push(Job {
            arn,
            name,
            model: job.model.clone(),
            region: job.region.clone(),
            invocation: job.invocation.as_str().to_owned(),
            records: job.records,
            input: input.to_string(),
            output: output.to_string(),
        });
        state.write(state_path)?;
    }
    Ok((state, known))
}

/// An S3 URI that `jobs::split` checked (an unparsable one names no bucket, and S3 says so).
fn uri(text: &str) -> S3Uri {
    S3Uri::parse(text).unwrap_or_else(|| S3Uri { bucket: String::new(), key: text.to_owned() })
}

/// Writes and uploads every job's records: each job's name and input file. Every file is
/// uploaded before any job is created: a bucket that is missing or refused stops the run
/// before anything is paid for.
async fn upload(
    cases: &[Case],
    split: &Split,
    known: &mut Known,
    run: &str,
    regions: &mut Regions,
    tell: &mut dyn FnMut(Progress),
) -> Result<Vec<(String, S3Uri)>, BatchError> {
    let mut uploaded = Vec::new();
    for (n, job) in split.jobs.iter().enumerate() {
        let name = format!("gpt-oss-scenarios-{run}-{}", n + 1);
        let input = uri(&job.config.input).join(&format!("{run}/{name}.jsonl"));
        let aws = regions.get(&job.region).await;
        // Records are written while the ones before them are sent: no local file, and
        // never more than a part or two in memory.
        let (send, pieces) = tokio::sync::mpsc::channel(2);
        let (written, sent) =
            tokio::join!(write_records(cases, job, MAX_FILE_BYTES, known, send), aws.upload_pieces(pieces, &input));
        written?;
        sent?;
        let (records, model, invocation) = (job.records, &job.model, job.invocation.as_str());
        tell(Progress::Line(format!("uploaded {records} records for {model} ({invocation}) to {input}")));
        uploaded.push((name, input));
    }
    Ok(uploaded)
}

/// The folder a run's downloads pass through.
fn work_dir(run: &str) -> PathBuf {
    Path::new(".gpt-oss-scenarios").join("batch").join(run)
}

/// How many bytes of records are handed on at a time.
const PIECE_BYTES: usize = 1 << 20;

/// Writes `job`'s records, a case's samples after each other, to `pieces` a piece at a
/// time, within `limit` bytes in all; [`Piece::End`] follows the last only when all were
/// written. Each case's index under the hash part of its record ids goes into `known`.
async fn write_records(
    cases: &[Case],
    job: &jobs::JobPlan,
    limit: u64,
    known: &mut Known,
    pieces: tokio::sync::mpsc::Sender<Piece>,
) -> Result<(), BatchError> {
    let mut piece = Vec::with_capacity(PIECE_BYTES * 2);
    let mut bytes = 0u64;
    for &i in &job.cases {
        let case =
            cases[i].rendered().map_err(|e| BatchError::Render { case: cases[i].id.clone(), message: e.message })?;
        let (hash, lines) = records::records(&case, job.invocation);
        known.entry(hash).or_default().push(i);
        for line in lines {
            let size = line.len() as u64 + 1;
            if size > limit {
                return Err(BatchError::RecordTooLarge { case: case.id.clone(), bytes: size - 1, limit });
            }
            bytes += size;
            if bytes > limit {
                // Jobs are split by records; a suite of huge prompts must set a lower max_records.
                let case = format!("{} records of {}", job.records, job.model);
                return Err(BatchError::RecordTooLarge { case, bytes, limit });
            }
            piece.extend_from_slice(line.as_bytes());
            piece.push(b'\n');
        }
        // The upload failed when it stops listening: its error is the one said.
        if piece.len() >= PIECE_BYTES && pieces.send(Piece::Bytes(std::mem::take(&mut piece))).await.is_err() {
            return Ok(());
        }
    }
    if pieces.send(Piece::Bytes(piece)).await.is_ok() {
        let _ = pieces.send(Piece::End).await;
    }
    Ok(())
}

/// How a wait ended.
#[derive(Debug)]
pub(crate) enum Waited {
    /// Every job ended: their statuses, in the state's order.
    Ended(Vec<JobStatus>),
    /// Ctrl-C or SIGTERM: the jobs keep running.
    Interrupted,
}

/// Polls every job, backing off from a second to `ceiling`, until all have ended.
pub(crate) async fn wait(
    state: &State,
    regions: &mut Regions,
    ceiling: Duration,
    interrupts: &mut (dyn Stream<Item = ()> + Unpin + Send),
    tell: &mut dyn FnMut(Progress),
) -> Result<Waited, BatchError> {
    let started = Instant::now();
    let mut pause = Duration::ZERO;
    loop {
        let mut statuses = Vec::with_capacity(state.jobs.len());
        for job in &state.jobs {
            let aws = regions.get(&job.region).await;
            statuses.push(aws.job(&job.arn).await?);
        }
        tell(Progress::Status(describe(&statuses, started.elapsed())));
        if statuses.iter().all(|s| aws::ENDED.contains(&s.status.as_str())) {
            return Ok(Waited::Ended(statuses));
        }
        pause = aws::next_poll(pause, ceiling);
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            Some(()) = interrupts.next() => return Ok(Waited::Interrupted),
        }
    }
}

/// `3 jobs: 1 InProgress (2,000/5,000 records), 2 Completed · 4m10s`.
fn describe(statuses: &[JobStatus], elapsed: Duration) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for s in statuses {
        match counts.iter_mut().find(|(status, _)| *status == s.status) {
            Some((_, n)) => *n += 1,
            None => counts.push((s.status.clone(), 1)),
        }
    }
    let (done, total) =
        statuses.iter().fold((0, 0), |(d, t), s| (d + s.processed.unwrap_or(0), t + s.total.unwrap_or(0)));
    let records = if total > 0 { format!(", {done}/{total} records") } else { String::new() };
    let said: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let secs = elapsed.as_secs();
    format!(
        "batch: {} job{}: {}{records} · {}m{:02}s",
        statuses.len(),
        if statuses.len() == 1 { "" } else { "s" },
        said.join(", "),
        secs / 60,
        secs % 60
    )
}

/// Stops every job of `state` that has not ended (`--stop-jobs` on a cancel).
pub(crate) async fn stop(state: &State, regions: &mut Regions) -> Vec<(String, Result<(), BatchError>)> {
    let mut stopped = Vec::new();
    for job in &state.jobs {
        let aws = regions.get(&job.region).await;
        let result = match aws.job(&job.arn).await {
            Ok(s) if aws::ENDED.contains(&s.status.as_str()) => Ok(()),
            _ => aws.stop_job(&job.arn).await.map_err(BatchError::from),
        };
        stopped.push((job.arn.clone(), result));
    }
    stopped
}

/// One job, as collected.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) job: Job,
    pub(crate) status: JobStatus,
    pub(crate) manifest: Option<collect::Manifest>,
}

/// What a collect gives the run.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    /// Every case sent to a job, by id: its job, and why it has no answer if it has none.
    pub(crate) from_batch: HashMap<String, FromBatch>,
    pub(crate) jobs: Vec<Outcome>,
    pub(crate) lines: u64,
    pub(crate) errored: u64,
}

/// Checks that `split` (re-planned from the suite) is what `state` submitted: its first
/// jobs, in order (a submit that failed part way created only the first ones).
pub(crate) fn check_same(split: &Split, state: &State) -> Result<(), BatchError> {
    if state.jobs.len() > split.jobs.len() {
        return Err(BatchError::Changed(format!(
            "it now makes {} jobs, and {} were submitted",
            split.jobs.len(),
            state.jobs.len()
        )));
    }
    for (plan, job) in split.jobs.iter().zip(&state.jobs) {
        if plan.model != job.model || plan.invocation.as_str() != job.invocation || plan.records != job.records {
            return Err(BatchError::Changed(format!(
                "{} was {} records of {} ({}), and the suite now makes {} of {} ({})",
                job.name,
                job.records,
                job.model,
                job.invocation,
                plan.records,
                plan.model,
                plan.invocation.as_str()
            )));
        }
    }
    Ok(())
}

/// A file name under a job's output folder, as a relative path of plain parts; `None`
/// for anything else (`..`, an absolute path, an empty part).
fn local_name(name: &str) -> Option<PathBuf> {
    let parts: Vec<&str> = name.split('/').collect();
    let plain = |p: &&str| !p.is_empty() && *p != "." && *p != ".." && !p.contains('\\');
    (parts.iter().all(plain) && name.ends_with(".out")).then(|| parts.iter().collect())
}

/// Downloads every job's output, reads it into the cases' cassettes, and says which case
/// each job answered. `statuses` are the jobs' as they ended.
pub(crate) async fn collect(
    cases: &[Case],
    split: &Split,
    state: &State,
    known: Option<Known>,
    statuses: Vec<JobStatus>,
    regions: &mut Regions,
    tell: &mut dyn FnMut(Progress),
) -> Result<Collected, BatchError> {
    let work = work_dir(&state.run).join("output");
    let mut collected = Collected::default();
    for (job, status) in state.jobs.iter().zip(&statuses) {
        let aws = regions.get(&job.region).await;
        let prefix = uri(&job.output).join(&format!("{}/", job.id()));
        let keys = aws.list(&prefix).await?;
        let mut downloaded = 0;
        for key in &keys {
            let Some(name) = local_name(key.strip_prefix(&prefix.key).unwrap_or(key)) else { continue };
            let local = work.join(job.id()).join(name);
            aws.download(&S3Uri { bucket: prefix.bucket.clone(), key: key.clone() }, &local).await?;
            downloaded += 1;
        }
        tell(Progress::Line(format!(
            "{}: {}, {} file{} downloaded",
            job.arn,
            status.status,
            downloaded,
            if downloaded == 1 { "" } else { "s" }
        )));
    }
    let mut imported = if work.is_dir() {
        let source = format!("Amazon Bedrock batch inference, run {}", state.run);
        // Without what the submit knew, every case sent is found again by its hash.
        let known = known.unwrap_or_else(|| {
            let sent = split.jobs.iter().flat_map(|plan| plan.cases.iter().copied());
            collect::hashes(cases, sent)
        });
        Some(collect::import(&work, cases, &known, source)?)
    } else {
        None
    };
    let mut answered = imported.as_mut().map(|i| std::mem::take(&mut i.answered)).unwrap_or_default();
    for ((plan, job), status) in split.jobs.iter().zip(&state.jobs).zip(&statuses) {
        for &i in &plan.cases {
            let answers = answered.remove(&cases[i].id);
            let missing = answers.is_none().then(|| {
                let ended = if status.status == "Completed" {
                    "ended Completed, and its output holds no answer for every sample of this case".to_owned()
                } else {
                    format!(
                        "ended {}{} before answering every sample of this case",
                        status.status,
                        status.message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default()
                    )
                };
                format!("batch job {} {ended}", job.arn)
            });
            collected.from_batch.insert(
                cases[i].id.clone(),
                FromBatch { job_arn: job.arn.clone(), missing, answers: answers.flatten() },
            );
        }
        let manifest = imported.as_ref().and_then(|i| i.manifests.get(&work.join(job.id())).copied());
        collected.jobs.push(Outcome { job: job.clone(), status: status.clone(), manifest });
    }
    for plan in split.jobs.iter().skip(state.jobs.len()) {
        let why = "its batch job was never created: the submit that wrote the state failed first".to_owned();
        for &i in &plan.cases {
            let missing = FromBatch { job_arn: String::new(), missing: Some(why.clone()), answers: None };
            collected.from_batch.insert(cases[i].id.clone(), missing);
        }
    }
    if let Some(imported) = &imported {
        collected.lines = imported.lines;
        collected.errored = imported.errored;
    }
    // The cassettes hold the answers now; the downloads were only their way in.
    let _ = std::fs::remove_dir_all(work_dir(&state.run));
    Ok(collected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_id_is_its_time_and_a_random_part_and_fits_a_job_name() {
        let at = std::time::UNIX_EPOCH + Duration::from_secs(1_796_311_441);
        let id = run_id(at);
        assert!(id.starts_with("20261203t"), "{id}");
        assert_eq!(id.len(), "20261203t152401-abcdef".len(), "{id}");
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert_ne!(run_id(at), id, "two runs in the same second differ");
    }

    /// What `write_records` hands on, as text, and whether it ended.
    fn written(
        case: &Case,
        job: &jobs::JobPlan,
        limit: u64,
        known: &mut Known,
    ) -> (Result<(), BatchError>, String, bool) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (send, mut pieces) = tokio::sync::mpsc::channel(1);
        let gather = async {
            let (mut text, mut ended) = (Vec::new(), false);
            while let Some(piece) = pieces.recv().await {
                match piece {
                    Piece::Bytes(bytes) => text.extend(bytes),
                    Piece::End => ended = true,
                }
            }
            (String::from_utf8(text).unwrap(), ended)
        };
        let (result, (text, ended)) = runtime.block_on(async {
            tokio::join!(write_records(std::slice::from_ref(case), job, limit, known, send), gather)
        });
        (result, text, ended)
    }

    #[test]
    fn a_record_over_the_file_limit_is_refused_naming_its_case_and_the_upload_is_not_ended() {
        let case = Case::for_tests(
            serde_json::json!({"name": "big", "api": "chat", "model": "m", "prompt": "x".repeat(500),
            "samples": 2, "batch": {"input": "s3://b/in/", "output": "s3://b/out/", "role_arn": "arn:aws:iam::1:role/R"}}),
        );
        let job = jobs::JobPlan {
            model: "m".into(),
            region: case.region.clone(),
            invocation: records::Invocation::InvokeModel,
            config: case.spec.batch.clone().unwrap(),
            cases: vec![0],
            records: 2,
        };
        let (e, _, ended) = written(&case, &job, 200, &mut Known::default());
        assert!(matches!(&e, Err(BatchError::RecordTooLarge { case, limit: 200, .. }) if case == "big"), "{e:?}");
        assert!(!ended, "an upload not ended is aborted: nothing half-written is kept");
        let (e, _, ended) = written(&case, &job, 1000, &mut Known::default());
        assert!(
            matches!(&e, Err(BatchError::RecordTooLarge { case, limit: 1000, .. }) if case == "2 records of m"),
            "{e:?}"
        );
        assert!(!ended);
        let mut known = Known::default();
        let (result, text, ended) = written(&case, &job, 4096, &mut known);
        assert!(result.is_ok() && ended);
        let ids: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["recordId"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 2, "{text}");
        let (hash, sample) = records::parse_record_id(&ids[1]).unwrap();
        assert_eq!((known[hash].clone(), sample), (vec![0], 1), "the case is known by its records' hash");
    }

    #[test]
    fn only_plain_output_names_become_local_files() {
        assert_eq!(local_name("a.jsonl.out"), Some(PathBuf::from("a.jsonl.out")));
        assert_eq!(local_name("sub/a.out"), Some(Path::new("sub").join("a.out")));
        for bad in ["/x.out", "../x.out", "a//x.out", "a/./x.out", "x.jsonl", "", "a\\..\\x.out"] {
            assert_eq!(local_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_wait_says_each_status_and_the_records_done() {
        let s = |status: &str, processed, total| JobStatus {
            status: status.into(),
            message: None,
            processed: Some(processed),
            total: Some(total),
        };
        let line = describe(&[s("InProgress", 20, 100), s("Completed", 100, 100)], Duration::from_secs(250));
        assert_eq!(line, "batch: 2 jobs: 1 InProgress, 1 Completed, 120/200 records · 4m10s");
    }
}
