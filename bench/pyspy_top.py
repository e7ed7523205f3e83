#!/usr/bin/env python3
"""Top functions from a `py-spy record --format raw` file (collapsed stacks: "f1;f2;f3 COUNT").

    pyspy_top.py STACKS.txt [N]

Prints, as % of all samples: own time (leaf frame), inclusive time (anywhere on the stack, counted
once per sample), and own time summed per source area (lmgate / aiohttp / asyncio / other).
"""
from __future__ import annotations

import re
import sys
from collections import Counter

path = sys.argv[1]
top_n = int(sys.argv[2]) if len(sys.argv) > 2 else 15
own: Counter[str] = Counter()
incl: Counter[str] = Counter()
area: Counter[str] = Counter()
total = 0
FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def short(frame: str) -> tuple[str, str]:
    m = FRAME.match(frame.strip())
    if not m:
        return frame.strip(), frame.strip()
    f = m["file"]
    for marker in ("site-packages/", "lib/python3.", "src/"):
        if marker in f:
            f = f.split(marker, 1)[1]
            if marker == "lib/python3.":
                f = f.split("/", 1)[1] if "/" in f else f
            break
    return f"{m['fn']} ({f})", f


def area_of(file: str) -> str:
    if file.startswith("lmgate/"):
        return "lmgate"
    for name in ("aiohttp", "asyncio", "uvloop", "yarl", "multidict", "orjson"):
        if file.startswith(name):
            return name
    return "other"


for line in open(path):
    line = line.rstrip("\n")
    if not line:
        continue
    stack, _, count = line.rpartition(" ")
    n = int(count)
    frames = [f for f in stack.split(";") if f]
    # drop the process/thread header frames py-spy may add
    frames = [f for f in frames if not f.startswith(("process ", "thread "))]
    if not frames:
        continue
    total += n
    leaf, leaf_file = short(frames[-1])
    own[leaf] += n
    area[area_of(leaf_file)] += n
    for name in {short(f)[0] for f in frames}:
        incl[name] += n

if not total:
    sys.exit("no samples")
print(f"{total} samples")
print(f"-- own time (leaf), top {top_n}")
for name, n in own.most_common(top_n):
    print(f"{100 * n / total:6.1f}%  {name}")
print(f"-- inclusive time, top {top_n} lmgate frames (below the server/CLI entry frames)")
shown = 0
for name, n in incl.most_common():
    if "lmgate/" in name and not any(x in name for x in ("lmgate/cli/", "lmgate/server/run.py")):
        print(f"{100 * n / total:6.1f}%  {name}")
        shown += 1
        if shown >= top_n:
            break
print("-- own time by area: " + ", ".join(f"{k} {100 * v / total:.1f}%" for k, v in area.most_common()))
