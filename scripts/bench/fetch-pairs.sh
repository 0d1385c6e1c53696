#!/usr/bin/env bash
# Fetches real successive releases of real software and packs each version as an
# uncompressed, deterministic tar (the shape of a native build upload), plus a synthetic pair.
# Usage: scripts/bench/fetch-pairs.sh [OUTDIR [PAIR...]]   (default ./bench-data, every pair;
# keep OUTDIR outside git). Produces OUTDIR/<pair>/old.tar and new.tar. Idempotent: existing
# tars are kept.
#   panda   panda3d 1.10.15 -> 1.10.16 wheels (engine runtime: native libraries, models)
#   phaser  phaser 4.2.0 -> 4.2.1 npm packages (HTML5 framework: scripts and assets)
#   jaxlib  jaxlib 0.4.30 -> 0.4.31 wheels (native: a 192 -> 212 MB shared library, 297 MB
#           old tar, larger than the differ's window at the default 1 GiB budget)
#   datefns date-fns 3.6.0 -> 4.0.0 npm packages (5,500 small JS and type files, scattered
#           text edits)
#   shift   panda's largest file, then the same with 4 KiB inserted at 1 MiB and 100 bytes
#           flipped (seeded, reproducible)
set -euo pipefail
out=${1:-bench-data}
shift || true
wanted=" ${*:-panda phaser shift jaxlib datefns} "
want() { [[ $wanted == *" $1 "* ]]; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pack() { # pack DIR TAR: deterministic tar of DIR's contents
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$2.part" -C "$1" .
  mv "$2.part" "$2"
}

from_pypi() { # from_pypi NAME VERSION TAR
  [ -f "$3" ] && return
  local d="$tmp/$1-$2"
  mkdir -p "$d/dl" "$d/tree"
  python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
    --python-version 3.11 -d "$d/dl" "$1==$2"
  python3 -m zipfile -e "$d"/dl/*.whl "$d/tree"
  pack "$d/tree" "$3"
}

from_npm() { # from_npm NAME VERSION TAR
  [ -f "$3" ] && return
  local d="$tmp/$1-$2"
  mkdir -p "$d/tree"
  (cd "$d" && npm pack -q --silent "$1@$2" >/dev/null)
  tar -xzf "$d"/*.tgz -C "$d/tree"
  pack "$d/tree" "$3"
}

if want panda || want shift; then
  mkdir -p "$out/panda"
  from_pypi panda3d 1.10.15 "$out/panda/old.tar"
  from_pypi panda3d 1.10.16 "$out/panda/new.tar"
fi
if want phaser; then
  mkdir -p "$out/phaser"
  from_npm phaser 4.2.0 "$out/phaser/old.tar"
  from_npm phaser 4.2.1 "$out/phaser/new.tar"
fi
if want jaxlib; then
  mkdir -p "$out/jaxlib"
  from_pypi jaxlib 0.4.30 "$out/jaxlib/old.tar"
  from_pypi jaxlib 0.4.31 "$out/jaxlib/new.tar"
fi
if want datefns; then
  mkdir -p "$out/datefns"
  from_npm date-fns 3.6.0 "$out/datefns/old.tar"
  from_npm date-fns 4.0.0 "$out/datefns/new.tar"
fi

if want shift && [ ! -f "$out/shift/new.tar" ]; then
  s="$tmp/shift"
  mkdir -p "$out/shift"
  mkdir -p "$s/x" "$s/old" "$s/new"
  tar -xf "$out/panda/old.tar" -C "$s/x"
  largest=$(find "$s/x" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2-)
  cp "$largest" "$s/old/game.bin"
  python3 - "$s/old/game.bin" "$s/new/game.bin" <<'PY'
import random, sys
data = bytearray(open(sys.argv[1], "rb").read())
rng = random.Random(1234)
insert = bytes(rng.getrandbits(8) for _ in range(4096))
at = min(1 << 20, len(data))
data[at:at] = insert
for _ in range(100):
    i = rng.randrange(len(data))
    data[i] ^= 0xFF
open(sys.argv[2], "wb").write(data)
PY
  pack "$s/old" "$out/shift/old.tar"
  pack "$s/new" "$out/shift/new.tar"
fi

for p in $wanted; do
  for v in old new; do
    printf '%-7s %s %12d bytes  md5 %s\n' "$p" "$v" "$(stat -c %s "$out/$p/$v.tar")" \
      "$(md5sum < "$out/$p/$v.tar" | cut -d' ' -f1)"
  done
done
