//! Subscriptions: which events of the caller's org are delivered where (webhook or Slack).

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::listing::{ListParams, Page};
use super::names::{NAME_RULE, check_name};
use super::text::{SECRET_MAX_CHARS, check_label, check_text, check_url};
use super::{DomainError, in_org};
use crate::auth::password;
use crate::auth::sealing::Sealer;
use crate::config::{MASK, mask_url};
use crate::store::{
    DeliveryError, EVENTS, SUBSCRIPTIONS, Store, SubscriptionRecord, Target, org_key, org_prefix,
};

/// Task types that emit events.
pub const EVENT_TYPES: [&str; 7] = [
    "dltar", "upload", "mkraw", "deploy", "mkseq", "cleanup", "hello",
];
/// Event names of a task's life.
pub const EVENT_NAMES: [&str; 4] = ["submit", "begin", "end", "error"];
/// Slack's message API, used unless a subscription names another.
pub const SLACK_API_URL: &str = "https://slack.com/api/chat.postMessage";

/// A Slack target as requested.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SlackRequest {
    pub channel: String,
    pub token: String,
    pub api_url: Option<String>,
}

/// A create request.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    #[schemars(pattern(NAME_RULE.pattern()))]
    pub name: String,
    pub url: Option<String>,
    pub slack: Option<SlackRequest>,
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub apps: Vec<String>,
}

/// A Slack target as shown (token masked).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlackView {
    pub channel: String,
    pub token: &'static str,
    pub api_url: String,
}

/// A subscription as the API shows it, with its delivery health.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackView>,
    pub events: Vec<String>,
    pub apps: Vec<String>,
    pub created: DateTime<Utc>,
    /// Failed delivery attempts in a row.
    pub failing: u32,
    /// Events given up after the maximum age.
    pub dropped: u64,
    pub last_error: Option<DeliveryError>,
}

impl From<SubscriptionRecord> for SubscriptionView {
    fn from(sub: SubscriptionRecord) -> Self {
        let (url, slack) = match sub.target {
            Target::Webhook { url } => (Some(mask_url(&url)), None),
            Target::Slack {
                channel, api_url, ..
            } => (
                None,
                Some(SlackView {
                    channel,
                    token: MASK,
                    api_url: mask_url(&api_url),
                }),
            ),
        };
        Self {
            name: sub.name,
            url,
            slack,
            events: sub.events,
            apps: sub.apps,
            created: sub.created,
            failing: sub.failing,
            dropped: sub.dropped,
            last_error: sub.last_error,
        }
    }
}

/// A created subscription with its signing secret (shown once).
#[derive(Debug, Serialize, JsonSchema)]
pub struct CreatedSubscription {
    pub subscription: SubscriptionView,
    pub secret: String,
}

