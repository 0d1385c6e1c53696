#!/usr/bin/env bash
# Training's figures (docs/PERFORMANCE.md, "Training"). Prints markdown tables; progress goes
# to stderr.
#   A generated game (GAME_SIZE, default 1G; scripts/bench/game-gen.py, 10 sessions) is
#   imported into a release server. Sessions 1-5 are played with `client play --upload` on the
#   untraced image; the trigger trains; sessions 6-10 (held out: other jitter seeds) are played
#   on the trained image at LIMIT (default 12.5M, the client's rate: powers of 1024) with
#   `--trace`. Printed side by side:
#   - the trained preload against the minimum: the distinct image bytes the held-out sessions
#     read before launch (from their traces);
#   - time to play on the trained image (each held-out session) against the minimum bytes at
#     the rate, against the untraced image (session 6 at LIMIT) and against a full download
#     (`curl --limit-rate` of img.dxf);
#   - the trained image's build (the mkseq task) against the first build (the mkraw task) as
#     the server ran them, and the engine's part of each on its own, alternated and best of 3
#     (the server's tasks ran at different moments of the page cache's life): `image reorder`
#     of the untraced image with the generator's boot order (an order of the learned one's
#     size) against `image build` of the tar.
# Usage: scripts/bench/training.sh [DATA]   (DATA: where the generated game is kept; default
#        $ROCKIT_BENCH_DATA or ~/.cache/rockit-edge/bench-data)
set -euo pipefail
# shellcheck source=scripts/bench/lib.sh
. "$(dirname "$0")/lib.sh"

game_size=${GAME_SIZE:-1G}
limit=${LIMIT:-12.5M}
need_tools curl=curl /usr/bin/time=time python3=python3

release_binary
bench_cache "${1:-}"
g=$cache/training-game-$game_size
if [ ! -f "$g/game.json" ]; then
  echo "generating the $game_size game" >&2
  python3 "$bench_dir/game-gen.py" "$g" --size "$game_size" --sessions 10 >&2
fi
new_work
rate=$(rate_bytes "$limit")

data=$work/data
serve_bench "$bin"
auth="authorization: Bearer $(bench_org "$bin" "$data" "$base" "$ca")"
api() { curl -sf --cacert "$ca" -H "$auth" "$@"; }
api -X POST "$base/be/v1/apps" -d '{"name":"game","label":"game"}' >/dev/null
key=$(api -X POST "$base/be/v1/keys" -d '{"appName":"game"}' | json key)
# Training starts from the trigger below, not from the fifth trace.
api -X PATCH "$base/be/v1/trainings" -d '{"appName":"game","nTracesReliable":1000}' >/dev/null

wait_task() { # wait_task NAME: waits until the task ends; prints it
  local status
  while :; do
    status=$(api "$base/be/v1/tasks/$1" | json task status)
    case $status in done | failed | expired) break ;; esac
    sleep 0.2
  done
  api "$base/be/v1/tasks/$1" | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["task"]))'
}
task_secs() { # task_secs: the seconds from started to ended of the task JSON on stdin
  python3 -c 'import json, sys
from datetime import datetime
t = json.load(sys.stdin)
d = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
print("%.2f" % (d(t["ended"]) - d(t["started"])).total_seconds())'
}
play() { # play SESSION DIR [ARGS...]: plays session-SESSION on an empty install in DIR; the report is DIR.json
  rm -rf "$2"
  "$bin" client play --server "$base" --org bench --app game --access-key "$key" --ca-cert "$ca" \
    --dir "$2" --script "$g/session-$1.jsonl" --report "$2.json" "${@:3}"
}

echo "importing the game" >&2
url=$(api -X POST "$base/be/v1/builds" -d '{"appName":"game"}' | json uploadUrl)
mkraw=$(curl -sf --cacert "$ca" -T "$g/game.tar" "$url" | json taskName)
build_secs=$(wait_task "$mkraw" | task_secs)
untraced=$(api "$base/be/v1/apps/game" | json app dxfName)
image=$(curl -sf --cacert "$ca" -X POST "$base/client/v1/auth" \
  -d '{"orgName":"bench","appName":"game","accessKey":"'"$key"'"}' | json files dxf 3 size)

for n in 1 2 3 4 5; do
  echo "session $n on the untraced image, --upload" >&2
  play "$n" "$work/train" --upload
done
echo "session 6 on the untraced image at $limit" >&2
play 6 "$work/untraced" --limit-rate "$limit"
untraced_ttp=$(json timeToPlayMs < "$work/untraced.json")
echo "full download of img.dxf at $limit" >&2
dxf_url=$(curl -sf --cacert "$ca" -X POST "$base/client/v1/auth" \
  -d '{"orgName":"bench","appName":"game","accessKey":"'"$key"'"}' | json sources depot dxf img.dxf)
measure "$work/curl.time" curl -sf --cacert "$ca" --limit-rate "$rate" -o /dev/null "$dxf_url"
download_secs=$secs

