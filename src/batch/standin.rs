//! A loopback stand-in for Bedrock's batch control plane, as `serve` is one for the
//! runtime: `CreateModelInvocationJob`, `GetModelInvocationJob`,
//! `ListModelInvocationJobs` and `StopModelInvocationJob`, shaped as the Bedrock API
//! reference shapes them (rest-json, ISO-8601 times, errors named by
//! `x-amzn-ErrorType`). A job reads its records from the S3 endpoint the SDK is pointed
//! at (`AWS_ENDPOINT_URL_S3`), answers each from recordings as `serve` would (the
//! record's `modelInput` sent to its model's InvokeModel or Converse path), and writes
//! `{output}{job id}/{file}.out` and `manifest.json.out` there. It enforces a job's
//! minimum record count, and walks Submitted, Validating, Scheduled and InProgress to
//! an end, a step apart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

use super::aws::{Aws, S3Uri};
use crate::recordings::playback::Playback;
use crate::wire::server::{RecordedRequest, Reply, Responder};

/// How the stand-in behaves.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) region: String,
    /// The fewest records a job takes.
    pub(crate) min_records: u64,
    /// The time between a job's statuses.
    pub(crate) step: Duration,
    /// The time each record takes.
    pub(crate) latency: Duration,
    /// The roles that exist; any role when empty.
    pub(crate) roles: Vec<String>,
}

/// The control plane's state, shared with the jobs' tasks.
pub(crate) struct StandIn {
    inner: Arc<Inner>,
}

struct Inner {
    jobs: Mutex<Vec<Job>>,
    playback: Playback,
    settings: Settings,
    aws: Aws,
}

#[derive(Clone)]
struct Job {
    id: String,
    arn: String,
    request: Value,
    status: String,
    message: Option<String>,
    submitted: SystemTime,
    modified: SystemTime,
    ended: Option<SystemTime>,
    counts: [u64; 4],
    stop: Arc<AtomicBool>,
}

const ACCOUNT: &str = "123456789012";

impl StandIn {
    pub(crate) fn new(playback: Playback, settings: Settings, aws: Aws) -> StandIn {
        StandIn { inner: Arc::new(Inner { jobs: Mutex::new(Vec::new()), playback, settings, aws }) }
    }
}

fn error(status: u16, kind: &str, message: &str) -> Reply {
    let mut reply = Reply::json(status, &json!({ "message": message }));
    reply.headers.push(("x-amzn-ErrorType".into(), kind.into()));
    reply
}