fn check_events(events: &[String]) -> Result<(), DomainError> {
    for name in events {
        let valid = name.split_once('.').is_some_and(|(kind, event)| {
            EVENT_TYPES.contains(&kind) && EVENT_NAMES.contains(&event)
        });
        if !valid {
            return Err(DomainError::invalid(
                "events",
                format!(
                    "{name:?} is not TYPE.EVENT with TYPE one of {} and EVENT one of {}",
                    EVENT_TYPES.join(", "),
                    EVENT_NAMES.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Subscription rules.
#[derive(Clone)]
pub struct SubscriptionService {
    store: Store,
    sealer: Sealer,
}

impl SubscriptionService {
    /// Subscriptions in `store`, secrets sealed with `sealer`.
    pub fn new(store: Store, sealer: Sealer) -> Self {
        Self { store, sealer }
    }

    /// Creates a subscription that receives the org's events from now on.
    pub async fn create(
        &self,
        caller: &Caller,
        new: NewSubscription,
    ) -> Result<CreatedSubscription, DomainError> {
        check_name("name", &new.name)?;
        check_events(&new.events)?;
        let sealing = |text: &str| {
            self.sealer
                .seal(text)
                .map_err(|e| DomainError::Internal(e.to_string()))
        };
        let target = match (new.url, new.slack) {
            (Some(url), None) => {
                check_url("url", &url)?;
                Target::Webhook { url }
            }
            (None, Some(slack)) => {
                let api_url = slack.api_url.unwrap_or_else(|| SLACK_API_URL.to_string());
                check_url("slack.apiUrl", &api_url)?;
                check_label("slack.channel", &slack.channel)?;
                check_text("slack.token", &slack.token, SECRET_MAX_CHARS)?;
                if slack.channel.trim().is_empty() {
                    return Err(DomainError::Missing {
                        field: "slack.channel".into(),
                    });
                }
                Target::Slack {
                    channel: slack.channel,
                    token_sealed: sealing(&slack.token)?,
                    api_url,
                }
            }
            (Some(_), Some(_)) => {
                return Err(DomainError::invalid("url", "give url or slack, not both"));
            }
            (None, None) => {
                return Err(DomainError::Missing {
                    field: "url or slack".into(),
                });
            }
        };
        let secret = password::generate() + &password::generate();
        let record = SubscriptionRecord {
            org: caller.org.clone(),
            name: new.name,
            target,
            events: new.events,
            apps: new.apps,
            secret_sealed: sealing(&secret)?,
            created: Utc::now(),
            cursor: 0,
            failing: 0,
            dropped: 0,
            last_error: None,
            retry_at: None,
        };
        let view = in_org(&self.store, caller)
            .write(move |tx| {
                let key = org_key(&record.org, &record.name);
                if tx.open(&SUBSCRIPTIONS)?.get(key.as_str())?.is_some() {
                    return Err(DomainError::Exists {
                        what: format!("subscription {}", record.name),
                    });
                }
                let mut record = record;
                record.cursor = tx.open(&EVENTS)?.last()?.map_or(0, |e| e.id);
                tx.open(&SUBSCRIPTIONS)?.put(key.as_str(), &record)?;
                Ok(SubscriptionView::from(record))
            })
            .await?;
        Ok(CreatedSubscription {
            subscription: view,
            secret,
        })
    }

    /// A page of the org's subscriptions (`order[]`: `name`, `created`).
    pub async fn list(
        &self,
        caller: &Caller,
        params: ListParams,
    ) -> Result<Page<SubscriptionView>, DomainError> {
        let prefix = org_prefix(&caller.org);
        let subs = self
            .store
            .read(move |tx| Ok::<_, DomainError>(tx.open(&SUBSCRIPTIONS)?.with_prefix(&prefix)?))
            .await?;
        let page = params.apply(
            subs.into_iter().map(|(_, s)| s).collect(),
            &["name", "created"],
            |a, b| {
                a.name
                    .to_ascii_lowercase()
                    .cmp(&b.name.to_ascii_lowercase())
            },
            |field, a, b| match field {
                "created" => a.created.cmp(&b.created),
                "name" => a
                    .name
                    .to_ascii_lowercase()
                    .cmp(&b.name.to_ascii_lowercase()),
                _ => Ordering::Equal,
            },
        )?;
        Ok(Page {
            items: page.items.into_iter().map(SubscriptionView::from).collect(),
            total: page.total,
        })
    }

    /// One subscription.
    pub async fn get(&self, caller: &Caller, name: &str) -> Result<SubscriptionView, DomainError> {
        super::find_in_org(
            &self.store,
            &SUBSCRIPTIONS,
            &caller.org,
            name,
            "subscription",
            check_name,
        )
        .await
        .map(SubscriptionView::from)
    }

    /// Unsubscribes.
    pub async fn delete(&self, caller: &Caller, name: &str) -> Result<(), DomainError> {
        check_name("subscription", name)?;
        let (org, name) = (caller.org.clone(), name.to_string());
        in_org(&self.store, caller)
            .write(move |tx| {
                let mut table = tx.open(&SUBSCRIPTIONS)?;
                if table.named(Some(&org), &name)?.is_none() {
                    return Err(DomainError::not_found(format!("subscription {name}")));
                }
                table.remove(org_key(&org, &name).as_str())?;
                Ok(())
            })
            .await
    }
}
