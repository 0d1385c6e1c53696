#!/usr/bin/env bash
# The build pipeline against its baselines (docs/PERFORMANCE.md, "Build pipeline"). Prints
# markdown tables; progress goes to stderr.
#   1. A release server on loopback (HTTPS) gets an org, an app and a machine user.
#   2. `rockit-edge push` sends a synthetic build of GIB GiB (default 2) as the app's first
#      build; timed to the end of the upload and to the build being current, the server's
#      peak RSS sampled during the upload and during processing. Then `curl -T` (HTTP/1.1 like
#      push: for one large upload the faster of curl's two) and push upload the same tar to
#      the same server in turn, twice, each on an idle server after `sync`: the best of each.
#      `rockit-edge image build` builds the same tar on its own: the baseline of processing.
#   3. The depot serves the current build's img.dxf; Debian's nginx serves the same file from
#      the same directory over HTTP and HTTPS (same certificate): a full GET with curl, and
#      wrk with CONNS (default 64) connections asking 1 MiB ranges for SECS seconds (default 10).
# Usage: scripts/bench/pipeline.sh [GIB]   (environment: CONNS, SECS, BENCH_DIR for the tar)
# Installs nginx, wrk and curl (apt-get, as root) when missing; builds the release binary.
set -euo pipefail
# shellcheck source=scripts/bench/lib.sh
. "$(dirname "$0")/lib.sh"

gib=${1:-2}
conns=${CONNS:-64}
wrk_secs=${SECS:-10}
need_tools nginx=nginx wrk=wrk curl=curl

cd "$repo_root"
echo "building the release binary" >&2
cargo build --release --quiet --bin rockit-edge
bin=$(target_dir)/release/rockit-edge

cache=${BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rockit-edge/bench-data}
tar=$cache/synthetic-$gib.tar
synthetic_tar "$tar" "$gib"
size=$(stat -c %s "$tar")

new_work
data=$work/data

serve_bench "$bin"

auth="authorization: Bearer $(bench_org "$bin" "$data" "$base" "$ca")"
key=$(curl -sf --cacert "$ca" -X POST "$base/be/v1/users" -H "$auth" \
  -d '{"username":"ci","label":"CI","roles":["Administrators"]}' | json apiKey)
curl -sf --cacert "$ca" -X POST "$base/be/v1/apps" -H "$auth" \
  -d '{"name":"game","label":"Game"}' >/dev/null

# Peak RSS of the server per phase, without sampling: writing 5 to clear_refs resets VmHWM.
reset_peak() { echo 5 > "/proc/$server_pid/clear_refs"; }
peak_mib() { awk '/^VmHWM:/ {printf "%d", $2 / 1024}' "/proc/$server_pid/status"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

processing() { curl -sf --cacert "$ca" "$base/be/v1/apps/game" -H "$auth" | json app processing; }
wait_idle() { while [ "$(processing)" = True ]; do sleep 0.5; done; }
push_upload() { # push_upload NAME: pushes the tar without waiting; sets up_secs
  sync
  local t0
  t0=$(now)
  ROCKIT_EDGE_API_KEY=$key "$bin" push --server "$base" --org bench --app game --name "$1" \
    --ca-cert "$ca" "$tar" 2>"$work/push.log"
  up_secs=$(elapsed "$t0" "$(now)")
}
curl_upload() { # curl_upload NAME: uploads the tar with curl -T; sets up_secs
  local url t0
  url=$(curl -sf --cacert "$ca" -X POST "$base/be/v1/builds" -H "$auth" \
    -d '{"appName":"game","buildName":"'"$1"'"}' | json uploadUrl)
  sync
  t0=$(now)
  curl --http1.1 -sf --cacert "$ca" -T "$tar" "$url" >/dev/null
  up_secs=$(elapsed "$t0" "$(now)")
}
faster() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a < b) ? a : b }'; }

echo "pushing the $gib GiB build" >&2
sync
reset_peak
t0=$(now)
ROCKIT_EDGE_API_KEY=$key "$bin" push --server "$base" --org bench --app game --name first \
  --ca-cert "$ca" "$tar" 2>"$work/push.log"
t_uploaded=$(now)
rss_upload=$(peak_mib)
reset_peak
until curl -sf --cacert "$ca" "$base/be/v1/apps/game?fields[]=iCurBuild" -H "$auth" |
  grep -q '"iCurBuild":1'; do
  sleep 0.1
done
t_current=$(now)
rss_process=$(peak_mib)
push_secs=$(elapsed "$t0" "$t_uploaded")
current_secs=$(elapsed "$t0" "$t_current")
first_push=$push_secs

