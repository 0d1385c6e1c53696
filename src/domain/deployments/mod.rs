//! Deployments: the S3-compatible CDN origins of an org, their credentials sealed at rest and
//! probed on every change, and their download-URL signing settings.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};

mod checks;
mod request;

pub use checks::OriginCheck;
pub use request::{
    AkamaiBody, DeploymentChanges, DlAuthBody, GcoreBody, NewDeployment, OriginBody,
};

use super::caller::Caller;
use super::listing::{ListParams, Page};
use super::names::check_deployment_name;
use super::{DomainError, in_org};
use crate::auth::sealing::Sealer;
use crate::config::MASK;
use crate::crashpoints::crash_point;
use crate::jobs;
use crate::pipeline::cleanup;
use crate::pipeline::deploy::{deploy_task, targets};
use crate::publish::guard::AddressPolicy;
use crate::publish::layout;
use crate::publish::origin::Origin;
use crate::publish::s3::S3Origin;
use crate::store::{
    APPS, DEPLOYMENTS, DeploymentRecord, DeploymentStatus, DlAuthSettings, S3Settings, Sealed,
    Secret, Store, WriteTx, org_key, org_prefix,
};
use request::{check, merge_group};

/// The fields a `PATCH /be/v1/deployments` body may hold: `name` picks the deployment.
const PATCH_FIELDS: [&str; 4] = ["name", "label", "origin", "dlAuth"];

/// A deployment as the API shows it: secrets masked.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentView {
    pub name: String,
    pub label: String,
    pub origin: Value,
    pub dl_auth: Value,
    pub status: DeploymentStatus,
    pub status_message: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// Filters of `GET /be/v1/deployments`.
#[derive(Debug, Default)]
pub struct DeploymentFilter {
    pub name: Option<String>,
    pub error: Option<bool>,
    pub created_after: Option<DateTime<Utc>>,
    pub updated_after: Option<DateTime<Utc>>,
}

/// A deployment moved to another place (host, bucket, region or prefix) holds nothing yet:
/// every app publishing to it forgets what it held there and gets a deploy of its current
/// build. The files at the old place stay.
fn redeploy_moved(tx: &WriteTx, moved: &DeploymentRecord) -> Result<(), DomainError> {
    let now = Utc::now();
    let apps = tx.open(&APPS)?.with_prefix(&org_prefix(&moved.org))?;
    for (key, mut app) in apps {
        let publishes = targets(tx, &app)?
            .iter()
            .any(|d| d.name.eq_ignore_ascii_case(&moved.name));
        if !publishes {
            continue;
        }
        app.builds.forget_deployment(&moved.name);
        tx.open(&APPS)?.put(key.as_str(), &app)?;
        if app.builds.current().is_some() {
            jobs::submit(tx, deploy_task(&app, moved), now)?;
        }
    }
    Ok(())
}

/// Deployment rules.
#[derive(Clone)]
pub struct DeploymentService {
    store: Store,
    sealer: Sealer,
    policy: AddressPolicy,
}

impl DeploymentService {
    /// Deployments in `store`, secrets sealed with `sealer`.
    pub fn new(store: Store, sealer: Sealer, policy: AddressPolicy) -> Self {
        Self {
            store,
            sealer,
            policy,
        }
    }

    fn seal(&self, text: &str) -> Result<String, DomainError> {
        self.sealer
            .seal(text)
            .map_err(|e| DomainError::Internal(e.to_string()))
    }

    fn open(&self, sealed: &str) -> Result<String, DomainError> {
        self.sealer
            .open(sealed)
            .map_err(|e| DomainError::Internal(e.to_string()))
    }

    /// Writes and deletes a probe object with the credentials.
    async fn probe(&self, s3: &S3Settings<Secret>) -> (DeploymentStatus, String) {
        let outcome = match S3Origin::new(s3, self.policy) {
            Ok(origin) => origin.probe().await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => (
                DeploymentStatus::Ok,
                "credentials checked: a probe object was written and deleted".into(),
            ),
            Err(e) => (
                DeploymentStatus::Error,
                format!("credential check failed: {e}"),
            ),
        }
    }

