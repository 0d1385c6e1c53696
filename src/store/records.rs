//! The persisted records. New fields get `#[serde(default)]` so older records still decode.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AppBuilds, TaskKind, TaskSpec};

/// A record with a name: looked up by its exact spelling (names are case-sensitive; only their
/// uniqueness ignores case, through lower-cased keys).
pub trait Named {
    /// The name as created.
    fn name(&self) -> &str;
}

macro_rules! named {
    ($($record:ty => $field:ident),*) => {$(
        impl Named for $record {
            fn name(&self) -> &str {
                &self.$field
            }
        }
    )*};
}

named!(
    OrgRecord => name,
    RoleRecord => name,
    UserRecord => username,
    AppRecord => name,
    DeploymentRecord => name,
    SubscriptionRecord => name
);

/// An organisation: the tenant every other record belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgRecord {
    /// Never reused: records and sessions of a deleted org cannot match a re-created one.
    #[serde(default)]
    pub id: u64,
    pub name: String,
    pub label: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// A role: a named permission bitmask per resource.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleRecord {
    pub org: String,
    pub name: String,
    pub label: String,
    pub permissions: BTreeMap<String, u32>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// What kind of account a user is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Account {
    /// A person who logs in with a password.
    Person {
        email: String,
        firstname: String,
        surname: String,
        title: Option<String>,
        password_hash: String,
    },
    /// A machine user that authenticates with API keys.
    Machine { label: String },
}

/// A user of one org.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    pub org: String,
    pub username: String,
    pub account: Account,
    pub roles: Vec<String>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// An app of one org.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppRecord {
    pub org: String,
    pub name: String,
    pub label: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    /// Builds retained (1..=100).
    #[serde(default = "default_max_builds")]
    pub max_builds: u32,
    /// Registered deployments; empty = every deployment of the org.
    #[serde(default)]
    pub deployments: Vec<String>,
    /// Whether a processed build goes live at once (else it waits for a commit).
    #[serde(default = "default_true")]
    pub auto_commit: bool,
    /// Retained builds, the current one, its patches and a staged build.
    #[serde(default)]
    pub builds: AppBuilds,
}

fn default_max_builds() -> u32 {
    5
}

fn default_true() -> bool {
    true
}

/// The S3 side of a deployment: one type from the request to the store to the client. `K` is
/// the secret key's form: [`Sealed`] at rest, [`Secret`] in a request and in the client.
/// Records written before the type was shared (snake_case keys) still decode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct S3Settings<K = Sealed> {
    /// `host[:port]`, or with an `http://` / `https://` scheme.
    pub hostname: String,
    #[serde(alias = "access_key")]
    pub access_key: String,
    #[serde(alias = "secret_key_sealed")]
    pub secret_key: K,
    /// The region the store signs for.
    pub location: String,
    pub bucket: String,
    /// Key prefix; surrounding `/` are ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

impl<K> S3Settings<K> {
    /// The same settings with the secret key turned into another form (sealed, opened,
    /// masked).
    pub fn map_secret<T, E>(self, f: impl FnOnce(K) -> Result<T, E>) -> Result<S3Settings<T>, E> {
        Ok(S3Settings {
            hostname: self.hostname,
            access_key: self.access_key,
            secret_key: f(self.secret_key)?,
            location: self.location,
            bucket: self.bucket,
            prefix: self.prefix,
        })
    }

    /// Whether both store into the same place (same host, bucket and prefix).
    pub fn same_place<T>(&self, other: &S3Settings<T>) -> bool {
        let prefix = |p: &Option<String>| p.as_deref().unwrap_or("").trim_matches('/').to_string();
        self.hostname.eq_ignore_ascii_case(&other.hostname)
            && self.bucket == other.bucket
            && prefix(&self.prefix) == prefix(&other.prefix)
    }
}

/// A secret at rest: sealed with the appliance's encryption key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sealed(pub String);

/// A secret in clear, in memory only: shown as `********` by `Debug`, so it never reaches a
/// log line.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret in clear.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret in clear.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("********")
    }
}

/// How launchers' download URLs are signed for a deployment's CDN; secrets sealed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DlAuthSettings {
    Gcore {
        base_url: String,
        secure_token_sealed: String,
        bucket: Option<String>,
        prefix: Option<String>,
        /// Bind URLs to the launcher's address (the CDN checks `$remote_addr` too).
        #[serde(default)]
        client_ip: Option<bool>,
        ttl: Option<u64>,
    },
    Akamai {
        base_url: String,
        key_sealed: String,
        ttl: Option<u64>,
    },
}

/// Whether a deployment works, as last checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeploymentStatus {
    Ok,
    Error,
    /// Its files are being removed; the record goes when that is done.
    Deleting,
}

/// A CDN origin of one org.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeploymentRecord {
    pub org: String,
    pub name: String,
    pub label: String,
    pub origin: S3Settings,
    pub dl_auth: Option<DlAuthSettings>,
    pub status: DeploymentStatus,
    pub status_message: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// Lifecycle of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Submitted,
    Running,
    Done,
    Failed,
    Expired,
}

impl TaskStatus {
    /// Whether the task will never run again by itself.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Done | TaskStatus::Failed | TaskStatus::Expired
        )
    }
}

