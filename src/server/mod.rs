//! The composition root: prepares the data dir, secrets, TLS and store, starts the job runner
//! and the listeners, and shuts everything down in order.

mod backups;
pub mod runtime;
pub mod secrets;
pub mod systemd;
pub mod tls;
mod watch;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpServer, web};
use anyhow::Context;
use futures_util::FutureExt;
use tokio_util::sync::CancellationToken;

use crate::auth::admin::AdminAuth;
use crate::auth::sealing::Sealer;
use crate::auth::throttle::{Limits, Throttle};
use crate::auth::tokens::{Lifetimes, TokenIssuer};
use crate::auth::upload_url::UploadSigner;
use crate::config::Config;
use crate::datadir::DataDir;
use crate::domain::apikeys::ApiKeyService;
use crate::domain::apps::AppService;
use crate::domain::audit::AuditService;
use crate::domain::backups::BackupService;
use crate::domain::builds::BuildService;
use crate::domain::deployments::DeploymentService;
use crate::domain::depot::DepotService;
use crate::domain::downloads::DownloadService;
use crate::domain::health::HealthService;
use crate::domain::identity::IdentityService;
use crate::domain::instance::InstanceService;
use crate::domain::keys::KeyService;
use crate::domain::orgs::OrgService;
use crate::domain::publishing::PublishingService;
use crate::domain::roles::RoleService;
use crate::domain::sessions::{SessionService, Throttles};
use crate::domain::subscriptions::SubscriptionService;
use crate::domain::tasks::TaskService;
use crate::domain::trainings::{TraceLimits, TrainingService};
use crate::domain::users::UserService;
use crate::engine::trace::TrainingSettings;
use crate::http::AppState;
use crate::jobs::{Jobs, Pool, RunnerConfig};
use crate::notify::{self, DeliveryConfig};
use crate::pipeline::builds::{BuildSettings, Incoming, TraceFiles};
use crate::pipeline::{Builds, Cleanup, Deploys, Pipeline};
use crate::publish::depot::Depot;
use crate::publish::guard::AddressPolicy;
use crate::store::{Store, TaskSpec};
use crate::workers::Workers;
use runtime::RuntimeInfo;
use secrets::Secrets;
use systemd::Notifier;
use tls::{CertResolver, CertSource};

