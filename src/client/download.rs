//! Fetching the chunks of a published file (`img.dxf`, `patch.data`) in parallel range
//! requests: urgent chunks first (a game's read waiting), then every wanted chunk in file
//! order. Each chunk is checked against its hash as it arrives and handed to a sink; a bad one
//! is fetched again on its own. The chunks present are recorded so a killed run resumes.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::error::ClientError;
use super::layout::ChunkGeometry;
use super::origin::Source;
use super::release::FileRef;
use super::state::Bitmap;

/// Range requests in flight at once.
pub const CONNECTIONS: usize = 4;
/// Most chunks one request asks for (4 MiB at 256 KiB per chunk): long enough to keep a
/// connection busy, short enough that the requests spread over the connections.
const MOST_CHUNKS_PER_REQUEST: u64 = 16;
/// Times one chunk may arrive damaged before the download gives up.
const BAD_CHUNK_ATTEMPTS: u32 = 4;
/// Least time between two records of the chunks present.
const SAVE_EVERY: Duration = Duration::from_millis(500);

/// Where checked chunks go.
pub trait ChunkSink: Send + Sync {
    /// Stores chunk `c`, whose bytes were checked against the index.
    fn put(&self, c: u64, bytes: &[u8]) -> Result<(), ClientError>;
}

/// What is fetched and what is left.
struct Plan {
    present: Bitmap,
    wanted: Bitmap,
    in_flight: Bitmap,
    /// Chunks an urgent request fetches while a background request still has them on the
    /// way: a waiting game does not wait for the background's turn.
    rushing: Bitmap,
    urgent: VecDeque<u64>,
    /// No wanted chunk before it is missing and idle.
    cursor: u64,
    /// Wanted chunks not present yet.
    missing: u64,
    /// Chunks in flight.
    flying: u64,
    /// Damaged arrivals per chunk (few, so a list).
    damaged: Vec<(u64, u32)>,
    failed: Option<String>,
    saved: Instant,
}

/// A download of one file's chunks.
pub struct Download {
    source: Arc<Source>,
    file: FileRef,
    geometry: ChunkGeometry,
    plan: Mutex<Plan>,
    changed: Notify,
    record: Option<PathBuf>,
    damaged: AtomicU64,
}

impl Download {
    /// A download of the `wanted` chunks of `file` that are not `present`; with `record`, the
    /// chunks present are saved there as they come.
    pub fn new(
        source: Arc<Source>,
        file: FileRef,
        geometry: ChunkGeometry,
        (present, wanted): (Bitmap, Bitmap),
        record: Option<PathBuf>,
    ) -> Self {
        let count = geometry.count();
        let missing = wanted.ones().filter(|&c| !present.get(c)).count() as u64;
        Self {
            source,
            file,
            geometry,
            plan: Mutex::new(Plan {
                missing,
                flying: 0,
                present,
                wanted,
                in_flight: Bitmap::new(count),
                rushing: Bitmap::new(count),
                urgent: VecDeque::new(),
                cursor: 0,
                damaged: Vec::new(),
                failed: None,
                saved: Instant::now(),
            }),
            changed: Notify::new(),
            record,
            damaged: AtomicU64::new(0),
        }
    }

    fn plan(&self) -> MutexGuard<'_, Plan> {
        // A poisoned lock only means a worker panicked mid-update of plain bits.
        self.plan.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes of the wanted chunks not present yet.
    pub fn missing_bytes(&self) -> u64 {
        let plan = self.plan();
        (0..self.geometry.count())
            .filter(|&c| plan.wanted.get(c) && !plan.present.get(c))
            .map(|c| self.geometry.range(c).end - self.geometry.range(c).start)
            .sum()
    }

    /// Chunks that arrived damaged and were fetched again.
    pub fn damaged(&self) -> u64 {
        self.damaged.load(Ordering::Relaxed)
    }

    /// The chunks present.
    pub fn present(&self) -> Bitmap {
        self.plan().present.clone()
    }

    /// True when every chunk of `chunks` is present.
    pub fn has(&self, chunks: &[u64]) -> bool {
        let plan = self.plan();
        chunks.iter().all(|&c| plan.present.get(c))
    }

    /// Fetches `chunks` before anything else (wanted or not).
    pub fn hurry(&self, chunks: &[u64]) {
        let mut plan = self.plan();
        for &c in chunks {
            if !plan.present.get(c) {
                plan.urgent.push_back(c);
            }
        }
        drop(plan);
        self.changed.notify_waiters();
    }

