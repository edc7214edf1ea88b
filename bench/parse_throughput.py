"""Bounce parsing throughput: mailflow against Sisimai 4.25, same files, same run.

The Sisimai corpus (read in place from ../shared) is copied N times (default 10) into a
temporary directory; then each parser decodes the whole directory as its users would run it,
in one process, end to end (start-up included):

    mailflow explain --format jsonl DIR > /dev/null
    perl -MSisimai -e 'print Sisimai->dump(DIR)' > /dev/null

Each is run R times (default 3), alternating; the best wall time of each gives files/s, and the
ratio is mailflow's files/s over Sisimai's. Peak memory is each child's maximum resident set
(``wait4`` rusage). Sisimai 4.25 comes from Debian: ``apt-get install -y libsisimai-perl``.

    python bench/parse_throughput.py [--copies 10] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("MAILFLOW_SHARED", ROOT.parent / "shared")) / "corpus" / "sisimai" / "maildir" / "bsd"


def run(cmd: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS in KiB) of one child process, its output discarded."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 2):
        raise SystemExit(f"bench: {cmd[0]} exited {proc.returncode}")
    return elapsed, usage.ru_maxrss


def have_sisimai() -> bool:
    probe = subprocess.run(["perl", "-MSisimai", "-e", "print $Sisimai::VERSION"], capture_output=True, check=False)
    return probe.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        raise SystemExit(f"bench: corpus not found at {CORPUS} (set MAILFLOW_SHARED)")
    if not have_sisimai():
        raise SystemExit("bench: Sisimai 4.25 is missing: apt-get install -y libsisimai-perl")
    mailflow = shutil.which("mailflow", path=str(Path(sys.executable).parent)) or "mailflow"
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
        best: dict[str, tuple[float, int]] = {}
        for _ in range(args.rounds):
            for name, cmd in commands.items():
                elapsed, rss = run(cmd)
                if name not in best or elapsed < best[name][0]:
                    best[name] = (elapsed, max(rss, best.get(name, (0, 0))[1]))
    figures = {
        name: {"seconds": round(t, 3), "files_per_s": round(count / t, 1), "peak_rss_mib": round(rss / 1024, 1)}
        for name, (t, rss) in best.items()
    }
    ratio = figures["mailflow"]["files_per_s"] / figures["sisimai-4.25"]["files_per_s"]
    result = {"files": count, "rounds": args.rounds, "parsers": figures, "ratio": round(ratio, 2)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{count} files, best of {args.rounds} rounds")
        for name, fig in figures.items():
            print(
                f"  {name:<13} {fig['files_per_s']:>8.1f} files/s  {fig['seconds']:>7.3f} s  peak {fig['peak_rss_mib']} MiB"
            )
        print(f"  ratio mailflow / sisimai-4.25: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