/// A worker's claim on a running task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lease {
    /// The runner instance holding the claim.
    pub owner: String,
    pub expires: DateTime<Utc>,
}

/// A warning a task raised; acknowledged by a user later.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TaskWarning {
    pub id: u32,
    pub code: String,
    pub message: String,
    pub acknowledged: bool,
}

/// A durable unit of background work.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskRecord {
    pub name: String,
    /// The task type and its input (`kind` and `params` in the record).
    #[serde(flatten)]
    pub spec: TaskSpec,
    pub org: Option<String>,
    pub app: Option<String>,
    /// Tasks of one import share a group; a lone task is its own group.
    pub group: String,
    /// Tasks with the same pipeline run one at a time in submission order.
    pub pipeline: Option<String>,
    /// Position in the queue.
    pub seq: u64,
    pub status: TaskStatus,
    /// Percent done, 0..=100.
    pub progress: f64,
    /// What the task is doing now (`download`, `image`, `patch 0002-0004` ...).
    #[serde(default)]
    pub phase: Option<String>,
    /// Not claimed before this time (an upload's expiry, a cleanup's grace period).
    #[serde(default)]
    pub not_before: Option<DateTime<Utc>>,
    pub created: DateTime<Utc>,
    pub started: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
    /// How many times a worker started the task.
    pub attempts: u32,
    /// How many of those starts resumed an interrupted run.
    pub resumed: u32,
    pub warnings: Vec<TaskWarning>,
    /// `null` or an object with exactly one key naming the failure class.
    pub exception: Option<Value>,
    pub result: Option<Value>,
    /// Progress saved by the task so an interrupted run continues instead of restarting.
    pub checkpoint: Option<Value>,
    pub lease: Option<Lease>,
}

/// One entry of the event outbox, appended in the transaction that changed the task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventRecord {
    /// Stable id, never reused.
    pub id: u64,
    /// The task type that emitted it.
    pub kind: TaskKind,
    /// `submit`, `begin`, `end` or `error`.
    pub event: String,
    pub org: Option<String>,
    pub app: Option<String>,
    pub task_name: String,
    pub timestamp: DateTime<Utc>,
    pub exception: Option<Value>,
    #[serde(default)]
    pub build_name: Option<String>,
    #[serde(default)]
    pub build_id: Option<u32>,
    #[serde(default)]
    pub dxf_name: Option<String>,
    /// The deployment a `deploy` task published to: `{"name","label"}`.
    #[serde(default)]
    pub deployment: Option<Value>,
}

/// A login session: its refresh token rotates, its revocation kills every token of it at once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: String,
    pub org: String,
    /// The id of the org the session was opened in (0 in sessions of schema 3 and older).
    #[serde(default)]
    pub org_id: u64,
    pub username: String,
    pub created: DateTime<Utc>,
    /// When the current refresh token expires.
    pub expires: DateTime<Utc>,
    /// SHA-256 (hex) of the only refresh token that may be used next.
    pub refresh_hash: String,
    /// Set when the session was logged out or a replayed refresh token was detected.
    pub revoked: Option<DateTime<Utc>>,
}

/// An API key of a machine user; only a hash of its secret is kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: String,
    pub org: String,
    pub username: String,
    pub label: String,
    /// SHA-256 (hex) of the secret part.
    pub secret_hash: String,
    pub created: DateTime<Utc>,
}

impl ApiKeyRecord {
    /// Whether this key belongs to machine user `username` of `org` (names compare as the
    /// store keys them: case-insensitively).
    pub fn belongs_to(&self, org: &str, username: &str) -> bool {
        self.org.eq_ignore_ascii_case(org) && self.username.eq_ignore_ascii_case(username)
    }
}

/// One entry of the audit trail: a mutating request and its outcome.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub id: u64,
    pub time: DateTime<Utc>,
    /// The org the request acted in, when known.
    pub org: Option<String>,
    /// Who: a username, `admin:<name>` for the instance administrator, or `anonymous`.
    pub actor: String,
    /// `METHOD /route/pattern`.
    pub action: String,
    /// The concrete path acted on.
    pub target: String,
    /// The HTTP status of the answer.
    pub result: u16,
    pub client_address: String,
}

/// Where a subscription delivers: a webhook URL or a Slack channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Target {
    Webhook {
        url: String,
    },
    Slack {
        channel: String,
        /// The bot token, sealed.
        token_sealed: String,
        api_url: String,
    },
}

/// Why the last delivery attempt failed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryError {
    pub message: String,
    pub time: DateTime<Utc>,
    pub event_id: u64,
}

/// A subscription: which events of one org go where, and how far delivery got.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    pub org: String,
    pub name: String,
    pub target: Target,
    /// `type.event` names (`deploy.end`); empty = every event.
    pub events: Vec<String>,
    /// App names; empty = every app (and app-less events).
    pub apps: Vec<String>,
    /// The JWT signing secret, sealed.
    pub secret_sealed: String,
    pub created: DateTime<Utc>,
    /// The id of the last event handled (delivered, skipped or dropped).
    pub cursor: u64,
    /// Failed attempts in a row.
    pub failing: u32,
    /// Events dropped after the maximum age.
    pub dropped: u64,
    pub last_error: Option<DeliveryError>,
    /// No attempt before this time (backoff).
    pub retry_at: Option<DateTime<Utc>>,
}
