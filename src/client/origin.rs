//! An opened origin: the appliance (its current release and signed URLs, from
//! `POST /client/v1/auth`, renewed when they expire) or a local image directory. Either way
//! bytes come through [`Source::read`], paced by the rate limit and retried from where a
//! broken transfer stopped.

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use reqwest::Client;

use super::error::{AtPath, ClientError};
use super::http::{self, Failure, Urls};
use super::limit::RateLimit;
use super::release::{FileRef, Origin, Release, ServerOptions};
use super::{ClientOptions, Meter};
use crate::engine::image::{IMG_JSON, ImageMeta, read_json};

/// Attempts of one transfer before it fails for good.
const ATTEMPTS: u32 = 6;
/// Pause before the second attempt; doubled for each next one, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(4);
/// Bytes read at a time from a local image.
const LOCAL_PIECE: usize = 256 * 1024;

/// The appliance's side of an open origin.
struct Server {
    http: Client,
    options: ServerOptions,
    /// The latest auth answer: its generation, release and URLs.
    auth: RwLock<Arc<(u64, Release, Urls)>>,
    /// Held while asking for new URLs, so concurrent downloads ask once.
    refreshing: tokio::sync::Mutex<()>,
}

enum Kind {
    Server(Server),
    Dir { dir: PathBuf, release: Release },
}

/// An opened origin with the run's rate limit, meter and retry count.
pub(super) struct Source {
    kind: Kind,
    limit: Option<RateLimit>,
    meter: Arc<Meter>,
    retries: AtomicU64,
}

impl Source {
    /// Opens `options.origin`: asks the appliance for the release, or reads a local image's
    /// `img.json`.
    pub async fn open(options: &ClientOptions, meter: Arc<Meter>) -> Result<Self, ClientError> {
        let kind = match &options.origin {
            Origin::Server(server) => {
                let http = http::launcher_client(server)?;
                let (release, urls) = http::authorize(&http, server).await?;
                Kind::Server(Server {
                    http,
                    options: server.clone(),
                    auth: RwLock::new(Arc::new((0, release, urls))),
                    refreshing: tokio::sync::Mutex::new(()),
                })
            }
            Origin::Dir(dir) => {
                let meta: ImageMeta = read_json(dir, IMG_JSON)?;
                let release = Release {
                    build_id: meta.build_id,
                    dxf_name: meta.dxf_name,
                    patches: BTreeMap::new(),
                };
                Kind::Dir {
                    dir: dir.clone(),
                    release,
                }
            }
        };
        Ok(Self {
            kind,
            limit: options.limit_rate.map(RateLimit::new),
            meter,
            retries: AtomicU64::new(0),
        })
    }

    /// The release the origin offers.
    pub fn release(&self) -> Release {
        match &self.kind {
            Kind::Server(server) => server.current().1.clone(),
            Kind::Dir { release, .. } => release.clone(),
        }
    }

