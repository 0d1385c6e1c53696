//! Sending one local file to an S3 origin, exactly and resumably: files up to one part go in a
//! single PUT, larger ones as a multipart upload whose parts are read from disk into bounded
//! buffers and sent a few at a time. Every request carries Content-MD5; every answer's ETag is
//! checked against the MD5 of what was sent; the stored object's size and ETag are checked at
//! the end. A multipart upload's id and finished parts are reported after each part, so a run
//! that stops (crash, shutdown) continues the same upload and sends only the missing parts.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::PublishError;
use super::s3::{S3Origin, Stored};
use crate::metrics::{self, Counter};

/// How files are sent.
#[derive(Debug, Clone)]
pub struct TransferSettings {
    /// Bytes of one part; files up to it go in one PUT.
    pub part_size: u64,
    /// Requests in flight at once.
    pub parallel: usize,
    /// Retries of a request that failed for a passing reason.
    pub retries: u32,
    /// How long one request may take.
    pub request_timeout: Duration,
}

/// A file to publish: where it is, its layout path, and what it must be.
#[derive(Debug, Clone)]
pub struct LocalFile {
    pub local: PathBuf,
    pub path: String,
    pub size: u64,
    /// MD5 (hex) of the file as recorded when it was made.
    pub md5: String,
}

/// A multipart upload under way: its id and the MD5 (hex) of every part the origin has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Partial {
    pub upload_id: String,
    pub parts: BTreeMap<u32, String>,
}

/// What publishing a file took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The origin already held it (same size and checksum): nothing was sent.
    Present,
    /// The bytes sent for it (parts sent before a resume not counted).
    Uploaded(u64),
}

/// The ETag S3 gives a multipart object: the MD5 of the parts' MD5s, a dash, their count.
pub fn multipart_etag<'a>(part_md5s: impl IntoIterator<Item = &'a String>) -> String {
    let mut md5 = Md5::new();
    let mut count = 0;
    for part in part_md5s {
        md5.update(hex::decode(part).unwrap_or_default());
        count += 1;
    }
    format!("{}-{count}", hex::encode(md5.finalize()))
}

/// Whether an error may pass: a lost connection, a timeout, a 5xx, 408 or 429.
fn transient(error: &PublishError) -> bool {
    match error {
        PublishError::Unreachable(_) | PublishError::Timeout(_) => true,
        PublishError::Refused { status, .. } => *status >= 500 || matches!(status, 408 | 429),
        _ => false,
    }
}

/// Runs `attempt` until it succeeds, fails for good, or `retries` retries failed, pausing
/// 1, 2, 4 … (at most 30) seconds between tries.
pub async fn retrying<T, F, Fut>(retries: u32, mut attempt: F) -> Result<T, PublishError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, PublishError>>,
{
    let mut tried = 0;
    loop {
        match attempt().await {
            Err(e) if tried < retries && transient(&e) => {
                let pause = Duration::from_secs((1u64 << tried.min(5)).min(30));
                tracing::debug!(error = %e, ?pause, "origin request failed; retrying");
                tokio::time::sleep(pause).await;
                tried += 1;
            }
            outcome => return outcome,
        }
    }
}

/// Reads `len` bytes at `offset` of a file, with their MD5, off the async workers.
async fn read_part(
    local: PathBuf,
    offset: u64,
    len: u64,
) -> Result<(Vec<u8>, [u8; 16]), PublishError> {
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = std::fs::File::open(&local)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut bytes = vec![0u8; len as usize];
        file.read_exact(&mut bytes)?;
        let md5: [u8; 16] = Md5::digest(&bytes).into();
        Ok::<_, std::io::Error>((bytes, md5))
    })
    .await
    .map_err(|e| PublishError::Depot(format!("reading a part stopped abnormally: {e}")))?
    .map_err(|e| PublishError::Depot(format!("cannot read the file to publish: {e}")))
}

/// The MD5 (hex) of every part of a file, as a multipart upload of it would have them.
async fn part_md5s(file: &LocalFile, part_size: u64) -> Result<Vec<String>, PublishError> {
    let local = file.local.clone();
    let size = file.size;
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut input = std::fs::File::open(&local)?;
        let mut buffer = vec![0u8; part_size.min(size).max(1) as usize];
        let mut md5s = Vec::new();
        let mut left = size;
        while left > 0 {
            let len = left.min(part_size) as usize;
            input.read_exact(&mut buffer[..len])?;
            md5s.push(hex::encode(Md5::digest(&buffer[..len])));
            left -= len as u64;
        }
        Ok::<_, std::io::Error>(md5s)
    })
    .await
    .map_err(|e| PublishError::Depot(format!("hashing stopped abnormally: {e}")))?
    .map_err(|e| PublishError::Depot(format!("cannot read the file to publish: {e}")))
}

