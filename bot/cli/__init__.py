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
import sys
from collections.abc import Sequence

from bot import __version__
from bot.errors import ConfigError, MailflowError

EXIT_INTERNAL, EXIT_USAGE = 1, 2
# In the order ``mailflow --help`` lists them. Each module is imported only when its command
# runs or the full list is needed: ``explain`` should not pay for the probes' and the Slack
# bot's imports on every start.
COMMANDS = ("explain", "summary", "diagnose", "sender", "worker", "serve")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; with ``only``, just that command's subparser (same parse, same errors
    and help for that command), so only its module is imported."""
    parser = argparse.ArgumentParser(
        prog="mailflow",
        description="Explain mail bounces and queue errors, and probe for their cause, in en es fr ja nl ko.",
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