    fn record(
        &self,
        org: &str,
        new: &NewDeployment,
        probe: (DeploymentStatus, String),
        created: DateTime<Utc>,
    ) -> Result<DeploymentRecord, DomainError> {
        let s3 = &new.origin.s3;
        let dl_auth = match &new.dl_auth {
            None => None,
            Some(DlAuthBody::Gcore(g)) => Some(DlAuthSettings::Gcore {
                base_url: g.base_url.clone(),
                secure_token_sealed: self.seal(&g.secure_token)?,
                bucket: g.bucket.clone(),
                prefix: g.prefix.clone(),
                client_ip: g.client_ip,
                ttl: g.ttl,
            }),
            Some(DlAuthBody::Akamai(a)) => Some(DlAuthSettings::Akamai {
                base_url: a.base_url.clone(),
                key_sealed: self.seal(&a.key)?,
                ttl: a.ttl,
            }),
        };
        Ok(DeploymentRecord {
            org: org.to_string(),
            name: new.name.clone(),
            label: new.label.clone(),
            origin: s3
                .clone()
                .map_secret(|secret| self.seal(secret.expose()).map(Sealed))?,
            dl_auth,
            status: probe.0,
            status_message: probe.1,
            created,
            updated: Utc::now(),
        })
    }

    /// The complete request form of a stored deployment (secrets unsealed).
    fn plain(&self, record: &DeploymentRecord) -> Result<NewDeployment, DomainError> {
        let o = &record.origin;
        let dl_auth = match &record.dl_auth {
            None => None,
            Some(DlAuthSettings::Gcore {
                base_url,
                secure_token_sealed,
                bucket,
                prefix,
                client_ip,
                ttl,
            }) => Some(DlAuthBody::Gcore(GcoreBody {
                base_url: base_url.clone(),
                secure_token: self.open(secure_token_sealed)?,
                bucket: bucket.clone(),
                prefix: prefix.clone(),
                client_ip: *client_ip,
                ttl: *ttl,
            })),
            Some(DlAuthSettings::Akamai {
                base_url,
                key_sealed,
                ttl,
            }) => Some(DlAuthBody::Akamai(AkamaiBody {
                base_url: base_url.clone(),
                key: self.open(key_sealed)?,
                ttl: *ttl,
            })),
        };
        Ok(NewDeployment {
            name: record.name.clone(),
            label: record.label.clone(),
            origin: OriginBody {
                s3: o
                    .clone()
                    .map_secret(|Sealed(sealed)| self.open(&sealed).map(Secret::new))?,
            },
            dl_auth,
        })
    }

    /// Creates a deployment; a failed credential probe is recorded, not refused.
    pub async fn create(&self, caller: &Caller, new: NewDeployment) -> Result<(), DomainError> {
        check(&new)?;
        let probe = self.probe(&new.origin.s3).await;
        let record = self.record(&caller.org, &new, probe, Utc::now())?;
        in_org(&self.store, caller)
            .write(move |tx| {
                let key = org_key(&record.org, &record.name);
                let mut table = tx.open(&DEPLOYMENTS)?;
                if table.get(key.as_str())?.is_some() {
                    return Err(DomainError::Exists {
                        what: format!("deployment {}", record.name),
                    });
                }
                table.put(key.as_str(), &record)?;
                Ok(())
            })
            .await
    }

    async fn load(&self, org: &str, name: &str) -> Result<DeploymentRecord, DomainError> {
        super::find_in_org(
            &self.store,
            &DEPLOYMENTS,
            org,
            name,
            "deployment",
            check_deployment_name,
        )
        .await
    }

