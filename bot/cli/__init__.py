"""The ``mailflow`` command line.

mailflow explain [FILE|DIR ...|-]      read bounces and explain them      (bot/cli/explain.py)
mailflow summary [FILE|DIR ...|-]      count them: codes, destinations    (bot/cli/summary.py)
mailflow diagnose TARGET               probe the destination now          (bot/cli/diagnose.py)
mailflow sender DOMAIN [--ip IP]       check the sender: SPF, DMARC, DKIM, blocklists (bot/cli/sender.py)
mailflow worker                        run the watch jobs (needs Redis)   (bot/cli/worker.py)
mailflow serve [--port N]              run the Slack bot                  (bot/cli/serve.py)
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence

from bot import __version__
from bot.errors import ConfigError, MailflowError

EXIT_INTERNAL, EXIT_USAGE = 1, 2
# In the order ``mailflow --help`` lists them. Each module is imported only when its command
# runs or the full list is needed: ``explain`` should not pay for the probes' and the Slack
# bot's imports on every start.
COMMANDS = ("explain", "summary", "diagnose", "sender", "worker", "serve")


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, as wide as the terminal, found as ``shutil.get_terminal_size`` finds
    it but without importing shutil (and the archive modules it imports): argparse makes a
    formatter for every argument it is given, so every start would pay for that import."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None):
        super().__init__(prog, indent_increment, max_help_position, _columns() - 2 if width is None else width)


def _columns() -> int:
    """``shutil.get_terminal_size().columns``: ``$COLUMNS``, else the terminal's width, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; with ``only``, just that command's subparser (same parse, same errors
    and help for that command), so only its module is imported."""
    parser = argparse.ArgumentParser(
        prog="mailflow",
        description="Explain mail bounces and queue errors, and probe for their cause, in en es fr ja nl ko.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mailflow {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in (only,) if only in COMMANDS else COMMANDS:
        importlib.import_module(f"bot.cli.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # Importing the command's modules makes a few hundred thousand objects that live to the end:
    # the collector waits meanwhile, then leaves them out of every collection (frozen), where it
    # would walk them all again and again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        parser = build_parser(argv[0] if argv else None)
        args = parser.parse_args(argv)
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
    try:
        return int(args.handler(args, sys.stdout, sys.stderr, sys.stdin.buffer))
    except ConfigError as exc:  # a bad setting: the message names the variable; exit 2 as for bad usage
        print(f"mailflow: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except MailflowError as exc:
        print(f"mailflow: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
