#!/usr/bin/env bash
# Image build throughput against md5sum over the same tar (the single-pass floor), and peak RSS.
# Usage: scripts/engine/bench-image.sh [TAR...]
#   Without TARs, generates a synthetic build of $SYNTH_GIB GiB (default 2) under $BENCH_DIR
#   (default ./bench-data/synthetic): thousands of files from 1 KiB to 64 MiB, random and
#   repeated content, a few sparse-ish zero runs.
# Needs a release binary (cargo build --release) and GNU time (/usr/bin/time).
set -euo pipefail
bin=${ROCKIT_EDGE:-target/release/rockit-edge}
bench=${BENCH_DIR:-bench-data/synthetic}
runs=${RUNS:-3}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time is required (apt-get install -y time)" >&2; exit 1; }

synthetic() { # synthetic TAR GIB
  [ -f "$1" ] && return
  mkdir -p "$(dirname "$1")"
  python3 - "$1.part" "$2" <<'PY'
import io, os, random, sys, tarfile
path, gib = sys.argv[1], float(sys.argv[2])
target = int(gib * (1 << 30))
rng = random.Random(42)
shared = os.urandom(1 << 20)
written = 0
with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
    n = 0
    while written < target:
        size = min(int(rng.paretovariate(1.1) * 16384), 64 << 20, target - written)
        kind = rng.random()
        if kind < 0.6:
            data = rng.randbytes(size)
        elif kind < 0.85:
            data = (shared * (size // len(shared) + 1))[:size]
        else:
            data = bytes(size // 2) + rng.randbytes(size - size // 2)
        info = tarfile.TarInfo(f"data/{n % 97:02d}/file{n:06d}.bin")
        info.size = size
        tar.addfile(info, io.BytesIO(data))
        written += size
        n += 1
PY
  mv "$1.part" "$1"
}

best() { # best CMD... : best wall seconds of $runs runs; peak RSS KiB of the last run in $rss
  local t b=""
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o /tmp/bench-time.$$ "$@" > /dev/null
    read -r t rss < /tmp/bench-time.$$
    if [ -z "$b" ] || awk "BEGIN{exit !($t < $b)}"; then b=$t; fi
  done
  rm -f /tmp/bench-time.$$
  echo "$b"
}

tars=("$@")
if [ ${#tars[@]} -eq 0 ]; then
  synthetic "$bench/synthetic.tar" "${SYNTH_GIB:-2}"
  tars=("$bench/synthetic.tar")
fi
printf '%-40s %10s %10s %10s %8s %10s\n' tar MB md5sum_s build_s ratio rss_MiB
for tar in "${tars[@]}"; do
  out=$(mktemp -d)
  cat "$tar" > /dev/null
  m=$(best md5sum "$tar")
  b=$(best sh -c "rm -rf '$out/img' && '$bin' image build '$tar' '$out/img'")
  size=$(stat -c %s "$tar")
  awk -v n="$tar" -v s="$size" -v m="$m" -v b="$b" -v r="$rss" 'BEGIN{
    printf "%-40s %10.1f %10.2f %10.2f %8.2f %10.1f\n", n, s/1e6, m, b, m/b, r/1024 }'
  rm -rf "$out"
done
