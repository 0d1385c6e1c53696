#!/usr/bin/env python3
"""Synthetic game generator: a build tar shaped like a real game, and play scripts.

Writes into OUT_DIR:
  game.tar          one uncompressed tar: a large executable, shared libraries, packed archives
                    (most of the bytes, incompressible like real packed assets), and many small
                    assets (some compressible text: shaders, JSON)
  boot.order        the access-order file of the game's boot (`image build --order`): what
                    training at its best would learn
  session-N.jsonl   N play scripts (`client play --script`): the boot reads with per-session
                    jitter (order swaps, timing noise, a few skipped and a few extra reads),
                    then {"launch":true}, then gameplay reads
  game.json         what was made: sizes, file count, boot bytes (distinct, per session)

Boot reads a subset scattered across the path order: the executable's first part, every shared
library's head, ranges inside each pack, and some small assets; --boot-percent (5 to 10) of the
bytes. Everything is derived from --seed: the same arguments give byte-identical output.

Usage: game-gen.py OUT_DIR [--size 1G] [--files 2000] [--sessions 10] [--seed 1]
                   [--boot-percent 7] [--gameplay-reads 400]
"""
import argparse
import io
import json
import os
import random
import tarfile

BLOCK = 4096


def size_arg(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper()
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def layout(rng, total, files):
    """The game's files: (path, size, kind), in no particular order."""
    out = [("Game.exe", int(total * 0.08), "code")]
    libs = 12
    for i in range(libs):
        out.append((f"bin/lib{['engine', 'render', 'audio', 'net', 'physics', 'ui'][i % 6]}{i}.so",
                    int(total * 0.07 / libs), "code"))
    packs = max(4, min(24, total >> 27))
    small = max(1, files - len(out) - packs)
    small_total = int(total * 0.12)
    weights = [rng.paretovariate(1.3) for _ in range(small)]
    scale = small_total / sum(weights)
    for i, w in enumerate(weights):
        kind = "text" if i % 5 == 0 else "asset"
        ext = {"text": ".json", "asset": ".tex"}[kind]
        out.append((f"assets/{i % 23:02d}/item{i:05d}{ext}", max(64, int(w * scale)), kind))
    used = sum(size for _, size, _ in out)
    pack_total = max(packs * BLOCK, total - used)
    for i in range(packs):
        share = pack_total // packs + (pack_total % packs if i == packs - 1 else 0)
        out.append((f"data/pak{i:02d}.pak", share, "pack"))
    return out


def content(rng, size, kind):
    """File bytes: random for packs and assets, repetitive for code, text for text."""
    if kind == "text":
        words = [b"shader", b"float4", b"uniform", b"texture", b"return", b"{", b"}", b"0.5", b"\n"]
        data = b" ".join(rng.choice(words) for _ in range(size // 5 + 1))
        return data[:size]
    if kind == "code":
        chunk = rng.randbytes(1 << 16)
        parts = []
        while sum(len(p) for p in parts) < size:
            parts.append(chunk[: rng.randrange(1 << 12, 1 << 16)] if rng.random() < 0.5 else rng.randbytes(1 << 14))
        return b"".join(parts)[:size]
    return rng.randbytes(size)


def boot_reads(rng, files, target):
    """The canonical boot: (path, offset, len) in first-access order, about `target` bytes."""
    by_path = sorted(files)
    reads = []
    exe = next(f for f in by_path if f[0] == "Game.exe")
    reads.append((exe[0], 0, min(exe[1], target // 4)))
    for path, size, _ in by_path:
        if path.startswith("bin/"):
            reads.append((path, 0, min(size, 256 << 10)))
    budget = target - sum(r[2] for r in reads)
    packs = [f for f in by_path if f[2] == "pack"]
    assets = [f for f in by_path if f[2] in ("asset", "text")]
    while budget > 0:
        if rng.random() < 0.7 and packs:
            path, size, _ = rng.choice(packs)
            length = min(size, rng.randrange(16 << 10, 1 << 20), budget)
            offset = rng.randrange(0, max(1, size - length))
        else:
            path, size, _ = rng.choice(assets)
            offset, length = 0, min(size, budget)
        reads.append((path, offset, length))
        budget -= length
    head, rest = reads[:1], reads[1:]
    rng.shuffle(rest)  # scattered across the path order
    return head + rest


def blocks(reads):
    """Order-file runs (path, first block, block count) of reads, each block at first mention."""
    seen = set()
    runs = []
    for path, offset, length in reads:
        first, last = offset // BLOCK, (offset + length - 1) // BLOCK
        start = None
        for b in range(first, last + 1):
            if (path, b) in seen:
                if start is not None:
                    runs.append((path, start, b - start))
                    start = None
                continue
            seen.add((path, b))
            if start is None:
                start = b
        if start is not None:
            runs.append((path, start, last + 1 - start))
    return runs


def session(rng, boot, files, gameplay_reads):
    """One play script: the boot with jitter, the launch, then gameplay."""
    reads = list(boot)
    for i in range(1, len(reads) - 1):  # neighbours swap: per-session order noise
        if rng.random() < 0.1:
            reads[i], reads[i + 1] = reads[i + 1], reads[i]
    kept = [r for r in reads if r[0] == "Game.exe" or rng.random() > 0.02]
    packs = [f for f in files if f[2] == "pack"]
    for _ in range(max(1, len(reads) // 50)):  # a few reads another session does not make
        path, size, _ = rng.choice(packs)
        length = min(size, rng.randrange(4 << 10, 64 << 10))
        kept.insert(rng.randrange(1, len(kept) + 1), (path, rng.randrange(0, size - length + 1), length))
    lines, t = [], 0
    for path, offset, length in kept:
        t += max(0, int(rng.gauss(3, 1.5)))
        lines.append({"t": t, "path": path, "offset": offset, "len": length})
    t += 50
    lines.append({"t": t, "launch": True})
    for _ in range(gameplay_reads):
        path, size, _ = rng.choice(packs)
        length = min(size, rng.randrange(4 << 10, 256 << 10))
        t += max(1, int(rng.expovariate(1 / 40)))
        lines.append({"t": t, "path": path, "offset": rng.randrange(0, size - length + 1), "len": length})
    return lines, kept


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir")
    parser.add_argument("--size", type=size_arg, default=1 << 30)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--boot-percent", type=float, default=7.0)
    parser.add_argument("--gameplay-reads", type=int, default=400)
    args = parser.parse_args()
    if not 5 <= args.boot_percent <= 10:
        parser.error("--boot-percent must be between 5 and 10")
    if args.size < 16 << 20 or args.files < 20:
        parser.error("a game has at least 16M and 20 files")

    os.makedirs(args.out_dir, exist_ok=True)
    rng = random.Random(args.seed)
    files = layout(rng, args.size, args.files)
    with tarfile.open(os.path.join(args.out_dir, "game.tar"), "w", format=tarfile.PAX_FORMAT) as tar:
        for path, size, kind in sorted(files):
            info = tarfile.TarInfo(path)
            info.size = size
            info.mode = 0o755 if kind == "code" else 0o644
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(content(random.Random(f"{args.seed}:{path}"), size, kind)))

    total = sum(size for _, size, _ in files)
    boot = boot_reads(rng, files, int(total * args.boot_percent / 100))
    runs = blocks(boot)
    with open(os.path.join(args.out_dir, "boot.order"), "w", encoding="utf-8") as order:
        order.write("# the generator's canonical boot, in first-access order\n")
        for path, first, count in runs:
            order.write(f"{first} {count} {path}\n")

    per_session = []
    for n in range(1, args.sessions + 1):
        lines, kept = session(random.Random(f"{args.seed}:session:{n}"), boot, files, args.gameplay_reads)
        with open(os.path.join(args.out_dir, f"session-{n}.jsonl"), "w", encoding="utf-8") as script:
            for line in lines:
                script.write(json.dumps(line, separators=(",", ":")) + "\n")
        per_session.append(sum(count for _, _, count in blocks(kept)) * BLOCK)

    summary = {
        "seed": args.seed,
        "files": len(files),
        "totalFileBytes": total,
        "bootReads": len(boot),
        "bootBlockBytes": sum(count for _, _, count in runs) * BLOCK,
        "sessions": args.sessions,
        "sessionBootBlockBytes": per_session,
    }
    with open(os.path.join(args.out_dir, "game.json"), "w", encoding="utf-8") as out:
        json.dump(summary, out, indent=2)
        out.write("\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