echo "training" >&2
mkseq=$(api -X POST "$base/be/v1/trigger" -d '{"type":"traces","appName":"game"}' | json taskName)
trained_task=$(wait_task "$mkseq")
train_secs=$(echo "$trained_task" | task_secs)
echo "$trained_task" | python3 -c 'import json, sys; r = json.load(sys.stdin)["result"]
assert r["published"], r' >&2
trained=$(api "$base/be/v1/apps/game" | json app dxfName)
preload=$(echo "$trained_task" | json result preloadBytes)

traces=()
echo
echo "| held-out session at $limit | time to play (s) | fetched before play (MB) | stalls (whole session) | vs minimum bytes at the rate |"
echo "|---|---|---|---|---|"
rows=()
for n in 6 7 8 9 10; do
  echo "session $n on the trained image at $limit" >&2
  play "$n" "$work/held-$n" --limit-rate "$limit" --trace "$work/trace-$n.json"
  traces+=("$work/trace-$n.json")
  rows+=("$n $(json timeToPlayMs < "$work/held-$n.json") $(json bytesBeforePlay < "$work/held-$n.json") $(json stalls < "$work/held-$n.json")")
done
# The minimum: distinct image blocks the held-out sessions read before launch.
minimum=$(python3 -c 'import json, sys
seen = set()
for path in sys.argv[1:]:
    t = json.load(open(path))
    for at, first, count in t["reads"]:
        if at < t["launchMs"]:
            seen.update(range(first, first + count))
print(len(seen) * 4096)' "${traces[@]}")
minimum_secs=$(awk -v b="$minimum" -v r="$rate" 'BEGIN { printf "%.2f", b / r }')
worst=0
for row in "${rows[@]}"; do
  read -r n ttp before stalls <<<"$row"
  s=$(awk -v t="$ttp" 'BEGIN { printf "%.2f", t / 1000 }')
  echo "| $n | $s | $(mb "$before") | $stalls | $(ratio "$s" "$minimum_secs") |"
  awk -v a="$s" -v b="$worst" 'BEGIN { exit !(a > b) }' && worst=$s
done
echo
echo "| $game_size game, $(mb "$image") MB image | bytes | vs minimum |"
echo "|---|---|---|"
echo "| minimum: distinct bytes the held-out sessions read before launch | $(commas "$minimum") | 1.000 |"
echo "| trained preload (5 sessions) | $(commas "$preload") | $(ratio "$preload" "$minimum") |"
echo "| untraced preload (the image) | $(commas "$image") | $(ratio "$image" "$minimum") |"
echo
untraced_s=$(awk -v t="$untraced_ttp" 'BEGIN { printf "%.2f", t / 1000 }')
echo "| time to play at $limit | seconds | vs minimum bytes at the rate |"
echo "|---|---|---|"
echo "| minimum bytes at the rate | $minimum_secs | 1.000 |"
echo "| trained image, slowest held-out session | $worst | $(ratio "$worst" "$minimum_secs") |"
echo "| untraced image, session 6 | $untraced_s | $(ratio "$untraced_s" "$minimum_secs") |"
echo "| full download of img.dxf (curl --limit-rate) | $download_secs | $(ratio "$download_secs" "$minimum_secs") |"
echo
echo "full download / trained: $(ratio "$download_secs" "$worst"); untraced / trained: $(ratio "$untraced_s" "$worst")"
echo "image $untraced -> $trained; first build (mkraw) $build_secs s, trained build (mkseq: learn, reorder) $train_secs s: mkraw / mkseq = $(ratio "$build_secs" "$train_secs")"

# The engine's part of each build on its own: best of 3, alternated, each output new.
echo "image build against image reorder, alternated" >&2
"$bin" image build --build-id 1 "$g/game.tar" "$work/plain" >/dev/null
build_best= reorder_best=
for round in 1 2 3; do
  rm -rf "$work/built" "$work/reordered"
  sync
  measure "$work/build.time" "$bin" image build --build-id 1 "$g/game.tar" "$work/built"
  [ -z "$build_best" ] || awk -v a="$secs" -v b="$build_best" 'BEGIN { exit !(a < b) }' &&
    build_best=$secs
  rm -rf "$work/built"
  sync
  measure "$work/reorder.time" "$bin" image reorder --order "$g/boot.order" "$work/plain" "$work/reordered"
  [ -z "$reorder_best" ] || awk -v a="$secs" -v b="$reorder_best" 'BEGIN { exit !(a < b) }' &&
    reorder_best=$secs
done
echo
echo "| $(mb "$image") MB image, best of 3 | seconds | vs image build |"
echo "|---|---|---|"
echo "| image build of the tar (what mkraw runs) | $build_best | 1.000 |"
echo "| image reorder of the image with boot.order (what mkseq runs) | $reorder_best | $(ratio "$reorder_best" "$build_best") |"
