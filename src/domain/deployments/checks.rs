//! Every deployment's origin checked with its credentials, across orgs: what `doctor` asks
//! the running server for.

use schemars::JsonSchema;
use serde::Serialize;

use super::{DeploymentService, org_prefix};
use crate::domain::DomainError;
use crate::store::{DEPLOYMENTS, DeploymentStatus};

/// How one origin answered.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OriginCheck {
    pub org: String,
    pub deployment: String,
    pub ok: bool,
    pub message: String,
}

impl DeploymentService {
    /// Writes and deletes a probe object on the origin of every deployment (of `org` only,
    /// when given), one after the other; the stored records are left as they are.
    pub async fn check_all(&self, org: Option<&str>) -> Result<Vec<OriginCheck>, DomainError> {
        let prefix = org.map(org_prefix).unwrap_or_default();
        let records = self
            .store
            .read(move |tx| Ok::<_, DomainError>(tx.open(&DEPLOYMENTS)?.with_prefix(&prefix)?))
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
