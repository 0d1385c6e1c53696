#!/usr/bin/env bash
# Runs the whole test suite. Installs the external tools the tests use when they are missing
# (as root through apt-get; otherwise it names the packages to install and stops).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v 7z >/dev/null 2>&1 || missing+=(p7zip-full)
command -v tar >/dev/null 2>&1 || missing+=(tar)
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

# A real S3 server that checks SigV4 signatures, for the deployment tests (cached in cargo's bin dir).
if ! command -v s3s-fs >/dev/null 2>&1; then
  echo "installing s3s-fs 0.14.1 (S3 server for the tests)"
  cargo install s3s-fs@0.14.1 --locked --features binary
fi

log=$(mktemp); trap 'rm -f "$log"' EXIT
status=0
cargo test --locked "$@" 2>&1 | tee "$log" || status=$?
# One closing line for the whole suite: the sum over every test binary.
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