    /// Waits until every chunk of `chunks` is present; fails when the download failed.
    pub async fn wait_for(&self, chunks: &[u64]) -> Result<(), ClientError> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let plan = self.plan();
                if let Some(reason) = &plan.failed {
                    return Err(ClientError::Input(format!(
                        "the download stopped: {reason}"
                    )));
                }
                if chunks.iter().all(|&c| plan.present.get(c)) {
                    return Ok(());
                }
            }
            notified.await;
        }
    }

    /// Runs [`CONNECTIONS`] workers, and one more kept for urgent chunks, until every wanted
    /// chunk is present, then records them.
    pub async fn run(self: &Arc<Self>, sink: Arc<dyn ChunkSink>) -> Result<(), ClientError> {
        let roles = std::iter::repeat_n(Role::Any, CONNECTIONS).chain([Role::UrgentOnly]);
        let workers: Vec<_> = roles
            .map(|role| {
                let (download, sink) = (Arc::clone(self), Arc::clone(&sink));
                tokio::spawn(async move { download.work(sink.as_ref(), role).await })
            })
            .collect();
        let mut first_error = None;
        for worker in workers {
            let outcome = worker.await.unwrap_or_else(|e| {
                Err(ClientError::Input(format!("a download worker failed: {e}")))
            });
            if let Err(e) = outcome {
                first_error.get_or_insert(e);
            }
        }
        self.save(true)?;
        first_error.map_or(Ok(()), Err)
    }

    /// One worker: takes runs of chunks to fetch until none is left.
    async fn work(&self, sink: &dyn ChunkSink, role: Role) -> Result<(), ClientError> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let next = {
                let mut plan = self.plan();
                if plan.failed.is_some() {
                    return Ok(());
                }
                next_run(&mut plan, self.geometry.count(), role)
            };
            match next {
                Next::Fetch(first, end, urgent) => {
                    if let Err(e) = self.fetch(first, end, urgent, sink).await {
                        self.plan().failed = Some(e.to_string());
                        self.changed.notify_waiters();
                        return Err(e);
                    }
                    self.save(false)?;
                }
                Next::Wait => notified.await,
                Next::Done => {
                    self.changed.notify_waiters();
                    return Ok(());
                }
            }
        }
    }

    /// Fetches chunks `first..end` (marked in flight), storing each good one; a damaged one
    /// goes back to the plan, to be fetched again on its own, while the rest of the answer is
    /// still used.
    async fn fetch(
        &self,
        first: u64,
        end: u64,
        urgent: bool,
        sink: &dyn ChunkSink,
    ) -> Result<(), ClientError> {
        let geometry = &self.geometry;
        let (start, stop) = (geometry.range(first).start, geometry.range(end - 1).end);
        let mut chunk = first;
        let mut buffer = Vec::with_capacity(geometry.size as usize);
        let mut failure: Option<ClientError> = None;
        let mut visit = |mut piece: &[u8]| {
            while !piece.is_empty() {
                let range = geometry.range(chunk);
                let want = (range.end - range.start) as usize;
                let take = (want - buffer.len()).min(piece.len());
                buffer.extend_from_slice(&piece[..take]);
                piece = &piece[take..];
                if buffer.len() < want {
                    continue;
                }
                let stored = if geometry.accepts(chunk, &buffer) {
                    sink.put(chunk, &buffer)
                        .map(|()| self.settle(chunk, true, urgent))
                } else {
                    self.damaged_chunk(chunk)
                        .map(|()| self.settle(chunk, false, urgent))
                };
                if let Err(e) = stored {
                    failure = Some(e);
                    return false;
                }
                buffer.clear();
                chunk += 1;
            }
            true
        };
        let outcome = self
            .source
            .read(&self.file, (start, Some(stop)), urgent, &mut visit)
            .await;
        // Whatever did not arrive goes back to the plan.
        for c in chunk..end {
            self.settle(c, false, urgent);
        }
        outcome?;
        failure.map_or(Ok(()), Err)
    }

    /// Ends chunk `c`'s flight (an `urgent` request's rush, or its flight): present, or back
    /// to the plan.
    fn settle(&self, c: u64, arrived: bool, urgent: bool) {
        let mut plan = self.plan();
        if urgent && plan.rushing.get(c) {
            plan.rushing.set(c, false);
        } else if plan.in_flight.get(c) {
            plan.in_flight.set(c, false);
            plan.flying -= 1;
        }
        if arrived && !plan.present.get(c) {
            plan.present.set(c, true);
            if plan.wanted.get(c) {
                plan.missing -= 1;
            }
        } else if !arrived {
            plan.cursor = plan.cursor.min(c);
        }
        drop(plan);
        self.changed.notify_waiters();
    }

    /// Counts a damaged arrival of chunk `c`; fails once it came damaged too often.
    fn damaged_chunk(&self, c: u64) -> Result<(), ClientError> {
        self.damaged.fetch_add(1, Ordering::Relaxed);
        self.source.count_retry();
        let mut plan = self.plan();
        let times = match plan.damaged.iter_mut().find(|(chunk, _)| *chunk == c) {
            Some((_, times)) => {
                *times += 1;
                *times
            }
            None => {
                plan.damaged.push((c, 1));
                1
            }
        };
        if times >= BAD_CHUNK_ATTEMPTS {
            let range = self.geometry.range(c);
            return Err(ClientError::Download {
                path: self.file.to_string(),
                reason: format!(
                    "chunk {c} (bytes {}..{}) arrived damaged {times} times",
                    range.start, range.end
                ),
            });
        }
        Ok(())
    }

    /// Records the chunks present, at most every [`SAVE_EVERY`] unless `now`.
    fn save(&self, now: bool) -> Result<(), ClientError> {
        let Some(record) = &self.record else {
            return Ok(());
        };
        let present = {
            let mut plan = self.plan();
            if !now && plan.saved.elapsed() < SAVE_EVERY {
                return Ok(());
            }
            plan.saved = Instant::now();
            plan.present.clone()
        };
        present.save(record)
    }
}

