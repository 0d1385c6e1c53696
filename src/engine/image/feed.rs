//! The data pass of a build: reads the build's bytes once, following the dedup pass's
//! decisions, into large shared batches for the consumers in [`super::sink`]: the ordered
//! blocks first, then every regular file in catalog order.

use std::fs::File;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender};

use super::BLOCK_SIZE;
use super::catalog::Catalog;
use super::plan::Step;
use super::sink::{Batch, FilePiece, stopped};
use crate::engine::buffers::BufferPool;
use crate::engine::error::{EngineError, IoContext, Result};
use crate::engine::progress::{Progress, step};
use crate::engine::tar::EntryKind;

const BLOCK: usize = BLOCK_SIZE as usize;
/// Bytes of a batch: few large reads, writes and messages.
const BATCH: usize = 2 << 20;

/// The threads the batches go to.
pub struct Consumers {
    /// The MD5s of the files.
    pub files: SyncSender<Arc<Batch>>,
    /// The MD5 of the image.
    pub image: SyncSender<Arc<Batch>>,
    /// The image's writer.
    pub disk: SyncSender<Arc<Batch>>,
}

/// Runs the data pass, following `steps`, and returns once every batch is sent.
pub fn feed(
    catalog: &Catalog,
    archive: &File,
    tar: &Path,
    steps: Receiver<Step>,
    consumers: Consumers,
    progress: &dyn Progress,
) -> Result<()> {
    let mut feeder = Feeder {
        catalog,
        archive,
        tar,
        steps,
        next: None,
        consumers,
        pool: BufferPool::new(BATCH),
        buf: vec![0u8; BATCH],
        used: 0,
        pieces: Vec::new(),
        ranges: Vec::new(),
    };
    feeder.ordered(progress)?;
    feeder.files(progress)?;
    feeder.flush()
}

struct Feeder<'a> {
    catalog: &'a Catalog,
    archive: &'a File,
    tar: &'a Path,
    steps: Receiver<Step>,
    /// A step received but not used yet.
    next: Option<Step>,
    consumers: Consumers,
    /// The batches handed out, reused once the consumers let go of them.
    pool: BufferPool,
    buf: Vec<u8>,
    used: usize,
    pieces: Vec<FilePiece>,
    ranges: Vec<Range<usize>>,
}

impl Feeder<'_> {
    /// Reads the blocks stored for the access order, up to the dedup pass's `OrderDone`.
    fn ordered(&mut self, progress: &dyn Progress) -> Result<()> {
        while let Some(Step::Store {
            entry,
            first,
            count,
        }) = self.peek()
        {
            self.next = None;
            let file = &self.catalog.entries[entry];
            let mut block = first;
            while block < first + count {
                self.room()?;
                let n = (((BATCH - self.used) / BLOCK) as u64).min(first + count - block);
                let range = self.used..self.used + (n * BLOCK_SIZE) as usize;
                file.read_at(
                    self.archive,
                    block * BLOCK_SIZE,
                    &mut self.buf[range.clone()],
                )
                .at(self.tar)?;
                self.used = range.end;
                self.push_image(range);
                step(progress, n * BLOCK_SIZE)?;
                block += n;
            }
        }
        if self.peek() == Some(Step::OrderDone) {
            self.next = None;
        }
        Ok(())
    }

    /// Reads every regular file, with the blocks the dedup pass chose to store from it.
    fn files(&mut self, progress: &dyn Progress) -> Result<()> {
        let catalog = self.catalog;
        for (i, entry) in catalog.entries.iter().enumerate() {
            if entry.kind != EntryKind::Regular {
                continue;
            }
            if entry.size == 0 {
                let at = self.used;
                self.pieces.push(FilePiece {
                    range: at..at,
                    last: true,
                });
                continue;
            }
            let mut offset = 0;
            while offset < entry.size {
                self.room()?;
                let len = (entry.size - offset).min((BATCH - self.used) as u64);
                let padded = len.next_multiple_of(BLOCK_SIZE);
                let at = self.used;
                let chunk = &mut self.buf[at..at + padded as usize];
                entry.read_at(self.archive, offset, chunk).at(self.tar)?;
                self.used += padded as usize;
                self.pieces.push(FilePiece {
                    range: at..at + len as usize,
                    last: offset + len == entry.size,
                });
                let first = offset / BLOCK_SIZE;
                self.take_stores(i, first, first + padded / BLOCK_SIZE, at)?;
                step(progress, len)?;
                offset += len;
            }
        }
        Ok(())
    }

    /// Adds the stored blocks among file blocks `from..to` of `entry`, read to `at`.
    fn take_stores(&mut self, entry: usize, from: u64, to: u64, at: usize) -> Result<()> {
        while let Some(Step::Store {
            entry: e,
            first,
            count,
        }) = self.peek()
        {
            if e != entry || first >= to {
                break;
            }
            if first < from {
                return Err(out_of_step(self.tar));
            }
            let end = (first + count).min(to);
            let start = at + ((first - from) * BLOCK_SIZE) as usize;
            self.push_image(start..start + ((end - first) * BLOCK_SIZE) as usize);
            self.next = (end < first + count).then_some(Step::Store {
                entry,
                first: end,
                count: first + count - end,
            });
        }
        Ok(())
    }

    /// The next step other than `Read`, waiting for the dedup pass; `None` once it is done
    /// (or stopped: it reports why).
    fn peek(&mut self) -> Option<Step> {
        while self.next.is_none_or(|s| s == Step::Read) {
            self.next = Some(self.steps.recv().ok()?);
        }
        self.next
    }

    fn push_image(&mut self, range: Range<usize>) {
        match self.ranges.last_mut() {
            Some(last) if last.end == range.start => last.end = range.end,
            _ => self.ranges.push(range),
        }
    }

    /// Makes room for at least one block in the batch.
    fn room(&mut self) -> Result<()> {
        if BATCH - self.used < BLOCK {
            self.flush()?;
        }
        Ok(())
    }

    /// Hands the batch to the consumers and starts the next one in a free buffer.
    fn flush(&mut self) -> Result<()> {
        if self.pieces.is_empty() && self.ranges.is_empty() {
            self.used = 0;
            return Ok(());
        }
        let next = self.pool.take();
        let data = self.pool.share(std::mem::replace(&mut self.buf, next));
        self.used = 0;
        let batch = Arc::new(Batch {
            data,
            pieces: std::mem::take(&mut self.pieces),
            ranges: std::mem::take(&mut self.ranges),
        });
        let consumers = &self.consumers;
        for consumer in [&consumers.files, &consumers.image, &consumers.disk] {
            consumer
                .send(Arc::clone(&batch))
                .map_err(|_| stopped())
                .at(self.tar)?;
        }
        Ok(())
    }
}

fn out_of_step(tar: &Path) -> EngineError {
    EngineError::Io {
        filename: tar.display().to_string(),
        source: std::io::Error::other("dedup pass and data pass out of step"),
    }
}
