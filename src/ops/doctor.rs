//! `rockit-edge doctor`: the checks an operator runs when something is off, or after an
//! install. Each check names what it looked at and, when it fails, what to do.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::certificate::{self, CertFacts};
use crate::config::Config;
use crate::datadir::DataDir;

/// The outcome of one check.
#[derive(Debug, Clone)]
pub struct Check {
    /// What was checked, one word.
    pub name: &'static str,
    pub passed: bool,
    /// What was found; on failure, what to do about it.
    pub detail: String,
}

impl Check {
    /// A passed check.
    pub fn pass(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            passed: true,
            detail: detail.into(),
        }
    }

    /// A failed check.
    pub fn fail(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            passed: false,
            detail: detail.into(),
        }
    }
}

/// A clock before this (2025-01-01) is wrong: the binary is younger.
const EARLIEST_PLAUSIBLE: i64 = 1_735_689_600;
/// How far in the future a store write may seem before the clock counts as gone back.
const CLOCK_SLACK_SECS: i64 = 300;
/// An operator certificate this close to its end fails the check: time to renew it.
const RENEW_WARNING_SECS: i64 = 7 * 86_400;

/// Runs the checks that need only the config and the data dir.
pub fn local_checks(config: &Config) -> Vec<Check> {
    let data_dir = DataDir::new(&config.storage.data_dir);
    let now = unix_now();
    let mut checks = vec![data_dir_check(&data_dir), disk_check(config, &data_dir)];
    checks.extend(certificate_checks(config, &data_dir, now));
    checks.push(clock_check(&data_dir, now));
    checks
}

fn data_dir_check(data_dir: &DataDir) -> Check {
    const NAME: &str = "data-dir";
    let root = data_dir.root();
    let shown = root.display();
    let meta = match std::fs::metadata(root) {
        Ok(meta) if meta.is_dir() => meta,
        Ok(_) => return Check::fail(NAME, format!("{shown} is not a directory")),
        Err(e) => {
            return Check::fail(
                NAME,
                format!("{shown}: {e} (the server creates it at its first start)"),
            );
        }
    };
    let mode = meta.mode() & 0o7777;
    if mode & 0o200 == 0 {
        return Check::fail(
            NAME,
            format!(
                "{shown} is read-only (mode {mode:04o}): the server writes its store, depot and work files there; chmod u+w it"
            ),
        );
    }
    if mode & 0o077 != 0 {
        return Check::fail(
            NAME,
            format!(
                "{shown} is open to other users (mode {mode:04o}): it holds the store and the secrets; chmod go-rwx it"
            ),
        );
    }
    let me = rustix::process::geteuid().as_raw();
    if me != 0 && meta.uid() != me {
        return Check::fail(
            NAME,
            format!(
                "{shown} belongs to uid {}, not to this user (uid {me}): run doctor as the service's user",
                meta.uid()
            ),
        );
    }
    if let Some(open) = open_secret(data_dir) {
        return Check::fail(NAME, open);
    }
    match data_dir.probe_writable() {
        Ok(()) => Check::pass(
            NAME,
            format!(
                "{shown}: owner uid {}, mode {mode:04o}, writable",
                meta.uid()
            ),
        ),
        Err(e) => Check::fail(NAME, format!("{shown} takes no writes: {e}")),
    }
}

/// A secret file others may read, named with its mode.
fn open_secret(data_dir: &DataDir) -> Option<String> {
    let entries = std::fs::read_dir(data_dir.secrets()).ok()?;
    entries.flatten().find_map(|entry| {
        let mode = entry.metadata().ok()?.mode() & 0o777;
        (mode & 0o077 != 0).then(|| {
            format!(
                "{} is readable by other users (mode {mode:04o}): chmod 0600 it",
                entry.path().display()
            )
        })
    })
}

fn disk_check(config: &Config, data_dir: &DataDir) -> Check {
    const NAME: &str = "disk";
    let minimum = config.storage.min_free_disk_mb;
    // Before the first start the data dir does not exist yet: measure the volume it goes on.
    let volume = data_dir
        .root()
        .ancestors()
        .find(|dir| dir.exists())
        .unwrap_or(data_dir.root());
    match fs4::available_space(volume) {
        Ok(free) if free >> 20 >= minimum => Check::pass(
            NAME,
            format!(
                "{} MiB free in {} (storage.min_free_disk_mb = {minimum})",
                free >> 20,
                volume.display()
            ),
        ),
        Ok(free) => Check::fail(
            NAME,
            format!(
                "{} MiB free in {}, below storage.min_free_disk_mb = {minimum}: /healthz answers 503 and builds fail; free space or grow the volume",
                free >> 20,
                volume.display()
            ),
        ),
        Err(e) => Check::fail(
            NAME,
            format!("cannot measure free space in {}: {e}", volume.display()),
        ),
    }
}

