//! Orgs: the tenants. Creating one also creates its `Administrators` role and admin user.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::listing::{ListParams, Page};
use super::names::check_name;
use super::permissions::{ADMINISTRATORS, maxima};
use super::{DomainError, blocking};
use crate::auth::password;
use crate::jobs::queue::NewTask;
use crate::jobs::{CLEANUP, CleanupTask, Jobs};
use crate::publish::depot::Depot;
use crate::store::{
    APPS, Account, ORGS, OrgRecord, ROLES, RoleRecord, Store, USERS, UserRecord, org_key,
    org_prefix, put_user, remove_user,
};

/// Shortest password accepted for a person.
pub const MIN_PASSWORD_LEN: usize = 8;

/// What an admin asks for when creating an org.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewOrg {
    pub name: String,
    pub label: Option<String>,
    pub admin_username: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
}

/// The org as the API shows it.
#[derive(Debug, Serialize)]
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
#[derive(Debug, Serialize)]
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
    jobs: Jobs,
    depot: Depot,
}

impl OrgService {
    /// The org service over the store, the job runner and the depot.
    pub fn new(store: Store, jobs: Jobs, depot: Depot) -> Self {
        Self { store, jobs, depot }
    }

    /// Creates the org, its `Administrators` role and its admin user in one transaction.
    pub async fn create(&self, new: NewOrg) -> Result<CreatedOrg, DomainError> {
        check_name("name", &new.name)?;
        let admin_username = new.admin_username.unwrap_or_else(|| "admin".into());
        check_name("adminUsername", &admin_username)?;
        if let Some(given) = &new.password
            && given.chars().count() < MIN_PASSWORD_LEN
        {
            return Err(DomainError::invalid(
                "password",
                format!("must have at least {MIN_PASSWORD_LEN} characters"),
            ));
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
        let stored = org.clone();
        self.store
            .write(move |tx| {
                let mut orgs = tx.open(&ORGS)?;
                let key = org.name.to_ascii_lowercase();
                if orgs.get(key.as_str())?.is_some() {
                    return Err(DomainError::Exists {
                        what: format!("org {}", org.name),
                    });
                }
                orgs.put(key.as_str(), &org)?;
                tx.open(&ROLES)?
                    .put(org_key(&org.name, &role.name).as_str(), &role)?;
                put_user(tx, &user)?;
                Ok(())
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
        let depot = self.depot.clone();
        let name = org.name.clone();
        let storage_bytes = blocking(move || {
            Depot::org_prefixes(&name)
                .iter()
                .map(|prefix| depot.size_of_prefix(prefix))
                .sum::<std::io::Result<u64>>()
                .map_err(|e| DomainError::Internal(format!("cannot measure depot usage: {e}")))
        })
        .await?;
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
        let key = name.to_ascii_lowercase();
        let shown = name.to_string();
        self.store
            .read(move |tx| {
                tx.open(&ORGS)?
                    .get(key.as_str())?
                    .ok_or_else(|| DomainError::not_found(format!("org {shown}")))
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

    /// Deletes every record of the org; with `prune` a `cleanup` task also removes its
    /// published files. Returns that task's name.
    pub async fn delete(&self, name: &str, prune: bool) -> Result<Option<String>, DomainError> {
        let org = self.record(name).await?;
        let removed = org.clone();
        self.store
            .write(move |tx| {
                let prefix = org_prefix(&removed.name);
                tx.open(&ROLES)?.remove_prefix(&prefix)?;
                let users = tx.open(&USERS)?.with_prefix(&prefix)?;
                for (_, user) in users {
                    remove_user(tx, &removed.name, &user.username)?;
                }
                tx.open(&APPS)?.remove_prefix(&prefix)?;
                tx.open(&ORGS)?
                    .remove(removed.name.to_ascii_lowercase().as_str())?;
                Ok::<_, DomainError>(())
            })
            .await?;
        if !prune {
            return Ok(None);
        }
        let task = self
            .jobs
            .submit(NewTask {
                kind: CLEANUP.into(),
                org: Some(org.name.clone()),
                app: None,
                group: None,
                pipeline: Some(format!("org/{}", org.name.to_ascii_lowercase())),
                params: CleanupTask::depot_params(Depot::org_prefixes(&org.name)),
            })
            .await?;
        Ok(Some(task.name))
    }
}
