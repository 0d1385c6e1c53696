"""HDiffPatch 2.6 (pip hdiffpatch==2.6.0) diff of two whole files: LZMA2, level 9, 16 MiB
window, one thread. Usage: python3 hdiffpatch-diff.py OLD NEW OUT"""
import sys

import hdiffpatch

old = open(sys.argv[1], "rb").read()
new = open(sys.argv[2], "rb").read()
patch = hdiffpatch.diff(old, new, hdiffpatch.Lzma2Config(level=9, window=24, threads=1),
                        validate=False)
open(sys.argv[3], "wb").write(patch)
