//! S3-compatible origins through rust-s3: SigV4 with the deployment's region, path-style
//! addressing (works with every S3-compatible store), bounded request times.

use std::time::Duration;

use s3::creds::Credentials;
use s3::error::S3Error;
use s3::{Bucket, Region};

use super::PublishError;
use super::guard::{self, AddressPolicy};
use super::layout::object_key;
use super::origin::{Body, ExactBody, Origin, OriginFuture};
use crate::store::{S3Settings, Secret};

/// How long a credential probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the probe's presigned URLs are valid.
const PRESIGN_SECS: u32 = 60;

/// The object key probed on create and modify.
const PROBE_KEY: &str = ".rockit-edge-probe";

impl From<S3Error> for PublishError {
    fn from(error: S3Error) -> Self {
        match error {
            S3Error::HttpFailWithBody(status, body) => PublishError::Refused {
                status,
                code: s3_error_code(&body),
            },
            S3Error::Reqwest(e) => guard::describe(&e),
            other => {
                tracing::warn!(error = %other, "S3 request failed");
                PublishError::Unreachable("the S3 request could not be made".into())
            }
        }
    }
}

/// The `<Code>` of an S3 XML error body: a word from a fixed vocabulary, safe to show.
fn s3_error_code(body: &str) -> Option<String> {
    let start = body.find("<Code>")? + "<Code>".len();
    let end = start + body[start..].find("</Code>")?;
    let code = &body[start..end];
    let plain = !code.is_empty()
        && code.len() <= 64
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
    plain.then(|| code.to_string())
}

/// One bucket of one origin.
#[derive(Clone)]
pub struct S3Origin {
    bucket: Box<Bucket>,
    prefix: String,
    policy: AddressPolicy,
    host: String,
    port: u16,
}

/// How long the presigned URL of one body upload is valid.
const UPLOAD_PRESIGN_SECS: u32 = 3600;

/// Largest error body read from an origin (for its S3 code).
const ERROR_BODY_LIMIT: usize = 16 * 1024;

