//! `update`: moves an installed tree to the current build. Files that did not change stay;
//! the others are built beside the tree in `.rockit/next/files/` from the patch (the installed
//! files supply the old blocks) or, without one, from the new image, each checked against its
//! MD5, and only then renamed into place. While the renames run the tree claims to be neither
//! build; a crash there is finished by the next `update`, without the network.

mod commit;
mod next;
mod patched;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::Meter;
use super::error::ClientError;
use super::install::{Client, Fill, fetch_layout};
use super::layout::Layout;
use super::origin::Source;
use super::release::Release;
use super::report::Report;
use super::state::{Bitmap, StateDir};
use super::tree;
use commit::{commit, copy_moved, staged_targets};
use next::{Next, Pending};
use patched::Patched;

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
        let old = Arc::new(Layout::read(self.state.dir())?);
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
            _ if wanted.count() == 0 => Some("local"),
            Some(files) => {
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
            None => None,
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
