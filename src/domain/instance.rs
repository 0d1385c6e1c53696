//! Instance-level service calls: versions, maintenance mode, and `hello` tasks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DomainError;
use super::names::{NAME_RULE, check_name};
use super::text::{MESSAGE_MAX_CHARS, check_text};
use crate::jobs::{self, NewTask};
use crate::store::{HelloParams, ORGS, SCHEMA_VERSION, Store, TaskSpec};

/// Longest delay a `hello` task may ask for.
pub const MAX_HELLO_DELAY_MS: u64 = 10 * 60 * 1000;

/// A `hello` request.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HelloRequest {
    pub message: String,
    #[schemars(pattern(NAME_RULE.pattern()))]
    pub org_name: Option<String>,
    /// Switches maintenance mode on or off.
    pub maintenance: Option<bool>,
    /// How long the task takes (default from the config).
    pub delay_ms: Option<u64>,
    /// Runs the task in the heavy pool (engine work's), to see that pool at work.
    #[serde(default)]
    pub heavy: bool,
}

/// Versions of the appliance and its formats.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Versions {
    pub appliance: String,
    pub store_schema: u64,
    pub image_format: u32,
    pub patch_format: u32,
}

/// Maintenance mode and instance-wide calls.
#[derive(Clone)]
pub struct InstanceService {
    store: Store,
    maintenance: Arc<AtomicBool>,
    hello_delay_ms: u64,
}

impl InstanceService {
    /// `maintenance` starts from the config flag.
    pub fn new(store: Store, maintenance: bool, hello_delay_ms: u64) -> Self {
        Self {
            store,
            maintenance: Arc::new(AtomicBool::new(maintenance)),
            hello_delay_ms,
        }
    }

    /// Whether the appliance is in maintenance mode.
    pub fn in_maintenance(&self) -> bool {
        self.maintenance.load(Ordering::Relaxed)
    }

    /// The versions report.
    pub fn versions(&self) -> Versions {
        Versions {
            appliance: env!("CARGO_PKG_VERSION").to_string(),
            store_schema: SCHEMA_VERSION,
            image_format: crate::engine::IMAGE_FORMAT_VERSION,
            patch_format: crate::engine::PATCH_FORMAT_VERSION,
        }
    }

    /// Applies a maintenance switch and submits a `hello` task; returns the task name.
    pub async fn hello(&self, request: HelloRequest) -> Result<String, DomainError> {
        check_text("message", &request.message, MESSAGE_MAX_CHARS)?;
        let delay_ms = request.delay_ms.unwrap_or(self.hello_delay_ms);
        if delay_ms > MAX_HELLO_DELAY_MS {
            return Err(DomainError::invalid(
                "delayMs",
                format!("must be at most {MAX_HELLO_DELAY_MS}"),
            ));
        }
        let org = match request.org_name {
            Some(name) => {
                check_name("orgName", &name)?;
                let wanted = name.clone();
                let record = self
                    .store
                    .read(move |tx| Ok::<_, DomainError>(tx.open(&ORGS)?.named(None, &wanted)?))
                    .await?
                    .ok_or_else(|| DomainError::not_found(format!("org {name}")))?;
                Some(record.name)
            }
            None => None,
        };
        if let Some(on) = request.maintenance {
            self.maintenance.store(on, Ordering::Relaxed);
            tracing::warn!(maintenance = on, "maintenance mode switched");
        }
        let spec = TaskSpec::Hello(HelloParams {
            message: request.message,
            delay_ms,
            heavy: request.heavy,
        });
        let task = self
            .store
            .write(move |tx| jobs::submit(tx, NewTask::new(spec, org), Utc::now()))
            .await?;
        Ok(task.name)
    }
}
