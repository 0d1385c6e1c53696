"""Writes a synthetic build tar of GIB GiB: thousands of files from 1 KiB to 64 MiB, random
and repeated content, a few half-zero files. Seeded, but not byte-reproducible (the shared
block is os.urandom). Usage: python3 synthetic-build.py OUT.tar GIB"""
import io, os, random, sys, tarfile

path, gib = sys.argv[1], float(sys.argv[2])
target = int(gib * (1 << 30))
rng = random.Random(42)
shared = os.urandom(1 << 20)
written = 0
with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
    n = 0
    while written < target:
        size = min(int(rng.paretovariate(1.1) * 16384), 64 << 20, target - written)
        kind = rng.random()
        if kind < 0.6:
            data = rng.randbytes(size)
        elif kind < 0.85:
            data = (shared * (size // len(shared) + 1))[:size]
        else:
            data = bytes(size // 2) + rng.randbytes(size - size // 2)
        info = tarfile.TarInfo(f"data/{n % 97:02d}/file{n:06d}.bin")
        info.size = size
        tar.addfile(info, io.BytesIO(data))
        written += size
        n += 1