/// Accepts a 2xx answer; otherwise its status and S3 error code.
async fn accepted(answer: Result<reqwest::Response, reqwest::Error>) -> Result<(), PublishError> {
    let mut response = answer.map_err(|e| guard::describe(&e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    Err(PublishError::Refused {
        status: status.as_u16(),
        code: s3_error_code(&String::from_utf8_lossy(&body)),
    })
}

impl S3Origin {
    /// A client for the settings under the address policy (no request is made).
    pub fn new(target: &S3Settings<Secret>, policy: AddressPolicy) -> Result<Self, PublishError> {
        let endpoint =
            if target.hostname.starts_with("http://") || target.hostname.starts_with("https://") {
                target.hostname.trim_end_matches('/').to_string()
            } else {
                format!("https://{}", target.hostname.trim_end_matches('/'))
            };
        let url = reqwest::Url::parse(&endpoint)
            .map_err(|_| PublishError::Settings(format!("bad endpoint {endpoint}")))?;
        let (host, port) = match (url.host_str(), url.port_or_known_default()) {
            (Some(host), Some(port)) => (host.to_string(), port),
            _ => return Err(PublishError::Settings(format!("bad endpoint {endpoint}"))),
        };
        let region = Region::Custom {
            region: target.location.clone(),
            endpoint,
        };
        let credentials = Credentials::new(
            Some(&target.access_key),
            Some(target.secret_key.expose()),
            None,
            None,
            None,
        )
        .map_err(|e| PublishError::Settings(e.to_string()))?;
        let bucket = Bucket::new(&target.bucket, region, credentials)
            .map_err(|e| PublishError::Settings(e.to_string()))?
            .with_path_style();
        Ok(Self {
            bucket,
            prefix: target.prefix.clone().unwrap_or_default(),
            policy,
            host,
            port,
        })
    }

    fn key(&self, path: &str) -> String {
        object_key(&self.prefix, path)
    }

    /// Writes and deletes a probe object: proves the credentials may write. It runs through
    /// presigned URLs on the guarded client: every resolved address is checked, no redirect
    /// is followed, and of the answer only its status and S3 error code are kept.
    async fn write_probe(&self) -> Result<(), PublishError> {
        let key = self.key(PROBE_KEY);
        let attempt = async {
            self.policy.admit(&self.host, self.port).await?;
            let client = self.policy.client(PROBE_TIMEOUT)?;
            let put = self
                .bucket
                .presign_put(&key, PRESIGN_SECS, None, None)
                .await?;
            accepted(
                client
                    .put(put)
                    .body(&b"rockit-edge credential probe"[..])
                    .send()
                    .await,
            )
            .await?;
            let delete = self.bucket.presign_delete(&key, PRESIGN_SECS).await?;
            accepted(client.delete(delete).send().await).await
        };
        tokio::time::timeout(PROBE_TIMEOUT, attempt)
            .await
            .map_err(|_| PublishError::Timeout(PROBE_TIMEOUT))?
    }

    /// The keys and sizes of the objects under a layout path prefix.
    async fn objects(&self, path: &str) -> Result<Vec<(String, u64)>, PublishError> {
        self.policy.admit(&self.host, self.port).await?;
        let prefix = format!("{}/", self.key(path.trim_end_matches('/')));
        let pages = self.bucket.list(prefix, None).await?;
        Ok(pages
            .into_iter()
            .flat_map(|page| page.contents)
            .map(|object| (object.key, object.size))
            .collect())
    }
}

/// What an origin stores at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub size: u64,
    /// The ETag, without quotes, lowercase.
    pub etag: String,
}

/// An ETag as origins quote it, made comparable.
pub fn plain_etag(etag: &str) -> String {
    etag.trim().trim_matches('"').to_ascii_lowercase()
}

/// The object operations a deploy needs, each one request. Every PUT carries Content-MD5 (the
/// origin refuses bytes that changed on the way); each answer's ETag is returned for the
/// caller to check against the MD5 it expects.
impl S3Origin {
    /// Gives every request of this client at most `timeout`.
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Result<Self, PublishError> {
        self.bucket = self
            .bucket
            .with_request_timeout(timeout)
            .map_err(|e| PublishError::Settings(e.to_string()))?;
        Ok(self)
    }

    /// The guarded client (admitted addresses only, no redirects) that sends object bodies
    /// through presigned URLs: one per deploy, shared by its requests.
    pub fn body_client(
        &self,
        timeout: std::time::Duration,
    ) -> Result<reqwest::Client, PublishError> {
        self.policy.client(timeout)
    }

    /// Sends `bytes` with a PUT presigned for the object at `path` (plus `query`, for a part
    /// of a multipart upload), their MD5 signed and sent as Content-MD5: the body goes as it
    /// is, without a copy nor a SHA-256 of it. Returns the answer's ETag.
    async fn put_body(
        &self,
        http: &reqwest::Client,
        path: &str,
        query: Option<std::collections::HashMap<String, String>>,
        bytes: Vec<u8>,
        md5: [u8; 16],
    ) -> Result<String, PublishError> {
        use base64::Engine;
        let content_md5 = base64::engine::general_purpose::STANDARD.encode(md5);
        let mut signed = reqwest::header::HeaderMap::new();
        let value = reqwest::header::HeaderValue::from_str(&content_md5)
            .map_err(|e| PublishError::Settings(e.to_string()))?;
        signed.insert("content-md5", value);
        let url = self
            .bucket
            .presign_put(self.key(path), UPLOAD_PRESIGN_SECS, Some(signed), query)
            .await?;
        let answer = http
            .put(url)
            .header("content-md5", content_md5)
            .body(bytes)
            .send()
            .await;
        let etag = answer
            .as_ref()
            .ok()
            .and_then(|r| r.headers().get("etag"))
            .and_then(|v| v.to_str().ok())
            .map(plain_etag)
            .unwrap_or_default();
        accepted(answer).await?;
        Ok(etag)
    }

    /// Checks the origin's address against the policy (before a series of requests).
    pub async fn admit(&self) -> Result<(), PublishError> {
        self.policy.admit(&self.host, self.port).await
    }

    /// The size and ETag of the object at `path`; `None` when there is none.
    pub async fn stat(&self, path: &str) -> Result<Option<Stored>, PublishError> {
        match self.bucket.head_object(self.key(path)).await {
            Ok((head, 200)) => Ok(Some(Stored {
                size: head.content_length.unwrap_or(0).max(0) as u64,
                etag: plain_etag(head.e_tag.as_deref().unwrap_or("")),
            })),
            Ok((_, 404)) | Err(S3Error::HttpFailWithBody(404, _)) => Ok(None),
            Ok((_, status)) => Err(PublishError::Refused { status, code: None }),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores `bytes` (whose MD5 is `md5`) as the object at `path` in one request; its ETag.
    pub async fn put_whole(
        &self,
        http: &reqwest::Client,
        path: &str,
        bytes: Vec<u8>,
        md5: [u8; 16],
    ) -> Result<String, PublishError> {
        self.put_body(http, path, None, bytes, md5).await
    }

    /// Starts a multipart upload of the object at `path`; its upload id.
    pub async fn begin_parts(&self, path: &str) -> Result<String, PublishError> {
        let started = self
            .bucket
            .initiate_multipart_upload(&self.key(path), "application/octet-stream")
            .await?;
        Ok(started.upload_id)
    }

    /// Sends part `number` (from 1) of an upload; its ETag.
    pub async fn put_part(
        &self,
        http: &reqwest::Client,
        path: &str,
        upload_id: &str,
        number: u32,
        bytes: Vec<u8>,
        md5: [u8; 16],
    ) -> Result<String, PublishError> {
        let query = [
            ("partNumber".to_string(), number.to_string()),
            ("uploadId".to_string(), upload_id.to_string()),
        ];
        self.put_body(http, path, Some(query.into_iter().collect()), bytes, md5)
            .await
    }

    /// Completes an upload from its parts (number, ETag) in order.
    pub async fn finish_parts(
        &self,
        path: &str,
        upload_id: &str,
        parts: Vec<(u32, String)>,
    ) -> Result<(), PublishError> {
        let parts = parts
            .into_iter()
            .map(|(part_number, etag)| s3::serde_types::Part {
                part_number,
                etag: format!("\"{etag}\""),
            })
            .collect();
        self.bucket
            .complete_multipart_upload(&self.key(path), upload_id, parts)
            .await?;
        Ok(())
    }

    /// Drops an unfinished upload and the parts it holds (best effort: the origin's lifecycle
    /// rules clear what remains).
    pub async fn abort_parts(&self, path: &str, upload_id: &str) {
        if let Err(e) = self.bucket.abort_upload(&self.key(path), upload_id).await {
            tracing::debug!(error = %e, path, "cannot abort a multipart upload");
        }
    }
}

/// Longest validity of a SigV4 presigned URL (7 days).
const MAX_PRESIGN_SECS: i64 = 7 * 24 * 3600;

impl Origin for S3Origin {
    fn put<'a>(&'a self, path: &'a str, body: Body, len: u64) -> OriginFuture<'a, ()> {
        Box::pin(async move {
            self.policy.admit(&self.host, self.port).await?;
            let mut exact = ExactBody::new(body, len);
            let stored = self
                .bucket
                .put_object_stream(&mut exact, self.key(path))
                .await?
                .uploaded_bytes() as u64;
            if stored != len {
                return Err(PublishError::Incomplete {
                    stored,
                    expected: len,
                });
            }
            Ok(())
        })
    }

    fn remove_prefix<'a>(&'a self, path: &'a str) -> OriginFuture<'a, u64> {
        Box::pin(async move {
            let objects = self.objects(path).await?;
            for (key, _) in &objects {
                self.bucket.delete_object(key).await?;
            }
            Ok(objects.len() as u64)
        })
    }

    fn prefix_size<'a>(&'a self, path: &'a str) -> OriginFuture<'a, u64> {
        Box::pin(async move { Ok(self.objects(path).await?.iter().map(|o| o.1).sum()) })
    }

    fn probe(&self) -> OriginFuture<'_, ()> {
        Box::pin(self.write_probe())
    }

    fn signed_url<'a>(&'a self, path: &'a str, expires: i64) -> OriginFuture<'a, String> {
        Box::pin(async move {
            let secs = (expires - chrono::Utc::now().timestamp()).clamp(1, MAX_PRESIGN_SECS);
            Ok(self
                .bucket
                .presign_get(self.key(path), secs as u32, None)
                .await?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_name_the_cause() {
        let body = "<Error><Code>SignatureDoesNotMatch</Code><Message>bad sig</Message></Error>";
        assert_eq!(
            s3_error_code(body).as_deref(),
            Some("SignatureDoesNotMatch")
        );
        let internal = r#"{"error":"not-found","message":"no route PUT /bk/probe"}"#;
        assert_eq!(s3_error_code(internal), None);
        assert_eq!(s3_error_code("<Code>a <b>x</b></Code>"), None);
    }
}
