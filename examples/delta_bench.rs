//! Measures the byte-level differ on one build pair: raw stream size, `patch.7z` size,
//! diff and compression time, and checks that applying the stream rebuilds the new file.
//!
//! `cargo run --release --example delta_bench -- OLD NEW [--min-gain N] [--mismatch-cost K] [--threads N] [--out PATCH.7z] [--raw STREAM]`
//! prints one `key=value` line, read by `scripts/bench/delta-vs-hdiffpatch.sh`.

use std::io::Cursor;
use std::time::Instant;

use anyhow::{Context, bail};
use rockit_edge::engine::delta::{self, MatchParams, OldWindow};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut files, mut params, mut out) = (Vec::new(), MatchParams::default(), None);
    let mut raw_out = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--min-gain" => params.min_gain = args.next().context("--min-gain N")?.parse()?,
            "--mismatch-cost" => {
                params.mismatch_cost = args.next().context("--mismatch-cost K")?.parse()?
            }
            "--threads" => params.threads = args.next().context("--threads N")?.parse()?,
            "--out" => out = Some(args.next().context("--out FILE")?),
            "--raw" => raw_out = Some(args.next().context("--raw FILE")?),
            _ => files.push(a),
        }
    }
    let [old_path, new_path] = files.as_slice() else {
        bail!(
            "usage: delta_bench OLD NEW [--min-gain N] [--mismatch-cost K] [--threads N] [--out PATCH.7z] [--raw STREAM]"
        );
    };
    let old = std::fs::read(old_path).with_context(|| format!("reading {old_path}"))?;
    let new = std::fs::read(new_path).with_context(|| format!("reading {new_path}"))?;

    let t = Instant::now();
    let stream = delta::diff_with(&OldWindow::contiguous(&old, 0), &new, &[], params)?;
    let raw = &stream.out;
    let diff_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let archive = delta::write_7z(
        &raw[..],
        raw.len() as u64,
        &stream.literals,
        u64::MAX,
        Cursor::new(Vec::new()),
    )?
    .into_inner();
    let compress_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut rebuilt = Vec::with_capacity(new.len());
    delta::apply(&raw[..], new.len() as u64, &old[..], &mut rebuilt, [])?;
    let apply_s = t.elapsed().as_secs_f64();
    if rebuilt != new {
        bail!("applying the delta did not rebuild {new_path}");
    }
    if let Some(path) = raw_out {
        std::fs::write(&path, raw).with_context(|| format!("writing {path}"))?;
    }
    if let Some(path) = out {
        std::fs::write(&path, &archive).with_context(|| format!("writing {path}"))?;
    }
    println!(
        "raw={} patch7z={} diff_s={diff_s:.2} compress_s={compress_s:.2} apply_s={apply_s:.2}",
        raw.len(),
        archive.len()
    );
    Ok(())
}
