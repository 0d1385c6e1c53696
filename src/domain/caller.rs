//! The authenticated caller of a `/be/v1` request: always bound to exactly one org.

use std::collections::BTreeMap;

use super::DomainError;
use super::permissions::{ADMINISTRATORS, Need, Permission, first_ungranted};

/// What kind of account is calling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// A person with a session.
    Person,
    /// A machine user with an API key.
    Machine,
}

/// Who is calling, in which org, with which effective permissions (the OR of its roles).
#[derive(Debug, Clone)]
pub struct Caller {
    pub org: String,
    /// The id of the org the caller authenticated in: a write on its behalf checks that this
    /// org still exists, so a request in flight cannot land in a re-created namesake.
    pub org_id: u64,
    pub username: String,
    pub principal: Principal,
    pub permissions: BTreeMap<String, u32>,
    /// The roles the user holds.
    pub roles: Vec<String>,
    /// The session of a person's access token.
    pub session: Option<String>,
}

impl Caller {
    /// Whether the caller holds the bit.
    pub fn has(&self, permission: Permission) -> bool {
        self.permissions
            .get(permission.resource)
            .is_some_and(|mask| mask & permission.bit != 0)
    }

    /// 403 naming the missing bit unless the caller holds it.
    pub fn require(&self, permission: Permission) -> Result<(), DomainError> {
        if self.has(permission) {
            Ok(())
        } else {
            Err(DomainError::Forbidden {
                needed: permission.to_string(),
            })
        }
    }

    /// Passes when the caller acts on itself, else requires the bit.
    pub fn require_self_or(
        &self,
        username: &str,
        permission: Permission,
    ) -> Result<(), DomainError> {
        if self.is(username) {
            Ok(())
        } else {
            self.require(permission)
        }
    }

    /// What a route's declaration demands before its handler runs (`SelfOr` is decided by the
    /// handler, which knows the target).
    pub fn admit(&self, need: Need) -> Result<(), DomainError> {
        match need {
            Need::Perm(permission) => self.require(permission),
            Need::OrgAdministrator if !self.roles.iter().any(|r| r == ADMINISTRATORS) => {
                Err(DomainError::Forbidden {
                    needed: format!("the {ADMINISTRATORS} role"),
                })
            }
            Need::OrgAdministrator | Need::SelfOr(_) | Need::Public | Need::Admin => Ok(()),
        }
    }

    /// 403 unless the caller holds every bit `granted` adds to `before`.
    pub fn may_grant(
        &self,
        granted: &BTreeMap<String, u32>,
        before: &BTreeMap<String, u32>,
    ) -> Result<(), DomainError> {
        match first_ungranted(granted, before, &self.permissions) {
            None => Ok(()),
            Some(bit) => Err(DomainError::Forbidden {
                needed: format!("{bit} (nobody may grant a permission they do not hold)"),
            }),
        }
    }

    /// Whether `username` names the caller.
    pub fn is(&self, username: &str) -> bool {
        self.username.eq_ignore_ascii_case(username)
    }
}

/// The effective permissions of a set of role masks.
pub fn effective<'a>(
    masks: impl IntoIterator<Item = &'a BTreeMap<String, u32>>,
) -> BTreeMap<String, u32> {
    let mut merged = BTreeMap::new();
    for mask in masks {
        for (resource, bits) in mask {
            *merged.entry(resource.clone()).or_insert(0) |= bits;
        }
    }
    merged
}
