//! `rockit-edge image build|extract|verify`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::engine::EngineError;
use crate::engine::image::{self, AccessOrder, BuildMetadata};
use clap::{Args, Subcommand};

use super::fail;
use super::progress::with_progress;

/// `image` subcommands.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Build a ROCKIT image (img.dxf, img.idx.7z, img.json, app.json) from an uncompressed tar.
    Build(BuildArgs),
    /// Rebuild an image in a new block order from the image itself (no tar needed): the same
    /// image `build --order` makes from the build's tar.
    Reorder {
        /// Image directory.
        img_dir: PathBuf,
        /// Output directory (created if missing).
        out_dir: PathBuf,
        /// Access-order file: lines `FIRST COUNT PATH`, an optional `launch` line.
        #[arg(long)]
        order: PathBuf,
        /// Image UUID [default: derived from the new image's MD5].
        #[arg(long)]
        dxf_name: Option<uuid::Uuid>,
    },
    /// Extract the files of an image directory into OUTDIR (missing or empty).
    Extract {
        /// Image directory.
        img_dir: PathBuf,
        /// Output directory.
        out_dir: PathBuf,
    },
    /// Check an image directory against its JSON, index and checksums.
    Verify {
        /// Image directory.
        img_dir: PathBuf,
    },
}

/// Arguments of `image build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The build as an uncompressed tar.
    tar: PathBuf,
    /// Output directory (created if missing).
    out_dir: PathBuf,
    /// Access-order file: lines `FIRST COUNT PATH`; those blocks go first (the preload).
    #[arg(long)]
    order: Option<PathBuf>,
    /// Organization name for app.json.
    #[arg(long, default_value = "local")]
    org: String,
    /// App name for app.json [default: the tar's file stem].
    #[arg(long)]
    app: Option<String>,
    /// App label for app.json [default: the app name].
    #[arg(long)]
    label: Option<String>,
    /// Build number (required: it names the image in patches, `FROM -> TO`).
    #[arg(long)]
    build_id: u64,
    /// Build name for app.json [default: the tar's file stem].
    #[arg(long)]
    build_name: Option<String>,
    /// Image UUID [default: derived from the image's MD5].
    #[arg(long)]
    dxf_name: Option<uuid::Uuid>,
    /// Creation time for app.json, RFC 3339 [default: the tar's modification time].
    #[arg(long)]
    created: Option<String>,
}

/// Runs an `image` subcommand.
pub fn run(command: ImageCommand) -> ExitCode {
    let result = match command {
        ImageCommand::Build(args) => build(args),
        ImageCommand::Reorder {
            img_dir,
            out_dir,
            order,
            dxf_name,
        } => reorder(&img_dir, &out_dir, &order, dxf_name),
        ImageCommand::Extract { img_dir, out_dir } => {
            let report = with_progress("extract", |progress| {
                image::extract_image(&img_dir, &out_dir, progress)
            });
            report.map(|r| {
                println!(
                    "extracted {} files ({} bytes) and {} other entries into {}",
                    r.files,
                    r.bytes,
                    r.others,
                    out_dir.display()
                );
            })
        }
        ImageCommand::Verify { img_dir } => {
            let meta = with_progress("verify", |progress| image::verify_image(&img_dir, progress));
            meta.map(|m| {
                println!(
                    "{}: ok ({} files, md5 {})",
                    img_dir.display(),
                    m.file_count,
                    m.dxf_md5
                )
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err),
    }
}

fn build(args: BuildArgs) -> Result<(), EngineError> {
    let order = args
        .order
        .as_deref()
        .map(AccessOrder::from_file)
        .transpose()?;
    let stem = args
        .tar
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "build".to_string());
    let app = args.app.unwrap_or_else(|| stem.clone());
    let created = match args.created {
        Some(created) => created,
        None => modified_rfc3339(&args.tar)?,
    };
    let metadata = BuildMetadata {
        org_name: args.org,
        label: args.label.unwrap_or_else(|| app.clone()),
        app_name: app,
        build_id: args.build_id,
        build_name: args.build_name.unwrap_or(stem),
        dxf_name: args.dxf_name,
        created,
    };
    let report = with_progress("build", |progress| {
        image::build_image(
            &args.tar,
            &args.out_dir,
            &metadata,
            order.as_ref(),
            progress,
        )
    })?;
    for warning in &report.warnings {
        eprintln!(
            "rockit-edge: warning: {}: {}",
            warning.filename, warning.reason
        );
    }
    print_image(&report.image);
    Ok(())
}

fn reorder(
    img_dir: &Path,
    out_dir: &Path,
    order: &Path,
    dxf_name: Option<uuid::Uuid>,
) -> Result<(), EngineError> {
    let order = AccessOrder::from_file(order)?;
    let plan = image::ReorderPlan::new(img_dir, &order)?;
    let report = with_progress("reorder", |progress| {
        plan.write(out_dir, dxf_name, 0, progress)
    })?;
    print_image(&report.image);
    Ok(())
}

fn print_image(image: &image::ImageMeta) {
    let json = serde_json::to_string_pretty(image).unwrap_or_default();
    println!("{json}");
}

/// The modification time of `path` as RFC 3339 UTC: a reproducible default creation time.
fn modified_rfc3339(path: &Path) -> Result<String, EngineError> {
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|source| EngineError::Io {
            filename: path.display().to_string(),
            source,
        })?;
    let time: chrono::DateTime<chrono::Utc> = modified.into();
    Ok(time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}
