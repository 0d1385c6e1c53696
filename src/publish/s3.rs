//! S3-compatible origins through rust-s3: SigV4 with the deployment's region, path-style
//! addressing (works with every S3-compatible store), bounded request times.

use std::time::Duration;

use s3::creds::Credentials;
use s3::error::S3Error;
use s3::{Bucket, Region};

/// How long a credential probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

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

/// Why an origin operation failed; the message names the cause for the deployment's status.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("the origin answered HTTP {status}: {reason}")]
    Refused { status: u16, reason: String },
    #[error("the origin cannot be reached: {0}")]
    Unreachable(String),
    #[error("the origin did not answer within {0:?}")]
    Timeout(Duration),
    #[error("invalid origin settings: {0}")]
    Settings(String),
}

impl From<S3Error> for PublishError {
    fn from(error: S3Error) -> Self {
        match error {
            S3Error::HttpFailWithBody(status, body) => PublishError::Refused {
                status,
                reason: s3_error_code(&body),
            },
            other => PublishError::Unreachable(other.to_string()),
        }
    }
}

/// The `<Code>` and `<Message>` of an S3 XML error body, else the body's start.
fn s3_error_code(body: &str) -> String {
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let end = start + body[start..].find(&format!("</{name}>"))?;
        Some(body[start..end].to_string())
    };
    match (tag("Code"), tag("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        _ => body.chars().take(200).collect(),
    }
}

/// One bucket of one origin.
pub struct S3Origin {
    bucket: Box<Bucket>,
    prefix: String,
}

impl S3Origin {
    /// A client for the target (no request is made).
    pub fn new(target: &S3Target) -> Result<Self, PublishError> {
        let endpoint =
            if target.hostname.starts_with("http://") || target.hostname.starts_with("https://") {
                target.hostname.trim_end_matches('/').to_string()
            } else {
                format!("https://{}", target.hostname.trim_end_matches('/'))
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

    /// Writes and deletes a probe object: proves the credentials may write.
    pub async fn probe(&self) -> Result<(), PublishError> {
        let key = self.key(PROBE_KEY);
        let attempt = async {
            self.bucket
                .put_object(&key, b"rockit-edge credential probe")
                .await?;
            self.bucket.delete_object(&key).await?;
            Ok::<_, PublishError>(())
        };
        tokio::time::timeout(PROBE_TIMEOUT, attempt)
            .await
            .map_err(|_| PublishError::Timeout(PROBE_TIMEOUT))?
    }

    /// Deletes every object under a layout path prefix; returns how many.
    pub async fn remove_prefix(&self, path: &str) -> Result<u64, PublishError> {
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
        assert_eq!(s3_error_code(body), "SignatureDoesNotMatch: bad sig");
    }
}