/// What a worker does next.
enum Next {
    /// Fetch chunks `first..end`, urgently or not.
    Fetch(u64, u64, bool),
    /// Nothing to take, but runs in flight may come back.
    Wait,
    /// Every wanted chunk is present.
    Done,
}

/// Which work a worker takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Urgent chunks first, then wanted ones in order.
    Any,
    /// Urgent chunks only: a connection kept free for a waiting game.
    UrgentOnly,
}

/// Takes the next run for a worker: an urgent chunk and the urgent ones right after it (a
/// read's chunks, and no more), else the first wanted chunk missing and the wanted ones
/// after it, up to [`MOST_CHUNKS_PER_REQUEST`]. An urgent chunk already on its way in a
/// background request is fetched again at once rather than waited for.
fn next_run(plan: &mut Plan, count: u64, role: Role) -> Next {
    let (present, rushing) = (&plan.present, &plan.rushing);
    plan.urgent.retain(|&c| !present.get(c) && !rushing.get(c));
    // Background workers take only idle urgent chunks; the urgent worker takes any.
    let mine = |plan: &Plan, c: u64| role == Role::UrgentOnly || !plan.in_flight.get(c);
    if let Some(at) = plan.urgent.iter().position(|&c| mine(plan, c)) {
        let first = plan.urgent.remove(at).unwrap_or_default();
        let mut end = first + 1;
        while end - first < MOST_CHUNKS_PER_REQUEST
            && plan.urgent.get(at) == Some(&end)
            && mine(plan, end)
        {
            plan.urgent.remove(at);
            end += 1;
        }
        for c in first..end {
            if plan.in_flight.get(c) {
                plan.rushing.set(c, true);
            } else {
                plan.in_flight.set(c, true);
                plan.flying += 1;
            }
        }
        return Next::Fetch(first, end, true);
    }
    if role == Role::UrgentOnly {
        return if plan.missing == 0 {
            Next::Done
        } else {
            Next::Wait
        };
    }
    let idle_missing = |plan: &Plan, c: u64| !plan.present.get(c) && !plan.in_flight.get(c);
    while plan.cursor < count && !(plan.wanted.get(plan.cursor) && idle_missing(plan, plan.cursor))
    {
        plan.cursor += 1;
    }
    if plan.cursor == count {
        return if plan.flying > 0 {
            Next::Wait
        } else {
            Next::Done
        };
    }
    let first = plan.cursor;
    let mut end = first + 1;
    while end < count
        && end - first < MOST_CHUNKS_PER_REQUEST
        && plan.wanted.get(end)
        && idle_missing(plan, end)
    {
        end += 1;
    }
    for c in first..end {
        plan.in_flight.set(c, true);
    }
    plan.flying += end - first;
    Next::Fetch(first, end, false)
}
