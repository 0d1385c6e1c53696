//! `update`: moves an installed tree to the current build. Files that did not change stay;
//! the others are built beside the tree in `.rockit/next/files/` from the patch (the installed
//! files supply the old blocks) or, without one, from the new image, each checked against its
//! MD5, and only then renamed into place. While the renames run the tree claims to be neither
//! build; a crash there is finished by the next `update`, without the network.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::Meter;
use super::download::{ChunkSink, Download};
use super::error::{AtPath, ClientError};
use super::install::{Client, Fill, fetch_layout};
use super::layout::{ChunkGeometry, Layout};
use super::oldtree::OldTree;
use super::origin::Source;
use super::patching::{PatchRuns, Rebuild};
use super::release::{FileRef, Release};
use super::report::Report;
use super::state::{Bitmap, Installed, StateDir, write_atomic};
use super::tree::{self, Targets, TreeSink};
use crate::engine::chunks::CHUNK_SIZE;
use crate::engine::image::{BLOCK_SIZE, IMG_JSON, INDEX_FILE};
use crate::engine::patch::{self, BULK_FILE, DATA_FILE, MAP_FILE, PATCH_JSON, PatchMeta};
use crate::engine::tar::EntryKind;

/// The update under way, in `.rockit/next/`.
const NEXT_DIR: &str = "next";
const UPDATE_FILE: &str = "update.json";

/// What `.rockit/next/` is being made into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Pending {
    from_build_id: u64,
    to_build_id: u64,
    to_dxf_name: String,
    /// True once every new file is built and checked: the renames into the tree began.
    committing: bool,
}

/// The paths of `.rockit/next/`.
struct Next {
    root: PathBuf,
}

impl Next {
    fn of(state: &StateDir) -> Self {
        Self {
            root: state.path(NEXT_DIR),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The old image's `img.json` and index, copied here when the renames begin.
    fn old_dir(&self) -> PathBuf {
        self.path("old")
    }

    fn patch_dir(&self) -> PathBuf {
        self.path("patch")
    }

    /// Where new file `entry` is built.
    fn staged(&self, entry: usize) -> PathBuf {
        self.path("files").join(entry.to_string())
    }

    fn load(&self) -> Result<Option<Pending>, ClientError> {
        let path = self.path(UPDATE_FILE);
        match fs::read(&path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ClientError::io(&path, e)),
        }
    }

    fn save(&self, pending: &Pending) -> Result<(), ClientError> {
        let bytes = serde_json::to_vec_pretty(pending)
            .map_err(|e| ClientError::Input(format!("cannot encode the update: {e}")))?;
        write_atomic(&self.path(UPDATE_FILE), &bytes)
    }

    /// Starts (or continues) the update to `pending`: what an earlier run left for another
    /// target is removed.
    fn begin(&self, pending: &Pending) -> Result<(), ClientError> {
        let same = |p: &Pending| {
            (p.from_build_id, p.to_build_id, &p.to_dxf_name)
                == (
                    pending.from_build_id,
                    pending.to_build_id,
                    &pending.to_dxf_name,
                )
        };
        if self.load()?.is_some_and(|p| !same(&p)) {
            fs::remove_dir_all(&self.root).at(&self.root)?;
        }
        for dir in [self.root.clone(), self.patch_dir(), self.path("files")] {
            fs::create_dir_all(&dir).at(&dir)?;
        }
        self.save(pending)
    }
}

impl Client {
    /// Moves the build installed in `dir` to the current build: with the patch from it when
    /// one is published (ranges of `patch.data` or the whole `patch.7z`, whichever is less
    /// for the files that changed), else from the new image.
    pub async fn update(&self, dir: &Path) -> Result<Report, ClientError> {
        let started = Instant::now();
        let state = StateDir::of(dir);
        let next = Next::of(&state);
        let mut installed = state.load()?.ok_or_else(|| {
            ClientError::Input(format!("{} holds no install: install first", dir.display()))
        })?;
        if let Some(pending) = next.load()?.filter(|p| p.committing) {
            commit(dir, &state, &next, &pending)?;
            installed = state.load()?.unwrap_or(installed);
        } else if !installed.complete {
            return Err(ClientError::Input(format!(
                "the install of build {} in {} did not complete: run install",
                installed.build_id,
                dir.display()
            )));
        }
        let meter = self.meter();
        let source = Arc::new(Source::open(self.options(), Arc::clone(&meter)).await?);
        let release = source.release();
        let mut report = Report {
            build_id: release.build_id,
            dxf_name: release.dxf_name.clone(),
            updated_from: Some(installed.build_id),
            ..Report::default()
        };
        if release.dxf_name != installed.dxf_name {
            let pending = Pending {
                from_build_id: installed.build_id,
                to_build_id: release.build_id,
                to_dxf_name: release.dxf_name.clone(),
                committing: false,
            };
            next.begin(&pending)?;
            let method = Stage {
                source: &source,
                meter: &meter,
                dir,
                state: &state,
                next: &next,
                release: &release,
            }
            .run(&mut report)
            .await?;
            report.method = Some(method);
            next.save(&Pending {
                committing: true,
                ..pending.clone()
            })?;
            commit(dir, &state, &next, &pending)?;
        }
        report.total_bytes = meter.fetched.load(Ordering::Relaxed);
        report.retries = source.retries();
        report.total_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }
}

/// Building the new files beside the tree.
struct Stage<'a> {
    source: &'a Arc<Source>,
    meter: &'a Meter,
    dir: &'a Path,
    state: &'a StateDir,
    next: &'a Next,
    release: &'a Release,
}

