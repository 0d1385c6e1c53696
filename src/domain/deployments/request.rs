//! What a deployment request may hold: the body types of create and modify, their
//! validation, and the merge rules of a partial modification (API.md §4 "Deployments").

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::super::DomainError;
use super::super::names::{DEPLOYMENT_NAME_RULE, check_deployment_name};
use super::super::text::{
    SECRET_MAX_CHARS, check_bucket, check_host, check_label, check_prefix, check_text, check_url,
};
use crate::config::MASK;
use crate::store::{S3Settings, Secret};

/// `origin`: S3 is the one kind.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OriginBody {
    /// As sent and as merged: the secret key in clear, in memory only.
    pub s3: S3Settings<Secret>,
}

/// `dlAuth.gcore`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcoreBody {
    pub base_url: String,
    pub secure_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Bind each URL to the launcher's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
}

/// `dlAuth.akamai`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AkamaiBody {
    pub base_url: String,
    /// Hex-encoded HMAC key.
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
}

/// `dlAuth`: one kind.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum DlAuthBody {
    Gcore(GcoreBody),
    Akamai(AkamaiBody),
}

/// A `PATCH /be/v1/deployments` body: `name` and the fields to change, merged into the stored
/// deployment by [`merge_group`]'s rules, so it stays JSON until then.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct DeploymentChanges(pub Value);

impl JsonSchema for DeploymentChanges {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DeploymentChanges".into()
    }

    fn json_schema(_generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let group = |kinds: &[&str]| {
            json!({
                "type": "object",
                "description": "one kind holding the fields to change: the same kind merges field by field (null removes an optional field, ******** keeps a stored secret), another kind replaces the group and must be complete",
                "minProperties": 1,
                "maxProperties": 1,
                "propertyNames": {"enum": kinds},
                "additionalProperties": {"type": "object"},
            })
        };
        let dl_auth = group(&["gcore", "akamai"]);
        schemars::json_schema!({
            "type": "object",
            "description": "the deployment to change (name) and the fields to change",
            "required": ["name"],
            "additionalProperties": false,
            "properties": {
                "name": {"type": "string"},
                "label": {"type": "string"},
                "origin": group(&["s3"]),
                "dlAuth": {"anyOf": [dl_auth, {"type": "null"}]},
            },
        })
    }
}

/// A create request (and the complete form a modification is merged into).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDeployment {
    #[schemars(pattern(DEPLOYMENT_NAME_RULE.pattern()))]
    pub name: String,
    pub label: String,
    pub origin: OriginBody,
    #[serde(rename = "dlAuth", default, skip_serializing_if = "Option::is_none")]
    pub dl_auth: Option<DlAuthBody>,
}

fn required(field: &str, value: &str) -> Result<(), DomainError> {
    if value.trim().is_empty() {
        return Err(DomainError::Missing {
            field: field.into(),
        });
    }
    Ok(())
}

/// Validates a complete create (or merged modify) body.
pub(super) fn check(new: &NewDeployment) -> Result<(), DomainError> {
    check_deployment_name("name", &new.name)?;
    required("label", &new.label)?;
    check_label("label", &new.label)?;
    let s3 = &new.origin.s3;
    for (field, value) in [
        ("origin.s3.hostname", s3.hostname.as_str()),
        ("origin.s3.accessKey", s3.access_key.as_str()),
        ("origin.s3.secretKey", s3.secret_key.expose()),
        ("origin.s3.location", s3.location.as_str()),
        ("origin.s3.bucket", s3.bucket.as_str()),
    ] {
        required(field, value)?;
        check_text(field, value, SECRET_MAX_CHARS)?;
    }
    check_host("origin.s3.hostname", &s3.hostname)?;
    check_bucket("origin.s3.bucket", &s3.bucket)?;
    if let Some(prefix) = &s3.prefix {
        check_prefix("origin.s3.prefix", prefix)?;
    }
    match &new.dl_auth {
        Some(DlAuthBody::Gcore(g)) => {
            check_url("dlAuth.gcore.baseUrl", &g.base_url)?;
            required("dlAuth.gcore.secureToken", &g.secure_token)?;
            check_text(
                "dlAuth.gcore.secureToken",
                &g.secure_token,
                SECRET_MAX_CHARS,
            )?;
            if let Some(bucket) = &g.bucket {
                check_bucket("dlAuth.gcore.bucket", bucket)?;
            }
            if let Some(prefix) = &g.prefix {
                check_prefix("dlAuth.gcore.prefix", prefix)?;
            }
            if g.ttl == Some(0) {
                return Err(DomainError::invalid(
                    "dlAuth.gcore.ttl",
                    "must be at least 1 second",
                ));
            }
        }
        Some(DlAuthBody::Akamai(a)) => {
            check_url("dlAuth.akamai.baseUrl", &a.base_url)?;
            if a.key.is_empty() || a.key.len() > SECRET_MAX_CHARS || hex::decode(&a.key).is_err() {
                return Err(DomainError::invalid(
                    "dlAuth.akamai.key",
                    "must be a hex-encoded key",
                ));
            }
            if a.ttl == Some(0) {
                return Err(DomainError::invalid(
                    "dlAuth.akamai.ttl",
                    "must be at least 1 second",
                ));
            }
        }
        None => {}
    }
    Ok(())
}

/// Merges a PATCH group (`origin` or `dlAuth`) into the stored one: the same kind merges field
/// by field (`null` removes an optional field, `********` keeps a secret), another kind
/// replaces the group and must be complete.
pub(super) fn merge_group(
    stored: &mut Value,
    patch: &Value,
    group: &str,
    optional: &[&str],
    secrets: &[&str],
) -> Result<(), DomainError> {
    let Some(patch) = patch.as_object().filter(|o| o.len() == 1) else {
        return Err(DomainError::invalid(
            group,
            "must be an object with exactly one kind",
        ));
    };
    let Some((kind, Value::Object(fields))) = patch.iter().next() else {
        return Err(DomainError::invalid(group, "the kind must hold an object"));
    };
    let same_kind = stored.get(kind).is_some_and(Value::is_object);
    let mut merged = if same_kind {
        stored[kind].as_object().cloned().unwrap_or_default()
    } else {
        Map::new()
    };
    for (field, value) in fields {
        let name = format!("{group}.{kind}.{field}");
        match value {
            Value::Null if optional.contains(&field.as_str()) => {
                merged.remove(field);
            }
            Value::Null => {
                return Err(DomainError::invalid(
                    name,
                    "is required and cannot be removed",
                ));
            }
            Value::String(text) if text == MASK && secrets.contains(&field.as_str()) => {
                if !same_kind {
                    return Err(DomainError::invalid(
                        name,
                        "send the secret: ******** keeps only a stored one",
                    ));
                }
            }
            other => {
                merged.insert(field.clone(), other.clone());
            }
        }
    }
    *stored = json!({ kind: merged });
    Ok(())
}
