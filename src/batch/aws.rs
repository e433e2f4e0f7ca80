//! The AWS side of batch inference: `aws-sdk-s3` for the records and the answers, and
//! `aws-sdk-bedrock` (the control plane) for the jobs. Both come from the same
//! `aws_config` loader as Bedrock Runtime's client: the same credential chain (each
//! secret it resolves remembered for redaction), region and standard endpoint variables
//! (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_BEDROCK`). Uploads and downloads stream
//! between a file and S3: no file is ever held whole.

use std::path::Path;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_bedrock::types::{
    ModelInvocationJobInputDataConfig, ModelInvocationJobOutputDataConfig, ModelInvocationJobS3InputDataConfig,
    ModelInvocationJobS3OutputDataConfig, ModelInvocationType, S3InputFormat,
};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_smithy_types::error::display::DisplayErrorContext;
use tokio::io::AsyncWriteExt;

use crate::recordings::batch::Invocation;

/// An S3 location: `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct S3Uri {
    pub(crate) bucket: String,
    pub(crate) key: String,
}

impl S3Uri {
    pub(crate) fn parse(uri: &str) -> Option<S3Uri> {
        let rest = uri.strip_prefix("s3://")?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        (!bucket.is_empty()).then(|| S3Uri { bucket: bucket.to_owned(), key: key.to_owned() })
    }

    /// This folder's child `name` (a folder when `name` ends in `/`).
    pub(crate) fn join(&self, name: &str) -> S3Uri {
        let key = if self.key.is_empty() || self.key.ends_with('/') {
            format!("{}{name}", self.key)
        } else {
            format!("{}/{name}", self.key)
        };
        S3Uri { bucket: self.bucket.clone(), key }
    }
}

impl std::fmt::Display for S3Uri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// What an AWS call answered, said as the service said it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AwsError {
    #[error("{what}: {code}{message}")]
    Service { what: String, code: String, message: String },
    #[error("{what}: {detail}")]
    Transport { what: String, detail: String },
    #[error("{what}: {path}: {source}")]
    File { what: String, path: String, source: std::io::Error },
    #[error("{what}: stopped before all of it was made, and nothing was kept")]
    Unfinished { what: String },
}

impl AwsError {
    /// An SDK error, with the service's error code and message where it sent them.
    fn of<E>(what: String, error: aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response>) -> AwsError
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        match error.as_service_error() {
            Some(e) if e.code().is_some() => AwsError::Service {
                what,
                code: e.code().unwrap_or_default().to_owned(),
                message: e.message().map(|m| format!(": {}", crate::secrets::redact(m))).unwrap_or_default(),
            },
            _ => {
                let status = error.raw_response().map(|r| r.status().as_u16());
                let detail = crate::secrets::redact(&DisplayErrorContext(&error).to_string()).to_string();
                let detail = match status {
                    Some(404) => format!("not found (HTTP 404): {detail}"),
                    Some(403) => format!("access denied (HTTP 403): {detail}"),
                    _ => detail,
                };
                AwsError::Transport { what, detail }
            }
        }
    }
}

/// The clients of one region.
#[derive(Clone)]
pub(crate) struct Aws {
    s3: aws_sdk_s3::Client,
    bedrock: aws_sdk_bedrock::Client,
}

/// A job as the control plane describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct JobStatus {
    pub(crate) status: String,
    pub(crate) message: Option<String>,
    pub(crate) processed: Option<u64>,
    pub(crate) total: Option<u64>,
}

/// The statuses a job ends in.
pub(crate) const ENDED: [&str; 5] = ["Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"];

/// A part of a multipart upload: above S3's least part size (5 MiB), and what a file
/// must pass to go in parts.
const PART_BYTES: usize = 8 << 20;

/// What is uploaded, as it is made (see [`Aws::upload_pieces`]).
#[derive(Debug)]
pub(crate) enum Piece {
    Bytes(Vec<u8>),
    /// All of it was made: the upload may be completed.
    End,
}