impl Stage<'_> {
    /// Builds and checks every new file that differs from the installed one; returns how.
    async fn run(&self, report: &mut Report) -> Result<&'static str, ClientError> {
        let new = Arc::new(
            fetch_layout(self.source, &self.next.root, &self.release.dxf_name, true).await?,
        );
        let old = Arc::new(Layout::read(
            self.state.dir(),
            tree::read_meta(self.state.dir())?,
        )?);
        let targets = Arc::new(staged_targets(self.next, &old, &new));
        tree::prepare_files(&new, &targets)?;
        let fetch = copy_moved(self.dir, &old, &new, &targets)?;
        let count = new.chunks.count();
        let mut wanted = Bitmap::new(count);
        for &i in &fetch {
            for c in new.chunks_of(i, 0, new.entries[i].size) {
                wanted.set(c, true);
            }
        }
        let key = format!(
            "{:04}-{:04}",
            report.updated_from.unwrap_or(0),
            new.meta.build_id
        );
        let mut present = Bitmap::new(count);
        let method = match self.release.patches.get(&key) {
            Some(files) if wanted.count() > 0 => {
                let patched = Patched {
                    stage: self,
                    key: &key,
                    files,
                    old: &old,
                    new: &new,
                    targets: &targets,
                };
                patched.apply(&wanted, &mut present).await?
            }
            _ => None,
        };
        let fill = Fill {
            source: self.source,
            layout: &new,
            targets: &targets,
            record: Some(self.next.path("image.present")),
            meter: self.meter,
        };
        fill.run(present, wanted, report).await?;
        Ok(method.unwrap_or("image"))
    }
}

/// The patch from the installed build, applied to the chunks the changed files need.
struct Patched<'a> {
    stage: &'a Stage<'a>,
    key: &'a str,
    /// The patch's files and their sizes.
    files: &'a std::collections::BTreeMap<String, u64>,
    old: &'a Arc<Layout>,
    new: &'a Arc<Layout>,
    targets: &'a Arc<Targets>,
}

impl Patched<'_> {
    /// Rebuilds the `wanted` new chunks from the patch into the targets, marking in `present`
    /// those that match their hash; returns how `patch.data` came, or none when the patch
    /// does not join the installed image to the new one.
    async fn apply(
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

/// Where each new regular file is built: nowhere when the installed file at its path is
/// already the same (size and MD5), else its staging file.
fn staged_targets(next: &Next, old: &Layout, new: &Layout) -> Targets {
    let installed: HashMap<&str, (u64, [u8; 16])> = old
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::Regular)
        .map(|e| (e.path.as_str(), (e.size, e.md5)))
        .collect();
    new.entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let same = installed.get(e.path.as_str()) == Some(&(e.size, e.md5));
            (e.kind == EntryKind::Regular && !same).then(|| next.staged(i))
        })
        .collect()
}