    /// Applies a partial modification (API.md merge rules) and re-checks the credentials;
    /// fields outside [`PATCH_FIELDS`] are refused before the deployment is looked up.
    pub async fn modify(&self, caller: &Caller, patch: Value) -> Result<(), DomainError> {
        let Value::Object(patch) = patch else {
            return Err(DomainError::invalid("body", "must be a JSON object"));
        };
        let name = match patch.get("name") {
            Some(Value::String(name)) => name.clone(),
            Some(_) => return Err(DomainError::invalid("name", "must be a string")),
            None => {
                return Err(DomainError::Missing {
                    field: "name".into(),
                });
            }
        };
        if let Some(other) = patch
            .keys()
            .find(|key| !PATCH_FIELDS.contains(&key.as_str()))
        {
            return Err(DomainError::invalid(other, "is not a deployment field"));
        }
        let stored = self.load(&caller.org, &name).await?;
        if stored.status == DeploymentStatus::Deleting {
            return Err(DomainError::Protected(format!(
                "deployment {name} is being deleted"
            )));
        }
        let mut merged = serde_json::to_value(self.plain(&stored)?)
            .map_err(|e| DomainError::Internal(e.to_string()))?;
        for (key, value) in &patch {
            match key.as_str() {
                "label" => match value {
                    Value::String(_) => merged["label"] = value.clone(),
                    _ => return Err(DomainError::invalid("label", "must be a string")),
                },
                "origin" => merge_group(
                    &mut merged["origin"],
                    value,
                    "origin",
                    &["prefix"],
                    &["secretKey"],
                )?,
                "dlAuth" if value.is_null() => {
                    if let Some(object) = merged.as_object_mut() {
                        object.remove("dlAuth");
                    }
                }
                "dlAuth" => {
                    let group = merged
                        .as_object_mut()
                        .map(|o| o.entry("dlAuth").or_insert(Value::Null));
                    if let Some(group) = group {
                        merge_group(
                            group,
                            value,
                            "dlAuth",
                            &["bucket", "prefix", "clientIp", "ttl"],
                            &["secureToken", "key"],
                        )?;
                    }
                }
                _ => {}
            }
        }
        let new: NewDeployment = serde_json::from_value(merged)
            .map_err(|e| DomainError::invalid("body", e.to_string()))?;
        check(&new)?;
        let probe = self.probe(&new.origin.s3).await;
        let record = self.record(&caller.org, &new, probe, stored.created)?;
        in_org(&self.store, caller)
            .write(move |tx| {
                let key = org_key(&record.org, &record.name);
                let stored = tx.open(&DEPLOYMENTS)?.get(key.as_str())?;
                let moved = match stored {
                    Some(current) if current.status != DeploymentStatus::Deleting => {
                        tx.open(&DEPLOYMENTS)?.put(key.as_str(), &record)?;
                        !current.origin.same_place(&record.origin)
                            || current.origin.location != record.origin.location
                    }
                    _ => {
                        return Err(DomainError::not_found(format!(
                            "deployment {}",
                            record.name
                        )));
                    }
                };
                if moved {
                    redeploy_moved(tx, &record)?;
                }
                Ok(())
            })
            .await
    }

    fn view(record: DeploymentRecord) -> DeploymentView {
        let masked = record
            .origin
            .clone()
            .map_secret(|_| Ok::<_, std::convert::Infallible>(MASK));
        let s3 = masked.map_or(Value::Null, |s3| json!(s3));
        let dl_auth = match &record.dl_auth {
            None => Value::Null,
            Some(DlAuthSettings::Gcore {
                base_url,
                bucket,
                prefix,
                client_ip,
                ttl,
                ..
            }) => {
                json!({"gcore": {"baseUrl": base_url, "secureToken": MASK, "bucket": bucket, "prefix": prefix, "clientIp": client_ip, "ttl": ttl}})
            }
            Some(DlAuthSettings::Akamai { base_url, ttl, .. }) => {
                json!({"akamai": {"baseUrl": base_url, "key": MASK, "ttl": ttl}})
            }
        };
        DeploymentView {
            origin: json!({ "s3": s3 }),
            dl_auth,
            name: record.name,
            label: record.label,
            status: record.status,
            status_message: record.status_message,
            created: record.created,
            updated: record.updated,
        }
    }

