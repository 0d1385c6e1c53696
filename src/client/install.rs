//! `install`: puts the origin's current build in a directory, resuming a killed install and
//! repairing a damaged one; the tree claims to be the build only once every file matched its
//! MD5.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::download::Download;
use super::error::ClientError;
use super::layout::Layout;
use super::origin::Source;
use super::release::FileRef;
use super::report::Report;
use super::state::{Bitmap, Installed, StateDir};
use super::tree::{self, TreeSink};
use super::{ClientOptions, Meter};
use crate::engine::image::{DXF_FILE, IMG_JSON, INDEX_FILE};

/// Rounds of fetching again the chunks of files that failed their MD5 check before giving up.
const REPAIR_ROUNDS: u32 = 2;

/// A launcher's client of one app (or one local image).
pub struct Client {
    options: ClientOptions,
    meter: Arc<Meter>,
}

impl Client {
    /// A client with `options`.
    pub fn new(options: ClientOptions) -> Self {
        Self {
            options,
            meter: Arc::new(Meter::default()),
        }
    }

    /// The bytes fetched so far and expected, for a progress display.
    pub fn meter(&self) -> Arc<Meter> {
        Arc::clone(&self.meter)
    }

    /// The options the client was made with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Installs the current build in `dir`, or finishes or repairs an install of it there.
    /// A tree holding another complete build is refused: that is an update.
    pub async fn install(&self, dir: &Path) -> Result<Report, ClientError> {
        let session = self.begin(dir).await?;
        self.complete(session).await
    }

    /// Starts or resumes an install of the current build in `dir`: its index fetched, the
    /// tree made ready, the chunks already present known (a repair first empties the files
    /// that differ from the build).
    pub(super) async fn begin(&self, dir: &Path) -> Result<Session, ClientError> {
        let started = Instant::now();
        let source = Arc::new(Source::open(&self.options, Arc::clone(&self.meter)).await?);
        let release = source.release();
        let state = StateDir::of(dir);
        let before = state.load()?;
        if let Some(b) = &before
            && b.complete
            && b.dxf_name != release.dxf_name
        {
            return Err(ClientError::Input(format!(
                "{} holds build {}; the current build is {}: update it instead",
                dir.display(),
                b.build_id,
                release.build_id
            )));
        }
        state.create()?;
        let same_image = before
            .as_ref()
            .is_some_and(|b| b.dxf_name == release.dxf_name);
        let repairing = same_image && before.as_ref().is_some_and(|b| b.complete);
        if !same_image {
            state.forget_present()?;
        }
        state.save(&Installed {
            build_id: release.build_id,
            dxf_name: release.dxf_name.clone(),
            complete: false,
        })?;
        let layout =
            Arc::new(fetch_layout(&source, state.dir(), &release.dxf_name, same_image).await?);
        let targets = Arc::new(tree::in_tree(dir, &layout));
        tree::prepare_dirs(dir, &layout)?;
        tree::prepare_files(&layout, &targets)?;

        let count = layout.chunks.count();
        let mut present = if repairing {
            Bitmap::full(count)
        } else {
            Bitmap::load(&state.present_path(), count)
        };
        let mut report = Report {
            build_id: release.build_id,
            dxf_name: release.dxf_name.clone(),
            ..Report::default()
        };
        if repairing {
            let bad = tree::check_files(&layout, &targets);
            forget_files(&layout, &targets, &bad, &mut present, &mut report)?;
        }
        report.chunks_present_before = present.count();
        Ok(Session {
            dir: dir.to_path_buf(),
            started,
            source,
            state,
            layout,
            targets,
            present,
            report,
        })
    }

    /// Fetches whatever `session` still lacks, checks every file (repairing those that
    /// differ), makes links and modes and records the tree as the build.
    pub(super) async fn complete(&self, session: Session) -> Result<Report, ClientError> {
        let Session {
            dir,
            started,
            source,
            state,
            layout,
            targets,
            present,
            mut report,
        } = session;
        let fill = Fill {
            source: &source,
            layout: &layout,
            targets: &targets,
            record: Some(state.present_path()),
            meter: &self.meter,
        };
        let count = layout.chunks.count();
        fill.run(present, Bitmap::full(count), &mut report).await?;
        tree::finish(&dir, &layout)?;
        let bad = tree::check_others(&dir, &layout);
        if !bad.is_empty() {
            return Err(mismatch(&layout, &bad));
        }
        state.save(&Installed {
            build_id: report.build_id,
            dxf_name: report.dxf_name.clone(),
            complete: true,
        })?;
        report.total_bytes = self.meter.fetched.load(Ordering::Relaxed);
        report.retries = source.retries();
        report.total_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }
}

