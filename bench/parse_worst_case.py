"""The parser's worst case per input class, at 40,000 characters (a Slack message) and 1 MiB (the
most it reads of an upload). The goal: every input parses in at most 1 s on one core.

Two sources of hostile input, both from ``tests/hardening``:

- ``shapes.HOSTILE``: the worst shape known for each class (patterns that used to backtrack,
  HTML, MIME, long lines, many recipients, binary data, Slack markup), built at each size;
- pumps (``pumps.py``): for every compiled pattern of ``bot/parse``, the three strings built from
  its own pieces whose scan grows the most, at each size (class "pumps: <module>").

Each input is parsed as text (a paste) and as bytes (an upload), in this process, one at a
time; its time is the best of ``--rounds`` runs in CPU time of this thread (``time.thread_time``:
one core, and a busy machine's preemptions are not counted). The table gives, per class, the
number of inputs and the slowest at each size.

``--before REV`` times the shapes of ``shapes.HOSTILE`` at 40,000 characters with the parser of
git revision ``REV`` as well (each in a child process, stopped after ``--cap`` seconds: a
backtracking pattern cannot be interrupted otherwise), for the ratio old/new per shape.

    .venv/bin/python bench/parse_worst_case.py [--rounds 3] [--no-pumps] [--json]
    .venv/bin/python bench/parse_worst_case.py --no-pumps --before 0afa41f [--cap 30]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.parse import parse_bounce
from tests.hardening.pumps import pattern_sites, screen
from tests.hardening.shapes import HOSTILE

SIZES = (40_000, 1 << 20)
GOAL_S = 1.0


def cpu_time(data: bytes | str, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.thread_time()
        parse_bounce(data)
        best = min(best, time.thread_time() - started)
    return best


def inputs(with_pumps: bool) -> list[tuple[str, str, Callable[[int], bytes]]]:
    """(class, name, builder of ``size`` bytes) for every hostile input."""
    out = [(kind, name, build) for name, (kind, build) in HOSTILE.items()]
    if with_pumps:
        for site in pattern_sites("bot.parse"):
            module = site.name.rsplit(".", 1)[0].split("[")[0]
            kind = "pumps: " + module.removeprefix("bot.")
            for n, shape in enumerate(screen(site.pattern)):

                def build(size: int, shape: object = shape) -> bytes:
                    text = shape.build(size)  # type: ignore[attr-defined]
                    return text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")

                out.append((kind, f"{site.name} #{n + 1}", build))
    return out


ROOT = Path(__file__).resolve().parent.parent
# Run in a child: parse one HOSTILE shape with the parser found first on sys.path; print seconds.
_CHILD = """
import sys, time
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from bot.parse import parse_bounce
from tests.hardening.shapes import HOSTILE
data = HOSTILE[sys.argv[3]][1](int(sys.argv[4]))
best = min(_timed(parse_bounce, form) for form in (data, data.decode("utf-8", "replace")))
print(best)
"""
_TIMED = """
def _timed(parse, data):
    started = time.thread_time()
    parse(data)
    return time.thread_time() - started
"""


def before(rev: str, cap_s: float) -> None:
    """Old and new parser on each HOSTILE shape at 40,000 characters, the old one capped."""
    with tempfile.TemporaryDirectory(prefix="mailflow-before-") as old:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "bot"], capture_output=True, check=True)
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(old, filter="data")
        script = _TIMED + _CHILD
        print(f"| input (40,000 characters) | {rev} | now | ratio |")
        print("|---|---|---|---|")
        for name in HOSTILE:
            times = []
            for path in (old, str(ROOT)):
                cmd = [sys.executable, "-c", script, path, str(ROOT), name, "40000"]
                try:
                    done = subprocess.run(cmd, capture_output=True, text=True, timeout=cap_s, check=True)
                    times.append(float(done.stdout))
                except subprocess.TimeoutExpired:
                    times.append(float("inf"))
            old_s, new_s = times
            capped = old_s == float("inf")
            shown = f"> {cap_s:g} s" if capped else f"{old_s * 1000:.1f} ms"
            ratio = f"> {cap_s / max(new_s, 1e-6):,.0f}" if capped else f"{old_s / max(new_s, 1e-6):,.1f}"
            print(f"| `{name}` | {shown} | {new_s * 1000:.1f} ms | {ratio} |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-pumps", action="store_true", help="only the shapes of shapes.HOSTILE")
    parser.add_argument("--json", action="store_true", help="print every measurement as JSON")
    parser.add_argument("--before", metavar="REV", help="also time the HOSTILE shapes with the parser of REV")
    parser.add_argument("--cap", type=float, default=30.0, help="seconds an old parse may take (--before)")
    args = parser.parse_args()
    if args.before:
        before(args.before, args.cap)
        return 0
    rows: list[dict[str, object]] = []
    for kind, name, build in inputs(not args.no_pumps):
        for size in SIZES:
            data = build(size)
            text = data.decode("utf-8", "replace")
            seconds = max(cpu_time(text, args.rounds), cpu_time(data, args.rounds))
            rows.append({"class": kind, "input": name, "size": size, "seconds": seconds})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    classes = sorted({str(r["class"]) for r in rows}, key=lambda k: (k.startswith("pumps"), k))
    print(f"| class | inputs | worst at {SIZES[0]:,} characters | worst at 1 MiB |")
    print("|---|---|---|---|")
    for kind in classes:
        mine = [r for r in rows if r["class"] == kind]
        cells = []
        for size in SIZES:
            worst = max((r for r in mine if r["size"] == size), key=lambda r: float(str(r["seconds"])))
            cells.append(f"{float(str(worst['seconds'])) * 1000:.1f} ms (`{worst['input']}`)")
        print(f"| {kind} | {len(mine) // len(SIZES)} | {cells[0]} | {cells[1]} |")
    slowest = max(rows, key=lambda r: float(str(r["seconds"])))
    verdict = "within" if float(str(slowest["seconds"])) <= GOAL_S else "OVER"
    print(
        f"\n{len(rows)} measurements; slowest {float(str(slowest['seconds'])) * 1000:.1f} ms "
        f"({slowest['class']}: {slowest['input']}, {slowest['size']:,} bytes): {verdict} the {GOAL_S:g} s goal"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
