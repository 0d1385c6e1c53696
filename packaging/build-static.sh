#!/usr/bin/env bash
# Builds a fully static rockit-edge release binary and reports its linkage and size.
#
#   packaging/build-static.sh          glibc with +crt-static (needs nothing beyond the toolchain)
#   packaging/build-static.sh musl     musl target (needs `rustup target add x86_64-unknown-linux-musl`
#                                      and Debian's musl-tools; used when both are present)
#
# Output: target/<triple>/release/rockit-edge
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-gnu}
case "$flavour" in
  gnu)
    triple=x86_64-unknown-linux-gnu
    RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" cargo build --release --locked --target "$triple"
    ;;
  musl)
    triple=x86_64-unknown-linux-musl
    if ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
      echo "the $triple target is not installed: rustup target add $triple" >&2; exit 2
    fi
    command -v musl-gcc >/dev/null || { echo "musl-gcc missing: apt-get install musl-tools" >&2; exit 2; }
    cargo build --release --locked --target "$triple"
    ;;
  *) echo "usage: $0 [gnu|musl]" >&2; exit 2 ;;
esac
bin="target/$triple/release/rockit-edge"
echo "binary:  $bin"
echo "linkage: $(ldd "$bin" 2>&1 | tr -d '\t' | head -1)"
echo "size:    $(stat -c %s "$bin") bytes ($(du -h "$bin" | cut -f1))"
