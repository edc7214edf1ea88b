"""``mailflow diagnose``: probe a domain or smart host now and say which connector error applies.

Progress goes to stderr as each probe finishes; the result (text or JSON) to stdout.
Exit codes: 0 healthy, 3 a failure was found (a connector error, a null MX, or the deadline cut
the probes that decide), 2 bad arguments or a refused target, 1 internal error or mailflow's own
resolver does not answer (``resolver-unreachable``: nothing could be learnt about the target).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import IO, TYPE_CHECKING, TypeVar

from bot import knowledge
from bot.cli.explain import default_language
from bot.errors import ProbeError, TargetRefused
from bot.explain import normalise_code
from bot.probes.config import ProbeConfig, Timeouts, parse_resolver
from bot.probes.guard import parse_ip
from bot.probes.result import ProbeResult
from bot.texts import of_error, text
from bot.verdict import RESOLVER_UNREACHABLE

if TYPE_CHECKING:
    from bot.service import Answer
    from bot.store import Store

T = TypeVar("T")

EXIT_HEALTHY, EXIT_INTERNAL, EXIT_USAGE, EXIT_FAILURE = 0, 1, 2, 3
_NAME = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)*[a-z0-9_](?:[a-z0-9-]{0,61}[a-z0-9])?\.?$", re.I
)


class UsageError(Exception):
    """Wrong arguments (exit 2): ``text`` says how, in the reader's language (``knowledge/<lang>/usage.toml``)."""

    def __init__(self, key: str, /, **fields: str) -> None:
        self.text = text(f"usage.{key}", **fields)
        super().__init__(self.text.render())

    def says(self, language: str) -> str:
        return self.text.render(language)


def _resolver(value: str) -> tuple[str, int]:
    try:
        return parse_resolver(value)
    except ValueError as exc:
        raise UsageError("resolver", reason=str(exc)) from None


def _target(value: str) -> str:
    domain = value.strip().rsplit("@", 1)[-1]
    if parse_ip(domain) is None and not _NAME.match(domain):
        raise UsageError("target", value=repr(value))
    return value.strip()


def timeouts_for(args: argparse.Namespace) -> Timeouts:
    """``--timeout``: a finite, positive number of seconds (nan and inf are not deadlines)."""
    if args.timeout is None:
        return Timeouts()
    if not math.isfinite(args.timeout) or args.timeout <= 0:
        raise UsageError("timeout")
    return Timeouts.within(args.timeout)


def config_from_args(args: argparse.Namespace) -> ProbeConfig:
    timeouts = timeouts_for(args)
    if args.port is not None and not 0 < args.port < 65536:
        raise UsageError("port")
    return ProbeConfig(
        resolver=_resolver(args.resolver) if args.resolver else None,
        smtp_port=args.port or 25,
        timeouts=timeouts,
        ca_file=args.ca_file,
        ehlo_name=args.ehlo_name,
        allow=tuple(args.allow or ()),
    )


def run_with_store(work: Callable[[Store], Awaitable[T]]) -> T:
    """Run ``work`` on the store ``REDIS_URL`` names (none: in memory), closed afterwards: the
    cache and history of ``diagnose`` and ``sender``."""
    import asyncio  # noqa: PLC0415  (the probe stack loads only for the commands that probe)

    from bot.store import open_store  # noqa: PLC0415

    async def run() -> T:
        store = open_store(os.environ.get("REDIS_URL"))
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


def cache_record(from_cache: bool, age_s: float) -> dict[str, object]:
    """The JSON ``cache`` of a cached answer."""
    return {"hit": from_cache, "age_s": round(age_s, 1)}


def cached_note(ui: Mapping[str, str], from_cache: bool, age_s: float) -> str:
    """The line under a cached text answer ("Checked 2 min ago (cached). Run again with --fresh"), or nothing."""
    from bot.render.diagnosis import ago  # noqa: PLC0415

    return f"\n{ui['cached'].format(age=ago(age_s))} {ui['rerun_cli']}\n" if from_cache else ""