    /// Transfers retried so far.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Counts a retry the caller decided on (a chunk whose hash did not match).
    pub fn count_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads bytes `start..end` of `file` (`end` none: to its end), giving `visit` each piece
    /// in order; `urgent` bytes go before background ones through the rate limit. A broken
    /// or refused transfer is retried with backoff from where it stopped; expired URLs are
    /// renewed first. Returns false when `visit` stopped it.
    pub async fn read(
        &self,
        file: &FileRef,
        (start, end): (u64, Option<u64>),
        urgent: bool,
        visit: &mut (dyn FnMut(&[u8]) -> bool + Send),
    ) -> Result<bool, ClientError> {
        let _urgent = self
            .limit
            .as_ref()
            .filter(|_| urgent)
            .map(RateLimit::urgent);
        let at = AtomicU64::new(start);
        let mut counted = |piece: &[u8]| {
            at.fetch_add(piece.len() as u64, Ordering::Relaxed);
            self.meter
                .fetched
                .fetch_add(piece.len() as u64, Ordering::Relaxed);
            visit(piece)
        };
        let server = match &self.kind {
            Kind::Dir { dir, .. } => {
                return self
                    .read_local(dir, file, (start, end), urgent, &mut counted)
                    .await;
            }
            Kind::Server(server) => server,
        };
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            let (generation, url) = server.url(file)?;
            let from = at.load(Ordering::Relaxed);
            if end.is_some_and(|end| from >= end) {
                return Ok(true);
            }
            let limit = self.limit.as_ref().map(|l| (l, urgent));
            let failure =
                match http::get_range(&server.http, &url, (from, end), limit, &mut counted).await {
                    Ok(()) => return Ok(true),
                    Err(Failure::Stopped) => return Ok(false),
                    Err(failure) => failure,
                };
            if attempt == ATTEMPTS {
                return Err(ClientError::Download {
                    path: http::path_of(&url),
                    reason: describe(&failure),
                });
            }
            self.retries.fetch_add(1, Ordering::Relaxed);
            match failure {
                Failure::Expired(_) => server.refresh(generation).await?,
                _ => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        Err(ClientError::Input("no download attempt was made".into()))
    }

    /// Reads from a local image directory, paced like a download.
    async fn read_local(
        &self,
        dir: &Path,
        file: &FileRef,
        (start, end): (u64, Option<u64>),
        urgent: bool,
        visit: &mut (dyn FnMut(&[u8]) -> bool + Send),
    ) -> Result<bool, ClientError> {
        let FileRef::Image(name) = file else {
            return Err(ClientError::Input(
                "a local image directory has no patches".into(),
            ));
        };
        let path = dir.join(name);
        let opened = std::fs::File::open(&path).at(&path)?;
        let len = opened.metadata().at(&path)?.len();
        let end = end.unwrap_or(len).min(len);
        let mut buf = vec![0u8; LOCAL_PIECE];
        let mut at = start;
        while at < end {
            let n = ((end - at) as usize).min(LOCAL_PIECE);
            opened.read_exact_at(&mut buf[..n], at).at(&path)?;
            if let Some(limit) = &self.limit {
                limit.take(n as u64, urgent).await;
            }
            if !visit(&buf[..n]) {
                return Ok(false);
            }
            at += n as u64;
        }
        Ok(true)
    }

    /// Downloads the whole of `file` to `dest` (written under a temporary name, renamed when
    /// complete).
    pub async fn fetch_file(&self, file: &FileRef, dest: &Path) -> Result<(), ClientError> {
        let partial = dest.with_extension("part");
        let mut out = std::fs::File::create(&partial).at(&partial)?;
        let mut failed = None;
        let mut write = |piece: &[u8]| match std::io::Write::write_all(&mut out, piece) {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        };
        self.read(file, (0, None), false, &mut write).await?;
        if let Some(e) = failed {
            return Err(ClientError::io(&partial, e));
        }
        out.sync_all().at(&partial)?;
        std::fs::rename(&partial, dest).at(dest)
    }
}

impl Server {
    /// The latest auth answer.
    fn current(&self) -> Arc<(u64, Release, Urls)> {
        // A poisoned lock only means a download panicked; the answer it holds is whole.
        Arc::clone(&self.auth.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The URL of `file` in the latest answer, with that answer's generation.
    fn url(&self, file: &FileRef) -> Result<(u64, String), ClientError> {
        let auth = self.current();
        let url = auth.2.of(file).ok_or_else(|| {
            ClientError::Input(format!(
                "the source '{}' does not list {file} of build {}",
                self.options.source, auth.1.build_id
            ))
        })?;
        Ok((auth.0, url.to_string()))
    }

    /// Asks for new URLs unless another download already did since `seen`. The release must
    /// not have changed: an image whose build is no longer current has no URLs.
    async fn refresh(&self, seen: u64) -> Result<(), ClientError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let current = self.current();
        if current.0 != seen {
            return Ok(());
        }
        let (release, urls) = http::authorize(&self.http, &self.options).await?;
        if release.dxf_name != current.1.dxf_name {
            return Err(ClientError::Input(format!(
                "the app's current build changed to {} while downloading build {}; run again",
                release.build_id, current.1.build_id
            )));
        }
        *self.auth.write().unwrap_or_else(|p| p.into_inner()) =
            Arc::new((current.0 + 1, release, urls));
        Ok(())
    }
}

/// A failure in words.
fn describe(failure: &Failure) -> String {
    match failure {
        Failure::Transient(reason) => reason.clone(),
        Failure::Expired(status) => format!("status {status} even with renewed URLs"),
        Failure::Refused(status) => format!("status {status}"),
        Failure::Stopped => "stopped".into(),
    }
}
