//! Every deployment's origin checked with its credentials, across orgs: what `doctor` asks
//! the running server for.

use serde::Serialize;

use super::DeploymentService;
use crate::domain::DomainError;
use crate::store::{DEPLOYMENTS, DeploymentStatus};

/// How one origin answered.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginCheck {
    pub org: String,
    pub deployment: String,
    pub ok: bool,
    pub message: String,
}

impl DeploymentService {
    /// Writes and deletes a probe object on every deployment's origin, one after the other;
    /// the stored records are left as they are.
    pub async fn check_all(&self) -> Result<Vec<OriginCheck>, DomainError> {
        let records = self
            .store
            .read(|tx| Ok::<_, DomainError>(tx.open(&DEPLOYMENTS)?.with_prefix("")?))
            .await?;
        let mut checks = Vec::with_capacity(records.len());
        for (_, record) in records {
            let (status, message) = match self.plain(&record) {
                Ok(plain) => self.probe(&plain.origin.s3).await,
                Err(e) => (
                    DeploymentStatus::Error,
                    format!("cannot unseal its credentials: {e}"),
                ),
            };
            checks.push(OriginCheck {
                org: record.org,
                deployment: record.name,
                ok: status == DeploymentStatus::Ok,
                message,
            });
        }
        Ok(checks)
    }
}
