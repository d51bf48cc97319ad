"""Summarise a py-spy ``--format raw`` profile (collapsed stacks) as shares of the busy samples.

    py-spy record --pid PID --duration 20 --format raw -o run.raw   # while a load runs
    python bench/flame_summary.py run.raw [--top 25]

Prints the functions with the largest self share and the largest inclusive share (a function counted
once per sample however often it recurs), as the tables in docs/BENCHMARKS.md show them.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_LINE = re.compile(r"^(.*) (\d+)$")


def frame_name(frame: str) -> str:
    """``func (path/to/module.py:12)`` -> ``func (module.py)``: lines differ within a function."""
    match = re.match(r"^(.*?) \((.*?)(?::\d+)?\)$", frame.strip())
    if not match:
        return frame.strip()
    func, path = match.groups()
    return f"{func} ({path.rsplit('/', 1)[-1]})"


def summarise(path: Path) -> tuple[int, Counter, Counter]:
    total, self_time, inclusive = 0, Counter(), Counter()
    for line in path.read_text(errors="replace").splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        stack, count = match.group(1), int(match.group(2))
        frames = [frame_name(f) for f in stack.split(";") if f.strip()]
        frames = [f for f in frames if not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        total += count
        self_time[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    return total, self_time, inclusive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    total, self_time, inclusive = summarise(args.raw)
    print(f"{total} busy samples\n\nself share:")
    for name, count in self_time.most_common(args.top):
        print(f"  {100 * count / total:5.1f}%  {name}")
    print("\ninclusive share:")
    for name, count in inclusive.most_common(args.top):
        print(f"  {100 * count / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
