//! An image rebuilt in a new block order from the image itself. Its blocks are the build's
//! bytes already deduplicated, so a new order only permutes them: no tar, no file hashing
//! (the files' MD5s carry over), one read of each block. The result is the image `image build
//! --order` makes from the build's tar with the same order.

use std::collections::HashMap;
use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{channel, sync_channel};

use super::BLOCK_SIZE;
use super::build::{BuildReport, first_cause, join, spawn};
use super::index::{self, Extent, FORMAT_VERSION, IndexEntry, IndexHeader, IndexStream};
use super::meta::{self, APP_JSON, AppMeta, DXF_FILE, IMG_JSON, INDEX_FILE, ImageMeta};
use super::order::AccessOrder;
use super::reader::read_index;
use super::sink::{self, Batch};
use crate::engine::buffers::BufferPool;
use crate::engine::error::{EngineError, IoContext, Result};
use crate::engine::fsio::AtomicFile;
use crate::engine::progress::{Progress, step};
use crate::engine::sevenz;
use crate::engine::tar::EntryKind;

/// Bytes read and handed to the writers at a time.
const BATCH: usize = 2 << 20;
/// Batches queued ahead of each writer thread.
const QUEUE: usize = 3;

/// Where every block of an image goes in a new order, decided before a byte is copied: what
/// a caller needs to know (the new preload, whether anything moves) to decide whether the new
/// image is worth writing.
pub struct ReorderPlan {
    /// The image being reordered.
    dir: PathBuf,
    meta: ImageMeta,
    header: IndexHeader,
    entries: Vec<IndexEntry>,
    /// The new image as runs `(old first block, count)`, in new order.
    copy: Vec<(u64, u64)>,
    preload_blocks: u64,
}

impl ReorderPlan {
    /// Plans the image in `dir` in `order`: first the blocks of the order's runs, each at its
    /// first mention (those before its launch line make the preload), then every regular
    /// file's blocks in index (path) order, each block once.
    pub fn new(dir: &Path, order: &AccessOrder) -> Result<Self> {
        let meta: ImageMeta = meta::read_json(dir, IMG_JSON)?;
        let mut entries = Vec::new();
        let (header, _) = read_index(dir, &meta, |entry| {
            entries.push(entry);
            Ok(())
        })?;
        Self::with_index(dir, (meta, header, entries), order)
    }

