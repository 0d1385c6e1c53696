#!/usr/bin/env bash
# The launcher client's figures (docs/PERFORMANCE.md, "Launcher client"). Prints markdown
# tables; progress goes to stderr.
#   1. Time to play: a generated game (GAME_SIZE, default 1G; scripts/bench/game-gen.py) built
#      twice with `image build`: untraced, and ordered by the generator's boot order (the best
#      case training can reach). `client play --from-dir` of each at LIMIT (default 12.5M,
#      the client's rate: powers of 1024) against the minimum: the session's distinct boot
#      bytes at that rate.
#   2. Update bytes: for each real build pair in the bench data (panda, phaser, shift from
#      scripts/bench/fetch-pairs.sh), a release server imports old, a client installs it, the
#      server imports new, the client updates: its totalBytes against map.7z + patch.7z as
#      the appliance lists them.
#   3. Install: a generated game of INSTALL_SIZE (default 2G) imported, then `client install`
#      from the depot without a rate limit against `curl` of the same img.dxf (best of 2
#      each), and the client's peak RSS.
# Usage: scripts/bench/client.sh [DATA]   (DATA: where the pairs and generated games are kept;
#        default $ROCKIT_BENCH_DATA or ~/.cache/rockit-edge/bench-data)
set -euo pipefail
# shellcheck source=scripts/bench/lib.sh
. "$(dirname "$0")/lib.sh"

game_size=${GAME_SIZE:-1G}
install_size=${INSTALL_SIZE:-2G}
limit=${LIMIT:-12.5M}
need_tools curl=curl /usr/bin/time=time python3=python3

release_binary
bench_cache "${1:-}"
new_work

game() { # game SIZE: generates the game of SIZE in $cache/game-SIZE unless it is there; prints its dir
  local dir=$cache/game-$1
  if [ ! -f "$dir/game.json" ]; then
    echo "generating the $1 game" >&2
    python3 "$bench_dir/game-gen.py" "$dir" --size "$1" --sessions 2 >&2
  fi
  echo "$dir"
}

# 1. Time to play.
g=$(game "$game_size")
for kind in plain ordered; do
  [ -f "$g/$kind/img.json" ] && continue
  order=()
  [ "$kind" = ordered ] && order=(--order "$g/boot.order")
  echo "building the $kind image" >&2
  "$bin" image build --build-id 1 "${order[@]}" "$g/game.tar" "$g/$kind" >/dev/null
done
rate=$(rate_bytes "$limit")
boot=$(json sessionBootBlockBytes 0 < "$g/game.json")
play() { # play KIND: plays session 1 on an empty install of image KIND; sets ttp (s) and before (bytes)
  rm -rf "$work/play"
  echo "client play --from-dir $1 at $limit" >&2
  "$bin" client play --from-dir "$g/$1" --dir "$work/play" --script "$g/session-1.jsonl" \
    --limit-rate "$limit" --report "$work/play.json"
  ttp=$(json timeToPlayMs < "$work/play.json" | awk '{printf "%.2f", $1 / 1000}')
  before=$(json bytesBeforePlay < "$work/play.json")
  stalls=$(json stalls < "$work/play.json")
  preload=$(json preloadBytes < "$work/play.json")
}
play plain
plain_ttp=$ttp plain_before=$before plain_stalls=$stalls plain_preload=$preload
play ordered
minimum=$(awk -v b="$boot" -v r="$rate" 'BEGIN { printf "%.2f", b / r }')
image=$(json dxfSize < "$g/plain/img.json")

echo
echo "| $game_size game at $limit ($rate B/s), session 1 | time to play (s) | preload (MB) | fetched before play (MB) | stalls (whole session) | vs minimum |"
echo "|---|---|---|---|---|---|"
echo "| (a) untraced image (the whole image first) | $plain_ttp | $(mb "$plain_preload") | $(mb "$plain_before") | $plain_stalls | $(ratio "$plain_ttp" "$minimum") |"
echo "| (b) image in boot order (\`--order boot.order\`) | $ttp | $(mb "$preload") | $(mb "$before") | $stalls | $(ratio "$ttp" "$minimum") |"
echo "| (c) minimum: the session's $(mb "$boot") MB of boot blocks at the rate | $minimum | | | | 1.000 |"
echo
echo "Image $(mb "$image") MB; (a) / (b) = $(ratio "$plain_ttp" "$ttp")."

# A release server for 2 and 3.
data=$work/data
serve_bench "$bin"
auth="authorization: Bearer $(bench_org "$bin" "$data" "$base" "$ca")"
api() { curl -sf --cacert "$ca" -H "$auth" "$@"; }

