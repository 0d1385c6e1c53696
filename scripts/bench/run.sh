#!/usr/bin/env bash
# Every engine figure of docs/PERFORMANCE.md in one run, ours beside its baseline, printed as
# markdown tables (progress goes to stderr, so `run.sh DATA > table.md` keeps only the tables):
#   image build  throughput of `image build` on new.tar vs `md5sum` of new.tar, peak RSS; idle,
#                then both again beside a busy loop on one core (loaded);
#   patch        map.7z + patch.7z vs HDiffPatch 2.6 (lzma2, level 9, window 24, 1 thread),
#                xdelta3 -e -9 -S djw and zstd -19 --long=31 --patch-from over the whole tars;
#                patch make time and peak RSS vs HDiffPatch's; `7z t` of map.7z and patch.7z;
#   apply        patch apply, bulk and --streaming, vs `md5sum` of the new img.dxf (a verifying
#                apply reads and hashes what it writes), peak RSS;
#   budgets      patch make of the large pairs (--budget-pairs, default "jaxlib panda") at
#                --budget-mib 256, 1024 and 4096: size against HDiffPatch's, time, peak RSS;
#                the 1024 run (the default budget, made again) must equal the first byte for byte;
#   big pair     a generated pair of $BIG_GIB GiB (default 8; scripts/bench/game-pair.py, made
#                in TMPDIR and removed after) beside the count of new random bytes its edits
#                put in, the floor no differ can beat: patch make at the default budget (size,
#                time, new image MB/s, peak RSS), apply both ways checked, `7z t`. --no-big
#                leaves it out; it needs about 3.2 × BIG_GIB GiB of free disk.
# Usage: scripts/bench/run.sh [--pairs "panda phaser shift jaxlib datefns"]
#                             [--budget-pairs "jaxlib panda"] [--no-big] [--synthetic] DATADIR
#   DATADIR holds PAIR/old.tar and PAIR/new.tar; the pairs scripts/bench/fetch-pairs.sh knows
#   (panda phaser shift jaxlib datefns) are fetched into it when missing.
#   --synthetic adds an image-build row for DATADIR/synthetic/synthetic.tar, a generated build
#   of $SYNTH_GIB GiB (default 2; made once, with scripts/bench/synthetic-build.py).
# Environment: RUNS (default 3) runs of each command under a second or so, best time kept;
#   patch make, HDiffPatch, xdelta3, zstd run once. TMPDIR holds the images and patches.
# Builds the release binary; installs xdelta3, zstd and GNU time (apt-get, as root) and
# hdiffpatch==2.6.0 (pip) when missing.
set -euo pipefail
# shellcheck source=scripts/bench/lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
  echo "usage: scripts/bench/run.sh [--pairs \"PAIR...\"] [--budget-pairs \"PAIR...\"] [--no-big]" \
    "[--synthetic] DATADIR" >&2
  exit 2
}
pairs="panda phaser shift jaxlib datefns"
budget_pairs="jaxlib panda"
big=true
synthetic=false
data=
while [ $# -gt 0 ]; do
  case $1 in
    --pairs) [ $# -ge 2 ] || usage; pairs=$2; shift 2 ;;
    --budget-pairs) [ $# -ge 2 ] || usage; budget_pairs=$2; shift 2 ;;
    --no-big) big=false; shift ;;
    --synthetic) synthetic=true; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) usage ;;
    *) [ -z "$data" ] || usage; data=$1; shift ;;
  esac
done
[ -n "$data" ] || usage
runs=${RUNS:-3}

need_tools xdelta3=xdelta3 zstd=zstd /usr/bin/time=time md5sum=coreutils cmp=diffutils \
  7z=p7zip-full
need_hdiffpatch