fn time(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

impl Job {
    fn describe(&self) -> Value {
        let r = &self.request;
        let mut v = json!({
            "jobArn": self.arn,
            "jobName": r["jobName"],
            "modelId": r["modelId"],
            "roleArn": r["roleArn"],
            "status": self.status,
            "submitTime": time(self.submitted),
            "lastModifiedTime": time(self.modified),
            "inputDataConfig": r["inputDataConfig"],
            "outputDataConfig": r["outputDataConfig"],
            "timeoutDurationInHours": r.get("timeoutDurationInHours").cloned().unwrap_or(json!(24)),
            "modelInvocationType": r.get("modelInvocationType").cloned().unwrap_or(json!("InvokeModel")),
            "totalRecordCount": self.counts[0],
            "processedRecordCount": self.counts[1],
            "successRecordCount": self.counts[2],
            "errorRecordCount": self.counts[3],
        });
        if let Some(token) = r.get("clientRequestToken") {
            v["clientRequestToken"] = token.clone();
        }
        if let Some(m) = &self.message {
            v["message"] = json!(m);
        }
        if let Some(t) = self.ended {
            v["endTime"] = json!(time(t));
        }
        v
    }
}

impl Responder for StandIn {
    fn respond(&self, request: &RecordedRequest) -> Reply {
        let path = request.path.split('?').next().unwrap_or_default();
        let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy().into_owned();
        match (request.method.as_str(), decoded.as_str()) {
            ("POST", "/model-invocation-job") => self.create(&request.body),
            ("GET", "/model-invocation-jobs") => {
                let jobs = self.inner.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let summaries: Vec<Value> = jobs.iter().rev().map(Job::describe).collect();
                Reply::json(200, &json!({ "invocationJobSummaries": summaries }))
            }
            ("POST", p) if stop_of(p).is_some() => self.stop(stop_of(p).unwrap_or_default()),
            ("GET", p) if p.starts_with("/model-invocation-job/") => {
                let id = p.strip_prefix("/model-invocation-job/").unwrap_or_default();
                let jobs = self.inner.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                match jobs.iter().find(|j| j.id == id || j.arn == id) {
                    Some(job) => Reply::json(200, &job.describe()),
                    None => error(404, "ResourceNotFoundException", &format!("The job {id} was not found")),
                }
            }
            (method, _) => error(
                404,
                "UnknownOperationException",
                &format!("{method} {path} is not an operation of this stand-in"),
            ),
        }
    }
}

/// The job a stop request names: `/model-invocation-job/{id}/stop`.
fn stop_of(path: &str) -> Option<&str> {
    path.strip_prefix("/model-invocation-job/")?.strip_suffix("/stop").filter(|id| !id.is_empty())
}

impl StandIn {
    fn create(&self, body: &Bytes) -> Reply {
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return error(400, "ValidationException", "the request body is not JSON");
        };
        let required = [
            ("jobName", &request["jobName"]),
            ("roleArn", &request["roleArn"]),
            ("modelId", &request["modelId"]),
            ("inputDataConfig.s3InputDataConfig.s3Uri", &request["inputDataConfig"]["s3InputDataConfig"]["s3Uri"]),
            ("outputDataConfig.s3OutputDataConfig.s3Uri", &request["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"]),
        ];
        if let Some((name, _)) = required.iter().find(|(_, v)| !v.is_string()) {
            return error(400, "ValidationException", &format!("1 validation error detected: {name} must not be null"));
        }
        let role = request["roleArn"].as_str().unwrap_or_default();
        let roles = &self.inner.settings.roles;
        if !roles.is_empty() && !roles.iter().any(|r| r == role) {
            return error(
                400,
                "ValidationException",
                &format!("The role {role} does not exist or cannot be assumed by bedrock.amazonaws.com"),
            );
        }
        let mut jobs = self.inner.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // The same token is the same job (a retried create); the same name is a conflict.
        if let Some(token) = request.get("clientRequestToken")
            && let Some(job) = jobs.iter().find(|j| j.request.get("clientRequestToken") == Some(token))
        {
            return Reply::json(200, &json!({ "jobArn": job.arn }));
        }
        if jobs.iter().any(|j| j.request["jobName"] == request["jobName"]) {
            return error(409, "ConflictException", "a job of this name exists");
        }
        let id: String = (0..12).map(|_| fastrand::alphanumeric().to_ascii_lowercase()).collect();
        let arn = format!("arn:aws:bedrock:{}:{ACCOUNT}:model-invocation-job/{id}", self.inner.settings.region);
        let now = SystemTime::now();
        let stop = Arc::new(AtomicBool::new(false));
        jobs.push(Job {
            id: id.clone(),
            arn: arn.clone(),
            request,
            status: "Submitted".into(),
            message: None,
            submitted: now,
            modified: now,
            ended: None,
            counts: [0; 4],
            stop,
        });
        let inner = self.inner.clone();
        tokio::spawn(async move { inner.work(&id).await });
        Reply::json(200, &json!({ "jobArn": arn }))
    }

    fn stop(&self, id: &str) -> Reply {
        let mut jobs = self.inner.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(job) = jobs.iter_mut().find(|j| j.id == id || j.arn == id) else {
            return error(404, "ResourceNotFoundException", &format!("The job {id} was not found"));
        };
        if job.ended.is_some() {
            return error(400, "ValidationException", &format!("The job is {} and cannot be stopped", job.status));
        }
        job.stop.store(true, Ordering::SeqCst);
        job.status = "Stopping".into();
        job.modified = SystemTime::now();
        Reply::json(200, &json!({}))
    }
}

impl Inner {
    fn update(&self, id: &str, change: impl FnOnce(&mut Job)) {
        let mut jobs = self.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(job) = jobs.iter_mut().find(|j| j.id == id) {
            change(job);
            job.modified = SystemTime::now();
        }
    }

    fn job(&self, id: &str) -> Option<Job> {
        self.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().find(|j| j.id == id).cloned()
    }

    fn end(&self, id: &str, status: &str, message: Option<String>) {
        self.update(id, |job| {
            job.status = status.into();
            job.message = message;
            job.ended = Some(SystemTime::now());
        });
    }

    /// A job's life, from Submitted to its end.
    async fn work(self: Arc<Self>, id: &str) {
        let Some(job) = self.job(id) else { return };
        let step = self.settings.step;
        tokio::time::sleep(step).await;
        self.update(id, |j| j.status = "Validating".into());
        let input = job.request["inputDataConfig"]["s3InputDataConfig"]["s3Uri"].as_str().unwrap_or_default();
        let files = match self.input_files(input).await {
            Ok(files) => files,
            Err(message) => return self.end(id, "Failed", Some(message)),
        };
        let mut total = 0u64;
        for file in &files {
            match self.count(file).await {
                Ok(n) => total += n,
                Err(message) => return self.end(id, "Failed", Some(message)),
            }
        }
        if total < self.settings.min_records {
            let message = format!(
                "The number of records in the input ({total}) is less than the minimum number of records per batch inference job ({})",
                self.settings.min_records
            );
            return self.end(id, "Failed", Some(message));
        }
        tokio::time::sleep(step).await;
        self.update(id, |j| {
            j.status = "Scheduled".into();
            j.counts[0] = total;
        });
        tokio::time::sleep(step).await;
        self.update(id, |j| j.status = "InProgress".into());
        let output = job.request["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"].as_str().unwrap_or_default();
        let Some(output) = S3Uri::parse(output) else {
            return self.end(id, "Failed", Some(format!("{output} is not an S3 URI")));
        };
        let folder = output.join(&format!("{id}/"));
        let model = job.request["modelId"].as_str().unwrap_or_default().to_owned();
        let converse = job.request["modelInvocationType"] == "Converse";
        let mut tokens = [0u64; 2];
        for file in &files {
            match self.answer(id, file, &folder, &model, converse, &job.stop, &mut tokens).await {
                Ok(()) => {}
                Err(message) => return self.end(id, "Failed", Some(message)),
            }
        }
        let Some(now) = self.job(id) else { return };
        let manifest = json!({
            "totalRecordCount": now.counts[0], "processedRecordCount": now.counts[1],
            "successRecordCount": now.counts[2], "errorRecordCount": now.counts[3],
            "inputTokenCount": tokens[0], "outputTokenCount": tokens[1],
        });
        if let Err(e) = self.aws.put_text(&folder.join("manifest.json.out"), manifest.to_string()).await {
            return self.end(id, "Failed", Some(e.to_string()));
        }
        if job.stop.load(Ordering::SeqCst) {
            self.end(id, "Stopped", Some("Stopped by the user".into()));
        } else {
            self.end(id, "Completed", None);
        }
    }

