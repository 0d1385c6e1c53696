//! Orgs: the tenants. Creating one also creates its `Administrators` role and admin user.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::listing::{ListParams, Page};
use super::names::{NAME_RULE, check_name};
use super::permissions::{ADMINISTRATORS, maxima};
use super::text::{check_email, check_label};
use super::users::check_password;
use super::{DomainError, blocking};
use crate::auth::password;
use crate::crashpoints::crash_point;
use crate::jobs;
use crate::pipeline::builds::TraceFiles;
use crate::pipeline::cleanup;
use crate::publish::depot::Depot;
use crate::publish::layout;
use crate::publish::origin::Origin;
use crate::store::{
    APPS, Account, DeploymentRecord, ORG_IDS, ORGS, OrgRecord, ROLES, RoleRecord, S3Settings,
    Store, StoreError, UserRecord, WriteTx, org_key, org_prefix, purge_org, put_user,
    traced_images,
};

/// What an admin asks for when creating an org.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewOrg {
    #[schemars(pattern(NAME_RULE.pattern()))]
    pub name: String,
    pub label: Option<String>,
    #[schemars(pattern(NAME_RULE.pattern()))]
    pub admin_username: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
}

/// The org as the API shows it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgView {
    pub name: String,
    pub label: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    /// Number of apps.
    pub apps: u64,
    /// Bytes the org's published files take on the depot.
    pub storage_bytes: u64,
}

/// The result of creating an org.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedOrg {
    pub org: OrgView,
    pub admin_username: String,
    /// The generated initial password, only when none was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// Org rules.
#[derive(Clone)]
pub struct OrgService {
    store: Store,
    depot: Depot,
    /// The orgs' traces, which go with them.
    traces: TraceFiles,
}

impl OrgService {
    /// The org service over the store, the depot and the trace files.
    pub fn new(store: Store, depot: Depot, traces: TraceFiles) -> Self {
        Self {
            store,
            depot,
            traces,
        }
    }

    /// Creates the org, its `Administrators` role and its admin user in one transaction.
    pub async fn create(&self, new: NewOrg) -> Result<CreatedOrg, DomainError> {
        check_name("name", &new.name)?;
        let admin_username = new.admin_username.unwrap_or_else(|| "admin".into());
        check_name("adminUsername", &admin_username)?;
        if let Some(given) = &new.password {
            check_password("password", given)?;
        }
        if let Some(label) = &new.label {
            check_label("label", label)?;
        }
        if let Some(email) = &new.email {
            check_email("email", email)?;
        }
        let generated = new.password.is_none().then(password::generate);
        let secret = new
            .password
            .or_else(|| generated.clone())
            .unwrap_or_default();
        let password_hash = blocking(move || {
            password::hash(&secret)
                .map_err(|e| DomainError::Internal(format!("cannot hash password: {e}")))
        })
        .await?;
        let now = Utc::now();
        let org = OrgRecord {
            id: 0,
            label: new.label.unwrap_or_else(|| new.name.clone()),
            name: new.name,
            created: now,
            updated: now,
        };
        let role = RoleRecord {
            org: org.name.clone(),
            name: ADMINISTRATORS.into(),
            label: ADMINISTRATORS.into(),
            permissions: maxima(),
            created: now,
            updated: now,
        };
        let user = UserRecord {
            org: org.name.clone(),
            username: admin_username.clone(),
            account: Account::Person {
                email: new.email.unwrap_or_default(),
                firstname: String::new(),
                surname: String::new(),
                title: None,
                password_hash,
            },
            roles: vec![ADMINISTRATORS.into()],
            created: now,
            updated: now,
        };
        let stored = self
            .store
            .write(move |tx| {
                let mut org = org;
                let key = org.name.to_ascii_lowercase();
                if tx.open(&ORGS)?.get(key.as_str())?.is_some() {
                    return Err(DomainError::Exists {
                        what: format!("org {}", org.name),
                    });
                }
                if let Some(task) = pending_prune(tx, &org.name)? {
                    return Err(DomainError::Exists {
                        what: format!(
                            "org {} (its files are still being removed by task {task}; retry when it ends)",
                            org.name
                        ),
                    });
                }
                org.id = tx.next_id(ORG_IDS)?;
                tx.open(&ORGS)?.put(key.as_str(), &org)?;
                tx.open(&ROLES)?
                    .put(org_key(&org.name, &role.name).as_str(), &role)?;
                put_user(tx, &user)?;
                Ok(org)
            })
            .await?;
        Ok(CreatedOrg {
            org: self.view(stored).await?,
            admin_username,
            password: generated,
        })
    }