impl Aws {
    pub(crate) async fn new(region: &str) -> Aws {
        let shared =
            aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_owned())).load().await;
        let remembered = || shared.credentials_provider().map(crate::providers::credentials::Remembered);
        let mut s3 = aws_sdk_s3::config::Builder::from(&shared);
        // A custom endpoint (an S3-compatible store, a loopback stand-in) is addressed by
        // path: `bucket.127.0.0.1` resolves nowhere.
        if ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()))
        {
            s3 = s3.force_path_style(true);
        }
        let mut bedrock = aws_sdk_bedrock::config::Builder::from(&shared)
            // Jobs pass a role (iam:PassRole): they are AWS credentials' work, and the
            // Bedrock API key never goes to the control plane, whatever its endpoint.
            .auth_scheme_preference([aws_smithy_runtime_api::client::auth::AuthSchemeId::new("sigv4")])
            .bearer_token_resolver(NoKey);
        if let (Some(one), Some(other)) = (remembered(), remembered()) {
            s3 = s3.credentials_provider(one);
            bedrock = bedrock.credentials_provider(other);
        }
        Aws {
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            bedrock: aws_sdk_bedrock::Client::from_conf(bedrock.build()),
        }
    }

    /// Uploads `file` to `to`, read a part at a time.
    pub(crate) async fn upload(&self, file: &Path, to: &S3Uri) -> Result<(), AwsError> {
        let what = format!("uploading {} to {to}", crate::fs::shown(file));
        let io = |source| AwsError::File { what: what.clone(), path: crate::fs::shown(file), source };
        let (send, pieces) = tokio::sync::mpsc::channel(1);
        let read = async move {
            use tokio::io::AsyncReadExt;
            let mut reader = tokio::fs::File::open(file).await?;
            loop {
                let mut piece = Vec::with_capacity(PART_BYTES);
                (&mut reader).take(PART_BYTES as u64).read_to_end(&mut piece).await?;
                let end = piece.len() < PART_BYTES;
                if send.send(Piece::Bytes(piece)).await.is_err() {
                    return Ok(());
                }
                if end {
                    let _ = send.send(Piece::End).await;
                    return Ok(());
                }
            }
        };
        let (read, sent) = tokio::join!(read, self.upload_pieces(pieces, to));
        read.map_err(io)?;
        sent
    }

    /// Uploads to `to` what `pieces` brings, as it comes: in one request when it all
    /// fits in a part, else part by part, so that a file is sent while it is still
    /// being made and never held whole. Pieces that stop without [`Piece::End`] (their
    /// maker failed) leave nothing behind.
    pub(crate) async fn upload_pieces(
        &self,
        mut pieces: tokio::sync::mpsc::Receiver<Piece>,
        to: &S3Uri,
    ) -> Result<(), AwsError> {
        let what = format!("uploading to {to}");
        let unfinished = || AwsError::Unfinished { what: what.clone() };
        let mut held = Vec::new();
        // Bytes are gathered up to a part: S3 refuses parts but the last below 5 MiB.
        let mut next = async |held: &mut Vec<u8>| -> Result<bool, AwsError> {
            while held.len() < PART_BYTES {
                match pieces.recv().await {
                    Some(Piece::Bytes(bytes)) if held.is_empty() => *held = bytes,
                    Some(Piece::Bytes(bytes)) => held.extend_from_slice(&bytes),
                    Some(Piece::End) => return Ok(true),
                    None => return Err(unfinished()),
                }
            }
            Ok(false)
        };
        if next(&mut held).await? {
            let put = self.s3.put_object().bucket(&to.bucket).key(&to.key).body(ByteStream::from(held)).send().await;
            return put.map(drop).map_err(|e| AwsError::of(what.clone(), e));
        }
        let started = self.s3.create_multipart_upload().bucket(&to.bucket).key(&to.key).send().await;
        let upload_id = started.map_err(|e| AwsError::of(what.clone(), e))?.upload_id.unwrap_or_default();
        let mut parts = Vec::new();
        let result: Result<(), AwsError> = async {
            let mut ended = false;
            while !held.is_empty() {
                let body = std::mem::take(&mut held);
                let number = i32::try_from(parts.len() + 1).unwrap_or(i32::MAX);
                let sent = self.s3.upload_part().bucket(&to.bucket).key(&to.key).upload_id(&upload_id);
                let sending = sent.part_number(number).body(ByteStream::from(body)).send();
                // The next part is made while this one is sent.
                let (sent, gathered) =
                    if ended { (sending.await, Ok(true)) } else { tokio::join!(sending, next(&mut held)) };
                let sent = sent.map_err(|e| AwsError::of(what.clone(), e))?;
                ended = gathered?;
                parts.push(CompletedPart::builder().part_number(number).set_e_tag(sent.e_tag).build());
            }
            let done = CompletedMultipartUpload::builder().set_parts(Some(parts.clone())).build();
            let complete = self.s3.complete_multipart_upload().bucket(&to.bucket).key(&to.key).upload_id(&upload_id);
            complete.multipart_upload(done).send().await.map(drop).map_err(|e| AwsError::of(what.clone(), e))
        }
        .await;
        if result.is_err() {
            // Parts left behind are billed as storage until aborted.
            let _ = self.s3.abort_multipart_upload().bucket(&to.bucket).key(&to.key).upload_id(&upload_id).send().await;
        }
        result
    }

    /// The keys under `prefix`, every page of them.
    pub(crate) async fn list(&self, prefix: &S3Uri) -> Result<Vec<String>, AwsError> {
        let what = format!("listing {prefix}");
        let mut keys = Vec::new();
        let mut pages = self.s3.list_objects_v2().bucket(&prefix.bucket).prefix(&prefix.key).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::of(what.clone(), e))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        }
        Ok(keys)
    }

    /// Downloads `from` into `file`, streamed, written whole or not at all.
    pub(crate) async fn download(&self, from: &S3Uri, file: &Path) -> Result<(), AwsError> {
        let what = format!("downloading {from}");
        let io = |source| AwsError::File { what: what.clone(), path: crate::fs::shown(file), source };
        let got = self.s3.get_object().bucket(&from.bucket).key(&from.key).send().await;
        let got = got.map_err(|e| AwsError::of(what.clone(), e))?;
        let dir = file.parent().unwrap_or(Path::new("."));
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
        let part = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        let (std_file, temp) = part.into_parts();
        let mut out = tokio::io::BufWriter::new(tokio::fs::File::from_std(std_file));
        let mut body = got.body.into_async_read();
        tokio::io::copy(&mut body, &mut out).await.map_err(io)?;
        out.flush().await.map_err(io)?;
        temp.persist(file).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// Puts a small text at `to` (the stand-in's manifests).
    pub(crate) async fn put_text(&self, to: &S3Uri, text: String) -> Result<(), AwsError> {
        let put = self.s3.put_object().bucket(&to.bucket).key(&to.key).body(ByteStream::from(text.into_bytes()));
        put.send().await.map(drop).map_err(|e| AwsError::of(format!("writing {to}"), e))
    }

    /// Reads `from` as a stream of bytes (the stand-in reads records a line at a time).
    pub(crate) async fn read(&self, from: &S3Uri) -> Result<impl tokio::io::AsyncBufRead + Unpin, AwsError> {
        let got = self.s3.get_object().bucket(&from.bucket).key(&from.key).send().await;
        let got = got.map_err(|e| AwsError::of(format!("reading {from}"), e))?;
        Ok(tokio::io::BufReader::new(got.body.into_async_read()))
    }

    /// Submits a job; its ARN. `token` makes a retried submission the same job.
    pub(crate) async fn create_job(&self, job: &NewJob<'_>) -> Result<String, AwsError> {
        let what = format!("creating the batch inference job {} ({})", job.name, job.model);
        let input = ModelInvocationJobS3InputDataConfig::builder()
            .s3_uri(job.input.to_string())
            .s3_input_format(S3InputFormat::Jsonl)
            .build()
            .map_err(|e| AwsError::Transport { what: what.clone(), detail: e.to_string() })?;
        let output = ModelInvocationJobS3OutputDataConfig::builder()
            .s3_uri(job.output.to_string())
            .build()
            .map_err(|e| AwsError::Transport { what: what.clone(), detail: e.to_string() })?;
        let invocation = match job.invocation {
            Invocation::InvokeModel => ModelInvocationType::InvokeModel,
            Invocation::Converse => ModelInvocationType::Converse,
        };
        let created = self
            .bedrock
            .create_model_invocation_job()
            .job_name(job.name)
            .client_request_token(job.name)
            .role_arn(job.role_arn)
            .model_id(job.model)
            .model_invocation_type(invocation)
            .timeout_duration_in_hours(i32::try_from(job.timeout_hours).unwrap_or(24))
            .input_data_config(ModelInvocationJobInputDataConfig::S3InputDataConfig(input))
            .output_data_config(ModelInvocationJobOutputDataConfig::S3OutputDataConfig(output))
            .send()
            .await;
        created.map(|c| c.job_arn).map_err(|e| AwsError::of(what, e))
    }

    pub(crate) async fn job(&self, arn: &str) -> Result<JobStatus, AwsError> {
        let got = self.bedrock.get_model_invocation_job().job_identifier(arn).send().await;
        let got = got.map_err(|e| AwsError::of(format!("asking about the batch job {arn}"), e))?;
        let count = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok());
        Ok(JobStatus {
            status: got.status().map(|s| s.as_str().to_owned()).unwrap_or_else(|| "Submitted".into()),
            message: got.message().map(str::to_owned),
            processed: count(got.processed_record_count()),
            total: count(got.total_record_count()),
        })
    }

    pub(crate) async fn stop_job(&self, arn: &str) -> Result<(), AwsError> {
        let stopped = self.bedrock.stop_model_invocation_job().job_identifier(arn).send().await;
        stopped.map(drop).map_err(|e| AwsError::of(format!("stopping the batch job {arn}"), e))
    }
}

