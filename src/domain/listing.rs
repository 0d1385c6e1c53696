//! Paging and ordering shared by every list endpoint.

use std::cmp::Ordering;

use super::DomainError;

/// Default page size.
pub const DEFAULT_LIMIT: usize = 10;
/// Largest page size.
pub const MAX_LIMIT: usize = 1000;

/// One `order[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub field: String,
    pub descending: bool,
}

impl SortKey {
    /// Parses `name`, `-name`, `+name` or ` name` (a decoded `+`).
    pub fn parse(raw: &str) -> Option<SortKey> {
        let raw = raw.trim_start_matches(' ');
        let (descending, field) = match raw.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, raw.strip_prefix('+').unwrap_or(raw)),
        };
        let field = field.trim();
        (!field.is_empty()).then(|| SortKey {
            field: field.to_string(),
            descending,
        })
    }
}

/// Offset, limit and order of a list request.
#[derive(Debug, Clone)]
pub struct ListParams {
    pub offset: usize,
    pub limit: usize,
    pub order: Vec<SortKey>,
}

impl Default for ListParams {
    fn default() -> Self {
        Self {
            offset: 0,
            limit: DEFAULT_LIMIT,
            order: Vec::new(),
        }
    }
}

/// A page of a list and the count before paging.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: usize,
}

impl ListParams {
    /// Checks the limit bounds.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.limit == 0 || self.limit > MAX_LIMIT {
            return Err(DomainError::invalid(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        Ok(())
    }

    /// Sorts `items` by the requested keys (each must be one of `sortable`, else 400), then
    /// by `default`, and cuts the page. `compare` orders two items by one sortable field.
    pub fn apply<T>(
        &self,
        mut items: Vec<T>,
        sortable: &[&str],
        default: impl Fn(&T, &T) -> Ordering,
        compare: impl Fn(&str, &T, &T) -> Ordering,
    ) -> Result<Page<T>, DomainError> {
        self.validate()?;
        if let Some(key) = self
            .order
            .iter()
            .find(|k| !sortable.contains(&k.field.as_str()))
        {
            return Err(DomainError::invalid(
                "order[]",
                format!(
                    "cannot order by {:?}; use one of {}",
                    key.field,
                    sortable.join(", ")
                ),
            ));
        }
        items.sort_by(|a, b| {
            self.order
                .iter()
                .map(|key| {
                    let ordering = compare(&key.field, a, b);
                    if key.descending {
                        ordering.reverse()
                    } else {
                        ordering
                    }
                })
                .find(|o| o.is_ne())
                .unwrap_or_else(|| default(a, b))
        });
        let total = items.len();
        let items = items
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        Ok(Page { items, total })
    }
}

/// A resource listed by `name`, `created` and `updated` (the common `order[]` keys).
pub trait Named {
    fn name(&self) -> &str;
    fn created(&self) -> chrono::DateTime<chrono::Utc>;
    fn updated(&self) -> chrono::DateTime<chrono::Utc>;
}

fn by_name<T: Named>(a: &T, b: &T) -> Ordering {
    a.name()
        .to_ascii_lowercase()
        .cmp(&b.name().to_ascii_lowercase())
}

impl ListParams {
    /// [`ListParams::apply`] for resources ordered by name (case-insensitive, the default),
    /// `created` or `updated`.
    pub fn apply_named<T: Named>(&self, items: Vec<T>) -> Result<Page<T>, DomainError> {
        self.apply(
            items,
            &["name", "created", "updated"],
            by_name,
            |field, a, b| match field {
                "created" => a.created().cmp(&b.created()),
                "updated" => a.updated().cmp(&b.updated()),
                _ => by_name(a, b),
            },
        )
    }
}

/// Implements [`Named`] for types with `name`, `created` and `updated` fields (the records
/// here; views in their own modules).
macro_rules! named {
    ($($type:ty),*) => {$(
        impl $crate::domain::listing::Named for $type {
            fn name(&self) -> &str {
                &self.name
            }
            fn created(&self) -> chrono::DateTime<chrono::Utc> {
                self.created
            }
            fn updated(&self) -> chrono::DateTime<chrono::Utc> {
                self.updated
            }
        }
    )*};
}

pub(super) use named;

named!(
    crate::store::OrgRecord,
    crate::store::RoleRecord,
    crate::store::DeploymentRecord
);