    /// One deployment, secrets masked.
    pub async fn get(&self, caller: &Caller, name: &str) -> Result<DeploymentView, DomainError> {
        self.load(&caller.org, name).await.map(Self::view)
    }

    /// A page of the org's deployments.
    pub async fn list(
        &self,
        caller: &Caller,
        filter: DeploymentFilter,
        params: ListParams,
    ) -> Result<Page<DeploymentView>, DomainError> {
        let prefix = org_prefix(&caller.org);
        let all = self
            .store
            .read(move |tx| Ok::<_, DomainError>(tx.open(&DEPLOYMENTS)?.with_prefix(&prefix)?))
            .await?;
        let kept: Vec<DeploymentRecord> = all
            .into_iter()
            .map(|(_, d)| d)
            .filter(|d| {
                filter.name.as_ref().is_none_or(|n| {
                    d.name
                        .to_ascii_lowercase()
                        .contains(&n.to_ascii_lowercase())
                }) && filter
                    .error
                    .is_none_or(|e| (d.status == DeploymentStatus::Error) == e)
                    && filter.created_after.is_none_or(|t| d.created > t)
                    && filter.updated_after.is_none_or(|t| d.updated > t)
            })
            .collect();
        let page = params.apply_named(kept)?;
        Ok(Page {
            items: page.items.into_iter().map(Self::view).collect(),
            total: page.total,
        })
    }

    /// Refused while an app registers it. Otherwise marked `deleting`, and a `cleanup` task
    /// (submitted in the same transaction) removes the org's files from the origin, then the
    /// record; with `keep_files` the record goes at once and the origin is left as it is.
    /// Returns the cleanup task's name.
    pub async fn delete(
        &self,
        caller: &Caller,
        name: &str,
        keep_files: bool,
    ) -> Result<Option<String>, DomainError> {
        check_deployment_name("deployment", name)?;
        let (org, wanted) = (caller.org.clone(), name.to_string());
        let task = in_org(&self.store, caller)
            .write(move |tx| {
                let org = &org;
                let key = org_key(org, &wanted);
                let mut deployment = tx
                    .open(&DEPLOYMENTS)?
                    .get(key.as_str())?
                    .filter(|d| d.name == wanted && d.status != DeploymentStatus::Deleting)
                    .ok_or_else(|| DomainError::not_found(format!("deployment {wanted}")))?;
                let registering: Vec<String> = tx
                    .open(&APPS)?
                    .with_prefix(&org_prefix(org))?
                    .into_iter()
                    .filter(|(_, app)| {
                        app.deployments
                            .iter()
                            .any(|d| d.eq_ignore_ascii_case(&deployment.name))
                    })
                    .map(|(_, app)| app.name)
                    .collect();
                if !registering.is_empty() {
                    return Err(DomainError::Protected(format!(
                        "deployment {} is registered by app(s) {}; deregister it first",
                        deployment.name,
                        registering.join(", ")
                    )));
                }
                if keep_files {
                    tx.open(&DEPLOYMENTS)?.remove(key.as_str())?;
                    return Ok(None);
                }
                deployment.status = DeploymentStatus::Deleting;
                deployment.status_message = "removing published files".into();
                deployment.updated = Utc::now();
                tx.open(&DEPLOYMENTS)?.put(key.as_str(), &deployment)?;
                let task = jobs::submit(
                    tx,
                    cleanup::deployment_task(
                        &deployment.org,
                        &deployment.name,
                        format!("deployment/{key}"),
                        layout::org_prefixes(&deployment.org),
                    ),
                    Utc::now(),
                )?;
                Ok(Some(task.name))
            })
            .await?;
        crash_point("deployment.delete.committed");
        Ok(task)
    }
}
