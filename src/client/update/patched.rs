//! Applying the patch from the installed build to the chunks the changed files need.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::Stage;
use crate::client::download::{ChunkSink, Download};
use crate::client::error::{AtPath, ClientError};
use crate::client::layout::{ChunkGeometry, Layout};
use crate::client::oldtree::OldTree;
use crate::client::patching::{PatchRuns, Rebuild};
use crate::client::release::FileRef;
use crate::client::state::Bitmap;
use crate::client::tree::{Targets, TreeSink};
use crate::engine::chunks::CHUNK_SIZE;
use crate::engine::image::BLOCK_SIZE;
use crate::engine::patch::{self, BULK_FILE, DATA_FILE, MAP_FILE, PATCH_JSON, PatchMeta};

/// The patch from the installed build, applied to the chunks the changed files need.
pub(super) struct Patched<'a> {
    pub stage: &'a Stage<'a>,
    pub key: &'a str,
    /// The patch's files and their sizes.
    pub files: &'a std::collections::BTreeMap<String, u64>,
    pub old: &'a Arc<Layout>,
    pub new: &'a Arc<Layout>,
    pub targets: &'a Arc<Targets>,
}

impl Patched<'_> {
    /// Rebuilds the `wanted` new chunks from the patch into the targets, marking in `present`
    /// those that match their hash; returns how `patch.data` came, or none when the patch
    /// does not join the installed image to the new one.
    pub(super) async fn apply(
        &self,
        wanted: &Bitmap,
        present: &mut Bitmap,
    ) -> Result<Option<&'static str>, ClientError> {
        let (source, next) = (self.stage.source, self.stage.next);
        let patch_dir = next.patch_dir();
        for name in [PATCH_JSON, MAP_FILE] {
            let path = patch_dir.join(name);
            if !path.exists() {
                source.fetch_file(&self.file(name), &path).await?;
            }
        }
        let meta = patch::read_meta(&patch_dir)?;
        if meta.from_dxf_name != self.old.meta.dxf_name
            || meta.to_dxf_name != self.new.meta.dxf_name
        {
            return Ok(None);
        }
        let runs = PatchRuns::read(&patch_dir, &meta, self.old.meta.block_count)?;
        let data = data_geometry(&meta)?;
        let mut data_wanted = Bitmap::new(data.count());
        let blocks_per_chunk = self.new.chunks.size / BLOCK_SIZE;
        for c in wanted.ones() {
            let blocks = c * blocks_per_chunk..((c + 1) * blocks_per_chunk).min(meta.block_count);
            for used in runs.data_blocks(blocks) {
                let first = used.start * BLOCK_SIZE / data.size;
                let last = (used.end * BLOCK_SIZE - 1) / data.size;
                for d in first..=last {
                    data_wanted.set(d, true);
                }
            }
        }
        let needed: u64 = data_wanted
            .ones()
            .map(|d| data.range(d).end - data.range(d).start)
            .sum();
        let old_tree = OldTree::new(self.stage.dir.to_path_buf(), Arc::clone(self.old));
        let data_path = next.path(DATA_FILE);
        let bulk = self.files.get(BULK_FILE).copied();
        let method = if bulk.is_some_and(|size| size < needed) {
            let bulk_path = patch_dir.join(BULK_FILE);
            if !bulk_path.exists() {
                source.fetch_file(&self.file(BULK_FILE), &bulk_path).await?;
            }
            let decoding = data_path.with_extension("part");
            let out = File::create(&decoding).at(&decoding)?;
            tokio::task::block_in_place(|| {
                patch::decode_bulk_data(&patch_dir, &meta, &old_tree, BufWriter::new(out))
            })?;
            fs::rename(&decoding, &data_path).at(&data_path)?;
            "patch-bulk"
        } else {
            let file = fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(&data_path)
                .at(&data_path)?;
            file.set_len(meta.data_bytes).at(&data_path)?;
            let record = next.path("data.present");
            let download = Arc::new(Download::new(
                Arc::clone(source),
                self.file(DATA_FILE),
                data.clone(),
                (Bitmap::load(&record, data.count()), data_wanted),
                Some(record),
            ));
            let missing = download.missing_bytes();
            self.stage.meter.total.fetch_add(missing, Ordering::Relaxed);
            let sink = Arc::new(FileSink {
                file,
                path: data_path.clone(),
                geometry: data,
            });
            download.run(sink).await?;
            "patch-data"
        };
        let data_file = File::open(&data_path).at(&data_path)?;
        let rebuild = Rebuild {
            runs: &runs,
            old: &old_tree,
            data: &data_file,
            data_path: &data_path,
            geometry: &self.new.chunks,
        };
        let sink = TreeSink {
            layout: Arc::clone(self.new),
            targets: Arc::clone(self.targets),
        };
        tokio::task::block_in_place(|| {
            let mut buf = Vec::new();
            for c in wanted.ones() {
                rebuild.chunk(c, &mut buf)?;
                if self.new.chunks.accepts(c, &buf) {
                    sink.put(c, &buf)?;
                    present.set(c, true);
                }
            }
            Ok::<_, ClientError>(())
        })?;
        Ok(Some(method))
    }

    fn file(&self, name: &'static str) -> FileRef {
        FileRef::Patch {
            key: self.key.to_string(),
            name,
        }
    }
}

/// How `patch.data` is cut into chunks: its hashes in a version-2 patch.
fn data_geometry(meta: &PatchMeta) -> Result<ChunkGeometry, ClientError> {
    let hashes = meta.data_chunks()?;
    Ok(ChunkGeometry {
        size: hashes.as_ref().map_or(CHUNK_SIZE, |t| t.chunk_size),
        len: meta.data_bytes,
        hashes,
    })
}

/// Writes fetched chunks of a file into a local copy at their offsets.
struct FileSink {
    file: File,
    path: PathBuf,
    geometry: ChunkGeometry,
}

impl ChunkSink for FileSink {
    fn put(&self, c: u64, bytes: &[u8]) -> Result<(), ClientError> {
        use std::os::unix::fs::FileExt;
        self.file
            .write_all_at(bytes, self.geometry.range(c).start)
            .at(&self.path)
    }
}
