#!/usr/bin/env bash
# Image build throughput against md5sum over the same tar (the single-pass floor), and peak RSS.
# Also shows `cp` of the tar to a new file: the cost of writing that many new bytes on this
# machine (on some VMs first-touch page-cache writes are slower than md5sum itself).
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
timing=$(mktemp); trap 'rm -f "$timing"' EXIT

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

best() { # best CMD... : prints "best-wall-seconds peak-RSS-KiB" over $runs runs
  local t r b="" m=0
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$timing" "$@" > /dev/null
    read -r t r < "$timing"
    if [ -z "$b" ] || awk "BEGIN{exit !($t < $b)}"; then b=$t; fi
    if [ "$r" -gt "$m" ]; then m=$r; fi
  done
  echo "$b $m"
}

tars=("$@")
if [ ${#tars[@]} -eq 0 ]; then
  synthetic "$bench/synthetic.tar" "${SYNTH_GIB:-2}"
  tars=("$bench/synthetic.tar")
fi
printf '%-40s %9s %9s %7s %9s %7s %8s\n' tar MB md5sum_s cp_s build_s ratio rss_MiB
for tar in "${tars[@]}"; do
  out=$(mktemp -d)
  cat "$tar" > /dev/null
  read -r m _ < <(best md5sum "$tar")
  read -r c _ < <(best sh -c "rm -f '$out/copy' && cp '$tar' '$out/copy'")
  read -r b rss < <(best "$bin" image build "$tar" "$out/img")
  size=$(stat -c %s "$tar")
  awk -v n="$tar" -v s="$size" -v m="$m" -v c="$c" -v b="$b" -v r="$rss" 'BEGIN{
    printf "%-40s %9.1f %9.2f %7.2f %9.2f %7.2f %8.1f\n", n, s/1e6, m, c, b, m/b, r/1024 }'
  rm -rf "$out"
done