/// Runs the appliance until SIGTERM or SIGINT.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let data_dir = DataDir::new(&config.storage.data_dir);
    let first_start = !data_dir.store_file().exists();
    data_dir
        .prepare()
        .with_context(|| format!("data dir {} is not usable", data_dir.root().display()))?;
    let secrets = Secrets::load_or_create(&data_dir, &config.auth)?;
    let sealer =
        Sealer::new(&secrets.encryption).context("secrets/encryption.key is not a 32-byte key")?;
    let cert_source = CertSource::prepare(&config.tls, &data_dir, &config.server.public_names)?;
    let resolver = Arc::new(CertResolver::new(cert_source, tls::provider())?);
    let store_path = data_dir.store_file();
    let cache = config.storage.cache_size_mb << 20;
    let backups = data_dir.backups();
    let store =
        tokio::task::spawn_blocking(move || Store::open(&store_path, cache, &backups)).await??;

    let cancel = CancellationToken::new();
    let workers = Workers::default();
    let depot = Depot::new(data_dir.depot(), &secrets.depot);
    let incoming = Incoming::new(data_dir.incoming());
    sweep_incoming(&store, &incoming).await?;
    let pipeline = Pipeline {
        cleanup: Cleanup::new(
            depot.clone(),
            store.clone(),
            sealer.clone(),
            config.origin_policy(),
        ),
        builds: Builds::new(
            store.clone(),
            depot.clone(),
            (incoming.clone(), TraceFiles::new(data_dir.traces())),
            data_dir.work(),
            build_settings(&config),
        ),
        deploys: Deploys::new(
            store.clone(),
            depot.clone(),
            sealer.clone(),
            config.origin_policy(),
            config.transfer_settings(),
        ),
    };
    let pool = |workers| Pool {
        workers,
        per_org: config.jobs_per_org(workers),
    };
    let jobs = Jobs::start(
        store.clone(),
        RunnerConfig {
            light: pool(config.job_workers()),
            heavy: pool(config.heavy_job_workers()),
            lease: Duration::from_secs(config.jobs.lease_secs),
        },
        Arc::new(pipeline),
        cancel.child_token(),
        &workers,
    )
    .await?;

    let state = web::Data::new(app_state(
        &config,
        &secrets,
        &sealer,
        &store,
        Places { depot, incoming },
        &data_dir,
        &workers,
    )?);

    let https = bind(&config.server.https_listen, "https")?;
    let http = config
        .server
        .http_listen()
        .map(|addr| bind(addr, "http"))
        .transpose()?;
    let info = RuntimeInfo {
        pid: std::process::id(),
        https: https.local_addr()?,
        http: http.as_ref().map(TcpListener::local_addr).transpose()?,
    };
    let json_limit = config.server.json_limit_bytes;
    let app_state = state.clone();
    let mut server = HttpServer::new(move || crate::http::app(app_state.clone(), json_limit))
        .workers(config.http_workers())
        .shutdown_timeout(config.server.shutdown_timeout_secs)
        .shutdown_signal(cancel.clone().cancelled_owned())
        .listen_rustls_0_23(https, tls::server_config(Arc::clone(&resolver))?)?;
    if let Some(listener) = http {
        server = server.listen(listener)?;
    }
    let mut server = std::pin::pin!(server.run());
    // actix starts its accept thread and workers at the first poll: only then do the listeners
    // accept, and only then may systemd hear READY=1.
    let ended_at_start = server.as_mut().now_or_never();
    info.write(&data_dir)
        .context("cannot write the runtime file")?;
    tracing::info!(https = %info.https, http = ?info.http, data_dir = %data_dir.root().display(), "rockit-edge is serving");
    if first_start {
        tracing::info!(
            "first start: mint an admin token with `rockit-edge admin-token --data-dir {} --username NAME`, then create an org with POST /adm/v1/orgs",
            data_dir.root().display()
        );
    }
    if resolver.source().self_signed.is_some() {
        tracing::info!(ca = %data_dir.tls().join("ca.pem").display(), "serving a self-signed certificate; clients can trust this CA");
    }

    let delivery = DeliveryConfig {
        timeout: Duration::from_secs(config.webhooks.timeout_secs.max(1)),
        max_backoff: Duration::from_secs(config.webhooks.max_backoff_secs.max(1)),
        max_age: Duration::from_secs(config.webhooks.max_age_secs),
        poll: Duration::from_millis(config.webhooks.poll_interval_ms.max(10)),
    };
    let deliveries = tokio::spawn(notify::run(
        store.clone(),
        sealer.clone(),
        delivery,
        cancel.clone(),
        workers.register("webhooks"),
    ));
    let systemd = Arc::new(Notifier::from_env());
    let signals = watch::Signals::install().context("cannot install signal handlers")?;
    tokio::spawn(signals.watch(cancel.clone(), Arc::clone(&resolver), Arc::clone(&systemd)));
    if let Some(every) = systemd::watchdog_interval() {
        tokio::spawn(watch::watchdog(
            cancel.clone(),
            store.clone(),
            Arc::clone(&systemd),
            every,
        ));
    }
    if config.backup.interval_secs > 0 {
        let dir = if config.backup.dir.as_os_str().is_empty() {
            data_dir.backups()
        } else {
            config.backup.dir.clone()
        };
        tokio::spawn(backups::run(
            cancel.clone(),
            state.backups.clone(),
            config.backup.clone(),
            dir,
            workers.register("backups"),
        ));
    }
    tokio::spawn(watch::certificate(
        cancel.clone(),
        resolver,
        Duration::from_secs(config.tls.reload_interval_secs.max(1)),
        workers.register("tls"),
    ));
    systemd.ready(&format!("serving https on {}", info.https));

    let served = match ended_at_start {
        Some(ended) => ended,
        None => server.await,
    };
    tracing::info!("listeners closed; draining the job runner");
    cancel.cancel();
    jobs.shutdown(Duration::from_secs(config.server.shutdown_timeout_secs))
        .await;
    if deliveries.await.is_err() {
        tracing::warn!("event delivery stopped abnormally");
    }
    RuntimeInfo::remove(&data_dir);
    drop(state);
    drop(store);
    tracing::info!("stopped");
    served.context("HTTP server failed")
}

/// Where files live: the depot and the received builds.
struct Places {
    depot: Depot,
    incoming: Incoming,
}

