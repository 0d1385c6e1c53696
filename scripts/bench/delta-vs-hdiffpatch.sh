#!/usr/bin/env bash
# Byte-level differ vs HDiffPatch 2.6 (lzma2, level 9, 16 MiB window), xdelta3 -9 and
# zstd -19 --long=31 --patch-from, over whole old/new tars of each bench pair.
# Usage: scripts/bench/delta-vs-hdiffpatch.sh DATADIR [PAIR...]
#   DATADIR as produced by scripts/bench/fetch-pairs.sh; pairs default to panda phaser shift.
#   TOOLS="ours hdiff xdelta zstd" selects the tools (default: all).
# Prints one row per pair and tool: patch bytes, ratio to HDiffPatch, wall time, peak RSS.
set -euo pipefail
data=${1:?usage: delta-vs-hdiffpatch.sh DATADIR [PAIR...]}
shift
pairs=${*:-panda phaser shift}
tools=${TOOLS:-ours hdiff xdelta zstd}
repo=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

need() { command -v "$1" >/dev/null || { echo "missing $1 (Debian package $2)" >&2; exit 1; }; }
need xdelta3 xdelta3
need zstd zstd
[ -x /usr/bin/time ] || { echo "missing /usr/bin/time (Debian package time)" >&2; exit 1; }
python3 -c 'import hdiffpatch' 2>/dev/null || python3 -m pip install -q hdiffpatch==2.6.0

(cd "$repo" && cargo build -q --release --example delta_bench)
bench="$repo/target/release/examples/delta_bench"

cat > "$tmp/hdiff.py" <<'PY'
import sys, hdiffpatch
old = open(sys.argv[1], "rb").read()
new = open(sys.argv[2], "rb").read()
patch = hdiffpatch.diff(old, new, hdiffpatch.Lzma2Config(level=9, window=24, threads=1),
                        validate=False)
open(sys.argv[3], "wb").write(patch)
PY

measure() { # measure LOG CMD...: runs CMD under time -v; sets secs and rss_mb
  /usr/bin/time -v "${@:2}" > "$1.out" 2> "$1"
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0;
    for (i = 1; i <= n; i++) s = s * 60 + t[i]; printf "%.1f", s}' "$1")
  rss_mb=$(awk -F': ' '/Maximum resident/ {printf "%.0f", $2 / 1024}' "$1")
}

printf '%-7s %-10s %14s %9s %9s %9s\n' pair tool patch_bytes vs_hdiff time_s rss_mb
for p in $pairs; do
  old="$data/$p/old.tar" new="$data/$p/new.tar"
  declare -A size=() time=() rss=()
  for t in $tools; do
    case $t in
      ours) measure "$tmp/log" "$bench" "$old" "$new" --out "$tmp/ours.7z"
            size[$t]=$(stat -c %s "$tmp/ours.7z") ;;
      hdiff) measure "$tmp/log" python3 "$tmp/hdiff.py" "$old" "$new" "$tmp/hdiff.pat"
             size[$t]=$(stat -c %s "$tmp/hdiff.pat") ;;
      xdelta) measure "$tmp/log" xdelta3 -e -9 -S djw -f -s "$old" "$new" "$tmp/x.vcdiff"
              size[$t]=$(stat -c %s "$tmp/x.vcdiff") ;;
      zstd) measure "$tmp/log" zstd -q -f -19 --long=31 --patch-from="$old" "$new" -o "$tmp/z.zst"
            size[$t]=$(stat -c %s "$tmp/z.zst") ;;
      *) echo "unknown tool $t" >&2; exit 1 ;;
    esac
    time[$t]=$secs rss[$t]=$rss_mb
  done
  for t in $tools; do
    ratio=-
    [ -n "${size[hdiff]:-}" ] && ratio=$(awk -v a="${size[$t]}" -v b="${size[hdiff]}" 'BEGIN {printf "%.3f", a / b}')
    printf '%-7s %-10s %14d %9s %9s %9s\n' "$p" "$t" "${size[$t]}" "$ratio" "${time[$t]}" "${rss[$t]}"
  done
  unset size time rss
done
