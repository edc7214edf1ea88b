"""``mailflow sender``: check the sending domain (SPF, DMARC, DKIM) and IP (blocklists) now.

Progress goes to stderr as each check finishes; the result (text or JSON) to stdout.
Exit codes: 0 nothing fails, 3 something fails (or the deadline cut a check), 2 bad
arguments, 1 internal error or mailflow's own resolver does not answer (``resolver-unreachable``).
"""

from __future__ import annotations

import argparse
import json
from typing import IO, TYPE_CHECKING

from bot import knowledge
from bot.cli.diagnose import _NAME, UsageError, _resolver, cache_record, cached_note, run_with_store, timeouts_for
from bot.cli.explain import default_language
from bot.errors import ProbeError
from bot.probes.config import ProbeConfig
from bot.probes.guard import parse_ip
from bot.probes.result import ProbeResult
from bot.texts import of_error

if TYPE_CHECKING:
    from bot.sender.conclude import SenderRequest
    from bot.sender.service import SenderAnswer
    from bot.store import Store

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_FAILURE = 0, 1, 2, 3
_SELECTOR_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")


def _domain(value: str, what: str) -> str:
    from bot.sender.dns import ascii_domain  # noqa: PLC0415

    try:
        text = ascii_domain(value)
    except ValueError:
        text = ""
    if not text or parse_ip(text) is not None or "." not in text or not _NAME.match(text):
        raise UsageError("domain", option=what, value=repr(value))
    return text


def _ip(value: str) -> str:
    from bot.sender.dns import plain_ip  # noqa: PLC0415

    address = plain_ip(value)
    if address is None:
        raise UsageError("ip", value=repr(value))
    return address


def _selector(value: str) -> str:
    text = value.strip().lower()
    if not text or len(text) > 63 or not set(text) <= _SELECTOR_CHARS or text.startswith((".", "-")):
        raise UsageError("selector", value=repr(value))
    return text


def request_from_args(args: argparse.Namespace) -> tuple[SenderRequest, ProbeConfig]:
    from bot.sender.conclude import SenderRequest  # noqa: PLC0415  (the DNS stack loads only for this command)

    config = ProbeConfig(resolver=_resolver(args.resolver) if args.resolver else None, timeouts=timeouts_for(args))
    request = SenderRequest(
        domain=_domain(args.domain, "DOMAIN"),
        ip=_ip(args.ip) if args.ip else None,
        helo=_domain(args.helo, "--helo") if args.helo else None,
        selectors=tuple(dict.fromkeys(_selector(s) for s in args.selector or ())),
        dnsbl=tuple(dict.fromkeys(_domain(z, "--dnsbl") for z in args.dnsbl or ())),
        mailfrom=_domain(args.mailfrom.rsplit("@", 1)[-1], "--mailfrom") if args.mailfrom else None,
    )
    return request, config


def cmd_sender(args: argparse.Namespace, stdout: IO[str], stderr: IO[str], stdin: IO[bytes]) -> int:
    from bot.render.diagnosis import progress_line  # noqa: PLC0415
    from bot.render.sender import render_sender_text  # noqa: PLC0415
    from bot.sender.conclude import RESOLVER_UNREACHABLE  # noqa: PLC0415
    from bot.sender.service import SenderService  # noqa: PLC0415

    del stdin
    language = args.lang or default_language()
    ui = knowledge.load(language).ui
    try:
        request, config = request_from_args(args)
    except UsageError as exc:
        print(f"mailflow sender: {exc.says(language)}", file=stderr)
        return EXIT_USAGE

    def progress(result: ProbeResult) -> None:
        print(progress_line(result, language), file=stderr, flush=True)

    async def run(store: Store) -> SenderAnswer:
        service = SenderService(store, config)
        return await service.check(request, fresh=args.fresh, on_result=progress, language=language)

    try:
        answer = run_with_store(run)
    except ProbeError as exc:
        print(f"mailflow sender: {of_error(exc).render(language)}", file=stderr)
        return EXIT_INTERNAL
    report = answer.report
    if args.format == "json":
        record = report.record() | {"cache": cache_record(answer.from_cache, answer.age_s)}
        stdout.write(json.dumps(record, ensure_ascii=False, indent=2) + "\n")
    else:
        stdout.write(render_sender_text(report, ui) + cached_note(ui, answer.from_cache, answer.age_s))
    if any(f.id == RESOLVER_UNREACHABLE for f in report.failures):  # nothing is known of the sender
        return EXIT_INTERNAL
    return EXIT_OK if report.ok else EXIT_FAILURE


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "sender",
        help="check a sending domain's SPF, DMARC and DKIM, and its IP on blocklists",
        description="Check why a receiver refused mail from this sender: SPF evaluated for the IP, DMARC, "
        "DKIM keys, and DNS blocklists, all at once.",
    )
    parser.add_argument("domain", help="the sending domain (the From: of the refused mail; DMARC is checked on it)")
    parser.add_argument("--ip", help="the sending IP: evaluate SPF for it and look it up on blocklists")
    parser.add_argument(
        "--mailfrom",
        metavar="DOMAIN",
        help="the MAIL FROM (Return-Path) domain, when an email service sends with its own: SPF is checked on it, "
        "DMARC on DOMAIN, and their alignment shown",
    )
    parser.add_argument("--helo", help="the HELO/EHLO name the sending server used (SPF macro %%{h})")
    parser.add_argument(
        "--selector", action="append", metavar="S", help="DKIM selector (repeatable; default selector1, selector2)"
    )
    parser.add_argument(
        "--dnsbl", action="append", metavar="ZONE", help="blocklist zone to ask (repeatable; replaces the defaults)"
    )
    parser.add_argument("--resolver", help="DNS resolver IP[:PORT] (default: the system's)")
    parser.add_argument(
        "--timeout", type=float, help="overall deadline in seconds; each DNS query's timeout is capped at half of it"
    )
    parser.add_argument("--fresh", action="store_true", help="check now even if results are cached (REDIS_URL)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--lang", choices=knowledge.LANGUAGES)
    parser.set_defaults(handler=cmd_sender)
