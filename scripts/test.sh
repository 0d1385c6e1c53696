#!/usr/bin/env bash
# Runs the whole test suite. Installs the external tools the tests use when they are missing
# (as root through apt-get; otherwise it names the packages to install and stops).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v 7z >/dev/null 2>&1 || missing+=(p7zip-full)
command -v tar >/dev/null 2>&1 || missing+=(tar)
# systemd-analyze judges packaging/rockit-edge.service.
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
# promtool checks the /metrics exposition.
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
# nginx with secure_link stands in for a CDN; boto3 is a second S3 client that reads what the
# appliance published.
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
python3 -c 'import boto3' >/dev/null 2>&1 || missing+=(python3-boto3)
# The admin UI's tests drive Debian's Chromium with playwright-core (Node).
[ -x "${ROCKIT_CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing test tools: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing test tools; install the Debian packages: ${missing[*]}" >&2
    exit 1
  fi
fi

# openapi-spec-validator checks the served OpenAPI document, schemathesis fuzzes the server
# against it (both from PyPI).
if ! python3 -c 'import openapi_spec_validator' >/dev/null 2>&1; then
  echo "installing openapi-spec-validator (PyPI)"
  python3 -m pip install --quiet openapi-spec-validator
fi
if ! command -v schemathesis >/dev/null 2>&1; then
  echo "installing schemathesis (PyPI)"
  python3 -m pip install --quiet schemathesis
fi

# A real S3 server that checks SigV4 signatures, for the deployment tests (cached in cargo's bin dir).
if ! command -v s3s-fs >/dev/null 2>&1; then
  echo "installing s3s-fs 0.14.1 (S3 server for the tests)"
  cargo install s3s-fs@0.14.1 --locked --features binary
fi

# The UI's build and test tools (esbuild, TypeScript, playwright-core, axe-core) at the versions
# of web/package-lock.json; again only when the lockfile changed since the last install.
if [ ! -f web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
  echo "installing the UI's npm packages (web/package-lock.json)"
  (cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi

# Real build pairs for tests/engine_pairs.rs, fetched once into a cache outside the source tree
# (fetch-pairs.sh keeps tars it already made). The first fetch needs the network, pip and npm.
ROCKIT_BENCH_DATA=${ROCKIT_BENCH_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/rockit-edge/bench-data}
mkdir -p "$ROCKIT_BENCH_DATA"
ROCKIT_BENCH_DATA=$(cd "$ROCKIT_BENCH_DATA" && pwd)
export ROCKIT_BENCH_DATA
fetched=true
for pair in panda phaser shift; do
  for tar in old new; do
    [ -f "$ROCKIT_BENCH_DATA/$pair/$tar.tar" ] || fetched=false
  done
done
if [ "$fetched" = false ]; then
  fetch_tools=()
  python3 -m pip --version >/dev/null 2>&1 || fetch_tools+=("python3 -m pip (Debian: python3-pip)")
  command -v npm >/dev/null 2>&1 || fetch_tools+=("npm (Debian: npm)")
  if [ ${#fetch_tools[@]} -gt 0 ]; then
    echo "scripts/bench/fetch-pairs.sh needs $(printf '%s; ' "${fetch_tools[@]}")install them," \
      "or put the pairs in \$ROCKIT_BENCH_DATA ($ROCKIT_BENCH_DATA)" >&2
    exit 1
  fi
  echo "fetching the build pairs into $ROCKIT_BENCH_DATA"
  if ! scripts/bench/fetch-pairs.sh "$ROCKIT_BENCH_DATA" panda phaser shift; then
    echo "fetching the build pairs failed (network?); tests/engine_pairs.rs needs them" >&2
    exit 1
  fi
fi

log=$(mktemp); trap 'rm -f "$log"' EXIT
status=0
cargo test --locked "$@" 2>&1 | tee "$log" || status=$?
# One closing line for the whole suite: the sum over every test binary.
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