/// Copies into their staging files the new files that some installed file already is (a
/// moved or renamed file); returns the others that have bytes to fetch.
fn copy_moved(
    dir: &Path,
    old: &Layout,
    new: &Layout,
    targets: &Targets,
) -> Result<Vec<usize>, ClientError> {
    let installed: HashMap<(u64, [u8; 16]), &str> = old
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::Regular && e.size > 0)
        .map(|e| ((e.size, e.md5), e.path.as_str()))
        .collect();
    let mut fetch = Vec::new();
    for (i, target) in targets.iter().enumerate() {
        let (Some(target), e) = (target, &new.entries[i]) else {
            continue;
        };
        match installed.get(&(e.size, e.md5)) {
            Some(path) => {
                let from = dir.join(path);
                fs::copy(&from, target).at(&from)?;
            }
            None if e.size > 0 => fetch.push(i),
            None => {}
        }
    }
    Ok(fetch)
}

/// Renames the built files into the tree, removes what the new build no longer has, makes
/// links and modes, and records the new build. Safe to run again after a crash: what was
/// renamed already is skipped.
fn commit(dir: &Path, state: &StateDir, next: &Next, pending: &Pending) -> Result<(), ClientError> {
    let old_dir = next.old_dir();
    if !old_dir.join(INDEX_FILE).exists() {
        fs::create_dir_all(&old_dir).at(&old_dir)?;
        for name in [IMG_JSON, INDEX_FILE] {
            let (from, to) = (state.path(name), old_dir.join(name));
            let part = to.with_extension("part");
            fs::copy(&from, &part).at(&from)?;
            fs::rename(&part, &to).at(&to)?;
        }
    }
    let new_dir = if next.path(INDEX_FILE).exists() {
        next.root.clone()
    } else {
        state.dir().to_path_buf()
    };
    let new = Layout::read(&new_dir, tree::read_meta(&new_dir)?)?;
    let old = Layout::read(&old_dir, tree::read_meta(&old_dir)?)?;
    state.save(&Installed {
        build_id: pending.to_build_id,
        dxf_name: pending.to_dxf_name.clone(),
        complete: false,
    })?;
    tree::prepare_dirs(dir, &new)?;
    for (i, staged) in staged_targets(next, &old, &new).iter().enumerate() {
        let Some(staged) = staged.as_ref().filter(|s| s.exists()) else {
            continue;
        };
        let to = dir.join(&new.entries[i].path);
        if fs::symlink_metadata(&to).is_ok_and(|m| m.is_dir()) {
            fs::remove_dir_all(&to).at(&to)?;
        }
        fs::rename(staged, &to).at(&to)?;
        crate::crashpoints::crash_point("client-update-renamed");
    }
    let kept: std::collections::HashSet<&str> =
        new.entries.iter().map(|e| e.path.as_str()).collect();
    for e in old
        .entries
        .iter()
        .rev()
        .filter(|e| !kept.contains(e.path.as_str()))
    {
        let path = dir.join(&e.path);
        match fs::symlink_metadata(&path) {
            // A directory the new build no longer has goes only when empty: it may hold the
            // player's own files.
            Ok(m) if m.is_dir() => {
                let _ = fs::remove_dir(&path);
            }
            Ok(_) => fs::remove_file(&path).at(&path)?,
            Err(_) => {}
        }
    }
    tree::finish(dir, &new)?;
    if new_dir == next.root {
        for name in [IMG_JSON, INDEX_FILE] {
            fs::rename(next.path(name), state.path(name)).at(&state.path(name))?;
        }
    }
    Bitmap::full(new.chunks.count()).save(&state.present_path())?;
    state.save(&Installed {
        build_id: pending.to_build_id,
        dxf_name: pending.to_dxf_name.clone(),
        complete: true,
    })?;
    fs::remove_dir_all(&next.root).at(&next.root)
}