/// Builds every domain service over the store, the job runner and the depot.
fn app_state(
    config: &Config,
    secrets: &Secrets,
    sealer: &Sealer,
    store: &Store,
    places: Places,
    data_dir: &DataDir,
    workers: &Workers,
) -> anyhow::Result<AppState> {
    let Places { depot, incoming } = places;
    let traces = TraceFiles::new(data_dir.traces());
    let auth = &config.auth;
    let builds = build_settings(config);
    let issuer = TokenIssuer::new(
        secrets.token.clone(),
        Lifetimes {
            access: auth.access_token_secs,
            refresh: auth.refresh_token_secs,
            org_selection: auth.org_selection_secs,
        },
    );
    let lockout = Duration::from_secs(auth.lockout_secs);
    let throttles = Throttles {
        by_user: Throttle::new(Limits {
            max_failures: auth.max_failures_per_user,
            lockout,
        }),
        by_address: Throttle::new(Limits {
            max_failures: auth.max_failures_per_address,
            lockout,
        }),
    };
    let trusted_proxies = config
        .server
        .trusted_proxies
        .iter()
        .map(|ip| {
            ip.parse()
                .with_context(|| format!("server.trusted_proxies: {ip:?} is not an IP address"))
        })
        .collect::<anyhow::Result<_>>()?;
    let metrics_allow = config
        .metrics
        .allow_from
        .iter()
        .map(|range| {
            crate::http::AddressRange::parse(range)
                .map_err(|e| anyhow::anyhow!("metrics.allow_from: {e}"))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(AppState {
        admin: AdminAuth::new(secrets.admin.clone()),
        identity: IdentityService::new(store.clone(), issuer.clone()),
        sessions: SessionService::new(store.clone(), issuer, throttles),
        instance: InstanceService::new(
            store.clone(),
            config.server.maintenance,
            config.jobs.hello_delay_ms,
        ),
        orgs: OrgService::new(store.clone(), depot.clone(), traces.clone()),
        users: UserService::new(store.clone()),
        roles: RoleService::new(store.clone()),
        apikeys: ApiKeyService::new(store.clone()),
        apps: AppService::new(store.clone(), builds.grace, traces.clone()),
        publishing: PublishingService::new(store.clone(), builds.grace),
        builds: BuildService::new(
            store.clone(),
            incoming.clone(),
            UploadSigner::new(&secrets.depot),
            builds.max_size,
            Duration::from_secs(config.builds.upload_expiry_secs),
        ),
        keys: KeyService::new(store.clone()),
        downloads: DownloadService::new(
            store.clone(),
            depot.clone(),
            sealer.clone(),
            Duration::from_secs(config.depot.url_ttl_secs),
        ),
        depot: DepotService::new(depot.clone(), config.depot.public),
        audit: AuditService::new(store.clone()),
        subscriptions: SubscriptionService::new(store.clone(), sealer.clone()),
        deployments: DeploymentService::new(store.clone(), sealer.clone(), config.origin_policy()),
        tasks: TaskService::new(store.clone(), incoming),
        trainings: TrainingService::new(
            store.clone(),
            depot.clone(),
            traces,
            TraceLimits {
                max_body: config.training.max_trace_kb.saturating_mul(1 << 10),
                max_decoded: config.training.max_decoded_trace_kb.saturating_mul(1 << 10),
                traces_reliable: config.training.traces_reliable,
            },
        ),
        backups: BackupService::new(store.clone(), data_dir.clone()),
        health: HealthService::new(
            store.clone(),
            data_dir.clone(),
            config.storage.min_free_disk_mb << 20,
        ),
        workers: workers.clone(),
        trusted_proxies,
        metrics_allow,
    })
}

/// How the build pipeline works, from the `[builds]` section.
fn build_settings(config: &Config) -> BuildSettings {
    let builds = &config.builds;
    BuildSettings {
        max_size: builds.max_size_mb.saturating_mul(1 << 20),
        grace: Duration::from_secs(builds.grace_secs),
        patch_budget: builds.patch_budget_mb.saturating_mul(1 << 20),
        connect_timeout: Duration::from_secs(builds.download_connect_timeout_secs.max(1)),
        read_timeout: Duration::from_secs(builds.download_read_timeout_secs.max(1)),
        url_policy: AddressPolicy::for_build_urls(builds.allow_private_urls),
        training: TrainingSettings {
            outlier_share: config.training.outlier_share,
            preload_quorum: config.training.preload_quorum,
        },
        max_traces_used: config.training.max_traces_used,
    }
}

/// Removes received tars no unfinished task will read (their task ended while the appliance
/// was down).
async fn sweep_incoming(store: &Store, incoming: &Incoming) -> anyhow::Result<()> {
    let unfinished: Vec<String> = store
        .read(crate::jobs::queue::unfinished)
        .await?
        .into_iter()
        .flat_map(|task| {
            let own = Incoming::name_of(&task.name);
            match task.spec {
                TaskSpec::Mkraw(params) => vec![own, params.input],
                _ => vec![own],
            }
        })
        .collect();
    let incoming = incoming.clone();
    let removed = tokio::task::spawn_blocking(move || {
        incoming.sweep(|name| unfinished.iter().any(|keep| keep == name))
    })
    .await??;
    if removed > 0 {
        tracing::info!(removed, "removed received builds no task needs any more");
    }
    Ok(())
}

fn bind(addr: &str, what: &str) -> anyhow::Result<TcpListener> {
    let parsed: SocketAddr = addr
        .parse()
        .with_context(|| format!("{what} listen address {addr:?} is not HOST:PORT"))?;
    TcpListener::bind(parsed).with_context(|| format!("cannot listen for {what} on {parsed}"))
}
