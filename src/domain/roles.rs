//! Roles: named permission masks of one org; `Administrators` is fixed.

use std::collections::BTreeMap;

use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::listing::{ListParams, Page};
use super::names::{NAME_RULE, check_name};
use super::permissions::{ADMINISTRATORS, validate_mask};
use super::text::check_label;
use super::{DomainError, in_org};
use crate::store::{ROLES, RoleRecord, Store, USERS, org_key, org_prefix};

/// A create request.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    #[schemars(pattern(NAME_RULE.pattern()))]
    pub name: String,
    pub label: Option<String>,
    pub permissions: BTreeMap<String, u32>,
}

/// A `PATCH` body.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolePatch {
    pub name: String,
    pub label: Option<String>,
    pub permissions: Option<BTreeMap<String, u32>>,
}

/// A role as the API shows it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RoleView {
    pub name: String,
    pub label: String,
    pub permissions: BTreeMap<String, u32>,
    pub created: chrono::DateTime<Utc>,
    pub updated: chrono::DateTime<Utc>,
}

impl From<RoleRecord> for RoleView {
    fn from(role: RoleRecord) -> Self {
        Self {
            name: role.name,
            label: role.label,
            permissions: role.permissions,
            created: role.created,
            updated: role.updated,
        }
    }
}

fn protect_administrators(name: &str) -> Result<(), DomainError> {
    if name.eq_ignore_ascii_case(ADMINISTRATORS) {
        return Err(DomainError::Protected(format!(
            "the {ADMINISTRATORS} role cannot be changed or deleted"
        )));
    }
    Ok(())
}

fn check_permissions(permissions: &BTreeMap<String, u32>) -> Result<(), DomainError> {
    validate_mask(permissions).map_err(|reason| DomainError::invalid("permissions", reason))
}

/// Role rules.
#[derive(Clone)]
pub struct RoleService {
    store: Store,
}

impl RoleService {
    /// Roles in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Creates a role in the caller's org.
    pub async fn create(&self, caller: &Caller, new: NewRole) -> Result<RoleView, DomainError> {
        check_name("name", &new.name)?;
        if let Some(label) = &new.label {
            check_label("label", label)?;
        }
        check_permissions(&new.permissions)?;
        caller.may_grant(&new.permissions, &BTreeMap::new())?;
        let now = Utc::now();
        let role = RoleRecord {
            org: caller.org.clone(),
            label: new.label.unwrap_or_else(|| new.name.clone()),
            name: new.name,
            permissions: new.permissions,
            created: now,
            updated: now,
        };
        in_org(&self.store, caller)
            .write(move |tx| {
                let key = org_key(&role.org, &role.name);
                let mut roles = tx.open(&ROLES)?;
                if roles.get(key.as_str())?.is_some() {
                    return Err(DomainError::Exists {
                        what: format!("role {}", role.name),
                    });
                }
                roles.put(key.as_str(), &role)?;
                Ok(role.into())
            })
            .await
    }

    /// A page of the org's roles (`order[]`: `name`, `created`, `updated`).
    pub async fn list(
        &self,
        caller: &Caller,
        params: ListParams,
    ) -> Result<Page<RoleView>, DomainError> {
        let prefix = org_prefix(&caller.org);
        let roles = self
            .store
            .read(move |tx| Ok::<_, DomainError>(tx.open(&ROLES)?.with_prefix(&prefix)?))
            .await?;
        let page = params.apply_named(roles.into_iter().map(|(_, r)| r).collect())?;
        Ok(Page {
            items: page.items.into_iter().map(RoleView::from).collect(),
            total: page.total,
        })
    }

    /// One role.
    pub async fn get(&self, caller: &Caller, name: &str) -> Result<RoleView, DomainError> {
        super::find_in_org(&self.store, &ROLES, &caller.org, name, "role", check_name)
            .await
            .map(RoleView::from)
    }

    /// Changes label and/or permissions.
    pub async fn patch(&self, caller: &Caller, patch: RolePatch) -> Result<RoleView, DomainError> {
        if let Some(label) = &patch.label {
            check_label("label", label)?;
        }
        protect_administrators(&patch.name)?;
        if let Some(permissions) = &patch.permissions {
            check_permissions(permissions)?;
        }
        let key = org_key(&caller.org, &patch.name);
        let granter = caller.clone();
        in_org(&self.store, caller)
            .write(move |tx| {
                let mut roles = tx.open(&ROLES)?;
                let mut role = roles
                    .get(key.as_str())?
                    .filter(|role| role.name == patch.name)
                    .ok_or_else(|| DomainError::not_found(format!("role {}", patch.name)))?;
                if let Some(label) = patch.label {
                    role.label = label;
                }
                if let Some(permissions) = patch.permissions {
                    granter.may_grant(&permissions, &role.permissions)?;
                    role.permissions = permissions;
                }
                role.updated = Utc::now();
                roles.put(key.as_str(), &role)?;
                Ok(role.into())
            })
            .await
    }

    /// Deletes a role nobody holds.
    pub async fn delete(&self, caller: &Caller, name: &str) -> Result<(), DomainError> {
        check_name("role", name)?;
        protect_administrators(name)?;
        let org = caller.org.clone();
        let name = name.to_string();
        in_org(&self.store, caller)
            .write(move |tx| {
                let key = org_key(&org, &name);
                let role = tx
                    .open(&ROLES)?
                    .named(Some(&org), &name)?
                    .ok_or_else(|| DomainError::not_found(format!("role {name}")))?;
                let holders: Vec<String> = tx
                    .open(&USERS)?
                    .with_prefix(&org_prefix(&org))?
                    .into_iter()
                    .filter(|(_, u)| u.roles.contains(&role.name))
                    .map(|(_, u)| u.username)
                    .collect();
                if !holders.is_empty() {
                    return Err(DomainError::Protected(format!(
                        "role {} is assigned to {}; unassign it first",
                        role.name,
                        holders.join(", ")
                    )));
                }
                tx.open(&ROLES)?.remove(key.as_str())?;
                Ok(())
            })
            .await
    }
}
