//! The bulk path: `patch.7z` holds `patch.data` delta-coded against the old `img.dxf` (byte
//! level approximate matches, see [`crate::engine::delta`]), LZMA2-compressed in 7z. With
//! `map.7z` it rebuilds the new image on its own: `patch.7z` decodes into the bytes of
//! `patch.data`, which the map then uses as the streaming path does.

use std::fs::File;
use std::io::{BufReader, BufWriter, ErrorKind, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::apply::{open_old, read_meta, rebuild, with_anchors};
use super::make::make_patch;
use super::passes::{Pass, plan_passes};
use super::{DATA_FILE, PATCH_JSON, PatchMeta};
use crate::engine::delta::{
    self, DeltaError, DiffError, Differ, FileSource, MatchParams, OldSource, OldWindow, RawStream,
    StreamCoder,
};
use crate::engine::error::{EngineError, IoContext, Result};
use crate::engine::fsio::AtomicFile;
use crate::engine::image::{BLOCK_SIZE, DXF_FILE};
use crate::engine::pipe;
use crate::engine::progress::{Progress, StopReader, or_cancelled, stopped};
use crate::engine::sevenz;

/// Name of the bulk patch archive.
pub const BULK_FILE: &str = "patch.7z";
/// Where the raw delta stream is staged before compression, inside the patch directory.
const RAW_STAGING: &str = "patch.raw.tmp";
/// Bytes in flight between the threads of a bulk apply: the delta stream is applied a chunk
/// at a time, each chunk's sections read and its output written in one burst.
const PIPED: usize = delta::CHUNK_NEW as usize + (2 << 20);
/// Default memory budget of `patch make` (old window index + data).
pub const DEFAULT_BUDGET: u64 = 1 << 30;

/// Memory of the process besides its current stage's data: its code, stacks, read buffers
/// and what the allocator keeps, measured: without it a 1 GiB make whose old image needs
/// passes peaked at 1,028 MiB.
const PROCESS_BYTES: u64 = 32 << 20;
/// The differ's table of suffix-array buckets.
const BUCKET_BYTES: u64 = 64 << 20;

/// Memory outside the old window and its suffix array: the bucket table, the differ's
/// working set (see [`delta::working_bytes`]) and the rest of the process.
fn fixed_bytes() -> u64 {
    BUCKET_BYTES + PROCESS_BYTES + delta::working_bytes(MatchParams::default().threads) as u64
}

/// The old-image bytes the differ may index within `budget`: the suffix array and the window
/// take 5 bytes per old byte; `patch.data` is read a segment at a time and the raw stream
/// goes to a file, so neither counts.
pub fn old_window_len(old_len: u64, budget: u64) -> u64 {
    let room = budget.saturating_sub(fixed_bytes()) / 5;
    old_len.min(room).min(delta::MAX_WINDOW as u64)
}

/// Makes the whole patch from `old_dir` to `new_dir` into `out_dir` (see [`make_patch`]) plus
/// `patch.7z`, within `budget` bytes of memory; returns `patch.json` and the size of
/// `patch.7z`. When the whole old image fits the budget, its suffix index is built on its
/// own thread while the block map is made, the two being independent until the differ needs
/// `patch.data`. Otherwise the block map comes first and `patch.data` is coded in passes,
/// each against the old bytes most like its content ([`plan_passes`]).
pub fn make_patch_with_bulk(
    old_dir: &Path,
    new_dir: &Path,
    out_dir: &Path,
    budget: u64,
    progress: &dyn Progress,
) -> Result<(PatchMeta, u64)> {
    if budget < min_budget() {
        let reason = format!(
            "a memory budget of {budget} bytes is below the differ's working set of {} bytes; \
             raise it",
            min_budget()
        );
        return Err(bad_bulk(out_dir, reason));
    }
    let old_path = old_dir.join(DXF_FILE);
    let old_file = File::open(&old_path).at(&old_path)?;
    let old_len = old_file.metadata().at(&old_path)?.len();
    let old = OldImage {
        file: &old_file,
        path: &old_path,
        len: old_len,
    };
    let window_len = old_window_len(old_len, budget);
    let raw_path = out_dir.join(RAW_STAGING);
    let code = |windows: Windows<'_, '_>, meta: &PatchMeta| {
        write_raw(&old, windows, out_dir, &raw_path, meta, progress)
    };
    let coded = if window_len == old_len {
        let window = read_regions(&old, &[(0, old_len)])?;
        std::thread::scope(|scope| {
            let indexer = scope.spawn(|| Differ::new(OldWindow::contiguous(&window, 0)));
            let meta = make_patch(old_dir, new_dir, out_dir, progress);
            let differ = match indexer.join() {
                Ok(differ) => differ.map_err(|e| bad_bulk(out_dir, e))?,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            let meta = meta?;
            let raw = code(Windows::Whole(&differ), &meta)?;
            Ok((meta, raw))
        })
    } else {
        make_patch(old_dir, new_dir, out_dir, progress).and_then(|meta| {
            let data_path = out_dir.join(DATA_FILE);
            let data = File::open(&data_path).at(&data_path)?;
            let passes = with_anchors(out_dir, &meta, old_len / BLOCK_SIZE, |anchors| {
                plan_passes(
                    (old.file, old.path, old_len),
                    (&data, &data_path, meta.data_bytes),
                    anchors,
                    window_len,
                    window_len,
                    progress,
                )
            })?;
            let raw = code(Windows::Passes(&passes), &meta)?;
            Ok((meta, raw))
        })
    };
    // The window and its index are gone before LZMA2 takes its own memory.
    let packed = coded.and_then(|(meta, raw)| {
        let memory = budget.saturating_sub(PROCESS_BYTES);
        let size = pack_raw(raw, &raw_path, &out_dir.join(BULK_FILE), memory, progress)?;
        Ok((meta, size))
    });
    let _ = std::fs::remove_file(&raw_path);
    if packed.is_err() {
        // patch.json marks a finished patch: without patch.7z this one is not.
        let _ = std::fs::remove_file(out_dir.join(PATCH_JSON));
    }
    packed
}

/// The smallest memory budget `patch make` accepts: the differ's fixed working set plus a
/// 1 MiB window.
pub fn min_budget() -> u64 {
    fixed_bytes() + (1 << 20)
}

/// The old image's `img.dxf`, open.
struct OldImage<'a> {
    file: &'a File,
    path: &'a Path,
    len: u64,
}

/// What the differ indexes: the whole old image, sorted already, or one window per pass.
enum Windows<'a, 'w> {
    Whole(&'a Differ<'w>),
    Passes(&'a [Pass]),
}

/// Reads the old-image `regions` (`(offset, length)`) back to back into one window.
fn read_regions(old: &OldImage<'_>, regions: &[(u64, u64)]) -> Result<Vec<u8>> {
    let mut window = vec![0u8; regions.iter().map(|r| r.1).sum::<u64>() as usize];
    let mut at = 0usize;
    for &(offset, len) in regions {
        let len = len as usize;
        old.file
            .read_exact_at(&mut window[at..at + len], offset)
            .at(old.path)?;
        at += len;
    }
    Ok(window)
}

/// Codes `patch.data` of the patch in `patch_dir` against `windows` into the raw delta
/// stream at `raw_path`, anchored by the patch's `map.7z`; returns the file, positioned at
/// its end. With passes, one window and its index are in memory at a time. Stops between
/// segments when `progress` asks.
fn write_raw(
    old: &OldImage<'_>,
    windows: Windows<'_, '_>,
    patch_dir: &Path,
    raw_path: &Path,
    meta: &PatchMeta,
    progress: &dyn Progress,
) -> Result<RawStream<File>> {
    let data_path = patch_dir.join(DATA_FILE);
    let data = File::open(&data_path).at(&data_path)?;
    let data_len = data.metadata().at(&data_path)?.len();
    let raw = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(raw_path)
        .at(raw_path)?;
    let read_new = |pos: u64, buf: &mut [u8]| {
        if progress.cancelled() {
            return Err(stopped());
        }
        data.read_exact_at(buf, pos)
    };
    let bad = |e: DiffError| bad_bulk(patch_dir, e);
    let params = MatchParams::default();
    let coded = with_anchors(patch_dir, meta, old.len / BLOCK_SIZE, |anchors| {
        let out = BufWriter::with_capacity(1 << 20, raw);
        let mut coder = StreamCoder::new(out, data_len, anchors).map_err(bad)?;
        match windows {
            Windows::Whole(differ) => differ
                .code_until(&mut coder, data_len, read_new, params)
                .map_err(bad)?,
            Windows::Passes(passes) => {
                for pass in passes {
                    let window = read_regions(old, &pass.regions)?;
                    let differ = OldWindow::from_regions(&window, &pass.regions)
                        .and_then(Differ::new)
                        .map_err(bad)?;
                    differ
                        .code_until(&mut coder, pass.end, read_new, params)
                        .map_err(bad)?;
                }
            }
        }
        let stream = coder.finish().map_err(bad)?;
        Ok(RawStream {
            out: stream
                .out
                .into_inner()
                .map_err(|e| bad_bulk(patch_dir, e))?,
            literals: stream.literals,
        })
    });
    or_cancelled(progress, coded)
}

/// A defect of `patch.7z`, found while reading it.
fn corrupt_bulk(reason: String) -> EngineError {
    EngineError::corrupt_patch(BULK_FILE, reason)
}

/// `patch.7z` of the patch in `dir` could not be made, for `reason`.
fn bad_bulk(dir: &Path, reason: impl ToString) -> EngineError {
    EngineError::BadOutput {
        filename: dir.join(BULK_FILE).display().to_string(),
        reason: reason.to_string(),
    }
}

/// Compresses the raw stream in `raw` (written, positioned at its end) into `target`, the
/// encoder within `memory` bytes; stops when `progress` asks.
fn pack_raw(
    raw: RawStream<File>,
    raw_path: &Path,
    target: &Path,
    memory: u64,
    progress: &dyn Progress,
) -> Result<u64> {
    let RawStream {
        out: mut raw,
        literals,
    } = raw;
    let raw_len = raw.stream_position().at(raw_path)?;
    raw.seek(SeekFrom::Start(0)).at(raw_path)?;
    let mut out = AtomicFile::create(target)?;
    let input = StopReader::new(BufReader::with_capacity(1 << 20, raw), progress);
    let packed = delta::write_7z(input, raw_len, &literals, memory, out.file()).at(target);
    or_cancelled(progress, packed)?;
    let size = out.file().seek(SeekFrom::End(0)).at(target)?;
    out.commit()?;
    Ok(size)
}

/// Rebuilds the new `img.dxf` from `old_dir`, `map.7z` and `patch.7z` alone (no `patch.data`
/// needed), checked against `patch.json`. A thread decodes `patch.7z` into an in-process pipe
/// while this one follows the map, taking `patch.data`'s bytes from the pipe as they come:
/// the two run on separate cores and nothing is staged on disk.
pub fn apply_patch_bulk(
    old_dir: &Path,
    patch_dir: &Path,
    out_dxf: &Path,
    progress: &dyn Progress,
) -> Result<PatchMeta> {
    let meta = read_meta(patch_dir)?;
    let old = open_old(old_dir, &meta)?;
    let old_path = old_dir.join(DXF_FILE);
    let source = FileSource::new(old.dxf.try_clone().at(&old_path)?).at(&old_path)?;
    let bulk_path = patch_dir.join(BULK_FILE);
    let (decoded_into, mut data) = pipe::pipe(PIPED);
    let (rebuilt, decoded) = std::thread::scope(|scope| {
        let decoder = scope.spawn(|| decode_bulk(patch_dir, &meta, &source, decoded_into));
        let rebuilt = rebuild(
            &old, patch_dir, &meta, &mut data, &bulk_path, out_dxf, progress,
        )
        .and_then(|out| {
            // A map that leaves decoded bytes unused must not leave the decoder blocked.
            std::io::copy(&mut data, &mut std::io::sink()).at(&bulk_path)?;
            Ok(out)
        });
        drop(data);
        match decoder.join() {
            Ok(decoded) => (rebuilt, decoded),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    match (rebuilt, decoded) {
        // The decoder's own defect explains whatever the rebuild saw of it.
        (_, Decoded::Failed(e)) => Err(e),
        (Err(e), _) => Err(e),
        (Ok(out), Decoded::Done) => {
            out.commit()?;
            Ok(meta)
        }
        (Ok(_), Decoded::ReaderGone) => Err(bad_bulk(patch_dir, "decoder stopped early")),
    }
}

/// How the thread decoding `patch.7z` ended.
enum Decoded {
    /// It produced exactly `dataBytes`.
    Done,
    /// The rebuild stopped reading (for a reason of its own, which it reports).
    ReaderGone,
    /// `patch.7z` or `map.7z` is defective.
    Failed(EngineError),
}

/// Decodes `patch.7z` of the patch in `patch_dir` against `old` into `out`: the bytes of
/// `patch.data`, in order. `old` is any random-access view of the old image, such as a
/// launcher's installed files read through the old image's index, which never were an
/// `img.dxf`. A defect of `patch.7z` or `map.7z` is an error naming it.
pub fn decode_bulk_data<O: OldSource + ?Sized + Sync>(
    patch_dir: &Path,
    meta: &PatchMeta,
    old: &O,
    out: impl Write,
) -> Result<()> {
    match decode_bulk(patch_dir, meta, old, out) {
        Decoded::Done => Ok(()),
        Decoded::ReaderGone => Err(bad_bulk(patch_dir, "the output was closed")),
        Decoded::Failed(e) => Err(e),
    }
}

/// Decodes the delta stream of `patch.7z` in `patch_dir` against `old`, anchored by its
/// `map.7z`, into `out`. LZMA2 unpacks on a thread of its own, handing the raw stream over
/// through a pipe, so that unpacking and applying the differences share the cores.
fn decode_bulk<O: OldSource + ?Sized + Sync>(
    patch_dir: &Path,
    meta: &PatchMeta,
    old: &O,
    out: impl Write,
) -> Decoded {
    let old_blocks = old.size() / BLOCK_SIZE;
    let (raw_into, raw) = pipe::pipe(PIPED);
    let (unpacked, applied) = std::thread::scope(|scope| {
        let unpacker = scope.spawn(|| unpack(patch_dir, raw_into));
        let applied = with_anchors(patch_dir, meta, old_blocks, |anchors| {
            match delta::apply(raw, meta.data_bytes, old, out, anchors) {
                Ok(()) => Ok(Decoded::Done),
                Err(DeltaError::Io(e)) if e.kind() == ErrorKind::BrokenPipe => {
                    Ok(Decoded::ReaderGone)
                }
                Err(e) => Err(corrupt_bulk(e.to_string())),
            }
        });
        match unpacker.join() {
            Ok(unpacked) => (unpacked, applied),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    // A defect of patch.7z itself explains whatever the differences made of its bytes.
    match (unpacked, applied) {
        (Err(e), _) => Decoded::Failed(e),
        (Ok(()), applied) => applied.unwrap_or_else(Decoded::Failed),
    }
}

/// Unpacks the raw delta stream of `patch.7z` in `patch_dir` into `raw`. Stops quietly when
/// the reader is gone: it says why.
fn unpack(patch_dir: &Path, mut raw: pipe::PipeWriter) -> Result<()> {
    sevenz::read_single(patch_dir, BULK_FILE, corrupt_bulk, |input| {
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(corrupt_bulk(e.to_string())),
            };
            if raw.write_all(&buf[..n]).is_err() {
                return Ok(());
            }
        }
        // A reader gone before the end has said why.
        let _ = raw.flush();
        Ok(())
    })
}
