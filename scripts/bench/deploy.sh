#!/usr/bin/env bash
# Publishing to an S3 origin against the aws CLI (docs/PERFORMANCE.md, "Publishing"). Prints a
# markdown table; progress goes to stderr.
#   1. A local S3 server (s3s-fs, which checks SigV4 and Content-MD5) and a release server on
#      loopback; an org, an app, a deployment on the S3 server.
#   2. The real build pair PAIR (default panda, from scripts/bench/fetch-pairs.sh) is imported
#      old then new: the new build's image and the patch from the old one are what a deploy
#      publishes.
#   3. Twice, in turn: the deployment moves to a fresh prefix (which queues a deploy of the
#      current build there; timed from the task's start to its end, the server's peak RSS
#      read around it), and `aws s3 cp --recursive` uploads the same files to another fresh
#      prefix of the same server (default settings: 10 requests at once, 8 MiB parts). The
#      best of each.
# Usage: scripts/bench/deploy.sh   (environment: PAIR, ROCKIT_BENCH_DATA for the pairs)
# Installs curl and the aws CLI (apt-get, as root) and s3s-fs (cargo install) when missing;
# builds the release binary.
set -euo pipefail
# shellcheck source=scripts/bench/lib.sh
. "$(dirname "$0")/lib.sh"

pair=${PAIR:-panda}
need_tools curl=curl aws=awscli
if ! command -v s3s-fs >/dev/null 2>&1; then
  echo "installing s3s-fs 0.14.1" >&2
  cargo install s3s-fs@0.14.1 --locked --features binary
fi

cd "$repo_root"
echo "building the release binary" >&2
cargo build --release --quiet --bin rockit-edge
bin=$(target_dir)/release/rockit-edge

cache=${ROCKIT_BENCH_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/rockit-edge/bench-data}
if [ ! -f "$cache/$pair/new.tar" ]; then
  echo "fetching the build pairs into $cache" >&2
  "$bench_dir/fetch-pairs.sh" "$cache"
fi

new_work
data=$work/data

s3_port=$(free_port)
mkdir -p "$work/s3/edge"
export AWS_ACCESS_KEY_ID=AKIABENCH AWS_SECRET_ACCESS_KEY=bench-secret-key-0123456789
export AWS_DEFAULT_REGION=us-east-1
s3s-fs --host 127.0.0.1 --port "$s3_port" --access-key "$AWS_ACCESS_KEY_ID" \
  --secret-key "$AWS_SECRET_ACCESS_KEY" "$work/s3" >/dev/null 2>&1 &
bench_pids+=($!)
ROCKIT_EDGE__ORIGINS__ALLOW_PRIVATE=true ROCKIT_EDGE__BUILDS__ALLOW_PRIVATE_URLS=true \
  serve_bench "$bin"

auth="authorization: Bearer $(bench_org "$bin" "$data" "$base" "$ca")"
api() { curl -sf --cacert "$ca" -H "$auth" "$@"; }
api -X POST "$base/be/v1/apps" -d '{"name":"game","label":"Game"}' >/dev/null

# The pair's tars are served by the appliance's own test-free path: an upload URL each.
for build in old new; do
  echo "importing $pair/$build.tar" >&2
  url=$(api -X POST "$base/be/v1/builds" -d '{"appName":"game","buildName":"'$build'"}' |
    json uploadUrl)
  curl -sf --cacert "$ca" -T "$cache/$pair/$build.tar" "$url" >/dev/null
  until [ "$(api "$base/be/v1/apps/game" | json app state)" = idle ] &&
    [ "$(api "$base/be/v1/apps/game" | json app iCurBuild)" != 0 ]; do
    sleep 0.2
  done
done
until [ "$(api "$base/be/v1/apps/game" | json app iCurBuild)" = 2 ]; do sleep 0.2; done

# What a deploy sends: the current image and the patch to it, as a tree for the aws CLI.
app=$(api "$base/be/v1/apps/game")
dxf=$(echo "$app" | json app dxfName)
mkdir -p "$work/upload/dxf/bench/game/0002" "$work/upload/pat/bench/game/0002"
cp -al "$data/depot/dxf/bench/game/0002/$dxf" "$work/upload/dxf/bench/game/0002/"
cp -al "$data/depot/pat/bench/game/0002/0001" "$work/upload/pat/bench/game/0002/"
bytes=$(du -sb --apparent-size "$work/upload" | cut -f1)
files=$(find "$work/upload" -type f | wc -l)

s3_body() { # s3_body PREFIX: the deployment body publishing to PREFIX of the S3 server
  echo '{"name":"origin","label":"bench","origin":{"s3":{"hostname":"http://127.0.0.1:'"$s3_port"'",
    "accessKey":"'"$AWS_ACCESS_KEY_ID"'","secretKey":"'"$AWS_SECRET_ACCESS_KEY"'",
    "location":"us-east-1","bucket":"edge","prefix":"'"$1"'"}}}'
}
api -X POST "$base/be/v1/deployments" -d "$(s3_body edge0)" >/dev/null
until [ "$(api "$base/be/v1/apps/game" | json app state)" = idle ]; do sleep 0.2; done

reset_peak() { echo 5 > "/proc/$server_pid/clear_refs"; }
peak_mib() { awk '/^VmHWM:/ {printf "%d", $2 / 1024}' "/proc/$server_pid/status"; }
rss_mib() { awk '/^VmRSS:/ {printf "%d", $2 / 1024}' "/proc/$server_pid/status"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
faster() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a < b) ? a : b }'; }
task_secs() { # task_secs: seconds from the start to the end of the newest deploy task
  api "$base/be/v1/tasks?type=deploy&order[]=-created&limit=1" | python3 -c '
import json, sys, datetime
t = json.load(sys.stdin)["tasks"][0]
assert t["status"] == "done", t
p = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
print("%.2f" % (p(t["ended"]) - p(t["started"])).total_seconds())'
}

ours= theirs= rss=0 idle=0
for round in 1 2; do
  echo "deploying to a fresh prefix ($round)" >&2
  sync
  reset_peak
  now_rss=$(rss_mib)
  [ "$now_rss" -gt "$idle" ] && idle=$now_rss
  api -X PATCH "$base/be/v1/deployments" \
    -d '{"name":"origin","origin":{"s3":{"prefix":"ours'"$round"'"}}}' >/dev/null
  until [ "$(api "$base/be/v1/apps/game" | json app state)" = idle ]; do sleep 0.1; done
  ours=$(faster "$(task_secs)" "$ours")
  peak=$(peak_mib)
  [ "$peak" -gt "$rss" ] && rss=$peak
  echo "aws s3 cp --recursive ($round)" >&2
  sync
  t0=$(now)
  aws s3 cp --recursive --quiet --endpoint-url "http://127.0.0.1:$s3_port" \
    "$work/upload" "s3://edge/aws$round/"
  theirs=$(faster "$(elapsed "$t0" "$(now)")" "$theirs")
done

echo
echo "| $pair: $files files, $(mb "$bytes") MB to s3s-fs | seconds | MB/s | aws CLI | ratio (throughput) |"
echo "|---|---|---|---|---|"
echo "| deploy task | $ours | $(per_sec "$bytes" "$ours") | $theirs s ($(per_sec "$bytes" "$theirs") MB/s) | $(ratio "$theirs" "$ours") |"
echo
echo "Server peak RSS during the deploys: $rss MiB (RSS just before them: $idle MiB; settings:"
echo "part size 8 MiB, 8 requests at once)."