    async fn view(&self, org: OrgRecord) -> Result<OrgView, DomainError> {
        let prefix = org_prefix(&org.name);
        let apps = self
            .store
            .read(
                move |tx| Ok::<_, DomainError>(tx.open(&APPS)?.with_prefix(&prefix)?.len() as u64),
            )
            .await?;
        let storage_bytes = self
            .depot
            .sizes(&[layout::org_prefixes(&org.name)])
            .await
            .map_err(|e| DomainError::Internal(format!("cannot measure depot usage: {e}")))?
            .iter()
            .sum();
        Ok(OrgView {
            name: org.name,
            label: org.label,
            created: org.created,
            updated: org.updated,
            apps,
            storage_bytes,
        })
    }

    async fn record(&self, name: &str) -> Result<OrgRecord, DomainError> {
        check_name("org", name)?;
        let name = name.to_string();
        self.store
            .read(move |tx| {
                tx.open(&ORGS)?
                    .named(None, &name)?
                    .ok_or_else(|| DomainError::not_found(format!("org {name}")))
            })
            .await
    }

    /// One org.
    pub async fn get(&self, name: &str) -> Result<OrgView, DomainError> {
        let org = self.record(name).await?;
        self.view(org).await
    }

    /// A page of orgs (`order[]`: `name`, `created`; default by name).
    pub async fn list(&self, params: ListParams) -> Result<Page<OrgView>, DomainError> {
        let records = self
            .store
            .read(|tx| {
                let all = tx.open(&ORGS)?.with_prefix("")?;
                Ok::<_, DomainError>(all.into_iter().map(|(_, org)| org).collect::<Vec<_>>())
            })
            .await?;
        let page = params.apply_named(records)?;
        let mut items = Vec::with_capacity(page.items.len());
        for org in page.items {
            items.push(self.view(org).await?);
        }
        Ok(Page {
            items,
            total: page.total,
        })
    }

    /// Deletes the org and every record of it in one transaction; with `prune` a `cleanup`
    /// task, submitted in that transaction, also removes its published files from the depot
    /// and from the origins of its deployments. Returns that task's name.
    pub async fn delete(&self, name: &str, prune: bool) -> Result<Option<String>, DomainError> {
        let org = self.record(name).await?;
        let task = self
            .store
            .write(move |tx| {
                let traced = traced_images(tx, &org_prefix(&org.name))?;
                let deployments = purge_org(tx, &org)?;
                if !prune {
                    return Ok::<_, DomainError>((None, traced));
                }
                let task = jobs::submit(
                    tx,
                    cleanup::org_task(
                        prune_pipeline(&org.name),
                        layout::org_prefixes(&org.name),
                        distinct_places(deployments),
                    ),
                    Utc::now(),
                )?;
                Ok((Some(task.name), traced))
            })
            .await?;
        crash_point("org.delete.committed");
        let (task, traced) = task;
        self.traces.forget(traced).await;
        Ok(task)
    }
}

/// The pipeline of an org's prune: while one of its tasks is unfinished, the name stays taken
/// (a new org of that name would otherwise lose its files to the old one's cleanup).
fn prune_pipeline(org: &str) -> String {
    format!("org/{}", org.to_ascii_lowercase())
}

/// The unfinished prune task of an org name, if any.
fn pending_prune(tx: &WriteTx, org: &str) -> Result<Option<String>, StoreError> {
    let pipeline = prune_pipeline(org);
    Ok(jobs::queue::unfinished(tx)?
        .into_iter()
        .find(|task| task.pipeline.as_deref() == Some(pipeline.as_str()))
        .map(|task| task.name))
}

/// The origins of the deleted deployments, each place once.
fn distinct_places(deployments: Vec<DeploymentRecord>) -> Vec<S3Settings> {
    let mut kept: Vec<DeploymentRecord> = Vec::new();
    for deployment in deployments {
        if !kept.iter().any(|k| k.origin.same_place(&deployment.origin)) {
            kept.push(deployment);
        }
    }
    kept.into_iter().map(|d| d.origin).collect()
}
