//! tar → image: pass 1 lists the tar ([`Catalog`]); then three things run at once — the dedup
//! pass ([`plan`]) decides where every block goes, the data pass ([`feed`]) reads the files
//! once and hands them to threads computing the MD5s and writing `img.dxf` ([`sink`]), and the
//! index is compressed as soon as the image's size is known.

use std::fs::{self, File};
use std::path::Path;
use std::sync::mpsc::{Receiver, channel, sync_channel};
use std::thread::{Scope, ScopedJoinHandle};

use super::BLOCK_SIZE;
use super::catalog::Catalog;
use super::feed::{self, Consumers};
use super::index::{self, Extent, FORMAT_VERSION, IndexEntry, IndexHeader, IndexStream};
use super::meta::{self, APP_JSON, AppMeta, DXF_FILE, IMG_JSON, INDEX_FILE, ImageMeta};
use super::order::AccessOrder;
use super::plan::{self, Outputs, Totals};
use super::sink::{self, stopped};
use crate::engine::chunks::ChunkTable;
use crate::engine::error::{EngineError, IoContext, Result};
use crate::engine::fsio::AtomicFile;
use crate::engine::progress::Progress;
use crate::engine::sevenz;
use crate::engine::tar::{EntryKind, TarEntry, Warning};

/// Batches queued ahead of each consumer thread; bounds the memory in flight.
const QUEUE: usize = 3;
/// Steps the dedup pass may run ahead of the data pass (one per MiB read, at least): keeps
/// the bytes it read in the page cache for the data pass.
const STEPS_AHEAD: usize = 1024;

/// Who the build belongs to; copied into `app.json` and `img.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildMetadata {
    /// Organization name.
    pub org_name: String,
    /// App name.
    pub app_name: String,
    /// App label.
    pub label: String,
    /// Build number.
    pub build_id: u64,
    /// Publisher's build name.
    pub build_name: String,
    /// The image's UUID; `None` derives a name-based UUID from the image's MD5, so equal
    /// inputs still give equal outputs.
    pub dxf_name: Option<uuid::Uuid>,
    /// Creation time, RFC 3339 (caller-supplied so builds are reproducible).
    pub created: String,
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// Contents of the written `img.json`.
    pub image: ImageMeta,
    /// Contents of the written `app.json`.
    pub app: AppMeta,
    /// Entries of the tar that were skipped.
    pub warnings: Vec<Warning>,
}

/// Builds the image of the tar at `tar` into `out_dir` (created if missing): `img.dxf`,
/// `img.idx.7z`, `img.json`, `app.json`, each written under a temporary name and renamed.
/// With `order`, the blocks it lists come first in that order and make up the preload.
pub fn build_image(
    tar: &Path,
    out_dir: &Path,
    metadata: &BuildMetadata,
    order: Option<&AccessOrder>,
    progress: &dyn Progress,
) -> Result<BuildReport> {
    let catalog = Catalog::read(tar)?;
    let runs = order
        .map(|o| resolve(o, &catalog))
        .transpose()?
        .unwrap_or_default();
    fs::create_dir_all(out_dir).at(out_dir)?;
    let archive = File::open(tar).at(tar)?;
    let dxf_path = out_dir.join(DXF_FILE);
    let dxf = AtomicFile::create(&dxf_path)?;

    let ordered_bytes: u64 = runs.iter().map(|r| r.2 * BLOCK_SIZE).sum();
    let file_bytes: u64 = catalog.entries.iter().map(|e| e.size).sum();
    progress.begin(ordered_bytes + file_bytes);
    let passes = Passes {
        catalog: &catalog,
        runs: &runs,
        preload_runs: order.map_or(0, AccessOrder::preload_runs),
        archive: &archive,
        tar,
        out_dir,
    };
    let (totals, dxf_md5, index) = std::thread::scope(|s| passes.run(s, dxf, progress))?;
    index.commit()?;

    let preload_blocks = if order.is_some() {
        totals.preload_blocks
    } else {
        totals.block_count
    };
    let (image, app) = describe(
        &catalog,
        metadata,
        totals.block_count,
        preload_blocks,
        dxf_md5,
    );
    meta::write_json(&out_dir.join(IMG_JSON), &image)?;
    meta::write_json(&out_dir.join(APP_JSON), &app)?;
    Ok(BuildReport {
        image,
        app,
        warnings: catalog.warnings,
    })
}

/// What the passes of a build read and where they write.
struct Passes<'a> {
    catalog: &'a Catalog,
    runs: &'a [(usize, u64, u64)],
    /// How many of `runs` make the preload.
    preload_runs: usize,
    archive: &'a File,
    tar: &'a Path,
    out_dir: &'a Path,
}

