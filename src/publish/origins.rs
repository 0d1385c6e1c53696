//! From a stored deployment to a live origin client.

use super::s3::{PublishError, S3Origin, S3Target};
use crate::auth::sealing::Sealer;
use crate::store::DeploymentRecord;

/// The S3 target of a deployment, its secret unsealed.
pub fn target_of(deployment: &DeploymentRecord, sealer: &Sealer) -> Result<S3Target, PublishError> {
    let origin = &deployment.origin;
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

/// A client for a deployment's origin.
pub fn origin_of(deployment: &DeploymentRecord, sealer: &Sealer) -> Result<S3Origin, PublishError> {
    S3Origin::new(&target_of(deployment, sealer)?)
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