/// The served certificate, and for a generated one the CA clients trust.
fn certificate_checks(config: &Config, data_dir: &DataDir, now: i64) -> Vec<Check> {
    let operator = config.tls.cert_file.clone();
    let path = operator
        .clone()
        .unwrap_or_else(|| data_dir.tls().join("cert.pem"));
    let mut checks = vec![match certificate::read(&path) {
        Ok(facts) => served_certificate(
            &path,
            &facts,
            &config.server.public_names,
            operator.is_some(),
            now,
        ),
        Err(e) => Check::fail("certificate", e),
    }];
    let ca = data_dir.tls().join("ca.pem");
    if operator.is_none() && ca.exists() {
        checks.push(match certificate::read(&ca) {
            Ok(facts) if facts.not_after <= now => Check::fail(
                "ca",
                format!(
                    "{} expired on {}: rotate the CA (docs/OPERATIONS.md, TLS)",
                    ca.display(),
                    date(facts.not_after)
                ),
            ),
            Ok(facts) => Check::pass(
                "ca",
                format!(
                    "{} (clients trust this): valid until {}, sha256 {}",
                    ca.display(),
                    date(facts.not_after),
                    facts.fingerprint
                ),
            ),
            Err(e) => Check::fail("ca", e),
        });
    }
    checks
}

fn served_certificate(
    path: &Path,
    facts: &CertFacts,
    public_names: &[String],
    operator: bool,
    now: i64,
) -> Check {
    const NAME: &str = "certificate";
    let shown = path.display();
    if facts.not_after <= now {
        let fix = if operator {
            "install a renewed one (tls.cert_file) and run systemctl reload rockit-edge"
        } else {
            "start the server: it renews its own certificate"
        };
        return Check::fail(
            NAME,
            format!("{shown} expired on {}: {fix}", date(facts.not_after)),
        );
    }
    if facts.not_before > now {
        return Check::fail(
            NAME,
            format!(
                "{shown} is valid only from {}: check the clock",
                date(facts.not_before)
            ),
        );
    }
    if operator && facts.not_after - now < RENEW_WARNING_SECS {
        return Check::fail(
            NAME,
            format!(
                "{shown} expires on {}, in less than 7 days: renew it",
                date(facts.not_after)
            ),
        );
    }
    if let Some(missing) = public_names
        .iter()
        .map(|name| name.trim())
        .find(|name| !facts.names.iter().any(|san| san.eq_ignore_ascii_case(name)))
    {
        return Check::fail(
            NAME,
            format!(
                "{shown} does not name {missing} (server.public_names): clients reaching the appliance by that name refuse it"
            ),
        );
    }
    Check::pass(
        NAME,
        format!(
            "{shown}: valid until {} ({} days), names {}, sha256 {}",
            date(facts.not_after),
            (facts.not_after - now) / 86_400,
            facts.names.join(", "),
            facts.fingerprint
        ),
    )
}

fn clock_check(data_dir: &DataDir, now: i64) -> Check {
    const NAME: &str = "clock";
    if now < EARLIEST_PLAUSIBLE {
        return Check::fail(
            NAME,
            format!(
                "the system clock says {}: set the time (NTP); tokens, certificates and signed URLs depend on it",
                date(now)
            ),
        );
    }
    let written = std::fs::metadata(data_dir.store_file())
        .and_then(|meta| meta.modified())
        .ok()
        .map(unix_seconds);
    match written {
        Some(written) if written > now + CLOCK_SLACK_SECS => Check::fail(
            NAME,
            format!(
                "the store was written at {}, {} s ahead of the system clock ({}): the clock went back; set the time (NTP)",
                date(written),
                written - now,
                date(now)
            ),
        ),
        _ => Check::pass(NAME, date(now)),
    }
}

fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn unix_now() -> i64 {
    unix_seconds(SystemTime::now())
}

fn date(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| format!("@{unix}"))
}
