//! Event delivery: a background worker that walks the event outbox for every subscription and
//! delivers each matching event at least once, in order, with backoff and a maximum age.

mod message;

use std::ops::ControlFlow;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use futures_util::future::join_all;
use tokio_util::sync::CancellationToken;

use crate::auth::sealing::Sealer;
use crate::metrics::{self, Counter};
use crate::store::{
    DeliveryError, EVENTS, EventRecord, SUBSCRIPTIONS, Store, StoreError, SubscriptionRecord,
    org_key,
};
use crate::workers::Worker;
pub use message::{SIGNATURE_HEADER, webhook_body};

/// Delivery settings.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Per-request timeout.
    pub timeout: StdDuration,
    /// Longest wait between attempts (backoff doubles from 1 s up to this).
    pub max_backoff: StdDuration,
    /// An event still undelivered after this long is dropped (recorded on the subscription).
    pub max_age: StdDuration,
    /// How often the outbox is checked.
    pub poll: StdDuration,
}

/// Events delivered to one subscription per pass at most (then others get their turn).
const BATCH: usize = 100;

/// Runs until cancelled, reporting to `status`: deliveries done, failures, and as its queue
/// the subscriptions waiting to retry.
pub async fn run(
    store: Store,
    sealer: Sealer,
    config: DeliveryConfig,
    cancel: CancellationToken,
    status: Worker,
) {
    let client = match reqwest::Client::builder()
        .timeout(config.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook client; events will not be delivered");
            status.failed(format!("cannot build the webhook client: {e}"));
            return;
        }
    };
    let deliverer = Deliverer {
        store,
        sealer,
        client,
        config,
        status,
    };
    loop {
        tokio::select! {
            _ = tokio::time::sleep(deliverer.config.poll) => {}
            _ = cancel.cancelled() => return,
        }
        match deliverer
            .store
            .read(|tx| tx.open(&SUBSCRIPTIONS)?.with_prefix(""))
            .await
        {
            Ok(subs) => {
                let retrying = subs.iter().filter(|(_, sub)| sub.failing > 0).count();
                deliverer.status.queue(retrying as u64);
                join_all(subs.into_iter().map(|(_, sub)| deliverer.serve(sub))).await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read subscriptions");
                deliverer
                    .status
                    .failed(format!("cannot read subscriptions: {e}"));
            }
        }
    }
}

struct Deliverer {
    store: Store,
    sealer: Sealer,
    client: reqwest::Client,
    config: DeliveryConfig,
    status: Worker,
}

/// Whether a subscription wants an event.
fn wanted(sub: &SubscriptionRecord, event: &EventRecord) -> bool {
    let same_org = event
        .org
        .as_deref()
        .is_some_and(|o| o.eq_ignore_ascii_case(&sub.org));
    let name = format!("{}.{}", event.kind, event.event);
    let app_ok = sub.apps.is_empty()
        || event
            .app
            .as_deref()
            .is_some_and(|app| sub.apps.iter().any(|a| a.eq_ignore_ascii_case(app)));
    same_org && app_ok && (sub.events.is_empty() || sub.events.contains(&name))
}

/// What a pass found after a subscription's cursor.
enum Next {
    /// A wanted event.
    Event(Box<EventRecord>),
    /// No wanted event up to this id (the cursor may skip to it).
    Nothing(u64),
}

impl Deliverer {
    /// Delivers the subscription's pending events in order until one fails or none is left.
    async fn serve(&self, sub: SubscriptionRecord) {
        if sub.retry_at.is_some_and(|at| at > Utc::now()) {
            return;
        }
        let mut cursor = sub.cursor;
        for _ in 0..BATCH {
            let next = match self.next_after(&sub, cursor).await {
                Ok(next) => next,
                Err(e) => return tracing::error!(error = %e, "cannot read the event outbox"),
            };
            let event = match next {
                Next::Nothing(last) => {
                    if last > cursor {
                        self.update(&sub, move |s| s.cursor = s.cursor.max(last))
                            .await;
                    }
                    return;
                }
                Next::Event(event) => event,
            };
            match message::deliver(&self.client, &self.sealer, &sub, &event).await {
                Ok(()) => {
                    metrics::add(Counter::WebhookDeliveries, 1);
                    self.status.done();
                    cursor = event.id;
                    self.update(&sub, move |s| {
                        s.cursor = s.cursor.max(cursor);
                        s.failing = 0;
                        s.retry_at = None;
                    })
                    .await;
                }
                Err(message) => {
                    metrics::add(Counter::WebhookFailures, 1);
                    return self.failed(&sub, &event, message).await;
                }
            }
        }
    }

    async fn next_after(&self, sub: &SubscriptionRecord, cursor: u64) -> Result<Next, StoreError> {
        let sub = sub.clone();
        self.store
            .read(move |tx| {
                let mut found = Next::Nothing(cursor);
                tx.open(&EVENTS)?.scan(cursor + 1.., |id, event| {
                    if wanted(&sub, &event) {
                        found = Next::Event(Box::new(event));
                        return ControlFlow::Break(());
                    }
                    found = Next::Nothing(id);
                    ControlFlow::Continue(())
                })?;
                Ok(found)
            })
            .await
    }

    /// Backs off, or drops the event once it is older than the maximum age.
    async fn failed(&self, sub: &SubscriptionRecord, event: &EventRecord, message: String) {
        let now = Utc::now();
        let too_old = now - event.timestamp
            > Duration::from_std(self.config.max_age).unwrap_or(Duration::days(1));
        let max_backoff =
            Duration::from_std(self.config.max_backoff).unwrap_or(Duration::minutes(5));
        let event_id = event.id;
        tracing::warn!(subscription = %sub.name, org = %sub.org, event = event_id, error = %message, dropped = too_old, "event delivery failed");
        self.status.failed(format!(
            "subscription {} of org {}: event {event_id}: {message}",
            sub.name, sub.org
        ));
        self.update(sub, move |s| {
            if too_old {
                s.cursor = s.cursor.max(event_id);
                s.dropped += 1;
                s.failing = 0;
                s.retry_at = None;
                s.last_error = Some(DeliveryError {
                    message: format!("event {event_id} dropped after the maximum age: {message}"),
                    time: now,
                    event_id,
                });
            } else {
                s.failing += 1;
                let backoff =
                    Duration::seconds(1i64 << s.failing.min(20).saturating_sub(1)).min(max_backoff);
                s.retry_at = Some(now + backoff);
                s.last_error = Some(DeliveryError {
                    message,
                    time: now,
                    event_id,
                });
            }
        })
        .await;
    }

    /// Changes the delivery state of a subscription that still exists.
    async fn update(
        &self,
        sub: &SubscriptionRecord,
        change: impl FnOnce(&mut SubscriptionRecord) + Send + 'static,
    ) {
        let key = org_key(&sub.org, &sub.name);
        let created = sub.created;
        let result = self
            .store
            .write(move |tx| {
                let mut table = tx.open(&SUBSCRIPTIONS)?;
                if let Some(mut current) = table.get(key.as_str())?.filter(|s| s.created == created)
                {
                    change(&mut current);
                    table.put(key.as_str(), &current)?;
                }
                Ok::<_, StoreError>(())
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "cannot record delivery state");
        }
    }
}
