//! From stored origin settings to a live origin client.

use super::PublishError;
use super::guard::AddressPolicy;
use super::s3::S3Origin;
use crate::auth::sealing::Sealer;
use crate::store::{S3Settings, Sealed, Secret};

/// Stored settings with their secret key opened.
pub fn opened(origin: &S3Settings, sealer: &Sealer) -> Result<S3Settings<Secret>, PublishError> {
    origin.clone().map_secret(|Sealed(sealed)| {
        sealer
            .open(&sealed)
            .map(Secret::new)
            .map_err(|e| PublishError::Settings(e.to_string()))
    })
}

/// A client for stored origin settings under the address policy.
pub fn origin_of(
    origin: &S3Settings,
    sealer: &Sealer,
    policy: AddressPolicy,
) -> Result<S3Origin, PublishError> {
    S3Origin::new(&opened(origin, sealer)?, policy)
}