impl<'a> Passes<'a> {
    /// Runs the passes on threads of `scope`, the data pass on this one. Commits `dxf`;
    /// returns the totals, the image's MD5 and the index, encoded but not committed.
    fn run<'s>(
        &self,
        scope: &'s Scope<'s, '_>,
        mut dxf: AtomicFile,
        progress: &dyn Progress,
    ) -> Result<(Totals, [u8; 16], AtomicFile)>
    where
        'a: 's,
    {
        let Self {
            catalog,
            runs,
            preload_runs,
            archive,
            tar,
            out_dir,
        } = *self;
        let dxf_path = &out_dir.join(DXF_FILE);
        let dxf_file = dxf.file().try_clone().at(dxf_path)?;
        let writer_path = dxf_path.clone();
        let (steps, steps_rx) = sync_channel(STEPS_AHEAD);
        let (extents, extents_rx) = channel();
        let (block_count, count_rx) = channel();
        let (digests, digests_rx) = channel();
        let (files, files_rx) = sync_channel(QUEUE);
        let (image, image_rx) = sync_channel(QUEUE);
        let (disk, disk_rx) = sync_channel(QUEUE);
        let (chunks, chunks_rx) = channel();
        let outputs = Outputs {
            steps,
            extents,
            block_count,
        };
        let planner = spawn(scope, "dedup", tar, move || {
            plan::plan(catalog, (runs, preload_runs), archive, tar, outputs)
        })?;
        let entries = &catalog.entries[..];
        let indexer = spawn(scope, "index", tar, move || {
            let inputs = IndexInputs {
                block_count: count_rx,
                extents: extents_rx,
                md5s: digests_rx,
                chunks: chunks_rx,
            };
            encode_index(out_dir, entries, inputs)
        })?;
        let file_md5s = spawn(scope, "file-md5", tar, move || {
            sink::hash_files(files_rx, digests).at(tar)
        })?;
        let md5 = spawn(scope, "image-md5", tar, move || {
            Ok(sink::hash_image(image_rx))
        })?;
        // Every file's blocks stored apart: deduplication only makes the image smaller.
        let bound = catalog
            .entries
            .iter()
            .map(|e| e.size.div_ceil(BLOCK_SIZE))
            .sum::<u64>();
        let writer = spawn(scope, "dxf-writer", tar, move || {
            sink::write_image(dxf_file, bound * BLOCK_SIZE, disk_rx, chunks).at(&writer_path)
        })?;
        let consumers = Consumers { files, image, disk };
        let fed = feed::feed(catalog, archive, tar, steps_rx, consumers, progress);

        let planned = join(planner, tar);
        let file_md5s = join(file_md5s, tar);
        let dxf_md5 = join(md5, tar);
        let written = join(writer, tar);
        let failed = fed.is_err()
            || planned.is_err()
            || file_md5s.is_err()
            || dxf_md5.is_err()
            || written.is_err();
        if failed {
            let index = join(indexer, tar).map(|_| ());
            let all = [
                fed,
                planned.map(|_| ()),
                file_md5s,
                dxf_md5.map(|_| ()),
                written.map(|_| ()),
                index,
            ];
            return Err(first_cause(all.into_iter()));
        }
        let (totals, dxf_md5, written) = (planned?, dxf_md5?, written?);
        if written != totals.block_count * BLOCK_SIZE {
            return Err(EngineError::Io {
                filename: dxf_path.display().to_string(),
                source: std::io::Error::other("image size differs from the block count"),
            });
        }
        dxf.commit()?;
        let index = join(indexer, tar)?;
        Ok((totals, dxf_md5, index))
    }
}

pub(super) fn spawn<'s, T: Send + 's>(
    scope: &'s Scope<'s, '_>,
    name: &str,
    tar: &Path,
    f: impl FnOnce() -> Result<T> + Send + 's,
) -> Result<ScopedJoinHandle<'s, Result<T>>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn_scoped(scope, f)
        .at(tar)
}

pub(super) fn join<T>(handle: ScopedJoinHandle<'_, Result<T>>, tar: &Path) -> Result<T> {
    handle
        .join()
        .map_err(|_| std::io::Error::other("a build thread panicked"))
        .at(tar)?
}

