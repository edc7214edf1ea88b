"""``mailflow summary`` against ``mailflow explain --format jsonl`` on the same files, same run.

The Sisimai corpus is read in place from ../shared (never copied): its directory is named
``--copies`` times (default 10) on each command line, so each command reads every file that
many times, as its users would run it, in one process tree, end to end (start-up included):

    mailflow summary DIR DIR ... --format json > /dev/null
    mailflow explain DIR DIR ... --format jsonl > /dev/null

Both share the same reader and worker processes (``--jobs``, default the CPUs); summary sends
back a small event per file where explain renders a JSON line. Each is run ``--rounds`` times
(default 3), alternating; the best wall time and the best CPU time (user + system of the whole
tree, ``wait4`` rusage) of each give the ratios summary / explain. The goal is at most 1.1. On
a shared host the CPU ratio is the steadier one.

    python bench/summary_vs_explain.py [--copies 10] [--rounds 3] [--jobs N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("MAILFLOW_SHARED", ROOT.parent / "shared")) / "corpus" / "sisimai" / "maildir" / "bsd"
GOAL = 1.1


def run(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child and its workers) of one run, its output discarded."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 2):
        raise SystemExit(f"bench: {' '.join(cmd[:4])} ... exited {code}")
    # On Linux the rusage wait4 gives includes the descendants the child reaped: its worker
    # processes, which mailflow waits for before it exits (bot/cli/fanout.py).
    return elapsed, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, help="passed to both commands (default: theirs)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        raise SystemExit(f"bench: corpus not found at {CORPUS} (set MAILFLOW_SHARED)")
    files = sum(1 for p in CORPUS.rglob("*") if p.is_file() and not p.name.startswith("."))
    inputs = [str(CORPUS)] * args.copies
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    base = [sys.executable, "-m", "bot"]
    commands = {
        "summary": [*base, "summary", *inputs, "--format", "json", *jobs],
        "explain": [*base, "explain", *inputs, "--format", "jsonl", *jobs],
    }
    wall: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.rounds):
        for name, cmd in commands.items():
            w, c = run(cmd)
            wall[name].append(w)
            cpu[name].append(c)
    best = {name: (min(wall[name]), min(cpu[name])) for name in commands}
    figures = {
        "files": files * args.copies,
        "copies": args.copies,
        "rounds": args.rounds,
        "jobs": args.jobs,
        "summary_wall_s": round(best["summary"][0], 3),
        "explain_wall_s": round(best["explain"][0], 3),
        "summary_cpu_s": round(best["summary"][1], 3),
        "explain_cpu_s": round(best["explain"][1], 3),
        "wall_ratio": round(best["summary"][0] / best["explain"][0], 3),
        "cpu_ratio": round(best["summary"][1] / best["explain"][1], 3),
        "goal": GOAL,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"{figures['files']} files ({files} x {args.copies}), best of {args.rounds}")
        for name in commands:
            w, c = best[name]
            print(f"  {name:8} wall {w:7.2f} s  ({figures['files'] / w:7.0f} files/s)   cpu {c:7.2f} s")
        print(
            f"  summary / explain: wall {figures['wall_ratio']:.3f}x, cpu {figures['cpu_ratio']:.3f}x (goal <= {GOAL}x)"
        )
    return 0 if figures["wall_ratio"] <= GOAL or figures["cpu_ratio"] <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
