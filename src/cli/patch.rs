//! `rockit-edge patch make|apply|verify`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::engine::patch;
use clap::Subcommand;

use super::fail;
use super::progress::with_progress;
use crate::engine::error::Result as EngineResult;
use crate::engine::progress::Progress;

/// Either way of applying a patch: old image, patch directory, output `img.dxf`.
type ApplyFn = fn(&Path, &Path, &Path, &dyn Progress) -> EngineResult<patch::PatchMeta>;

/// `patch` subcommands.
#[derive(Debug, Subcommand)]
pub enum PatchCommand {
    /// Make the patch from image OLDIMG to image NEWIMG (map.7z, patch.data, patch.7z,
    /// patch.json, and NEWIMG's app.json and img.json) in OUTDIR.
    Make {
        /// The old image directory.
        old_img: PathBuf,
        /// The new image directory.
        new_img: PathBuf,
        /// Output directory (created if missing).
        out_dir: PathBuf,
        /// Memory budget of the byte-level differ in MiB: a larger budget indexes more of the
        /// old image and can find more matches.
        #[arg(long, default_value_t = patch::DEFAULT_BUDGET >> 20)]
        budget_mib: u64,
    },
    /// Rebuild the new img.dxf from OLDIMG and PATCHDIR, checked against patch.json.
    Apply {
        /// The old image directory.
        old_img: PathBuf,
        /// The patch directory.
        patch_dir: PathBuf,
        /// Where to write the new img.dxf.
        out_dxf: PathBuf,
        /// Use map.7z + patch.data (the streaming path) instead of map.7z + patch.7z (bulk).
        #[arg(long)]
        streaming: bool,
    },
    /// Check a patch directory on its own (no old image needed): patch.json, the new
    /// img.json, patch.data's size and MD5, every run of map.7z and patch.7z's checksums.
    Verify {
        /// The patch directory.
        patch_dir: PathBuf,
    },
}

/// Runs a `patch` subcommand.
pub fn run(command: PatchCommand) -> ExitCode {
    let result = match command {
        PatchCommand::Make {
            old_img,
            new_img,
            out_dir,
            budget_mib,
        } => {
            let made = with_progress("patch", |progress| {
                patch::make_patch_with_bulk(
                    &old_img,
                    &new_img,
                    &out_dir,
                    budget_mib << 20,
                    progress,
                )
            });
            made.map(|(m, bulk)| {
                println!(
                    "{}: {} blocks reused, {} new ({} bytes of patch.data, {} bytes of patch.7z), {} zero",
                    out_dir.display(),
                    m.reused_blocks,
                    m.new_blocks,
                    m.data_bytes,
                    bulk,
                    m.zero_blocks
                )
            })
        }
        PatchCommand::Apply {
            old_img,
            patch_dir,
            out_dxf,
            streaming,
        } => {
            let apply: ApplyFn = if streaming {
                patch::apply_patch_streaming
            } else {
                patch::apply_patch_bulk
            };
            with_progress("apply", |progress| {
                apply(&old_img, &patch_dir, &out_dxf, progress)
            })
            .map(|m| println!("{}: ok (md5 {})", out_dxf.display(), m.to_dxf_md5))
        }
        PatchCommand::Verify { patch_dir } => {
            let meta = with_progress("verify", |progress| {
                patch::verify_patch(&patch_dir, progress)
            });
            meta.map(|m| {
                println!(
                    "{}: ok ({} -> {}, {} blocks)",
                    patch_dir.display(),
                    m.from_build_id,
                    m.to_build_id,
                    m.block_count
                )
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err),
    }
}
