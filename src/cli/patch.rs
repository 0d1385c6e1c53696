//! `rockit-edge patch make|apply`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::engine::patch;
use clap::Subcommand;

use super::fail;
use super::progress::TermProgress;

/// `patch` subcommands.
#[derive(Debug, Subcommand)]
pub enum PatchCommand {
    /// Make the patch from image OLDIMG to image NEWIMG (map.7z, patch.data, patch.json, and
    /// NEWIMG's app.json and img.json) in OUTDIR.
    Make {
        /// The old image directory.
        old_img: PathBuf,
        /// The new image directory.
        new_img: PathBuf,
        /// Output directory (created if missing).
        out_dir: PathBuf,
    },
    /// Rebuild the new img.dxf from OLDIMG and PATCHDIR, checked against patch.json.
    Apply {
        /// The old image directory.
        old_img: PathBuf,
        /// The patch directory.
        patch_dir: PathBuf,
        /// Where to write the new img.dxf.
        out_dxf: PathBuf,
        /// Use map.7z + patch.data (the streaming path). Required: the bulk path (patch.7z) is
        /// not part of this build yet.
        #[arg(long)]
        streaming: bool,
    },
}

/// Runs a `patch` subcommand.
pub fn run(command: PatchCommand) -> ExitCode {
    let result = match command {
        PatchCommand::Make {
            old_img,
            new_img,
            out_dir,
        } => {
            let progress = TermProgress::new("patch");
            let meta = patch::make_patch(&old_img, &new_img, &out_dir, &progress);
            progress.finish();
            meta.map(|m| {
                println!(
                    "{}: {} blocks reused, {} new ({} bytes of patch.data), {} zero",
                    out_dir.display(),
                    m.reused_blocks,
                    m.new_blocks,
                    m.data_bytes,
                    m.zero_blocks
                );
            })
        }
        PatchCommand::Apply {
            streaming: false, ..
        } => {
            eprintln!(
                "rockit-edge: the bulk path (patch.7z) is not available yet; use --streaming"
            );
            return ExitCode::from(2);
        }
        PatchCommand::Apply {
            old_img,
            patch_dir,
            out_dxf,
            streaming: true,
        } => {
            let progress = TermProgress::new("apply");
            let meta = patch::apply_patch_streaming(&old_img, &patch_dir, &out_dxf, &progress);
            progress.finish();
            meta.map(|m| println!("{}: ok (md5 {})", out_dxf.display(), m.to_dxf_md5))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err),
    }
}