/// What a job is created with.
pub(crate) struct NewJob<'a> {
    pub(crate) name: &'a str,
    pub(crate) model: &'a str,
    pub(crate) invocation: Invocation,
    pub(crate) role_arn: &'a str,
    pub(crate) input: &'a S3Uri,
    pub(crate) output: &'a S3Uri,
    pub(crate) timeout_hours: u32,
}

/// The Bedrock API key, never resolved for the control plane.
#[derive(Debug)]
struct NoKey;

impl aws_smithy_runtime_api::client::identity::ResolveIdentity for NoKey {
    fn resolve_identity<'a>(
        &'a self,
        _: &'a aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _: &'a aws_smithy_types::config_bag::ConfigBag,
    ) -> aws_smithy_runtime_api::client::identity::IdentityFuture<'a> {
        let message =
            "batch inference jobs are submitted with AWS credentials (the credential chain), not a Bedrock API key";
        aws_smithy_runtime_api::client::identity::IdentityFuture::ready(Err(message.into()))
    }
}

/// How long to wait before asking about the jobs again: from about a second, rising by
/// half each time, up to `ceiling`.
pub(crate) fn next_poll(previous: Duration, ceiling: Duration) -> Duration {
    (previous + previous / 2).max(Duration::from_secs(1)).min(ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_uris_parse_and_join_as_folders() {
        let uri = S3Uri::parse("s3://bucket/batch/in/").unwrap();
        assert_eq!(uri.join("run-1/").join("a.jsonl").to_string(), "s3://bucket/batch/in/run-1/a.jsonl");
        let bare = S3Uri::parse("s3://bucket").unwrap();
        assert_eq!(bare.join("x").to_string(), "s3://bucket/x");
        assert_eq!(S3Uri::parse("s3://b/k").unwrap().join("x").key, "k/x");
        assert!(S3Uri::parse("https://b/k").is_none());
        assert!(S3Uri::parse("s3:///k").is_none());
    }

    #[test]
    fn polling_backs_off_from_a_second_to_the_ceiling() {
        let ceiling = Duration::from_secs(60);
        let mut wait = Duration::ZERO;
        let mut waits = Vec::new();
        for _ in 0..15 {
            wait = next_poll(wait, ceiling);
            waits.push(wait);
        }
        assert_eq!(waits[0], Duration::from_secs(1));
        assert!(waits.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*waits.last().unwrap(), ceiling);
        assert_eq!(next_poll(Duration::from_secs(5), Duration::from_millis(50)), Duration::from_millis(50));
    }
}
