"""The long fuzz run of the bounce parser, by hand: atheris (coverage-guided) when installed,
hypothesis otherwise. CI runs the bounded version (tests/hardening/test_fuzz_parser.py).

What counts as a finding, per input: an exception out of ``parse_bounce`` (it must never
raise), a malformed ``Bounce`` (the checks of tests/test_properties.py), a parse slower than
``--slow-ms``, or (atheris) a hang past ``--hang-s`` or memory past ``--rss-mb``. The first
three are recorded and the run goes on (at most three inputs per exception site); the last two
stop libFuzzer, which writes the input to ``<workdir>/artifacts/``. Findings go to
``<workdir>/findings/`` (listed in ``index.json``); copy
the few worth keeping to tests/fuzz_corpus/ under a name that says what they are, and add their
expected answer to tests/fuzz_corpus/expected.toml when it is known.

Seeds: tests/fuzz_corpus/, tests/samples/ and inputs built by tests/hardening/shapes.py
(multipart/report in quoted-printable and base64, nested ``[{LED=``, CR-only, Slack-escaped).
Nothing touches the network.

    .venv/bin/pip install atheris            # optional: coverage-guided; without it, hypothesis
    .venv/bin/python bench/fuzz_parser.py --minutes 10 [--engine auto|atheris|hypothesis]
        [--workdir /tmp/mailflow-fuzz] [--slow-ms 250] [--max-len 65536] [--json]
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import json
import os
import resource
import shutil
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class Stats:
    def __init__(self, workdir: Path, slow_ms: float) -> None:
        self.workdir = workdir
        self.slow_ms = slow_ms
        self.runs = 0
        self.started = time.perf_counter()
        self.slowest_ms = 0.0
        self.slowest_size = 0
        self.findings: list[dict[str, Any]] = []
        self.seen: dict[str, int] = {}  # finding signature -> inputs kept for it

    def keep(self, kind: str, data: bytes, detail: str, signature: str = "") -> None:
        """Save ``data``; at most three inputs per signature (one bug, one place in the code)."""
        signature = signature or kind
        if self.seen.get(signature, 0) >= 3:
            return
        self.seen[signature] = self.seen.get(signature, 0) + 1
        digest = hashlib.sha256(data).hexdigest()[:16]
        path = self.workdir / "findings" / f"{kind}-{digest}.bin"
        if not path.exists():
            path.write_bytes(data)
            self.findings.append(
                {"kind": kind, "file": str(path), "size": len(data), "detail": detail, "where": signature}
            )
            # libFuzzer ends the process with C exit(): Python's atexit may not run, so keep the
            # list on disk as it grows.
            (self.workdir / "findings" / "index.json").write_text(json.dumps(self.findings, indent=2))

    def summary(self, engine: str) -> dict[str, Any]:
        elapsed = time.perf_counter() - self.started
        return {
            "engine": engine,
            "seconds": round(elapsed, 1),
            "inputs": self.runs,
            "inputs_per_s": round(self.runs / elapsed, 1) if elapsed else 0.0,
            "slowest_ms": round(self.slowest_ms, 1),
            "slowest_size": self.slowest_size,
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "findings": self.findings,
            "workdir": str(self.workdir),
        }


def seeds(count: int) -> list[bytes]:
    """The kept corpus, the samples, and ``count`` inputs built by the hypothesis shapes."""
    from hypothesis import HealthCheck, given, settings  # noqa: PLC0415

    from tests.hardening.shapes import SHAPED, Shaped  # noqa: PLC0415

    found = [
        p.read_bytes()
        for folder in (ROOT / "tests" / "fuzz_corpus", ROOT / "tests" / "samples")
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix not in (".md", ".toml")
    ]
    built: list[bytes] = []

    @settings(max_examples=count, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(SHAPED)
    def collect(shaped: Shaped) -> None:
        built.append(shaped.data)

    collect()
    return found + built


def make_check(stats: Stats) -> Any:
    from bot.parse import parse_bounce  # noqa: PLC0415
    from tests.test_properties import check  # noqa: PLC0415

    def one(data: bytes) -> None:
        stats.runs += 1
        started = time.perf_counter()
        try:
            bounce = parse_bounce(data)
        except Exception as exc:
            # Kept, not re-raised: the run goes on to find other bugs (one file per place, see keep).
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            where = f"{type(exc).__name__} at {Path(frame.filename).name}:{frame.lineno}"
            stats.keep("raised", data, f"{type(exc).__name__}: {exc}", where)
            return
        elapsed_ms = (time.perf_counter() - started) * 1000
        if elapsed_ms > stats.slowest_ms:
            stats.slowest_ms, stats.slowest_size = elapsed_ms, len(data)
        if elapsed_ms > stats.slow_ms:
            stats.keep("slow", data, f"{elapsed_ms:.0f} ms for {len(data)} bytes")
        try:
            check(bounce)
        except AssertionError as exc:
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            stats.keep("malformed", data, str(exc) or "check() failed", f"check line {frame.lineno}")

    return one


def run_atheris(args: argparse.Namespace, stats: Stats) -> None:
    import atheris  # type: ignore[import-untyped]  # noqa: PLC0415

    with atheris.instrument_imports(include=["bot"]):
        one = make_check(stats)
    seed_dir = args.workdir / "seeds"
    seed_dir.mkdir(exist_ok=True)
    for n, data in enumerate(seeds(args.shapes)):
        (seed_dir / f"{n:05d}").write_bytes(data[: args.max_len])

    def test_one_input(data: bytes) -> None:
        one(data)

    libfuzzer = [
        sys.argv[0],
        f"-max_total_time={int(args.minutes * 60)}",
        f"-timeout={args.hang_s}",
        f"-rss_limit_mb={args.rss_mb}",
        f"-max_len={args.max_len}",
        f"-artifact_prefix={args.workdir / 'artifacts'}/",
        "-report_slow_units=1",
        "-print_final_stats=1",
        str(args.workdir / "corpus"),  # new inputs are written here, never into the checkout
        str(seed_dir),
    ]
    atexit.register(lambda: report(stats.summary("atheris"), args.json))  # when the exit lets it run
    atheris.Setup(libfuzzer, test_one_input)
    atheris.Fuzz()


def run_hypothesis(args: argparse.Namespace, stats: Stats) -> None:
    from hypothesis import HealthCheck, given, settings  # noqa: PLC0415
    from hypothesis import strategies as st  # noqa: PLC0415

    from tests.hardening.shapes import ANY_INPUT, Shaped, mangled  # noqa: PLC0415

    one = make_check(stats)
    pool = seeds(args.shapes)
    mutated = st.sampled_from(pool).flatmap(lambda seed: mangled(st.just(Shaped(seed))))
    inputs = st.one_of(ANY_INPUT, mutated)
    deadline = time.monotonic() + args.minutes * 60

    @settings(max_examples=2000, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(inputs)
    def batch(shaped: Shaped) -> None:
        one(shaped.data[: args.max_len])

    while time.monotonic() < deadline:
        batch()
    report(stats.summary("hypothesis"), args.json)


def report(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    print(
        f"{summary['engine']}: {summary['inputs']} inputs in {summary['seconds']} s "
        f"({summary['inputs_per_s']}/s); slowest {summary['slowest_ms']} ms ({summary['slowest_size']} bytes); "
        f"max RSS {summary['max_rss_mb']} MB; {len(summary['findings'])} finding(s) in {summary['workdir']}/findings"
    )
    for finding in summary["findings"]:
        print(f"  {finding['kind']:9} {finding['size']:>7} bytes  {finding['file']}  {finding['detail']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--engine", choices=("auto", "atheris", "hypothesis"), default="auto")
    parser.add_argument("--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "mailflow-fuzz")
    parser.add_argument("--slow-ms", type=float, default=250.0, help="keep inputs slower than this")
    parser.add_argument("--hang-s", type=int, default=10, help="atheris: an input running longer is a hang")
    parser.add_argument("--rss-mb", type=int, default=2048, help="atheris: memory limit")
    parser.add_argument("--max-len", type=int, default=65536, help="longest input tried")
    parser.add_argument("--shapes", type=int, default=300, help="seeds built by tests/hardening/shapes.py")
    parser.add_argument("--fresh", action="store_true", help="empty the working corpus first")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.fresh and args.workdir.exists():
        shutil.rmtree(args.workdir)
    for sub in ("findings", "artifacts", "corpus"):
        (args.workdir / sub).mkdir(parents=True, exist_ok=True)
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401, PLC0415
        except ImportError:
            engine = "hypothesis"
        else:
            engine = "atheris"
    warnings.simplefilter("ignore")  # hypothesis warns about running outside a test
    stats = Stats(args.workdir, args.slow_ms)
    if engine == "atheris":
        run_atheris(args, stats)
    else:
        run_hypothesis(args, stats)


if __name__ == "__main__":
    main()
