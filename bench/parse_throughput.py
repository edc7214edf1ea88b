"""Bounce parsing throughput: mailflow against Sisimai 4.25, same files, same run.

The Sisimai corpus (read in place from ../shared) is copied N times (default 10) into a
temporary directory; then each parser decodes the whole directory as its users would run it,
in one command, end to end (start-up included):

    mailflow explain --format jsonl DIR > /dev/null
    perl -MSisimai -e 'print Sisimai->dump(DIR)' > /dev/null

Each is run R times (default 3), alternating; the best wall time of each gives files/s, and the
ratio is mailflow's files/s over Sisimai's. The best CPU time (user + system, ``wait4`` rusage)
gives a second ratio that a busy machine disturbs much less than the wall clock: on a shared
host, compare that one. mailflow runs as its users run it, with its default ``--jobs`` (one
process per CPU, at most 8: on 2 CPUs, the command itself and one forked worker, each parsing
its share of the files, the first also writing the answers: ``bot/cli/fanout.py``); the worker's
CPU time counts too (mailflow waits for its workers, so ``wait4`` includes them). Nothing is cached between
runs except what an installed mailflow keeps in its user cache (the checked knowledge base,
``bot/knowledge.py``); every copy of every file is read and parsed in full. Peak memory is
each child's maximum resident set (``wait4`` rusage).
Sisimai 4.25 comes from Debian: ``apt-get install -y libsisimai-perl``.

``--instructions`` adds a third figure that the machine's load does not move: each command runs
once more under valgrind's callgrind (``apt-get install -y valgrind``; about 30 times slower) and
the instructions it executes are counted. mailflow runs there with ``--jobs 1``: callgrind counts
a forked worker's instructions from its parent's count at the fork, so workers cannot be summed;
the cost of sharing files among workers shows in the CPU figure only. Instructions are not
seconds (a Perl and a Python interpreter do different work per instruction), but the same
command on the same files counts the same, so this ratio moves only when the code does.

The parser (``bot/parse``) runs as installed: compiled to C by mypyc (``pyproject.toml``), or
its plain sources when it was installed with ``HATCH_BUILD_NO_HOOKS=true``; the figures say
which. Before the runs, mailflow's own modules are byte-compiled once (``compileall``), as ``pip
install`` does for an installed copy: in a development checkout with ``PYTHONDONTWRITEBYTECODE``
set, each run would otherwise compile the sources again (about 40 ms a run here), which no
installed copy does.

    python bench/parse_throughput.py [--copies 10] [--rounds 3] [--instructions] [--json]
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("MAILFLOW_SHARED", ROOT.parent / "shared")) / "corpus" / "sisimai" / "maildir" / "bsd"


def run(cmd: list[str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in KiB) of one child process, its output discarded."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 2):
        raise SystemExit(f"bench: {cmd[0]} exited {proc.returncode}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def instructions(cmd: list[str]) -> int:
    """Instructions one single-process command executes."""
    probe = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    counts = re.findall(rb"Collected : (\d{1,20})", probe.stderr)
    if probe.returncode not in (0, 2) or len(counts) != 1:
        raise SystemExit(f"bench: {cmd[0]} under valgrind exited {probe.returncode} ({len(counts)} processes)")
    return int(counts[0])


def parser_compiled() -> bool:
    """Is the parser this interpreter imports compiled (a native module beside each source)?"""
    spec = importlib.util.find_spec("bot.parse.reading")
    return spec is not None and str(spec.origin).endswith((".so", ".pyd"))


def have_sisimai() -> bool:
    probe = subprocess.run(["perl", "-MSisimai", "-e", "print $Sisimai::VERSION"], capture_output=True, check=False)
    return probe.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions under valgrind (load-independent)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        raise SystemExit(f"bench: corpus not found at {CORPUS} (set MAILFLOW_SHARED)")
    if not have_sisimai():
        raise SystemExit("bench: Sisimai 4.25 is missing: apt-get install -y libsisimai-perl")
    if args.instructions and shutil.which("valgrind") is None:
        raise SystemExit("bench: valgrind is missing: apt-get install -y valgrind")
    mailflow = shutil.which("mailflow", path=str(Path(sys.executable).parent)) or "mailflow"
    for package in ("bot", "knowledge"):
        compileall.compile_dir(str(ROOT / package), quiet=1)
    files = sorted(CORPUS.glob("*.eml"))
    with tempfile.TemporaryDirectory(prefix="mailflow-bench-") as tmp:
        work = Path(tmp)
        for n in range(args.copies):
            for f in files:
                shutil.copyfile(f, work / f"{n:02d}-{f.name}")
        count = len(files) * args.copies
        commands = {
            "mailflow": [mailflow, "explain", "--format", "jsonl", str(work)],
            "sisimai-4.25": ["perl", "-MSisimai", "-e", f"print Sisimai->dump('{work}')"],
        }
        wall: dict[str, float] = {}
        cpu: dict[str, float] = {}
        peak: dict[str, int] = {}
        for _ in range(args.rounds):
            for name, cmd in commands.items():
                elapsed, used, rss = run(cmd)
                wall[name] = min(elapsed, wall.get(name, elapsed))
                cpu[name] = min(used, cpu.get(name, used))
                peak[name] = max(rss, peak.get(name, 0))
        single = {**commands, "mailflow": [mailflow, "explain", "--jobs", "1", "--format", "jsonl", str(work)]}
        counted = {name: instructions(cmd) for name, cmd in single.items()} if args.instructions else {}
    figures = {
        name: {
            "seconds": round(wall[name], 3),
            "files_per_s": round(count / wall[name], 1),
            "cpu_seconds": round(cpu[name], 3),
            "files_per_cpu_s": round(count / cpu[name], 1),
            "peak_rss_mib": round(peak[name] / 1024, 1),
            **({"instructions_per_file": round(counted[name] / count)} if counted else {}),
        }
        for name in commands
    }
    ratio = figures["mailflow"]["files_per_s"] / figures["sisimai-4.25"]["files_per_s"]
    cpu_ratio = figures["mailflow"]["files_per_cpu_s"] / figures["sisimai-4.25"]["files_per_cpu_s"]
    result = {
        "files": count,
        "parser": "compiled" if parser_compiled() else "plain",
        "rounds": args.rounds,
        "parsers": figures,
        "ratio": round(ratio, 2),
        "cpu_ratio": round(cpu_ratio, 2),
    }
    if counted:
        result["instructions_ratio"] = round(counted["sisimai-4.25"] / counted["mailflow"], 2)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{count} files, best of {args.rounds} rounds; mailflow's parser {result['parser']}")
        for name, fig in figures.items():
            rate, seconds, mib = fig["files_per_s"], fig["seconds"], fig["peak_rss_mib"]
            cpu_rate, cpu_seconds = fig["files_per_cpu_s"], fig["cpu_seconds"]
            print(
                f"  {name:<13} {rate:>8.1f} files/s  {seconds:>7.3f} s wall  "
                f"{cpu_rate:>8.1f} files/cpu-s  {cpu_seconds:>7.3f} s cpu  peak {mib} MiB"
            )
        print(f"  ratio mailflow / sisimai-4.25: {ratio:.2f}x wall, {cpu_ratio:.2f}x cpu")
        if counted:
            per_file = {name: fig["instructions_per_file"] for name, fig in figures.items()}
            print(
                f"  instructions per file (mailflow --jobs 1): mailflow {per_file['mailflow']:,}, sisimai-4.25 "
                f"{per_file['sisimai-4.25']:,}: {result['instructions_ratio']:.2f}x fewer"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
