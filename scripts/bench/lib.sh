# Shared helpers of the benchmark scripts. Source it (bash): . "$(dirname "$0")/../bench/lib.sh"
# Defines bench_dir (this directory) and repo_root; every function below is documented on its
# first line. Nothing here runs on its own.
# shellcheck shell=bash

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$bench_dir/../.." && pwd)

need_tools() { # need_tools CMD=DEBIAN_PACKAGE...: installs the missing ones as root with apt-get, else names them and exits
  local spec missing=()
  for spec in "$@"; do
    command -v "${spec%%=*}" >/dev/null 2>&1 || missing+=("${spec#*=}")
  done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing: ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing tools; install the Debian packages: ${missing[*]}" >&2
    exit 1
  fi
}

need_hdiffpatch() { # need_hdiffpatch: HDiffPatch 2.6.0's Python binding, installed with pip when missing
  local v
  v=$(python3 -c 'import importlib.metadata as m; print(m.version("hdiffpatch"))' 2>/dev/null) || v=
  [ "$v" = 2.6.0 ] && return
  echo "installing hdiffpatch==2.6.0 (pip; found: ${v:-none})" >&2
  python3 -m pip install -q hdiffpatch==2.6.0
}

target_dir() { # target_dir: cargo's target directory for this repository (honours CARGO_TARGET_DIR)
  (cd "$repo_root" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
}

measure() { # measure LOG CMD...: runs CMD under GNU time -v (stdout to LOG.out); sets secs and rss_mib
  /usr/bin/time -v "${@:2}" > "$1.out" 2> "$1" || {
    echo "failed ($?): ${*:2}" >&2
    tail -n 30 "$1" >&2
    return 1
  }
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0;
    for (i = 1; i <= n; i++) s = s * 60 + t[i]; printf "%.2f", s}' "$1")
  rss_mib=$(awk -F': ' '/Maximum resident/ {printf "%.0f", $2 / 1024}' "$1")
}

best() { # best RUNS LOG CMD...: measure RUNS times; sets secs to the fastest, rss_mib to the largest
  local runs=$1 log=$2 i b="" m=0
  shift 2
  for ((i = 0; i < runs; i++)); do
    measure "$log" "$@"
    if [ -z "$b" ] || awk -v t="$secs" -v b="$b" 'BEGIN { exit !(t < b) }'; then b=$secs; fi
    if [ "$rss_mib" -gt "$m" ]; then m=$rss_mib; fi
  done
  secs=$b rss_mib=$m
}

ratio() { # ratio A B: A / B with 3 decimals ("-" when B is 0 or empty)
  awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.3f", a / b }'
}

per_sec() { # per_sec BYTES SECONDS: MB/s with 1 decimal ("-" when SECONDS is 0)
  awk -v n="$1" -v s="$2" 'BEGIN { if (s + 0 == 0) print "-"; else printf "%.1f", n / s / 1e6 }'
}

mb() { # mb BYTES: decimal megabytes with 1 decimal
  awk -v n="$1" 'BEGIN { printf "%.1f", n / 1e6 }'
}

commas() { # commas N: N with thousands separators
  echo "$1" | sed ':a; s/\B[0-9]\{3\}\>/,&/; ta'
}

synthetic_tar() { # synthetic_tar TAR GIB: writes the synthetic build TAR of GIB GiB unless it exists
  [ -f "$1" ] && return
  mkdir -p "$(dirname "$1")"
  echo "generating the ${2} GiB synthetic build $1" >&2
  python3 "$bench_dir/synthetic-build.py" "$1.part" "$2"
  mv "$1.part" "$1"
}

bench_pids=()
bench_cleanup() { # bench_cleanup: stops the processes in bench_pids and removes $work (the EXIT trap of new_work)
  local pid
  for pid in "${bench_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  [ -n "${work:-}" ] && rm -rf "$work"
}

new_work() { # new_work: sets work to a new temporary directory; on exit it goes with the processes added to bench_pids
  work=$(mktemp -d)
  trap bench_cleanup EXIT
}

json() { # json KEY...: the value at KEY... (object keys, list indexes) of the JSON on stdin
  python3 -c 'import json, sys; v = json.load(sys.stdin)
for k in sys.argv[1:]: v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$@"
}

bench_org() { # bench_org BIN DATA BASE CA: creates the org "bench" on the server of data dir DATA at BASE; prints its admin's access token
  local admin_token
  admin_token=$("$1" admin-token --data-dir "$2" --username bench)
  curl -sf --cacert "$4" -X POST "$3/adm/v1/orgs" -H "x-rockit-admin-token: $admin_token" \
    -d '{"name":"bench","password":"Passw0rd-bench"}' >/dev/null
  curl -sf --cacert "$4" -X POST "$3/be/v1/login" \
    -d '{"username":"admin","password":"Passw0rd-bench","orgName":"bench"}' | json accessToken
}

free_port() { # free_port: a TCP port on loopback that nothing listens on now
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

serve_bench() { # serve_bench BIN: starts `BIN serve` on $data (HTTPS on a free loopback port, no plain HTTP; log: $work/server.log) and waits; sets port, base, ca, server_pid
  port=$(free_port)
  base=https://127.0.0.1:$port
  ca=$data/tls/ca.pem
  ROCKIT_EDGE__LOG__LEVEL=warn "$1" serve --data-dir "$data" \
    --https-listen "127.0.0.1:$port" --http-listen off 2>>"$work/server.log" &
  server_pid=$!
  bench_pids+=("$server_pid")
  wait_served "$data" "$work/server.log"
}

wait_served() { # wait_served DATA LOG: waits up to 20 s for the server of data dir DATA to serve; prints LOG and exits if it does not
  for _ in $(seq 200); do
    [ -f "$1/run/server.json" ] && return
    sleep 0.1
  done
  echo "the server did not start:" >&2
  cat "$2" >&2
  exit 1
}

release_binary() { # release_binary: builds the release binary from the repository; sets bin to it (and cds to the repository)
  cd "$repo_root"
  echo "building the release binary" >&2
  cargo build --release --quiet --bin rockit-edge
  bin=$(target_dir)/release/rockit-edge
}

bench_cache() { # bench_cache [DIR]: sets cache to DIR, else $ROCKIT_BENCH_DATA, else ~/.cache/rockit-edge/bench-data, and makes it
  cache=${1:-${ROCKIT_BENCH_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/rockit-edge/bench-data}}
  mkdir -p "$cache"
}

rate_bytes() { # rate_bytes RATE: the client's --limit-rate RATE in bytes per second (K, M, G: powers of 1024)
  python3 -c 'import sys; v = sys.argv[1]
u = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(v[-1].upper())
print(int(float(v[:-1]) * u) if u else int(v))' "$1"
}
