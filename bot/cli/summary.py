"""``mailflow summary``: many bounces in, one triage table (and a chart) out.

Reads its inputs as ``mailflow explain`` does (``bot/cli/explain.py``: the same expansion of
directories, the same parser, the same worker processes for ``--jobs``); each worker sends back
a small ``Event`` per input rather than rendered text, and the table is counted here.

Exit codes: 0 bounces were counted, 2 none were (a one-line reason on stderr), 1 nothing could be
read (or the chart could not be written). Argument errors exit 2, as argparse does.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import IO

from bot import knowledge
from bot.cli.explain import (
    EXIT_ERROR,
    EXIT_NONE,
    EXIT_OK,
    Input,
    _jobs,
    _outcomes,
    add_reading_arguments,
    analyse,
    default_language,
    iter_inputs,
    read_input,
)
from bot.errors import MailflowError
from bot.explain import explain_bounce
from bot.summary import GROUPINGS, Event, event_from_bounce, summarise, summary_record

PROGRESS_FROM = 100  # inputs: a progress bar on a terminal from this many on


@dataclasses.dataclass(frozen=True, slots=True)
class Fact:
    """What one input adds to the summary: a bounce's event, or why it adds none."""

    event: Event | None = None
    error: str | None = None  # unreadable
    why_not: str | None = None  # read, but not a bounce
    notes: tuple[str, ...] = ()  # for stderr, as explain says them (only the first MiB was read, ...)


def summarise_input(item: Input | str) -> Fact:
    """Read (when ``item`` is a path still to read), parse and reduce one input. Pure apart from
    reading the file, so it runs the same in this process or in a worker."""
    name, data, size, error = read_input(item)
    if error:
        return Fact(error=error)
    assert data is not None
    bounce = analyse(data, size)
    notes = tuple(f"{name}: {note}" for note in bounce.notes)
    if not bounce.is_ndr:
        return Fact(why_not=bounce.why_not or "not a bounce", notes=notes)
    explanation = explain_bounce(bounce, knowledge.DEFAULT_LANGUAGE)
    return Fact(event_from_bounce(bounce, explanation), notes=notes)


def cmd_summary(args: argparse.Namespace, stdout: IO[str], stderr: IO[str], stdin: IO[bytes]) -> int:
    # The table's renderer (which reaches the Slack block builders), the progress bar and the
    # settings module (pydantic) load only for this command: every other mailflow command,
    # explain included, starts without them.
    from tqdm import tqdm  # noqa: PLC0415

    from bot.render.summary import render_summary_csv, render_summary_text  # noqa: PLC0415
    from bot.settings import format_duration, parse_duration  # noqa: PLC0415 - pydantic, for --since

    language = args.lang or default_language()
    ui = knowledge.load(language).ui
    since_s: float | None = None
    if args.since is not None:
        try:
            since_s = parse_duration(args.since)
        except ValueError as exc:
            print(f"mailflow: --since: {exc}", file=stderr)
            return EXIT_NONE
    if args.chart:
        from bot.render.chart import ChartUnavailable, require_matplotlib  # noqa: PLC0415 - an optional extra

        try:
            require_matplotlib()
        except ChartUnavailable as exc:
            print(f"mailflow: {exc}", file=stderr)
            return EXIT_ERROR
    if not args.inputs and stdin.isatty():
        print(
            "mailflow: give files, directories, or - to read standard input (see mailflow summary --help)", file=stderr
        )
        return EXIT_NONE
    items = list(iter_inputs(args.inputs, stdin))
    events: list[Event] = []
    not_bounces = unreadable = 0
    show = stderr.isatty() and len(items) >= PROGRESS_FROM
    facts = _outcomes(items, summarise_input, jobs=_jobs(args.jobs))
    for fact in tqdm(facts, total=len(items), file=stderr, disable=not show, unit="file", leave=False):
        for note in (*fact.notes, *([fact.error] if fact.error else [])):
            tqdm.write(f"mailflow: {note}", file=stderr)  # above the progress bar, not through it
        if fact.error:
            unreadable += 1
        elif fact.event is None:
            not_bounces += 1
        else:
            events.append(fact.event)
    now = time.time()
    since = None if since_s is None else now - since_s
    summary = summarise(events, not_bounces=not_bounces, unreadable=unreadable, since=since, since_s=since_s, now=now)
    if args.format == "json":
        stdout.write(json.dumps(summary_record(summary, language), ensure_ascii=False, indent=2) + "\n")
    elif args.format == "csv":
        stdout.write(render_summary_csv(summary, by=args.by, language=language))
    else:
        stdout.write(render_summary_text(summary, ui, by=args.by, language=language))
    status = EXIT_OK if summary.bounces else (EXIT_ERROR if unreadable and not events else EXIT_NONE)
    if not summary.bounces:
        window = f" in the last {format_duration(since_s)}" if since_s else ""
        print(f"mailflow: no bounces{window} among {len(items)} input(s)", file=stderr)
    if args.chart:
        from bot.render.chart import write_chart  # noqa: PLC0415

        try:
            notes = write_chart(summary, Path(args.chart), language=language)
        except (MailflowError, OSError) as exc:
            print(f"mailflow: --chart: {exc}", file=stderr)
            return EXIT_ERROR
        for note in notes:
            print(f"mailflow: {note}", file=stderr)
    return status


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    summary = sub.add_parser(
        "summary",
        help="count many bounces: codes, destinations, since when (a triage table and a chart)",
        description="Read many bounces and say how many, which codes, which destinations, since when.",
    )
    summary.add_argument(
        "--since", metavar="DURATION", help="only bounces dated within this long before now (90m, 2h, 1d)"
    )
    summary.add_argument("--by", choices=GROUPINGS, default="code", help="the grouping the table leads with")
    summary.add_argument("--format", choices=("text", "json", "csv"), default="text")
    summary.add_argument(
        "--chart",
        metavar="FILE.png",
        help="also draw bounces over time by code into a PNG (needs the chart extra: pip install 'mailflow[chart]')",
    )
    summary.add_argument("--lang", choices=knowledge.LANGUAGES, help="language of the labels and titles")
    add_reading_arguments(summary)
    summary.set_defaults(handler=cmd_summary)