import() { # import APP TAR: uploads TAR as a new build of APP and waits until it is current
  local url want
  want=$(($(api "$base/be/v1/apps/$1" | json app iCurBuild) + 1))
  url=$(api -X POST "$base/be/v1/builds" -d '{"appName":"'"$1"'"}' | json uploadUrl)
  curl -sf --cacert "$ca" -T "$2" "$url" >/dev/null
  until [ "$(api "$base/be/v1/apps/$1" | json app iCurBuild)" = "$want" ] &&
    [ "$(api "$base/be/v1/apps/$1" | json app state)" = idle ]; do
    sleep 0.2
  done
}
new_app() { # new_app NAME: creates the app; prints an access key of it
  api -X POST "$base/be/v1/apps" -d '{"name":"'"$1"'","label":"'"$1"'"}' >/dev/null
  api -X POST "$base/be/v1/keys" -d '{"appName":"'"$1"'"}' | json key
}
client() { # client COMMAND APP KEY DIR REPORT [ARGS...]: runs the client against the server
  "$bin" client "$1" --server "$base" --org bench --app "$2" --access-key "$3" --ca-cert "$ca" \
    --dir "$4" --report "$5" "${@:6}"
}
listed() { # listed APP KEY SECTION FILE...: the sizes of FILEs of the current image (SECTION dxf) or of the one patch to it (patches), as listed
  curl -sf --cacert "$ca" -X POST "$base/client/v1/auth" \
    -d '{"orgName":"bench","appName":"'"$1"'","accessKey":"'"$2"'"}' | python3 -c '
import json, sys
files = json.load(sys.stdin)["files"][sys.argv[1]]
if sys.argv[1] == "patches":
    (files,) = files.values()
print(sum(f["size"] for f in files if f["name"] in sys.argv[2:]))' "${@:3}"
}

# 2. Update bytes.
echo
echo "| pair | map.7z + patch.7z listed (bytes) | new img.json + img.idx.7z (bytes) | client update fetched (bytes) | method | fetched / patch | fetched / (patch + index) |"
echo "|---|---|---|---|---|---|---|"
for pair in panda phaser shift; do
  if [ ! -f "$cache/$pair/new.tar" ]; then
    echo "fetching the build pairs into $cache" >&2
    "$bench_dir/fetch-pairs.sh" "$cache"
  fi
  key=$(new_app "$pair")
  echo "$pair: import old, install, import new, update" >&2
  import "$pair" "$cache/$pair/old.tar"
  client install "$pair" "$key" "$work/$pair" "$work/$pair.json"
  import "$pair" "$cache/$pair/new.tar"
  client update "$pair" "$key" "$work/$pair" "$work/$pair.json"
  patch=$(listed "$pair" "$key" patches map.7z patch.7z)
  index=$(listed "$pair" "$key" dxf img.json img.idx.7z)
  fetched=$(json totalBytes < "$work/$pair.json")
  method=$(json method < "$work/$pair.json")
  echo "| $pair | $(commas "$patch") | $(commas "$index") | $(commas "$fetched") | $method |" \
    "$(ratio "$fetched" "$patch") | $(ratio "$fetched" $((patch + index))) |"
  rm -rf "${work:?}/$pair"
done

# 3. Install speed and memory.
g=$(game "$install_size")
key=$(new_app game)
echo "importing the $install_size game" >&2
import game "$g/game.tar"
url=$(curl -sf --cacert "$ca" -X POST "$base/client/v1/auth" \
  -d '{"orgName":"bench","appName":"game","accessKey":"'"$key"'"}' | json sources depot dxf img.dxf)
size=$(curl -sf --cacert "$ca" -I "$url" | awk 'tolower($1) == "content-length:" {print $2 + 0}')
install_secs= curl_secs= install_rss=0
for round in 1 2; do
  rm -rf "$work/install"
  echo "client install ($round)" >&2
  measure "$work/install.time" "$bin" client install --server "$base" --org bench --app game \
    --access-key "$key" --ca-cert "$ca" --dir "$work/install" --report "$work/install.json"
  [ -z "$install_secs" ] || awk -v a="$secs" -v b="$install_secs" 'BEGIN { exit !(a < b) }' &&
    install_secs=$secs
  [ "$rss_mib" -gt "$install_rss" ] && install_rss=$rss_mib
  echo "curl ($round)" >&2
  measure "$work/curl.time" curl -sf --cacert "$ca" -o "$work/img.dxf" "$url"
  [ -z "$curl_secs" ] || awk -v a="$secs" -v b="$curl_secs" 'BEGIN { exit !(a < b) }' &&
    curl_secs=$secs
  rm -f "$work/img.dxf"
done
echo
echo "| $install_size game from the depot, $(mb "$size") MB image | seconds | MB/s | peak RSS (MiB) |"
echo "|---|---|---|---|"
echo "| client install (chunks checked, files written, every MD5 checked) | $install_secs | $(per_sec "$size" "$install_secs") | $install_rss |"
echo "| curl of img.dxf to a file | $curl_secs | $(per_sec "$size" "$curl_secs") | |"
echo
echo "client install / curl throughput: $(ratio "$curl_secs" "$install_secs")"