# Uploads alternate, each on an idle server with the page cache flushed; the best of two.
curl_secs=
reset_peak
for round in 1 2; do
  echo "uploading with curl -T ($round)" >&2
  wait_idle; curl_upload "curl$round"; curl_secs=$(faster "$up_secs" "$curl_secs")
  echo "pushing again ($round)" >&2
  wait_idle; push_upload "push$round"; push_secs=$(faster "$up_secs" "$push_secs")
done
wait_idle
rss_patches=$(peak_mib)

echo "building the image of the same tar on its own" >&2
measure "$work/image" "$bin" image build "$tar" "$work/img" --build-id 1
image_secs=$secs

echo
echo "| build of $(mb "$size") MB | seconds | MB/s | baseline | ratio |"
echo "|---|---|---|---|---|"
echo "| upload: push vs curl -T | $push_secs | $(per_sec "$size" "$push_secs") | $curl_secs s ($(per_sec "$size" "$curl_secs") MB/s) | $(ratio "$curl_secs" "$push_secs") |"
baseline=$(awk -v a="$first_push" -v b="$image_secs" 'BEGIN { printf "%.2f", a + b }')
echo "| first push: start to build current vs its upload + image build | $current_secs | | $baseline s ($first_push + $image_secs) | $(ratio "$current_secs" "$baseline") |"
echo
echo "Server peak RSS: $rss_upload MiB during the first upload, $rss_process MiB while it was processed, $rss_patches MiB during the next four imports (each with patches from the retained builds; patch budget 1024 MiB)."

# The depot against nginx over the same file.
access=$(curl -sf --cacert "$ca" -X POST "$base/be/v1/keys" -H "$auth" -d '{"appName":"game"}' | json key)
dxf_url=$(curl -sf --cacert "$ca" -X POST "$base/client/v1/auth" \
  -d '{"orgName":"bench","appName":"game","accessKey":"'"$access"'"}' | json sources depot dxf img.dxf)
dxf_path=${dxf_url#"$base"/depot/}
dxf_path=${dxf_path%%\?*}
dxf_size=$(stat -c %s "$data/depot/$dxf_path")
nginx_port=$(free_port) nginx_tls_port=$(free_port) http_port=$(free_port)
cat > "$work/nginx.conf" <<CONF
user root;
worker_processes auto;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nginx_port;
    listen 127.0.0.1:$nginx_tls_port ssl;
    ssl_certificate $data/tls/cert.pem;
    ssl_certificate_key $data/tls/key.pem;
    root $data;
    default_type application/octet-stream;
  }
}
CONF
nginx -c "$work/nginx.conf" -p "$work" &
bench_pids+=($!)
# The appliance over plain HTTP too, for the HTTP row.
kill "$server_pid"; wait "$server_pid" || true
rm -f "$data/run/server.json"
ROCKIT_EDGE__LOG__LEVEL=warn "$bin" serve --data-dir "$data" \
  --https-listen "127.0.0.1:$port" --http-listen "127.0.0.1:$http_port" 2>>"$work/server.log" &
server_pid=$!
bench_pids+=("$server_pid")
wait_served "$data" "$work/server.log"
query=${dxf_url#*\?}
cat "$data/depot/$dxf_path" >/dev/null

full_get() { # full_get URL: best of 3 seconds for a full GET to /dev/null
  local best="" t
  for _ in 1 2 3; do
    t=$(curl -s --cacert "$ca" -o /dev/null -w '%{time_total}' "$1")
    if [ -z "$best" ] || awk -v t="$t" -v b="$best" 'BEGIN { exit !(t < b) }'; then best=$t; fi
  done
  echo "$best"
}
ranges() { # ranges URL: requests/s of CONNS connections asking 1 MiB ranges for SECS seconds
  wrk -t2 -c"$conns" -d"${wrk_secs}s" -H 'Range: bytes=1048576-2097151' "$1" |
    awk '/^Requests\/sec:/ {printf "%.0f", $2}'
}
echo
echo "| depot, img.dxf of $(mb "$dxf_size") MB | rockit-edge | nginx | ratio |"
echo "|---|---|---|---|"
for scheme in http https; do
  if [ "$scheme" = http ]; then
    ours="http://127.0.0.1:$http_port/depot/$dxf_path?$query" theirs="http://127.0.0.1:$nginx_port/depot/$dxf_path"
  else
    ours="$base/depot/$dxf_path?$query" theirs="https://127.0.0.1:$nginx_tls_port/depot/$dxf_path"
  fi
  a=$(full_get "$ours") b=$(full_get "$theirs")
  echo "| full GET over $scheme, MB/s | $(per_sec "$dxf_size" "$a") | $(per_sec "$dxf_size" "$b") | $(ratio "$b" "$a") |"
  a=$(ranges "$ours") b=$(ranges "$theirs")
  echo "| $conns parallel 1 MiB ranges over $scheme, req/s | $a | $b | $(ratio "$a" "$b") |"
done
