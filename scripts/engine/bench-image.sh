#!/usr/bin/env bash
# Image build throughput against md5sum over the same tar (the single-pass floor), and peak RSS.
# Also shows `cp` of the tar to a new file: the cost of writing that many new bytes on this
# machine (on some VMs first-touch page-cache writes are slower than md5sum itself).
# Usage: scripts/engine/bench-image.sh [TAR...]
#   Without TARs, generates a synthetic build of $SYNTH_GIB GiB (default 2) under $BENCH_DIR
#   (default ./bench-data/synthetic): thousands of files from 1 KiB to 64 MiB, random and
#   repeated content, a few sparse-ish zero runs (scripts/bench/synthetic-build.py).
# Needs a release binary (cargo build --release) and GNU time (/usr/bin/time).
# scripts/bench/run.sh prints this comparison together with the patch and apply figures.
set -euo pipefail
# shellcheck source=scripts/bench/lib.sh
. "$(dirname "$0")/../bench/lib.sh"
bin=${ROCKIT_EDGE:-target/release/rockit-edge}
bench=${BENCH_DIR:-bench-data/synthetic}
runs=${RUNS:-3}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time is required (apt-get install -y time)" >&2; exit 1; }
log=$(mktemp); trap 'rm -f "$log" "$log.out"' EXIT

tars=("$@")
if [ ${#tars[@]} -eq 0 ]; then
  synthetic_tar "$bench/synthetic.tar" "${SYNTH_GIB:-2}"
  tars=("$bench/synthetic.tar")
fi
printf '%-40s %9s %9s %7s %9s %7s %8s\n' tar MB md5sum_s cp_s build_s ratio rss_MiB
for tar in "${tars[@]}"; do
  out=$(mktemp -d)
  cat "$tar" > /dev/null
  best "$runs" "$log" md5sum "$tar"; m=$secs
  best "$runs" "$log" sh -c "rm -f '$out/copy' && cp '$tar' '$out/copy'"; c=$secs
  best "$runs" "$log" "$bin" image build "$tar" "$out/img" --build-id 1; b=$secs rss=$rss_mib
  size=$(stat -c %s "$tar")
  printf '%-40s %9s %9s %7s %9s %7s %8s\n' "$tar" "$(mb "$size")" "$m" "$c" "$b" "$(ratio "$m" "$b")" "$rss"
  rm -rf "$out"
done
