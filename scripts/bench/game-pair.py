"""Writes a generated pair of game builds of about GIB GiB each with known edits, as two
uncompressed tars, and prints (as JSON) what the new build holds that the old one does not:
`newRandomBytes` is the count of random bytes the edits put in, a floor no differ can code
the new build below. Reproducible: the same GIB and SEED give the same bytes.

Usage: python3 game-pair.py OLD.tar NEW.tar GIB [SEED]

Files of 4 KiB to 256 MiB (Pareto sizes) of random bytes, in 64 directories. Between the two
builds: most files stay; some large binaries get 1 to 4 insertions of 1 to 4096 random bytes
at odd offsets; some get up to 64 bytes changed in place; some are removed; one directory
moves to another path; new files are added (about 0.5 % of the size)."""
import json
import random
import sys
import tarfile

CHUNK = 1 << 20


class Stream:
    """A file-like object reading the bytes of `pieces` (an iterator of bytes), for tarfile,
    which wants exactly the size asked for until the end."""

    def __init__(self, pieces):
        self.pieces = iter(pieces)
        self.piece = memoryview(b"")

    def read(self, n):
        parts = []
        while n > 0:
            if not self.piece:
                piece = next(self.pieces, None)
                if piece is None:
                    break
                self.piece = memoryview(piece)
            take = self.piece[:n]
            parts.append(take)
            self.piece = self.piece[len(take):]
            n -= len(take)
        return b"".join(parts)


def content(seed, size):
    """The old bytes of a file, a chunk at a time."""
    rng = random.Random(seed)
    left = size
    while left > 0:
        n = min(CHUNK, left)
        yield rng.randbytes(n)
        left -= n


def edited(seed, size, inserts, flips):
    """The file's old bytes with `inserts` [(offset, bytes)] put in and `flips`
    [(offset, xor)] applied, offsets in the old bytes, ascending."""
    at = 0
    inserts = list(inserts)
    flips = dict(flips)
    for chunk in content(seed, size):
        end = at + len(chunk)
        chunk = bytearray(chunk)
        for offset, xor in flips.items():
            if at <= offset < end:
                chunk[offset - at] ^= xor
        start = 0
        while inserts and inserts[0][0] < end:
            offset, extra = inserts.pop(0)
            yield bytes(chunk[start:offset - at])
            yield extra
            start = offset - at
        yield bytes(chunk[start:])
        at = end


def add(tar, name, size, pieces):
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    tar.addfile(info, Stream(pieces))


def main():
    old_path, new_path, gib = sys.argv[1], sys.argv[2], float(sys.argv[3])
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    rng = random.Random(seed)
    target = int(gib * (1 << 30))
    files = []
    total = 0
    while total < target:
        size = min(int(rng.paretovariate(1.1) * 4096), 256 << 20, target - total)
        n = len(files)
        files.append((f"data/{n % 64:02d}/file{n:06d}.bin", size, rng.randrange(1 << 62)))
        total += size
    moved = "data/07/"
    stats = {"oldBytes": total, "files": len(files), "newRandomBytes": 0, "inserts": 0,
             "changedBytes": 0, "removedFiles": 0, "addedFiles": 0, "movedFiles": 0}
    with tarfile.open(old_path, "w", format=tarfile.GNU_FORMAT) as old, \
            tarfile.open(new_path, "w", format=tarfile.GNU_FORMAT) as new:
        for name, size, file_seed in files:
            add(old, name, size, content(file_seed, size))
            edit = rng.random()
            new_name = name.replace(moved, "moved/07/") if name.startswith(moved) else name
            stats["movedFiles"] += new_name != name
            if edit < 0.03:
                stats["removedFiles"] += 1
                continue
            inserts, flips = [], []
            if edit < 0.13 and size >= 64 << 10:
                for _ in range(rng.randint(1, 4)):
                    extra = rng.randbytes(rng.randint(1, 4096))
                    inserts.append((min(rng.randrange(size) | 1, size - 1), extra))
                inserts.sort(key=lambda i: i[0])
                stats["inserts"] += len(inserts)
            elif edit < 0.18:
                flips = [(rng.randrange(size), rng.randrange(1, 256))
                         for _ in range(rng.randint(1, 64))] if size else []
            flips = list(dict(flips).items())
            added = sum(len(extra) for _, extra in inserts)
            stats["newRandomBytes"] += added + len(flips)
            stats["changedBytes"] += len(flips)
            add(new, new_name, size + added, edited(file_seed, size, inserts, flips))
        extra_total = total // 200
        n = 0
        while extra_total > 0:
            size = min(int(rng.paretovariate(1.1) * 4096), extra_total)
            add(new, f"added/file{n:05d}.bin", size, content(rng.randrange(1 << 62), size))
            stats["newRandomBytes"] += size
            stats["addedFiles"] += 1
            extra_total -= size
            n += 1
    print(json.dumps(stats))


main()