mkdir -p "$data"
data=$(cd "$data" && pwd)
missing=()
for p in $pairs; do
  [ -f "$data/$p/old.tar" ] && [ -f "$data/$p/new.tar" ] && continue
  case $p in
    panda|phaser|shift|jaxlib|datefns) missing+=("$p") ;;
    *) echo "$data/$p lacks old.tar or new.tar (fetch-pairs.sh makes only panda phaser shift jaxlib datefns)" >&2
       exit 1 ;;
  esac
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fetching the build pairs ${missing[*]} into $data" >&2
  "$bench_dir/fetch-pairs.sh" "$data" "${missing[@]}" >&2
fi
if [ "$synthetic" = true ]; then
  synthetic_tar "$data/synthetic/synthetic.tar" "${SYNTH_GIB:-2}"
fi

echo "building the release binary" >&2
(cd "$repo_root" && cargo build -q --locked --release)
bin="$(target_dir)/release/rockit-edge"
[ -x "$bin" ] || { echo "no release binary at $bin" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log="$work/time.log"

build_rows=() patch_rows=() apply_rows=() budget_rows=()
# sh -c "$fresh" sh FILE CMD...: removes FILE, then runs CMD (which writes FILE anew).
# shellcheck disable=SC2016 # expanded by that sh
fresh='rm -rf "$1" && shift && exec "$@"'

image_row() { # image_row NAME TAR IMGDIR BUILDID: times md5sum and image build of TAR, idle
  # and then loaded (a busy loop on one of the cores), adds a row
  local name=$1 tar=$2 img=$3 id=$4 size md5_s build_s build_rss load md5_l build_l
  size=$(stat -c %s "$tar")
  cat "$tar" > /dev/null
  best "$runs" "$log" md5sum "$tar"; md5_s=$secs
  best "$runs" "$log" sh -c "$fresh" sh "$img" "$bin" image build "$tar" "$img" --build-id "$id"
  build_s=$secs build_rss=$rss_mib
  sh -c 'while :; do :; done' & load=$!
  best "$runs" "$log" md5sum "$tar"; md5_l=$secs
  best "$runs" "$log" sh -c "$fresh" sh "$img" "$bin" image build "$tar" "$img" --build-id "$id"
  build_l=$secs
  kill "$load"; wait "$load" 2> /dev/null || true
  build_rows+=("| $name | $(mb "$size") | $md5_s | $(per_sec "$size" "$md5_s") | $build_s |\
 $(per_sec "$size" "$build_s") | $(ratio "$md5_s" "$build_s") | $build_rss | $md5_l | $build_l |\
 $(ratio "$md5_l" "$build_l") |")
}

for p in $pairs; do
  old="$data/$p/old.tar" new="$data/$p/new.tar" w="$work/$p"
  mkdir -p "$w"
  echo "$p: image build" >&2
  "$bin" image build "$old" "$w/old" --build-id 1 > /dev/null
  image_row "$p" "$new" "$w/new" 2

  echo "$p: patch make, HDiffPatch, xdelta3, zstd" >&2
  cat "$old" "$new" > /dev/null
  measure "$log" "$bin" patch make "$w/old" "$w/new" "$w/patch"
  make_s=$secs make_rss=$rss_mib
  map=$(stat -c %s "$w/patch/map.7z")
  bulk=$(stat -c %s "$w/patch/patch.7z")
  ours=$((map + bulk))
  for a in map.7z patch.7z; do
    7z t "$w/patch/$a" > /dev/null || { echo "$p: 7z t $a failed" >&2; exit 1; }
  done
  measure "$log" python3 "$bench_dir/hdiffpatch-diff.py" "$old" "$new" "$w/hdiff.pat"
  hd_s=$secs hd_rss=$rss_mib hd=$(stat -c %s "$w/hdiff.pat")
  measure "$log" xdelta3 -e -9 -S djw -f -s "$old" "$new" "$w/x.vcdiff"
  xd=$(stat -c %s "$w/x.vcdiff")
  measure "$log" zstd -q -f -19 --long=31 --patch-from="$old" "$new" -o "$w/z.zst"
  zs=$(stat -c %s "$w/z.zst")
  rm -f "$w/hdiff.pat" "$w/x.vcdiff" "$w/z.zst"
  patch_rows+=("| $p | $(commas "$map") | $(commas "$bulk") | $(commas "$ours") | $(commas "$hd") |\
 $(ratio "$ours" "$hd") | $(commas "$xd") | $(ratio "$ours" "$xd") | $(commas "$zs") |\
 $(ratio "$ours" "$zs") | $make_s | $hd_s | $(ratio "$make_s" "$hd_s") | $make_rss | $hd_rss |")

  echo "$p: patch apply, md5sum" >&2
  dxf="$w/new/img.dxf"
  size=$(stat -c %s "$dxf")
  cat "$dxf" "$w/old/img.dxf" > /dev/null
  best "$runs" "$log" md5sum "$dxf"
  md5_s=$secs
  best "$runs" "$log" sh -c "$fresh" sh "$w/out.dxf" "$bin" patch apply "$w/old" "$w/patch" "$w/out.dxf"
  bulk_s=$secs bulk_rss=$rss_mib
  cmp "$w/out.dxf" "$dxf" || { echo "$p: bulk apply output differs from the new img.dxf" >&2; exit 1; }
  best "$runs" "$log" sh -c "$fresh" sh "$w/out.dxf" \
    "$bin" patch apply "$w/old" "$w/patch" "$w/out.dxf" --streaming
  str_s=$secs str_rss=$rss_mib
  cmp "$w/out.dxf" "$dxf" || { echo "$p: streaming apply output differs from the new img.dxf" >&2; exit 1; }
  apply_rows+=("| $p | $(mb "$size") | $md5_s | $bulk_s | $(per_sec "$size" "$bulk_s") |\
 $(ratio "$md5_s" "$bulk_s") | $bulk_rss | $str_s | $(per_sec "$size" "$str_s") |\
 $(ratio "$md5_s" "$str_s") | $str_rss |")
  if [[ " $budget_pairs " == *" $p "* ]]; then
    for mib in 256 1024 4096; do
      echo "$p: patch make --budget-mib $mib" >&2
      measure "$log" "$bin" patch make --budget-mib "$mib" "$w/old" "$w/new" "$w/budget"
      size=$(( $(stat -c %s "$w/budget/map.7z") + $(stat -c %s "$w/budget/patch.7z") ))
      if [ "$mib" = 1024 ]; then # the default budget again: the same bytes, or make is not deterministic
        for a in map.7z patch.7z patch.json; do
          cmp "$w/budget/$a" "$w/patch/$a" || { echo "$p: a second make differs in $a" >&2; exit 1; }
        done
      fi
      budget_rows+=("| $p | $mib | $(commas "$size") | $(commas "$hd") | $(ratio "$size" "$hd") |\
 $secs | $hd_s | $(ratio "$secs" "$hd_s") | $rss_mib |")
      rm -rf "$w/budget"
    done
  fi
  rm -rf "$w"
done

if [ "$synthetic" = true ]; then
  echo "synthetic: image build" >&2
  image_row "synthetic" "$data/synthetic/synthetic.tar" "$work/synthetic" 1
  rm -rf "$work/synthetic"
fi

big_row=
if [ "$big" = true ]; then
  gib=${BIG_GIB:-8} g="$work/big"
  mkdir -p "$g"
  echo "big pair: generating two builds of $gib GiB" >&2
  stats=$(python3 "$bench_dir/game-pair.py" "$g/old.tar" "$g/new.tar" "$gib")
  floor=$(json newRandomBytes <<< "$stats")
  echo "big pair: image build" >&2
  "$bin" image build "$g/old.tar" "$g/old" --build-id 1 > /dev/null
  rm "$g/old.tar"
  "$bin" image build "$g/new.tar" "$g/new" --build-id 2 > /dev/null
  rm "$g/new.tar"
  dxf_size=$(stat -c %s "$g/new/img.dxf")
  echo "big pair: patch make" >&2
  measure "$log" "$bin" patch make "$g/old" "$g/new" "$g/patch"
  make_s=$secs make_rss=$rss_mib
  ours=$(( $(stat -c %s "$g/patch/map.7z") + $(stat -c %s "$g/patch/patch.7z") ))
  data_bytes=$(stat -c %s "$g/patch/patch.data")
  for a in map.7z patch.7z; do
    7z t "$g/patch/$a" > /dev/null || { echo "big pair: 7z t $a failed" >&2; exit 1; }
  done
  echo "big pair: patch apply, both ways" >&2
  measure "$log" "$bin" patch apply "$g/old" "$g/patch" "$g/out.dxf"
  bulk_s=$secs
  cmp "$g/out.dxf" "$g/new/img.dxf" || { echo "big pair: bulk apply differs" >&2; exit 1; }
  rm "$g/out.dxf"
  measure "$log" "$bin" patch apply "$g/old" "$g/patch" "$g/out.dxf" --streaming
  str_s=$secs
  cmp "$g/out.dxf" "$g/new/img.dxf" || { echo "big pair: streaming apply differs" >&2; exit 1; }
  big_row="| $gib | $(mb "$dxf_size") | $(commas "$floor") | $(commas "$ours") |\
 $(ratio "$ours" "$floor") | $(mb "$data_bytes") | $make_s | $(per_sec "$dxf_size" "$make_s") |\
 $make_rss | $bulk_s | $str_s |"
  rm -rf "$g"
fi

echo "rockit-edge $(git -C "$repo_root" describe --always --dirty 2>/dev/null || echo unknown)," \
  "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end, best of $runs" \
  "runs for build, md5sum and apply"
echo
echo "Image build of new.tar vs md5sum of it (\"vs md5sum\": build throughput / md5sum's), idle and"
echo "loaded (a busy loop on one of the cores)"
echo
echo "| build | tar MB | md5sum s | md5sum MB/s | image build s | image build MB/s | vs md5sum |\
 peak RSS MiB | loaded: md5sum s | image build s | vs md5sum |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${build_rows[@]}"
if [ ${#patch_rows[@]} -gt 0 ]; then
  echo
  echo "Patch size in bytes (\"×\": map.7z + patch.7z / that tool's) and patch make vs HDiffPatch"
  echo
  echo "| pair | map.7z | patch.7z | map.7z + patch.7z | HDiffPatch 2.6 | × | xdelta3 -9 -S djw | × |\
 zstd -19 --long=31 --patch-from | × | patch make s | HDiffPatch s | time × | patch make RSS MiB |\
 HDiffPatch RSS MiB |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${patch_rows[@]}"
  echo
  echo "Patch apply to the new img.dxf vs md5sum of it (\"vs md5sum\": apply throughput / md5sum's)"
  echo
  echo "| pair | img.dxf MB | md5sum s | bulk s | bulk MB/s | vs md5sum | bulk RSS MiB | streaming s |\
 streaming MB/s | vs md5sum | streaming RSS MiB |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${apply_rows[@]}"
fi
if [ ${#budget_rows[@]} -gt 0 ]; then
  echo
  echo "Patch size against the memory budget (patch make --budget-mib; HDiffPatch holds both tars)"
  echo
  echo "| pair | budget MiB | map.7z + patch.7z | HDiffPatch 2.6 | × | patch make s | HDiffPatch s |\
 time × | patch make RSS MiB |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${budget_rows[@]}"
fi
if [ -n "$big_row" ]; then
  echo
  echo "Generated pair (scripts/bench/game-pair.py) against the new random bytes its edits put in"
  echo
  echo "| GiB | new img.dxf MB | new random bytes | map.7z + patch.7z | × floor | patch.data MB |\
 patch make s | new image MB/s | patch make RSS MiB | bulk apply s | streaming apply s |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  echo "$big_row"
fi