fn mismatch(path: &str, what: &str, expected: &str, found: &str) -> PublishError {
    PublishError::Mismatch(format!(
        "{path}: the origin reports {what} {found} where {expected} was sent"
    ))
}

/// Sends files to one origin.
pub struct Transfer<'a> {
    pub origin: &'a S3Origin,
    /// The client that sends the bodies ([`S3Origin::body_client`]).
    pub http: reqwest::Client,
    pub settings: &'a TransferSettings,
    /// Bytes sent so far, for progress.
    pub sent: Arc<AtomicU64>,
}

impl Transfer<'_> {
    fn parts_of(&self, size: u64) -> u32 {
        size.div_ceil(self.settings.part_size).max(1) as u32
    }

    /// Whether the origin already holds exactly this file: same size, and an ETag that is the
    /// file's MD5 (one PUT) or the MD5 of its parts (multipart, same part size).
    async fn holds(&self, file: &LocalFile, stored: &Stored) -> Result<bool, PublishError> {
        if stored.size != file.size {
            return Ok(false);
        }
        if stored.etag == file.md5 {
            return Ok(true);
        }
        let multipart = format!("-{}", self.parts_of(file.size));
        if !stored.etag.ends_with(&multipart) {
            return Ok(false);
        }
        let md5s = part_md5s(file, self.settings.part_size).await?;
        Ok(stored.etag == multipart_etag(&md5s))
    }

    /// Makes the origin hold `file`: skipped when it does already, else sent in one PUT or
    /// as a multipart upload that continues `resume` when given. `progress` hears of every
    /// part the origin took (to be saved and handed back as `resume` after a stop).
    pub async fn publish(
        &self,
        file: &LocalFile,
        resume: Option<Partial>,
        progress: &watch::Sender<Option<Partial>>,
    ) -> Result<Sent, PublishError> {
        let retries = self.settings.retries;
        let stored = retrying(retries, || self.origin.stat(&file.path)).await?;
        let present = match &stored {
            Some(stored) => self.holds(file, stored).await?,
            None => false,
        };
        if present {
            if let Some(partial) = resume {
                self.origin
                    .abort_parts(&file.path, &partial.upload_id)
                    .await;
            }
            return Ok(Sent::Present);
        }
        let (sent, expected) = if file.size <= self.settings.part_size {
            (self.put_whole(file).await?, file.md5.clone())
        } else {
            let resumed = resume.is_some();
            let (sent, md5s) = match self.put_parts(file, resume, progress).await {
                // The origin forgot the upload (aborted, expired): start it over.
                Err(PublishError::Refused { status: 404, .. }) if resumed => {
                    self.put_parts(file, None, progress).await?
                }
                outcome => outcome?,
            };
            (sent, multipart_etag(&md5s))
        };
        let stored = retrying(retries, || self.origin.stat(&file.path))
            .await?
            .ok_or_else(|| {
                PublishError::Mismatch(format!("{}: the origin lost it after upload", file.path))
            })?;
        if stored.size != file.size {
            return Err(mismatch(
                &file.path,
                "the size",
                &file.size.to_string(),
                &stored.size.to_string(),
            ));
        }
        if stored.etag != expected {
            return Err(mismatch(&file.path, "the ETag", &expected, &stored.etag));
        }
        Ok(Sent::Uploaded(sent))
    }

    async fn put_whole(&self, file: &LocalFile) -> Result<u64, PublishError> {
        let etag = retrying(self.settings.retries, || async {
            let (bytes, md5) = read_part(file.local.clone(), 0, file.size).await?;
            if hex::encode(md5) != file.md5 {
                return Err(PublishError::Depot(format!(
                    "{}: the depot copy's MD5 is {}, not the recorded {}",
                    file.path,
                    hex::encode(md5),
                    file.md5
                )));
            }
            self.origin
                .put_whole(&self.http, &file.path, bytes, md5)
                .await
        })
        .await?;
        if etag != file.md5 {
            return Err(mismatch(&file.path, "the ETag", &file.md5, &etag));
        }
        self.sent.fetch_add(file.size, Ordering::Relaxed);
        metrics::add(Counter::BytesPublished, file.size);
        Ok(file.size)
    }

    /// Sends the missing parts, at most `parallel` at once; the MD5s of all parts in order.
    async fn put_parts(
        &self,
        file: &LocalFile,
        resume: Option<Partial>,
        progress: &watch::Sender<Option<Partial>>,
    ) -> Result<(u64, Vec<String>), PublishError> {
        let retries = self.settings.retries;
        let mut partial = match resume {
            Some(partial) => partial,
            None => Partial {
                upload_id: retrying(retries, || self.origin.begin_parts(&file.path)).await?,
                parts: BTreeMap::new(),
            },
        };
        progress.send_replace(Some(partial.clone()));
        let count = self.parts_of(file.size);
        let slots = Arc::new(Semaphore::new(self.settings.parallel));
        let mut running = JoinSet::new();
        let mut sent = 0;
        let missing: Vec<u32> = (1..=count)
            .filter(|n| !partial.parts.contains_key(n))
            .collect();
        for number in missing {
            let slot = Arc::clone(&slots)
                .acquire_owned()
                .await
                .map_err(|_| PublishError::Depot("the part slots closed".into()))?;
            while let Some(done) = running.try_join_next() {
                sent += self.part_done(done, &mut partial, progress)?;
            }
            let offset = u64::from(number - 1) * self.settings.part_size;
            let len = (file.size - offset).min(self.settings.part_size);
            let (origin, http) = (self.origin.clone(), self.http.clone());
            let (local, path) = (file.local.clone(), file.path.clone());
            let upload_id = partial.upload_id.clone();
            let sent_meter = Arc::clone(&self.sent);
            running.spawn(async move {
                let md5 = retrying(retries, || async {
                    let (bytes, digest) = read_part(local.clone(), offset, len).await?;
                    let md5 = hex::encode(digest);
                    let etag = origin
                        .put_part(&http, &path, &upload_id, number, bytes, digest)
                        .await?;
                    if etag != md5 {
                        return Err(mismatch(
                            &path,
                            &format!("part {number}'s ETag"),
                            &md5,
                            &etag,
                        ));
                    }
                    Ok(md5)
                })
                .await?;
                sent_meter.fetch_add(len, Ordering::Relaxed);
                metrics::add(Counter::BytesPublished, len);
                drop(slot);
                Ok::<_, PublishError>((number, md5, len))
            });
        }
        while let Some(done) = running.join_next().await {
            sent += self.part_done(done, &mut partial, progress)?;
        }
        let parts: Vec<(u32, String)> = partial.parts.clone().into_iter().collect();
        let md5s: Vec<String> = parts.iter().map(|(_, md5)| md5.clone()).collect();
        retrying(retries, || {
            self.origin
                .finish_parts(&file.path, &partial.upload_id, parts.clone())
        })
        .await?;
        Ok((sent, md5s))
    }

    /// Records a finished part and reports the upload's new state.
    fn part_done(
        &self,
        done: Result<Result<(u32, String, u64), PublishError>, tokio::task::JoinError>,
        partial: &mut Partial,
        progress: &watch::Sender<Option<Partial>>,
    ) -> Result<u64, PublishError> {
        let (number, md5, len) = done
            .map_err(|e| PublishError::Depot(format!("a part upload stopped abnormally: {e}")))??;
        partial.parts.insert(number, md5);
        progress.send_replace(Some(partial.clone()));
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_etags_are_the_md5_of_the_part_md5s() {
        // Two parts "a" and "b": md5(md5("a") ++ md5("b")) with "-2".
        let parts = [
            hex::encode(Md5::digest(b"a")),
            hex::encode(Md5::digest(b"b")),
        ];
        let mut joined = Md5::digest(b"a").to_vec();
        joined.extend_from_slice(&Md5::digest(b"b"));
        assert_eq!(
            multipart_etag(&parts),
            format!("{}-2", hex::encode(Md5::digest(&joined)))
        );
    }

    #[test]
    fn only_passing_failures_are_retried() {
        assert!(transient(&PublishError::Unreachable("refused".into())));
        assert!(transient(&PublishError::Refused {
            status: 503,
            code: None
        }));
        assert!(!transient(&PublishError::Refused {
            status: 403,
            code: Some("SignatureDoesNotMatch".into())
        }));
        assert!(!transient(&PublishError::Mismatch("x".into())));
    }
}