    /// [`ReorderPlan::new`] for an image whose `img.json`, index header and entries the
    /// caller has read already.
    pub fn with_index(
        dir: &Path,
        (meta, header, entries): (ImageMeta, IndexHeader, Vec<IndexEntry>),
        order: &AccessOrder,
    ) -> Result<Self> {
        let by_path: HashMap<&str, usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kind == EntryKind::Regular)
            .map(|(i, e)| (e.path.as_str(), i))
            .collect();
        let runs = order.resolve(|path| {
            let &i = by_path.get(path)?;
            Some((i, entries[i].size.div_ceil(BLOCK_SIZE)))
        })?;
        let mut copy = CopyList::new(header.block_count);
        let mut preload_blocks = None;
        for (n, &(entry, first, count)) in runs.iter().enumerate() {
            if n == order.preload_runs() {
                preload_blocks = Some(copy.len);
            }
            for_each_image_block(&entries[entry].extents, first..first + count, |b| {
                copy.take(b)
            });
        }
        let preload_blocks = preload_blocks.unwrap_or(copy.len);
        for entry in &entries {
            for_each_image_block(&entry.extents, 0..u64::MAX, |b| copy.take(b));
        }
        // Blocks no file refers to (an image never has them) keep their relative order last.
        for b in 0..header.block_count {
            copy.take(b);
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            meta,
            header,
            entries,
            copy: copy.runs,
            preload_blocks,
        })
    }

    /// Bytes of the new image's preload.
    pub fn preload_bytes(&self) -> u64 {
        self.preload_blocks * BLOCK_SIZE
    }

    /// True when no block moves: the new image would be the image itself.
    pub fn is_identity(&self) -> bool {
        self.copy.len() <= 1 && self.copy.first().is_none_or(|&(first, _)| first == 0)
    }

    /// Writes the new image into `out_dir` (created if missing): `img.dxf` copied block by
    /// block, the index with every extent moved, `img.json` and `app.json` as the image's but
    /// for the new `dxf_name` (derived from the new image's MD5 when `None`), preload and
    /// `trace_count`.
    pub fn write(
        &self,
        out_dir: &Path,
        dxf_name: Option<uuid::Uuid>,
        trace_count: u64,
        progress: &dyn Progress,
    ) -> Result<BuildReport> {
        let app: AppMeta = meta::read_json(&self.dir, APP_JSON)?;
        fs::create_dir_all(out_dir).at(out_dir)?;
        progress.begin(self.header.block_count * BLOCK_SIZE);
        let (dxf_md5, chunks) = self.copy_blocks(out_dir, progress)?;
        let moved = self.moved();
        let entries = self
            .entries
            .iter()
            .map(|e| {
                Ok(IndexEntry {
                    extents: moved.extents(&e.extents)?,
                    ..e.clone()
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let header = IndexHeader {
            format_version: FORMAT_VERSION,
            ..self.header
        };
        let estimate = index::trailer_len(header.block_count)
            + entries
                .iter()
                .map(|e| {
                    let link = e.link_target.as_deref().map_or(0, str::len);
                    index::entry_len(e.path.len(), link, e.extents.len())
                })
                .sum::<u64>();
        let stream = IndexStream::new(&header, entries.into_iter().map(Ok), move || Ok(chunks));
        let index_path = out_dir.join(INDEX_FILE);
        sevenz::encode_single(&index_path, stream, estimate, sevenz::Level::Quick)?.commit()?;

        let dxf_name = dxf_name
            .unwrap_or_else(|| uuid::Builder::from_md5_bytes(dxf_md5).into_uuid())
            .to_string();
        let image = ImageMeta {
            format_version: FORMAT_VERSION,
            dxf_name: dxf_name.clone(),
            dxf_md5: hex::encode(dxf_md5),
            preload_bytes: self.preload_bytes(),
            trace_count,
            ..self.meta.clone()
        };
        let app = AppMeta { dxf_name, ..app };
        meta::write_json(&out_dir.join(IMG_JSON), &image)?;
        meta::write_json(&out_dir.join(APP_JSON), &app)?;
        Ok(BuildReport {
            image,
            app,
            warnings: Vec::new(),
        })
    }

    /// Copies the old image's blocks in the new order into `out_dir`'s `img.dxf`, its MD5 and
    /// chunk hashes computed on threads of their own as the bytes pass.
    fn copy_blocks(
        &self,
        out_dir: &Path,
        progress: &dyn Progress,
    ) -> Result<([u8; 16], crate::engine::chunks::ChunkTable)> {
        let old_path = self.dir.join(DXF_FILE);
        let old = File::open(&old_path).at(&old_path)?;
        let new_path = out_dir.join(DXF_FILE);
        let mut dxf = AtomicFile::create(&new_path)?;
        let file = dxf.file().try_clone().at(&new_path)?;
        let (image, image_rx) = sync_channel::<Arc<Batch>>(QUEUE);
        let (disk, disk_rx) = sync_channel::<Arc<Batch>>(QUEUE);
        let (chunks, chunks_rx) = channel();
        let size = self.header.block_count * BLOCK_SIZE;
        let (md5, written, read) = std::thread::scope(|s| -> Result<_> {
            let writer_path = new_path.clone();
            let md5 = spawn(s, "image-md5", &new_path, move || {
                Ok(sink::hash_image(image_rx))
            })?;
            let writer = spawn(s, "dxf-writer", &new_path, move || {
                sink::write_image(file, size, disk_rx, chunks).at(&writer_path)
            })?;
            let read = self.read_blocks(&old, [image, disk], progress);
            Ok((join(md5, &new_path), join(writer, &new_path), read))
        })?;
        if read.is_err() || md5.is_err() || written.is_err() {
            let all = [read, md5.map(|_| ()), written.map(|_| ())];
            return Err(first_cause(all.into_iter()));
        }
        let (md5, written) = (md5?, written?);
        if written != size {
            return Err(EngineError::Io {
                filename: new_path.display().to_string(),
                source: std::io::Error::other("image size differs from the block count"),
            });
        }
        dxf.commit()?;
        let chunks = chunks_rx
            .recv()
            .map_err(|_| sink::stopped())
            .at(&new_path)?;
        Ok((md5, chunks))
    }

    /// Reads the copy list from `old` into batches sent to every consumer.
    fn read_blocks(
        &self,
        old: &File,
        consumers: [std::sync::mpsc::SyncSender<Arc<Batch>>; 2],
        progress: &dyn Progress,
    ) -> Result<()> {
        let path = self.dir.join(DXF_FILE);
        let mut pool = BufferPool::new(BATCH);
        let mut buf = pool.take();
        let mut used = 0;
        let send = |buf: Vec<u8>, used: usize, pool: &mut BufferPool| -> Result<()> {
            let batch = Arc::new(Batch {
                data: pool.share(buf),
                pieces: Vec::new(),
                ranges: std::iter::once(0..used).collect(),
            });
            for consumer in &consumers {
                consumer
                    .send(Arc::clone(&batch))
                    .map_err(|_| sink::stopped())
                    .at(&path)?;
            }
            Ok(())
        };
        for &(first, count) in &self.copy {
            let (mut at, end) = (first * BLOCK_SIZE, (first + count) * BLOCK_SIZE);
            while at < end {
                let n = ((end - at) as usize).min(BATCH - used);
                old.read_exact_at(&mut buf[used..used + n], at).at(&path)?;
                used += n;
                at += n as u64;
                step(progress, n as u64)?;
                if used == BATCH {
                    let next = pool.take();
                    send(std::mem::replace(&mut buf, next), used, &mut pool)?;
                    used = 0;
                }
            }
        }
        if used > 0 {
            send(buf, used, &mut pool)?;
        }
        Ok(())
    }

    /// Where each old block lands.
    fn moved(&self) -> Moved {
        let mut runs = Vec::with_capacity(self.copy.len());
        let mut new = 0;
        for &(old, count) in &self.copy {
            runs.push((old, new, count));
            new += count;
        }
        runs.sort_unstable();
        Moved { runs }
    }
}

/// Calls `visit` with the image block of every stored file block of `extents` within
/// `file_blocks`, in file-block order.
fn for_each_image_block(
    extents: &[Extent],
    file_blocks: std::ops::Range<u64>,
    mut visit: impl FnMut(u64),
) {
    let start = extents.partition_point(|x| x.file_block + x.count <= file_blocks.start);
    for x in &extents[start..] {
        if x.file_block >= file_blocks.end {
            break;
        }
        let from = x.file_block.max(file_blocks.start);
        let to = (x.file_block + x.count).min(file_blocks.end);
        for block in from..to {
            visit(x.image_block_of(block));
        }
    }
}

/// The old blocks of the new image in order, as runs, each block taken once.
struct CopyList {
    taken: Vec<u64>,
    runs: Vec<(u64, u64)>,
    len: u64,
}

impl CopyList {
    fn new(block_count: u64) -> Self {
        Self {
            taken: vec![0; block_count.div_ceil(64) as usize],
            runs: Vec::new(),
            len: 0,
        }
    }

    /// Appends old block `b` unless it was taken before (or is not a block of the image).
    fn take(&mut self, b: u64) {
        let (word, bit) = ((b / 64) as usize, 1u64 << (b % 64));
        match self.taken.get_mut(word) {
            Some(w) if *w & bit == 0 => *w |= bit,
            _ => return,
        }
        self.len += 1;
        match self.runs.last_mut() {
            Some((first, count)) if *first + *count == b => *count += 1,
            _ => self.runs.push((b, 1)),
        }
    }
}

/// The old → new block map: runs `(old first, new first, count)` sorted by old block.
struct Moved {
    runs: Vec<(u64, u64, u64)>,
}

impl Moved {
    fn new_block(&self, old: u64) -> Option<u64> {
        let i = self.runs.partition_point(|r| r.0 + r.2 <= old);
        let &(old_first, new_first, _) = self.runs.get(i)?;
        (old >= old_first).then(|| new_first + (old - old_first))
    }

    /// `extents` with every image block moved, merged as a build merges them.
    fn extents(&self, extents: &[Extent]) -> Result<Vec<Extent>> {
        let mut moved = Vec::with_capacity(extents.len());
        for x in extents {
            for block in x.file_block..x.file_block + x.count {
                let new = self.new_block(x.image_block_of(block)).ok_or_else(|| {
                    EngineError::corrupt(INDEX_FILE, "an extent lies past the image's end")
                })?;
                index::push_block(&mut moved, block, new);
            }
        }
        Ok(moved)
    }
}
