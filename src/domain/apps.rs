//! Apps of an org (the resource's read side; building and publishing come with the pipeline).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::DomainError;
use super::caller::Caller;
use super::listing::{ListParams, Page};
use crate::store::{APPS, Store, org_prefix};

/// An app as listed.
#[derive(Debug, Serialize)]
pub struct AppSummary {
    pub name: String,
    pub label: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// App rules.
#[derive(Clone)]
pub struct AppService {
    store: Store,
}

impl AppService {
    /// Apps in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// A page of the caller's org's apps (`order[]`: `name`, `created`, `updated`).
    pub async fn list(
        &self,
        caller: &Caller,
        params: ListParams,
    ) -> Result<Page<AppSummary>, DomainError> {
        let prefix = org_prefix(&caller.org);
        let apps = self
            .store
            .read(move |tx| Ok::<_, DomainError>(tx.open(&APPS)?.with_prefix(&prefix)?))
            .await?;
        let page = params.apply(
            apps.into_iter().map(|(_, app)| app).collect(),
            &["name", "created", "updated"],
            |a, b| {
                a.name
                    .to_ascii_lowercase()
                    .cmp(&b.name.to_ascii_lowercase())
            },
            |field, a, b| match field {
                "created" => a.created.cmp(&b.created),
                "updated" => a.updated.cmp(&b.updated),
                _ => a
                    .name
                    .to_ascii_lowercase()
                    .cmp(&b.name.to_ascii_lowercase()),
            },
        )?;
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(|app| AppSummary {
                    name: app.name,
                    label: app.label,
                    created: app.created,
                    updated: app.updated,
                })
                .collect(),
            total: page.total,
        })
    }
}
