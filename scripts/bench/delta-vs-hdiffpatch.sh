#!/usr/bin/env bash
# Byte-level differ vs HDiffPatch 2.6 (lzma2, level 9, 16 MiB window), xdelta3 -9 and
# zstd -19 --long=31 --patch-from, over whole old/new tars of each bench pair.
# Usage: scripts/bench/delta-vs-hdiffpatch.sh DATADIR [PAIR...]
#   DATADIR as produced by scripts/bench/fetch-pairs.sh; pairs default to panda phaser shift.
#   TOOLS="ours hdiff xdelta zstd" selects the tools (default: all).
# Prints one row per pair and tool: patch bytes, ratio to HDiffPatch, wall time, peak RSS.
# The end-to-end comparison (image build, patch make, apply) is scripts/bench/run.sh.
set -euo pipefail
data=${1:?usage: delta-vs-hdiffpatch.sh DATADIR [PAIR...]}
shift
pairs=${*:-panda phaser shift}
tools=${TOOLS:-ours hdiff xdelta zstd}
# shellcheck source=scripts/bench/lib.sh
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

need_tools xdelta3=xdelta3 zstd=zstd /usr/bin/time=time
need_hdiffpatch

(cd "$repo_root" && cargo build -q --locked --release --example delta_bench)
bench="$(target_dir)/release/examples/delta_bench"

printf '%-7s %-10s %14s %9s %9s %9s\n' pair tool patch_bytes vs_hdiff time_s rss_mib
for p in $pairs; do
  old="$data/$p/old.tar" new="$data/$p/new.tar"
  declare -A size=() time=() rss=()
  for t in $tools; do
    case $t in
      ours) measure "$tmp/log" "$bench" "$old" "$new" --out "$tmp/ours.7z"
            size[$t]=$(stat -c %s "$tmp/ours.7z") ;;
      hdiff) measure "$tmp/log" python3 "$bench_dir/hdiffpatch-diff.py" "$old" "$new" "$tmp/hdiff.pat"
             size[$t]=$(stat -c %s "$tmp/hdiff.pat") ;;
      xdelta) measure "$tmp/log" xdelta3 -e -9 -S djw -f -s "$old" "$new" "$tmp/x.vcdiff"
              size[$t]=$(stat -c %s "$tmp/x.vcdiff") ;;
      zstd) measure "$tmp/log" zstd -q -f -19 --long=31 --patch-from="$old" "$new" -o "$tmp/z.zst"
            size[$t]=$(stat -c %s "$tmp/z.zst") ;;
      *) echo "unknown tool $t" >&2; exit 1 ;;
    esac
    time[$t]=$secs rss[$t]=$rss_mib
  done
  for t in $tools; do
    r=-
    [ -n "${size[hdiff]:-}" ] && r=$(ratio "${size[$t]}" "${size[hdiff]}")
    printf '%-7s %-10s %14d %9s %9s %9s\n' "$p" "$t" "${size[$t]}" "$r" "${time[$t]}" "${rss[$t]}"
  done
  unset size time rss
done