/// The first error that is not a stage seeing its neighbour stop, else the first error.
pub(super) fn first_cause(results: impl Iterator<Item = Result<()>>) -> EngineError {
    let errors: Vec<EngineError> = results.filter_map(Result::err).collect();
    let is_echo = |e: &EngineError| matches!(e, EngineError::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe);
    let cause = errors.iter().position(|e| !is_echo(e)).unwrap_or(0);
    errors
        .into_iter()
        .nth(cause)
        .unwrap_or_else(|| EngineError::Io {
            filename: String::new(),
            source: stopped(),
        })
}

/// What the other passes send the index encoder, each as soon as it is known.
struct IndexInputs {
    /// The image's block count, from the dedup pass.
    block_count: Receiver<u64>,
    /// Each entry's extents, from the dedup pass.
    extents: Receiver<Vec<Extent>>,
    /// Each regular file's MD5, from the data pass.
    md5s: Receiver<[u8; 16]>,
    /// The chunk hashes of `img.dxf`, from its writer.
    chunks: Receiver<ChunkTable>,
}

/// Encodes `img.idx.7z` from `entries` as the other passes send what it holds.
fn encode_index(out_dir: &Path, entries: &[TarEntry], inputs: IndexInputs) -> Result<AtomicFile> {
    let IndexInputs {
        block_count,
        extents,
        md5s,
        chunks,
    } = inputs;
    let path = out_dir.join(INDEX_FILE);
    let block_count = block_count.recv().map_err(|_| stopped()).at(&path)?;
    let header = IndexHeader {
        format_version: FORMAT_VERSION,
        block_size: BLOCK_SIZE as u32,
        block_count,
        entry_count: entries.len() as u64,
    };
    let index_entries = entries.iter().map(|e| {
        let extents = extents.recv().map_err(|_| stopped())?;
        let md5 = match e.kind {
            EntryKind::Regular => md5s.recv().map_err(|_| stopped())?,
            _ => [0; 16],
        };
        Ok(IndexEntry {
            path: e.path.clone(),
            kind: e.kind,
            mode: e.mode,
            size: e.size,
            md5,
            link_target: e.link_target.clone(),
            extents,
        })
    });
    let chunk_table = move || chunks.recv().map_err(|_| stopped());
    // Extents are not known yet: count one per nonempty regular file, the usual case.
    let estimate: u64 = index::trailer_len(block_count)
        + entries
            .iter()
            .map(|e| {
                let extents = usize::from(e.kind == EntryKind::Regular && e.size > 0);
                let link = e.link_target.as_deref().map_or(0, str::len);
                index::entry_len(e.path.len(), link, extents)
            })
            .sum::<u64>();
    sevenz::encode_single(
        &path,
        IndexStream::new(&header, index_entries, chunk_table),
        estimate,
        sevenz::Level::Quick,
    )
}

/// Composes `img.json` and `app.json` for a finished `img.dxf`.
fn describe(
    catalog: &Catalog,
    metadata: &BuildMetadata,
    block_count: u64,
    preload_blocks: u64,
    dxf_md5: [u8; 16],
) -> (ImageMeta, AppMeta) {
    let dxf_name = metadata
        .dxf_name
        .unwrap_or_else(|| uuid::Builder::from_md5_bytes(dxf_md5).into_uuid())
        .to_string();
    let regular = || {
        catalog
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::Regular)
    };
    let file_blocks: u64 = regular().map(|e| e.size.div_ceil(BLOCK_SIZE)).sum();
    let image = ImageMeta {
        format_version: FORMAT_VERSION,
        dxf_name: dxf_name.clone(),
        build_id: metadata.build_id,
        block_size: BLOCK_SIZE,
        block_count,
        dxf_size: block_count * BLOCK_SIZE,
        dxf_md5: hex::encode(dxf_md5),
        file_count: regular().count() as u64,
        total_file_bytes: regular().map(|e| e.size).sum(),
        dedup_bytes: file_blocks.saturating_sub(block_count) * BLOCK_SIZE,
        preload_bytes: preload_blocks * BLOCK_SIZE,
        trace_count: 0,
    };
    let app = AppMeta {
        org_name: metadata.org_name.clone(),
        app_name: metadata.app_name.clone(),
        label: metadata.label.clone(),
        build_id: metadata.build_id,
        build_name: metadata.build_name.clone(),
        dxf_name,
        created: metadata.created.clone(),
    };
    (image, app)
}

/// Resolves order runs to `(entry index, first block, block count)` in `catalog`.
fn resolve(order: &AccessOrder, catalog: &Catalog) -> Result<Vec<(usize, u64, u64)>> {
    order.resolve(|path| {
        let i = catalog.find(path)?;
        let entry = &catalog.entries[i];
        (entry.kind == EntryKind::Regular).then(|| (i, entry.size.div_ceil(BLOCK_SIZE)))
    })
}
