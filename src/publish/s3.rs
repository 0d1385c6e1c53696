//! S3-compatible origins through rust-s3: SigV4 with the deployment's region, path-style
//! addressing (works with every S3-compatible store), bounded request times.

use std::time::Duration;

use s3::creds::Credentials;
use s3::error::S3Error;
use s3::{Bucket, Region};

use super::PublishError;
use super::guard::{self, AddressPolicy};

/// How long a credential probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the probe's presigned URLs are valid.
const PRESIGN_SECS: u32 = 60;

/// The object key probed on create and modify.
const PROBE_KEY: &str = ".rockit-edge-probe";

/// Where and how to reach one origin.
#[derive(Debug, Clone)]
pub struct S3Target {
    /// `host[:port]`, or with an `http://` / `https://` scheme.
    pub hostname: String,
    pub access_key: String,
    pub secret_key: String,
    /// The region the store signs for.
    pub location: String,
    pub bucket: String,
    /// Key prefix without surrounding `/` (may be empty).
    pub prefix: String,
}

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
pub struct S3Origin {
    bucket: Box<Bucket>,
    prefix: String,
    policy: AddressPolicy,
    host: String,
    port: u16,
}

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
    /// A client for the target under the address policy (no request is made).
    pub fn new(target: &S3Target, policy: AddressPolicy) -> Result<Self, PublishError> {
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
            Some(&target.secret_key),
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
            prefix: target.prefix.trim_matches('/').to_string(),
            policy,
            host,
            port,
        })
    }

    /// The object key of a layout path (`dxf/...`, `pat/...`).
    pub fn key(&self, path: &str) -> String {
        if self.prefix.is_empty() {
            path.to_string()
        } else {
            format!("{}/{path}", self.prefix)
        }
    }

    /// Writes and deletes a probe object: proves the credentials may write. It runs through
    /// presigned URLs on the guarded client: every resolved address is checked, no redirect
    /// is followed, and of the answer only its status and S3 error code are kept.
    pub async fn probe(&self) -> Result<(), PublishError> {
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

    /// Deletes every object under a layout path prefix; returns how many.
    pub async fn remove_prefix(&self, path: &str) -> Result<u64, PublishError> {
        self.policy.admit(&self.host, self.port).await?;
        let prefix = format!("{}/", self.key(path.trim_end_matches('/')));
        let mut removed = 0;
        for page in self.bucket.list(prefix, None).await? {
            for object in page.contents {
                self.bucket.delete_object(&object.key).await?;
                removed += 1;
            }
        }
        Ok(removed)
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
