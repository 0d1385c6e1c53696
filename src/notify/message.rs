//! What a subscriber receives: the webhook body and its signature header, or a Slack message.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::auth::jwt;
use crate::auth::sealing::Sealer;
use crate::config::mask_url;
use crate::store::{EventRecord, SubscriptionRecord, Target};

/// Header carrying the JWT that signs a webhook body.
pub const SIGNATURE_HEADER: &str = "x-rockit-subscriptions";

/// Seconds a signature stays valid.
const SIGNATURE_TTL: i64 = 300;

/// The webhook body: every key present, `null` until known.
pub fn webhook_body(event: &EventRecord) -> Value {
    json!({
        "id": event.id,
        "type": event.kind,
        "event": event.event,
        "orgName": event.org,
        "appName": event.app,
        "buildName": event.build_name,
        "buildId": event.build_id,
        "dxfName": event.dxf_name,
        "taskName": event.task_name,
        "timestamp": event.timestamp,
        "deployment": event.deployment,
        "exception": event.exception,
    })
}

fn slack_text(event: &EventRecord) -> String {
    let mut text = format!(
        "rockit-edge: {}.{} — task {} of org {}",
        event.kind,
        event.event,
        event.task_name,
        event.org.as_deref().unwrap_or("-")
    );
    if let Some(app) = &event.app {
        text.push_str(&format!(", app {app}"));
    }
    if let Some(build) = &event.build_name {
        text.push_str(&format!(", build {build}"));
    }
    if let Some(exception) = &event.exception {
        text.push_str(&format!("\nfailure: {exception}"));
    }
    text
}

/// Sends one event; `Err` carries a message for the subscription's `lastError`.
pub async fn deliver(
    client: &reqwest::Client,
    sealer: &Sealer,
    sub: &SubscriptionRecord,
    event: &EventRecord,
) -> Result<(), String> {
    match &sub.target {
        Target::Webhook { url } => {
            let body = serde_json::to_vec(&webhook_body(event)).map_err(|e| e.to_string())?;
            let secret = sealer.open(&sub.secret_sealed).map_err(|e| e.to_string())?;
            let iat = chrono::Utc::now().timestamp();
            let claims = json!({
                "sub": sub.name,
                "org": sub.org,
                "jti": event.id.to_string(),
                "iat": iat,
                "exp": iat + SIGNATURE_TTL,
                "sha256": hex::encode(Sha256::digest(&body)),
            });
            let token = jwt::sign(&claims, secret.as_bytes()).map_err(|e| e.to_string())?;
            let response = client
                .post(url)
                .header("content-type", "application/json")
                .header(SIGNATURE_HEADER, token)
                .body(body)
                .send()
                .await
                .map_err(|e| format!("POST {} failed: {}", mask_url(url), failure(&e)))?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(format!(
                    "POST {} answered {}",
                    mask_url(url),
                    response.status()
                ))
            }
        }
        Target::Slack {
            channel,
            token_sealed,
            api_url,
        } => {
            let token = sealer.open(token_sealed).map_err(|e| e.to_string())?;
            let response = client
                .post(api_url)
                .bearer_auth(token)
                .json(&json!({ "channel": channel, "text": slack_text(event) }))
                .send()
                .await
                .map_err(|e| format!("Slack API {} failed: {}", mask_url(api_url), failure(&e)))?;
            let status = response.status();
            let answer: Value = response.json().await.unwrap_or(Value::Null);
            if status.is_success() && answer["ok"] == true {
                Ok(())
            } else {
                Err(format!(
                    "Slack API answered {status}: {}",
                    answer["error"].as_str().unwrap_or("no ok")
                ))
            }
        }
    }
}

/// Why a delivery request failed, in words (a request error's text repeats the URL).
fn failure(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "no answer in time"
    } else if error.is_connect() {
        "cannot connect (refused, unreachable, or the name does not resolve)"
    } else {
        "the request failed before an answer"
    }
}
