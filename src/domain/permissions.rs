//! Permission bits and the resources they apply to (API.md §3).

use std::collections::BTreeMap;

/// Create.
pub const CREATE: u32 = 1;
/// Read.
pub const READ: u32 = 2;
/// Update.
pub const UPDATE: u32 = 4;
/// Delete.
pub const DELETE: u32 = 8;
/// Execute.
pub const EXECUTE: u32 = 16;

/// Every resource with the highest mask a role may hold on it.
pub const RESOURCE_MAXIMA: [(&str, u32); 12] = [
    ("apps", 15),
    ("beUsers", 15),
    ("bundles", 15),
    ("consumption", 2),
    ("dependencies", 15),
    ("deployments", 15),
    ("keys", 15),
    ("roles", 15),
    ("sources", 15),
    ("subscriptions", 15),
    ("tasks", 31),
    ("trainings", 6),
];

/// The name of the role every org has, holding the maxima.
pub const ADMINISTRATORS: &str = "Administrators";

/// The permissions of `Administrators`.
pub fn maxima() -> BTreeMap<String, u32> {
    RESOURCE_MAXIMA
        .iter()
        .map(|(resource, max)| (resource.to_string(), *max))
        .collect()
}

/// One bit on one resource, e.g. `apps.read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    pub resource: &'static str,
    pub bit: u32,
}

impl Permission {
    /// The bit `bit` on `resource`.
    pub const fn new(resource: &'static str, bit: u32) -> Self {
        Self { resource, bit }
    }
}

impl std::fmt::Display for Permission {
    /// The vendor's naming: `<resource>.<create|read|update|delete|execute>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = match self.bit {
            CREATE => "create",
            READ => "read",
            UPDATE => "update",
            DELETE => "delete",
            _ => "execute",
        };
        write!(f, "{}.{verb}", self.resource)
    }
}

/// What a route demands of its caller; every API route declares one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// No credentials (login, refresh, logout, auth: they check their own tokens).
    Public,
    /// The instance administrator's token.
    Admin,
    /// The bit on the resource.
    Perm(Permission),
    /// Holding the org's `Administrators` role.
    OrgAdministrator,
    /// Acting on oneself, or holding the bit (checked by the handler, which knows the target).
    SelfOr(Permission),
}

/// Checks a permission map against the resource maxima; the error names the problem.
pub fn validate_mask(permissions: &BTreeMap<String, u32>) -> Result<(), String> {
    for (resource, mask) in permissions {
        let Some((_, max)) = RESOURCE_MAXIMA.iter().find(|(name, _)| name == resource) else {
            let known: Vec<_> = RESOURCE_MAXIMA.iter().map(|(name, _)| *name).collect();
            return Err(format!(
                "unknown resource {resource:?}; known: {}",
                known.join(", ")
            ));
        };
        if mask & !max != 0 {
            return Err(format!("{resource} allows at most {max}, got {mask}"));
        }
    }
    Ok(())
}

/// The first bit `granted` has beyond `held` and beyond what `before` already had: nobody may
/// grant (by assigning a role or editing one) a permission they do not hold themselves.
pub fn first_ungranted(
    granted: &BTreeMap<String, u32>,
    before: &BTreeMap<String, u32>,
    held: &BTreeMap<String, u32>,
) -> Option<Permission> {
    RESOURCE_MAXIMA.iter().find_map(|(resource, _)| {
        let mask = |map: &BTreeMap<String, u32>| map.get(*resource).copied().unwrap_or(0);
        let beyond = mask(granted) & !mask(before) & !mask(held);
        [CREATE, READ, UPDATE, DELETE, EXECUTE]
            .into_iter()
            .find(|bit| beyond & bit != 0)
            .map(|bit| Permission::new(resource, bit))
    })
}
