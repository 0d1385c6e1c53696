//! tar → image: pass 1 lists the tar ([`Catalog`]); pass 2 reads file data by offset and
//! writes the blocks — ordered runs first, then every file by path — then the index and JSON.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fs::{self, File};
use std::path::Path;
use std::sync::Arc;

use super::BLOCK_SIZE;
use super::catalog::Catalog;
use super::index::{self, Extent, FORMAT_VERSION, IndexEntry, IndexHeader, IndexStream};
use super::meta::{
    self, APP_JSON, AppMeta, DXF_FILE, IMG_JSON, INDEX_FILE, INDEX_MEMBER, ImageMeta,
};
use super::order::AccessOrder;
use super::sink::BlockSink;
use crate::engine::error::{EngineError, IoContext, Result};
use crate::engine::fsio::AtomicFile;
use crate::engine::hashing::Md5Worker;
use crate::engine::progress::Progress;
use crate::engine::sevenz;
use crate::engine::tar::{EntryKind, TarEntry, Warning};

/// Bytes of file data read and hashed at a time (a whole number of blocks).
const CHUNK: u64 = 1 << 20;

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

/// Where each file's blocks went, and each regular file's MD5 (in catalog order).
struct Layout {
    extents: Vec<Vec<Extent>>,
    md5s: Vec<[u8; 16]>,
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
    let mut dxf = AtomicFile::create(&dxf_path)?;
    let mut sink = BlockSink::new(dxf.file().try_clone().at(&dxf_path)?).at(&dxf_path)?;

    let ordered_bytes: u64 = runs.iter().map(|r| r.2 * BLOCK_SIZE).sum();
    let file_bytes: u64 = catalog.entries.iter().map(|e| e.size).sum();
    progress.begin(ordered_bytes + file_bytes);
    let placed = place_ordered(&catalog, &runs, &archive, tar, &mut sink, progress)?;
    let preload_blocks = sink.block_count();
    let layout = place_files(&catalog, &placed, &archive, tar, &mut sink, progress)?;
    let block_count = sink.block_count();
    let dxf_md5 = sink.finish().at(&dxf_path)?;
    dxf.commit()?;

    let preload_blocks = if order.is_some() {
        preload_blocks
    } else {
        block_count
    };
    let (image, app) = describe(&catalog, metadata, block_count, preload_blocks, dxf_md5);
    let Catalog { entries, warnings } = catalog;
    write_index(out_dir, entries, layout, block_count)?;
    meta::write_json(&out_dir.join(IMG_JSON), &image)?;
    meta::write_json(&out_dir.join(APP_JSON), &app)?;
    Ok(BuildReport {
        image,
        app,
        warnings,
    })
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

/// Streams the index of `entries` (consumed) into `img.idx.7z`.
fn write_index(
    out_dir: &Path,
    entries: Vec<TarEntry>,
    layout: Layout,
    block_count: u64,
) -> Result<()> {
    let header = IndexHeader {
        format_version: FORMAT_VERSION,
        block_size: BLOCK_SIZE as u32,
        block_count,
        entry_count: entries.len() as u64,
    };
    let mut md5s = layout.md5s.into_iter();
    let index_entries = entries.into_iter().zip(layout.extents).map(|(e, extents)| {
        let md5 = match e.kind {
            EntryKind::Regular => md5s.next().unwrap_or_default(),
            _ => [0; 16],
        };
        IndexEntry {
            path: e.path,
            kind: e.kind,
            mode: e.mode,
            size: e.size,
            md5,
            link_target: e.link_target,
            extents,
        }
    });
    let stream = IndexStream::new(&header, index_entries);
    sevenz::write_single(&out_dir.join(INDEX_FILE), INDEX_MEMBER, stream)
}

/// Resolves order runs to `(entry index, first block, block count)`, refusing paths that are
/// not regular files of the build and blocks past a file's end.
fn resolve(order: &AccessOrder, catalog: &Catalog) -> Result<Vec<(usize, u64, u64)>> {
    order
        .runs
        .iter()
        .map(|run| {
            let bad = |reason: String| EngineError::BadOrder {
                filename: order.filename.clone(),
                line: run.line,
                reason,
            };
            let i = catalog
                .find(&run.path)
                .filter(|&i| catalog.entries[i].kind == EntryKind::Regular)
                .ok_or_else(|| bad(format!("'{}' is not a regular file of the build", run.path)))?;
            let blocks = catalog.entries[i].size.div_ceil(BLOCK_SIZE);
            if run
                .first_block
                .checked_add(run.block_count)
                .is_none_or(|end| end > blocks)
            {
                return Err(bad(format!("'{}' has only {blocks} blocks", run.path)));
            }
            Ok((i, run.first_block, run.block_count))
        })
        .collect()
}

/// Stores the ordered blocks first; returns each placed `(entry, file block)` → image block.
fn place_ordered(
    catalog: &Catalog,
    runs: &[(usize, u64, u64)],
    archive: &File,
    tar: &Path,
    sink: &mut BlockSink,
    progress: &dyn Progress,
) -> Result<BTreeMap<(usize, u64), Option<u64>>> {
    let mut placed = BTreeMap::new();
    let mut buf = vec![0u8; CHUNK as usize];
    for &(i, first, count) in runs {
        let entry = &catalog.entries[i];
        let mut block = first;
        while block < first + count {
            let n = (first + count - block).min(CHUNK / BLOCK_SIZE);
            let chunk = &mut buf[..(n * BLOCK_SIZE) as usize];
            entry.read_at(archive, block * BLOCK_SIZE, chunk).at(tar)?;
            for (k, bytes) in chunk.chunks_exact(BLOCK_SIZE as usize).enumerate() {
                let key = (i, block + k as u64);
                if let Entry::Vacant(slot) = placed.entry(key) {
                    slot.insert(sink.store(bytes).at(tar)?);
                }
            }
            progress.advance(n * BLOCK_SIZE);
            block += n;
        }
    }
    Ok(placed)
}

/// Streams every regular file in path order: hashes it on a worker thread and stores the
/// blocks not placed yet.
fn place_files(
    catalog: &Catalog,
    placed: &BTreeMap<(usize, u64), Option<u64>>,
    archive: &File,
    tar: &Path,
    sink: &mut BlockSink,
    progress: &dyn Progress,
) -> Result<Layout> {
    let hasher = Md5Worker::spawn("md5-files").at(tar)?;
    let mut extents = Vec::with_capacity(catalog.entries.len());
    for (i, entry) in catalog.entries.iter().enumerate() {
        let mut file_extents = Vec::new();
        if entry.kind == EntryKind::Regular {
            let mut offset = 0;
            while offset < entry.size {
                let len = (entry.size - offset).min(CHUNK);
                let mut chunk = vec![0u8; len.next_multiple_of(BLOCK_SIZE) as usize];
                entry.read_at(archive, offset, &mut chunk).at(tar)?;
                let first = offset / BLOCK_SIZE;
                for (k, bytes) in chunk.chunks_exact(BLOCK_SIZE as usize).enumerate() {
                    let block = first + k as u64;
                    let image_block = match placed.get(&(i, block)) {
                        Some(&known) => known,
                        None => sink.store(bytes).at(tar)?,
                    };
                    if let Some(image_block) = image_block {
                        index::push_block(&mut file_extents, block, image_block);
                    }
                }
                hasher.update(Arc::new(chunk), 0..len as usize).at(tar)?;
                progress.advance(len);
                offset += len;
            }
            hasher.finish_one().at(tar)?;
        }
        extents.push(file_extents);
    }
    let md5s = hasher.join().at(tar)?;
    Ok(Layout { extents, md5s })
}