def cmd_diagnose(args: argparse.Namespace, stdout: IO[str], stderr: IO[str], stdin: IO[bytes]) -> int:
    # The probe stack (asyncio, dnspython, aiohttp, ssl) loads only for this command: explain stays quick.
    from bot.diagnose import DiagnoseRequest  # noqa: PLC0415
    from bot.render.diagnosis import diagnosis_record, progress_line, render_diagnosis_text  # noqa: PLC0415
    from bot.service import DiagnosisService  # noqa: PLC0415

    del stdin
    language = args.lang or default_language()
    ui = knowledge.load(language).ui
    try:
        config = config_from_args(args)
        code = None
        if args.code:
            code = normalise_code(args.code)
            if code is None or "." not in code:
                raise UsageError("code", value=repr(args.code))
        request = DiagnoseRequest(
            target=_target(args.target),
            smart_host=_target(args.smart_host) if args.smart_host else None,
            code=code,
            require_tls=args.require_tls,
            tls_domain=args.tls_domain,
        )
    except UsageError as exc:
        print(f"mailflow diagnose: {exc.says(language)}", file=stderr)
        return EXIT_USAGE

    def progress(result: ProbeResult) -> None:
        print(progress_line(result, language), file=stderr, flush=True)

    async def run(store: Store) -> Answer:
        service = DiagnosisService(store, config)
        return await service.diagnose(request, fresh=args.fresh, on_result=progress, language=language)

    try:
        answer = run_with_store(run)
    except TargetRefused as exc:
        print(f"mailflow diagnose: {of_error(exc).render(language)}", file=stderr)
        return EXIT_USAGE
    except ProbeError as exc:
        print(f"mailflow diagnose: {of_error(exc).render(language)}", file=stderr)
        return EXIT_INTERNAL
    diagnosis = answer.diagnosis
    if args.format == "json":
        record = diagnosis_record(diagnosis, ui) | {"cache": cache_record(answer.from_cache, answer.age_s)}
        stdout.write(json.dumps(record, ensure_ascii=False, indent=2, default=str) + "\n")
    else:
        stdout.write(render_diagnosis_text(diagnosis, ui) + cached_note(ui, answer.from_cache, answer.age_s))
    if diagnosis.verdict.failure == RESOLVER_UNREACHABLE:  # nothing is known of the target
        return EXIT_INTERNAL
    return EXIT_HEALTHY if diagnosis.verdict.healthy else EXIT_FAILURE


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "diagnose",
        help="probe a domain or smart host now and find which connector error applies",
        description="Probe DNS, TCP 25, SMTP, STARTTLS and certificates now, and decide which connector error applies.",
    )
    parser.add_argument("target", help="recipient domain (or address, host name, IP)")
    parser.add_argument("--smart-host", help="probe this connector smart host instead of the domain's MX")
    parser.add_argument("--code", help="the code from the NDR (e.g. 4.4.316): say whether it is confirmed now")
    parser.add_argument(
        "--require-tls", action="store_true", help="the connector requires TLS (and validates certificates)"
    )  # --code 4.7.320 / 4.4.317 (and their 5.x.x forms) imply it: see DiagnoseRequest.assumed
    parser.add_argument(
        "--tls-domain", help="the connector's TlsDomain: match the certificate against it (wildcards allowed)"
    )
    parser.add_argument("--resolver", help="DNS resolver IP[:PORT] (default: the system's)")
    parser.add_argument("--port", type=int, help="SMTP port (default 25; for labs and tests)")
    parser.add_argument("--allow", action="append", metavar="CIDR|HOST", help="allow a private target (repeatable)")
    parser.add_argument("--ca-file", help="PEM bundle to trust instead of the system store")
    parser.add_argument(
        "--timeout", type=float, help="overall deadline in seconds; each step's timeout is capped at half of it"
    )
    parser.add_argument("--ehlo-name", default=ProbeConfig().ehlo_name, help="name sent in EHLO")
    parser.add_argument(
        "--fresh", action="store_true", help="probe now even if results for this target are cached (REDIS_URL)"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--lang", choices=knowledge.LANGUAGES)
    parser.set_defaults(handler=cmd_diagnose)
