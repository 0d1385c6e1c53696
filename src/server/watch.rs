//! What the running server watches besides requests: signals, its certificate files and the
//! systemd watchdog.

use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;

use super::systemd::Notifier;
use super::tls::{self, CertResolver};
use crate::store::{ORGS, Store};
use crate::workers::Worker;

/// The signals the server acts on, installed before READY=1 so that a SIGTERM right after it
/// is a graceful stop rather than the default instant death.
pub struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    /// Installs the handlers.
    pub fn install() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// SIGTERM/SIGINT start a graceful shutdown; SIGHUP reloads the TLS certificate.
    pub async fn watch(
        mut self,
        cancel: CancellationToken,
        resolver: Arc<CertResolver>,
        notifier: Arc<Notifier>,
    ) {
        loop {
            tokio::select! {
                _ = self.term.recv() => break,
                _ = self.int.recv() => break,
                _ = self.hup.recv() => {
                    // Logged either way; the previous certificate stays on failure.
                    let _ = reload(&resolver, "SIGHUP");
                }
            }
        }
        tracing::info!("shutdown requested");
        notifier.stopping();
        cancel.cancel();
    }
}

fn reload(resolver: &CertResolver, why: &str) -> Result<(), tls::TlsError> {
    let reloaded = resolver.reload();
    match &reloaded {
        Ok(()) => {
            tracing::info!(reason = why, cert = %resolver.source().cert.display(), "TLS certificate reloaded")
        }
        Err(e) => {
            tracing::error!(reason = why, error = %e, "TLS reload failed; keeping the previous certificate")
        }
    }
    reloaded
}

/// Reloads the certificate when its files change, and renews a self-signed one before it
/// expires.
pub async fn certificate(
    cancel: CancellationToken,
    resolver: Arc<CertResolver>,
    every: Duration,
    status: Worker,
) {
    let mut seen = resolver.source().stamp();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = cancel.cancelled() => return,
        }
        if let Some(generated) = &resolver.source().self_signed
            && let Err(e) = generated.ensure()
        {
            tracing::error!(error = %e, "cannot renew the self-signed certificate");
            status.failed(format!("cannot renew the self-signed certificate: {e}"));
        }
        let now = resolver.source().stamp();
        if now.is_some() && now != seen {
            seen = now;
            match reload(&resolver, "files changed") {
                Ok(()) => status.done(),
                Err(e) => status.failed(format!("TLS reload failed: {e}")),
            }
        }
    }
}

/// Tells systemd the process is alive every `every`, as long as a store read completes within
/// that time: a runtime or store that stopped answering misses the pings and gets restarted.
pub async fn watchdog(
    cancel: CancellationToken,
    store: Store,
    notifier: Arc<Notifier>,
    every: Duration,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = cancel.cancelled() => return,
        }
        let read = store.read(|tx| tx.open(&ORGS).and_then(|orgs| orgs.len()));
        match tokio::time::timeout(every, read).await {
            Ok(Ok(_)) => notifier.watchdog(),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "store read failed; not pinging the watchdog")
            }
            Err(_) => {
                tracing::error!("store read took longer than the watchdog interval; not pinging")
            }
        }
    }
}
