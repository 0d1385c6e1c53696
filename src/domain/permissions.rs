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