/// An install under way.
pub(super) struct Session {
    pub dir: PathBuf,
    pub started: Instant,
    pub source: Arc<Source>,
    pub state: StateDir,
    pub layout: Arc<Layout>,
    pub targets: Arc<tree::Targets>,
    /// The chunks of the image in the tree.
    pub present: Bitmap,
    pub report: Report,
}

/// The image's `img.json` and index in `dir` (fetched unless `kept` from an earlier run of
/// the same image), read into a layout checked to be image `dxf_name`.
pub(super) async fn fetch_layout(
    source: &Source,
    dir: &Path,
    dxf_name: &str,
    kept: bool,
) -> Result<Layout, ClientError> {
    for name in [IMG_JSON, INDEX_FILE] {
        let path = dir.join(name);
        if !kept || !path.exists() {
            source.fetch_file(&FileRef::Image(name), &path).await?;
        }
    }
    let layout = Layout::read(dir)?;
    if layout.meta.dxf_name != dxf_name {
        return Err(ClientError::Input(format!(
            "the published img.json is image {}, not the current image {dxf_name}",
            layout.meta.dxf_name
        )));
    }
    Ok(layout)
}

/// Fetching an image's chunks into target files until every target file matches its MD5.
pub(super) struct Fill<'a> {
    pub source: &'a Arc<Source>,
    pub layout: &'a Arc<Layout>,
    pub targets: &'a Arc<tree::Targets>,
    /// Where the chunks present are recorded as they come.
    pub record: Option<PathBuf>,
    pub meter: &'a Meter,
}

impl Fill<'_> {
    /// Fetches the `wanted` chunks not `present` into the targets, then checks every target
    /// file against its MD5; files that fail are emptied and their chunks fetched again, up
    /// to [`REPAIR_ROUNDS`] times.
    pub async fn run(
        &self,
        mut present: Bitmap,
        mut wanted: Bitmap,
        report: &mut Report,
    ) -> Result<(), ClientError> {
        let mut round = 0;
        loop {
            let download = Arc::new(Download::new(
                Arc::clone(self.source),
                FileRef::Image(DXF_FILE),
                self.layout.chunks.clone(),
                (present, wanted.clone()),
                self.record.clone(),
            ));
            let missing = download.missing_bytes();
            self.meter.total.fetch_add(missing, Ordering::Relaxed);
            let sink = Arc::new(TreeSink {
                layout: Arc::clone(self.layout),
                targets: Arc::clone(self.targets),
            });
            download.run(sink).await?;
            report.damaged_chunks += download.damaged();
            present = download.present();
            let bad = tree::check_files(self.layout, self.targets);
            if bad.is_empty() {
                return Ok(());
            }
            if round == REPAIR_ROUNDS {
                return Err(mismatch(self.layout, &bad));
            }
            round += 1;
            forget_files(self.layout, self.targets, &bad, &mut present, report)?;
            for &i in &bad {
                for c in self.layout.chunks_of(i, 0, self.layout.entries[i].size) {
                    wanted.set(c, true);
                }
            }
            if let Some(record) = &self.record {
                present.save(record)?;
            }
        }
    }
}

/// Empties the files `bad` and marks their chunks missing, so fetching them again rebuilds
/// them; names them in the report.
pub(super) fn forget_files(
    layout: &Layout,
    targets: &tree::Targets,
    bad: &[usize],
    present: &mut Bitmap,
    report: &mut Report,
) -> Result<(), ClientError> {
    for &i in bad {
        let size = layout.entries[i].size;
        if let Some(path) = &targets[i] {
            tree::reset_file(path, size)?;
        }
        for c in layout.chunks_of(i, 0, size) {
            present.set(c, false);
        }
        report.repaired_files.push(layout.entries[i].path.clone());
    }
    Ok(())
}

/// The files that still differ, as an error naming them.
fn mismatch(layout: &Layout, bad: &[usize]) -> ClientError {
    ClientError::Mismatch(
        bad.iter()
            .map(|&i| layout.entries[i].path.clone())
            .collect(),
    )
}
