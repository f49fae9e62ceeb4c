#!/usr/bin/env python3
"""Name the guest's functions in a callgrind profile of `instructions`.

callgrind names wasmtime's generated code by address only; wasmtime's perf
map (`PERF_MAP=1`, /tmp/perf-<pid>.map) gives each compiled wasm function's
address range and name. Reads `callgrind_annotate` output on stdin (self or
--inclusive=yes), writes it with every address replaced by its function.

    name-guest.py /tmp/perf-PID.map < annotate.txt
"""
import bisect
import re
import sys

ranges = []
with open(sys.argv[1]) as perf_map:
    for line in perf_map:
        start, size, name = line.rstrip("\n").split(" ", 2)
        ranges.append((int(start, 16), int(size, 16), re.sub(r"::h[0-9a-f]{16}$", "", name)))
ranges.sort()
starts = [r[0] for r in ranges]


def name_of(match):
    address = int(match.group(1), 16)
    i = bisect.bisect_right(starts, address) - 1
    if i >= 0 and address < ranges[i][0] + ranges[i][1]:
        return "wasm:" + ranges[i][2] + (match.group(2) or "") + (match.group(3) or "")
    return match.group(0)


for line in sys.stdin:
    sys.stdout.write(re.sub(r"\?\?\?:(0x[0-9a-f]+)('\d+)?( \([0-9,]+x\))? \[\?\?\?\]", name_of, line))
