//! From stored origin settings to a live origin client.

use super::PublishError;
use super::guard::AddressPolicy;
use super::s3::{S3Origin, S3Target};
use crate::auth::sealing::Sealer;
use crate::store::{DeploymentRecord, S3Settings};

/// The S3 target of stored origin settings, its secret unsealed.
pub fn target_of(origin: &S3Settings, sealer: &Sealer) -> Result<S3Target, PublishError> {
    Ok(S3Target {
        hostname: origin.hostname.clone(),
        access_key: origin.access_key.clone(),
        secret_key: sealer
            .open(&origin.secret_key_sealed)
            .map_err(|e| PublishError::Settings(e.to_string()))?,
        location: origin.location.clone(),
        bucket: origin.bucket.clone(),
        prefix: origin.prefix.clone().unwrap_or_default(),
    })
}

/// A client for stored origin settings under the address policy.
pub fn origin_of(
    origin: &S3Settings,
    sealer: &Sealer,
    policy: AddressPolicy,
) -> Result<S3Origin, PublishError> {
    S3Origin::new(&target_of(origin, sealer)?, policy)
}

/// Whether two deployments store into the same place (same host, bucket and prefix).
pub fn same_place(a: &DeploymentRecord, b: &DeploymentRecord) -> bool {
    let prefix = |d: &DeploymentRecord| {
        d.origin
            .prefix
            .clone()
            .unwrap_or_default()
            .trim_matches('/')
            .to_string()
    };
    a.origin.hostname.eq_ignore_ascii_case(&b.origin.hostname)
        && a.origin.bucket == b.origin.bucket
        && prefix(a) == prefix(b)
}
