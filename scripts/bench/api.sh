#!/usr/bin/env bash
# API read speed against nginx, and store writes of an idle server (docs/PERFORMANCE.md, "API
# reads"). Prints a markdown table; progress goes to stderr.
#   1. A release server gets 100 orgs (org bench000 with 10 apps, the others with one) and is
#      watched for IDLE_SECS (default 60) seconds: the store file must not change.
#   2. It is stopped and seeded (examples/bench_seed.rs): 1,000 ended tasks and 100 audit
#      entries per org (100,000 and 10,000 in all) and 1,000 tasks queued behind a running one.
#   3. Restarted, it is read with wrk (HTTPS, keep-alive, CONNS connections, default 32, for
#      SECS seconds, default 20) as bench000's admin: an app's details, the apps list, the tasks
#      list. Debian's nginx serves the same bodies as static files over HTTPS with the same
#      certificate, in the same run, for the baseline.
# Usage: scripts/bench/api.sh   (environment: CONNS, SECS, IDLE_SECS)
# Installs nginx, wrk and curl (apt-get, as root) when missing; builds the release binary.
set -euo pipefail
# shellcheck source=scripts/bench/lib.sh
. "$(dirname "$0")/lib.sh"

conns=${CONNS:-32}
secs=${SECS:-20}
idle_secs=${IDLE_SECS:-60}
need_tools nginx=nginx wrk=wrk curl=curl

cd "$repo_root"
echo "building the release binary and the seeder" >&2
cargo build --release --quiet --bin rockit-edge --example bench_seed
target=$(target_dir)
bin=$target/release/rockit-edge
seeder=$target/release/examples/bench_seed

work=$(mktemp -d)
data=$work/data
server_pid=
nginx_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(free_port)
base=https://127.0.0.1:$port

start_server() {
  rm -f "$data/run/server.json"
  ROCKIT_EDGE__LOG__LEVEL=warn "$bin" serve --data-dir "$data" \
    --https-listen "127.0.0.1:$port" --http-listen off 2>>"$work/server.log" &
  server_pid=$!
  wait_served "$data" "$work/server.log"
}

stop_server() {
  kill "$server_pid"
  wait "$server_pid" || true
  server_pid=
}

admin() { # admin METHOD PATH [BODY]
  curl -sfk -X "$1" "$base$2" -H "x-rockit-admin-token: $admin_token" \
    -H 'content-type: application/json' ${3:+-d "$3"} >/dev/null
}

start_server
admin_token=$("$bin" admin-token --data-dir "$data" --username bench)
echo "creating 100 orgs" >&2
for n in $(seq -f %03g 0 99); do
  admin POST /adm/v1/orgs "{\"name\":\"bench$n\",\"password\":\"Passw0rd-bench\"}"
done
login() {
  curl -sfk -X POST "$base/be/v1/login" -H 'content-type: application/json' \
    -d '{"username":"admin","password":"Passw0rd-bench","orgName":"'"$1"'"}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["accessToken"])'
}
for n in $(seq -f %03g 0 99); do
  token=$(login "bench$n")
  apps=1
  [ "$n" = 000 ] && apps=10
  for a in $(seq 0 $((apps - 1))); do
    curl -sfk -X POST "$base/be/v1/apps" -H "authorization: Bearer $token" \
      -H 'content-type: application/json' -d "{\"name\":\"app$a\",\"label\":\"App $a\"}" >/dev/null
  done
done

echo "watching the idle server's store for $idle_secs s" >&2
before=$(stat -c '%Y.%y %s' "$data/edge.redb")
sleep "$idle_secs"
after=$(stat -c '%Y.%y %s' "$data/edge.redb")
idle_writes=none
[ "$before" = "$after" ] || idle_writes="the store file changed"

stop_server
echo "seeding tasks and audit entries" >&2
"$seeder" "$data" --tasks 1000 --audit 100 --queued 1000 2>>"$work/seed.log"
start_server
token=$(login bench000)

# The bodies nginx serves: exactly what the server answers.
mkdir -p "$work/www"
reads=("app details|/be/v1/apps/app3" "apps list (10 apps)|/be/v1/apps" "tasks list (1,000 tasks)|/be/v1/tasks")
for i in "${!reads[@]}"; do
  path=${reads[$i]#*|}
  curl -sfk "$base$path" -H "authorization: Bearer $token" > "$work/www/read$i.json"
done

nginx_port=$(free_port)
cat > "$work/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nginx_port ssl;
    ssl_certificate $data/tls/cert.pem;
    ssl_certificate_key $data/tls/key.pem;
    root $work/www;
    default_type application/json;
  }
}
EOF
nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
sleep 1

run_wrk() { # run_wrk URL [HEADER]: sets rps and p99 (ms)
  local out
  out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency ${2:+-H "$2"} "$1")
  rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {v = $2; if (v ~ /us$/) {sub(/us/, "", v); v /= 1000}
    else if (v ~ /ms$/) sub(/ms/, "", v); else if (v ~ /s$/) {sub(/s/, "", v); v *= 1000};
    printf "%.1f", v}' <<<"$out")
}

echo "| read | body bytes | rockit-edge req/s | p99 ms | nginx req/s | p99 ms | ratio |"
echo "|---|---|---|---|---|---|---|"
for i in "${!reads[@]}"; do
  name=${reads[$i]%%|*}
  path=${reads[$i]#*|}
  echo "reading: $name" >&2
  run_wrk "$base$path" "authorization: Bearer $token"
  ours=$rps ours_p99=$p99
  run_wrk "https://127.0.0.1:$nginx_port/read$i.json"
  echo "| $name | $(stat -c %s "$work/www/read$i.json") | $ours | $ours_p99 | $rps | $p99 | $(ratio "$ours" "$rps") |"
done
echo
echo "Store writes of the idle server in $idle_secs s: $idle_writes."