    /// The `.jsonl` files a job's input names: one file, or every one under a folder.
    async fn input_files(&self, input: &str) -> Result<Vec<S3Uri>, String> {
        let uri = S3Uri::parse(input).ok_or_else(|| format!("{input} is not an S3 URI"))?;
        if !uri.key.is_empty() && !uri.key.ends_with('/') {
            return Ok(vec![uri]);
        }
        let keys = self.aws.list(&uri).await.map_err(|e| e.to_string())?;
        let files: Vec<S3Uri> = keys
            .into_iter()
            .filter(|k| k.ends_with(".jsonl"))
            .map(|key| S3Uri { bucket: uri.bucket.clone(), key })
            .collect();
        if files.is_empty() {
            return Err(format!("no .jsonl file under {input}"));
        }
        Ok(files)
    }

    async fn count(&self, file: &S3Uri) -> Result<u64, String> {
        let mut lines = self.aws.read(file).await.map_err(|e| e.to_string())?.lines();
        let mut n = 0;
        while let Some(line) = lines.next_line().await.map_err(|e| format!("reading {file}: {e}"))? {
            n += u64::from(!line.trim().is_empty());
        }
        Ok(n)
    }

    /// Answers every record of `file` into `{folder}{name}.out`, until stopped.
    #[allow(clippy::too_many_arguments)]
    async fn answer(
        &self,
        id: &str,
        file: &S3Uri,
        folder: &S3Uri,
        model: &str,
        converse: bool,
        stop: &AtomicBool,
        tokens: &mut [u64; 2],
    ) -> Result<(), String> {
        use std::io::Write;
        let mut lines = self.aws.read(file).await.map_err(|e| e.to_string())?.lines();
        let out = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
        let mut writer = std::io::BufWriter::new(out.as_file());
        let path = format!(
            "/model/{}/{}",
            percent_encoding::utf8_percent_encode(model, percent_encoding::NON_ALPHANUMERIC),
            if converse { "converse" } else { "invoke" }
        );
        while let Some(line) = lines.next_line().await.map_err(|e| format!("reading {file}: {e}"))? {
            if line.trim().is_empty() {
                continue;
            }
            if stop.load(Ordering::SeqCst) {
                break;
            }
            if !self.settings.latency.is_zero() {
                tokio::time::sleep(self.settings.latency).await;
            }
            let record: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            let mut written = json!({ "recordId": record["recordId"], "modelInput": record["modelInput"] });
            let request = RecordedRequest {
                method: "POST".into(),
                path: path.clone(),
                headers: Vec::new(),
                auth_scheme: None,
                body: Bytes::from(record["modelInput"].to_string()),
            };
            let reply = self.playback.respond(&request);
            let body: Vec<u8> = reply.chunks.iter().flat_map(|c| c.iter().copied()).collect();
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let ok = reply.status == 200 && body.is_object() && record["modelInput"].is_object();
            if ok {
                let usage = &body["usage"];
                tokens[0] += usage["prompt_tokens"].as_u64().or(usage["inputTokens"].as_u64()).unwrap_or(0);
                tokens[1] += usage["completion_tokens"].as_u64().or(usage["outputTokens"].as_u64()).unwrap_or(0);
                written["modelOutput"] = body;
            } else {
                let message = body["message"]
                    .as_str()
                    .or(body["error"]["message"].as_str())
                    .unwrap_or("the record could not be answered");
                written["error"] = json!({ "errorCode": if reply.status == 200 { 400 } else { reply.status }, "errorMessage": message });
            }
            writeln!(writer, "{written}").map_err(|e| e.to_string())?;
            self.update(id, |j| {
                j.counts[1] += 1;
                j.counts[if ok { 2 } else { 3 }] += 1;
            });
        }
        writer.flush().map_err(|e| e.to_string())?;
        drop(writer);
        let name = file.key.rsplit('/').next().unwrap_or(&file.key);
        self.aws.upload(out.path(), &folder.join(&format!("{name}.out"))).await.map_err(|e| e.to_string())
    }
}
