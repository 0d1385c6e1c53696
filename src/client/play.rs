//! `play`: a launcher's start of the game on an empty or partial install. The image's preload
//! comes first; then the game (a script) runs while the rest downloads in image order, and a
//! read whose blocks are missing fetches them at once, ahead of everything else, and waits.
//! The install completes as `install` does.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};

use super::Meter;
use super::download::Download;
use super::error::{AtPath, ClientError};
use super::http::{launcher_client, upload_trace};
use super::install::{Client, Session};
use super::release::{FileRef, Origin};
use super::report::{PlayReport, Report};
use super::script::{self, Step};
use super::state::Bitmap;
use super::tree::TreeSink;
use crate::engine::image::{BLOCK_SIZE, DXF_FILE};
use crate::engine::trace::Trace;

/// What `play` leaves besides its report: the session's trace in a file, and sent to the
/// appliance for training.
#[derive(Debug, Clone, Default)]
pub struct TraceOutputs {
    /// Write the trace (JSON) here.
    pub file: Option<PathBuf>,
    /// Send it to the appliance's `POST /client/v1/traces`.
    pub upload: bool,
}

impl Client {
    /// Starts the game of `script` on the install in `dir` as a launcher does, then completes
    /// the install; the session's trace goes where `outputs` say.
    pub async fn play(
        &self,
        dir: &Path,
        script: &Path,
        outputs: &TraceOutputs,
    ) -> Result<Report, ClientError> {
        let server = match (&self.options().origin, outputs.upload) {
            (Origin::Server(server), true) => Some(server.clone()),
            (_, true) => {
                return Err(ClientError::Input(
                    "--upload sends the trace to an appliance: use it with --server".into(),
                ));
            }
            (_, false) => None,
        };
        let mut session = self.begin(dir).await?;
        let steps = script::read(script, &session.layout)?;
        let download = Arc::new(Download::new(
            Arc::clone(&session.source),
            FileRef::Image(DXF_FILE),
            session.layout.chunks.clone(),
            (
                session.present.clone(),
                Bitmap::full(session.layout.chunks.count()),
            ),
            Some(session.state.present_path()),
        ));
        self.meter()
            .total
            .fetch_add(download.missing_bytes(), Ordering::Relaxed);
        let sink = Arc::new(TreeSink {
            layout: Arc::clone(&session.layout),
            targets: Arc::clone(&session.targets),
        });
        // The preload goes first: asked for before any worker starts, ahead of the image order.
        let layout = &session.layout;
        let preload = layout.meta.preload_bytes.min(layout.chunks.len);
        let preload: Vec<u64> = (0..preload.div_ceil(layout.chunks.size)).collect();
        download.hurry(&preload);
        let background = {
            let download = Arc::clone(&download);
            tokio::spawn(async move { download.run(sink).await })
        };
        let meter = self.meter();
        let game = Game {
            session: &session,
            download: &download,
            meter: &meter,
        };
        let played = game.run(&preload, &steps).await;
        let downloaded = background
            .await
            .unwrap_or_else(|e| Err(ClientError::Input(format!("the download failed: {e}"))));
        let (mut play, trace_made) = played?;
        downloaded?;
        session.present = download.present();
        session.report.damaged_chunks += download.damaged();
        if let Some(path) = &outputs.file {
            let json = serde_json::to_vec_pretty(&trace_made)
                .map_err(|e| ClientError::Input(format!("cannot encode the trace: {e}")))?;
            let mut file = File::create(path).at(path)?;
            file.write_all(&json).at(path)?;
        }
        play.preload_bytes = session.layout.meta.preload_bytes;
        let mut report = self.complete(session).await?;
        if let Some(server) = server {
            let http = launcher_client(&server)?;
            let receipt = upload_trace(&http, &server, &trace_made).await?;
            play.trace_digest = Some(receipt.digest);
        }
        report.play = Some(play);
        Ok(report)
    }
}

/// The game running on a partial install.
struct Game<'a> {
    session: &'a Session,
    download: &'a Arc<Download>,
    meter: &'a Meter,
}

impl Game<'_> {
    /// Waits for the `preload` chunks, then runs the script: its gaps kept as compute time,
    /// each read waiting for its chunks. Returns what the session measured and its trace.
    async fn run(
        &self,
        preload: &[u64],
        steps: &[Step],
    ) -> Result<(PlayReport, Trace), ClientError> {
        let layout = &self.session.layout;
        self.download.wait_for(preload).await?;
        let started = Instant::now();
        let mut report = PlayReport {
            preload_ms: self.session.started.elapsed().as_millis() as u64,
            ..PlayReport::default()
        };
        let mut trace = Trace {
            dxf_name: layout.meta.dxf_name.clone(),
            block_size: BLOCK_SIZE,
            launch_ms: None,
            reads: Vec::new(),
        };
        let mut digest = Md5::new();
        let mut late = Duration::ZERO;
        for step in steps {
            // The game computes for the gap; stalls so far push everything later.
            let due = started + Duration::from_millis(step.t()) + late;
            tokio::time::sleep_until(due.into()).await;
            match *step {
                Step::Launch { .. } => {
                    let now = self.session.started.elapsed();
                    report.time_to_play_ms = now.as_millis() as u64;
                    report.bytes_before_play = self.meter.fetched.load(Ordering::Relaxed);
                    trace.launch_ms = Some(started.elapsed().as_millis() as u64);
                }
                Step::Read {
                    entry, offset, len, ..
                } => {
                    let at = started.elapsed().as_millis() as u64;
                    let chunks = layout.chunks_of(entry, offset, len);
                    let waited = Instant::now();
                    if !self.download.has(&chunks) {
                        self.download.hurry(&chunks);
                        self.download.wait_for(&chunks).await?;
                        report.stalls += 1;
                        report.stall_ms += waited.elapsed().as_millis() as u64;
                        late += waited.elapsed();
                    }
                    let bytes = self.read(entry, offset, len)?;
                    digest.update(&bytes);
                    for (first, count) in layout.image_runs(entry, offset, len) {
                        trace.reads.push([at, first, count]);
                    }
                }
            }
        }
        report.reads_md5 = hex::encode(digest.finalize());
        Ok((report, trace))
    }

    /// The bytes of a read, from the tree.
    fn read(&self, entry: usize, offset: u64, len: u64) -> Result<Vec<u8>, ClientError> {
        let path = self
            .session
            .dir
            .join(&self.session.layout.entries[entry].path);
        let mut bytes = vec![0u8; len as usize];
        File::open(&path)
            .and_then(|f| f.read_exact_at(&mut bytes, offset))
            .at(&path)?;
        Ok(bytes)
    }
}
