"""Logs, metrics and health endpoints for the bot and the worker.

Logging: ``configure_logging(settings)`` once per process. Every line, from structlog or from
the standard library (aiohttp, slack_bolt, arq, redis), goes through one chain: context
(``log_context(event_id=..., surface=...)`` binds ids for everything logged inside it), level,
UTC timestamp, exception text, then ``redact`` and the renderer: JSON in production
(``MAILFLOW_LOG_FORMAT=json``, or ``auto`` when stderr is not a terminal), readable console
lines in development. ``redact`` runs last before rendering, so nothing escapes it:

    Slack tokens (xoxb-, xoxp-, xapp-, xoxa-, xoxr-, xoxs-, xoxe-)  ->  xoxb-***
    v0= request signatures, registered secrets (signing secret, ...) ->  ***
    values of keys named like token, secret, password, signature   ->  ***
    URL credentials  redis://:pw@host, redis://:p@ss@host            ->  redis://:***@host
    email addresses  alex.wilber@fabrikam.com, "john doe"@x, jörg@x,  ->  ***@fabrikam.com, ...
                     user@[10.1.2.3], user@intranet, user%40x, user&#64;x

Metrics: ``Metrics`` owns a ``CollectorRegistry`` (never prometheus_client's global one, so
tests and several apps in one process do not collide); ``/metrics`` serves it.

Health: ``routes(...)`` returns the aiohttp routes the HTTP server mounts:

    GET /healthz   200 while the process and its event loop answer
    GET /readyz    200 when the store answers PING and Slack is connected, else 503 with the
                   failing checks (JSON {"ready": bool, "checks": {"store": bool, "slack": bool}})
    GET /metrics   Prometheus text format
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, Final, TextIO

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from structlog.typing import EventDict, Processor, WrappedLogger

from bot.probes.result import ProbeResult
from bot.settings import Settings
from bot.store import Store

# --- redaction ----------------------------------------------------------------------------------

MASK: Final = "***"
_TOKEN = re.compile(r"\b(xox[abposre]|xapp)-[A-Za-z0-9-]+")
_SIGNATURE = re.compile(r"\bv0=[0-9a-fA-F]{16,}")
_SECRET_KEYS = re.compile(r"token|secret|password|passwd|signature|authorization|cookie|api_key", re.IGNORECASE)
# URLs and addresses are found by their anchor ("://", "@" and its escaped spellings) and read
# outwards from it with bounded scans that never go back over text already read, so masking a
# line is linear in its length whatever it holds (no regex with overlapping repeats).
_URL_MARK = re.compile(r"://")
# @, URL- and HTML-escaped, and the full-width at sign of CJK text
_AT = re.compile(r"@|%40|&#0{0,8}64;|&#x0{0,8}40;|&commat;|\uff20", re.IGNORECASE)
_SCHEME_MAX = 32
_LOCAL_STOP = frozenset(" \t\r\n<>()[]{},;:\"'`/?=&|\\@")  # ends an unquoted local part (reading leftwards)
_DOMAIN_MAX = 255
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask ``value`` wherever it appears in a log line (the signing secret has no shape to match)."""
    if value and len(value) >= 6:
        _secrets.add(value)


def redact_text(text: str) -> str:
    """``text`` with tokens, signatures, registered secrets, URL passwords and email local parts masked."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _TOKEN.sub(lambda m: f"{m[1]}-{MASK}", text)
    text = _SIGNATURE.sub(f"v0={MASK}", text)
    return _mask_addresses(_mask_url_credentials(text))


def _mask_url_credentials(text: str) -> str:
    """``scheme://user:password@host`` -> ``scheme://user:***@host``; the LAST ``@`` before the
    path ends the credentials, so a password holding ``@`` (``redis://:p@ss@host``) is masked whole."""
    out: list[str] = []
    done = 0  # text[:done] is in ``out``
    for mark in _URL_MARK.finditer(text):
        start = mark.end()
        if start < done:
            continue
        scheme_start = start - 3
        while scheme_start > max(done, start - 3 - _SCHEME_MAX) and (
            text[scheme_start - 1].isascii() and (text[scheme_start - 1].isalnum() or text[scheme_start - 1] in "+.-")
        ):
            scheme_start -= 1
        if scheme_start == start - 3:
            continue  # no scheme before "://"
        end = start
        while end < len(text) and not text[end].isspace() and text[end] not in "/?#":
            end += 1
        netloc = text[start:end]
        at = netloc.rfind("@")
        if at > 0:
            userinfo = netloc[:at]
            user, colon, _ = userinfo.partition(":")
            masked = f"{user}:{MASK}" if colon else MASK  # a user alone is often a token (https://ghp_x@host)
            out.append(text[done:start] + masked)
            done = start + at
        else:
            out.append(text[done:end])
            done = end
    out.append(text[done:])
    return "".join(out)


def _mask_addresses(text: str) -> str:
    """Mail addresses -> ``***@domain``: the domain stays (an admin reads it), the local part goes.

    Covers dot-atom and quoted local parts (``"john doe"@x``), non-ASCII ones (``jörg@x``, RFC
    6531), domain literals (``user@[10.1.2.3]``), single-label domains (``user@intranet``) and
    the escaped at signs ``%40``, ``&#64;``, ``&#x40;`` and ``&commat;``, and the full-width ``＠``.
    """
    out: list[str] = []
    done = floor = 0  # text[:done] is in ``out``; no local part reaches back past ``floor``
    for at in _AT.finditer(text):
        if at.start() < done:
            continue
        local_start = _local_start(text, at.start(), max(done, floor))
        domain_end = _domain_end(text, at.end())
        floor = at.end()  # each character is read once leftwards: linear time
        if local_start == at.start() or domain_end == at.end():
            continue  # "@channel", "name@": no local part or no domain
        out.append(text[done:local_start] + MASK + text[at.start() : domain_end])
        done = domain_end
    out.append(text[done:])
    return "".join(out)


def _local_start(text: str, at: int, floor: int) -> int:
    """Where the local part ending at ``at`` starts (``at`` itself when there is none)."""
    if at - 1 >= floor and text[at - 1] == '"':  # quoted-string, RFC 5322 section 3.2.4
        i = at - 2
        while i >= floor and text[i] != "\n":
            if text[i] == '"' and not (i > floor and text[i - 1] == "\\"):  # \" is a quoted pair
                return i
            i -= 1
        return at
    start = at
    while start > floor and text[start - 1] not in _LOCAL_STOP and not text[start - 1].isspace():
        start -= 1
    return start


def _domain_end(text: str, start: int) -> int:
    """Where the domain after an at sign ends (``start`` itself when there is none)."""
    if start < len(text) and text[start] == "[":  # domain literal, RFC 5321 section 4.1.3
        close = text.find("]", start, start + 64)
        return close + 1 if close > start + 1 else start
    end, limit = start, min(len(text), start + _DOMAIN_MAX)
    while end < limit and (text[end].isalnum() or text[end] in "-."):
        end += 1
    while end > start and text[end - 1] in "-.":  # "mail me at a@b.com." ends a sentence
        end -= 1
    return end


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: MASK if _SECRET_KEYS.search(str(k)) else _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(v) for v in value]
    if isinstance(value, bool | int | float) or value is None:
        return value
    return redact_text(str(value))  # anything else would be rendered through str()/repr() anyway


def redact(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask secrets and addresses in every key and value of the event."""
    return {
        key: MASK if _SECRET_KEYS.search(key) and value is not None else _redact_value(value)
        for key, value in event_dict.items()
    }


# --- logging ------------------------------------------------------------------------------------

_configured = False


def _renderer(log_format: str, stream: TextIO) -> Processor:
    if log_format == "auto":
        log_format = "console" if stream.isatty() else "json"
    if log_format == "json":
        return structlog.processors.JSONRenderer(sort_keys=False, default=str)
    return structlog.dev.ConsoleRenderer(colors=stream.isatty(), exception_formatter=structlog.dev.plain_traceback)


def configure_logging(
    settings: Settings | None = None,
    *,
    log_format: str | None = None,
    level: str | None = None,
    stream: TextIO | None = None,
    force: bool = False,
) -> None:
    """Send structlog and standard-library logging through one redacting chain to ``stream``.

    Runs once per process (later calls do nothing unless ``force``): the bot, the worker and the
    CLI call it first thing. ``log_format`` and ``level`` override the settings.
    """
    global _configured  # noqa: PLW0603 - logging is process-wide by nature
    if _configured and not force:
        return
    stream = stream or sys.stderr
    log_format = log_format or (settings.log_format if settings else "auto")
    level_name = (level or (settings.log_level if settings else "INFO")).upper()
    if settings is not None:
        for secret in (settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token):
            register_secret(secret.get_secret_value() if secret else None)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=not force,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            _renderer(log_format, stream),
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level_name)
    if level_name != "DEBUG":  # one line per HTTP request is noise next to the request's own lines
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    _configured = True


def get_logger(name: str) -> Any:
    """A structlog logger named ``name`` (``log.info("event", key=value)``)."""
    return structlog.stdlib.get_logger(name)


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


@contextlib.contextmanager
def log_context(**ids: Any) -> Iterator[None]:
    """Bind ids (``request_id``, ``event_id``, ``surface``, ``channel`` ...) to every line logged inside."""
    with structlog.contextvars.bound_contextvars(**{k: v for k, v in ids.items() if v is not None}):
        yield


# --- metrics ------------------------------------------------------------------------------------

SURFACES: Final = ("slash", "event", "action", "shortcut", "cli")
_PROBE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 90.0)


class Metrics:
    """The process's Prometheus metrics, on a registry of its own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("mailflow_requests", "Requests handled, by surface", ["surface"], registry=r)
        self.probe_seconds = Histogram(
            "mailflow_probe_duration_seconds",
            "Probe durations, by probe and outcome (ok, failed, skipped)",
            ["probe", "outcome"],
            buckets=_PROBE_BUCKETS,
            registry=r,
        )
        self.cache = Counter(
            "mailflow_probe_cache", "Probe cache lookups, by result (hit, miss)", ["result"], registry=r
        )
        self.slack_errors = Counter(
            "mailflow_slack_api_errors", "Slack Web API errors, by method and error", ["method", "error"], registry=r
        )
        self.watches_running = Gauge("mailflow_watches_running", "Watches currently running", registry=r)
        self.watch_ticks = Counter(
            "mailflow_watch_ticks",
            "Watch re-probes, by outcome (same, changed, baseline, gone, error)",
            ["outcome"],
            registry=r,
        )
        self.watch_posts = Counter(
            "mailflow_watch_posts", "Watch messages posted, by result (ok, error)", ["result"], registry=r
        )
        self._before_scrape: list[Callable[[], Awaitable[None]]] = []
        for surface in SURFACES:  # so every series exists from the start (rate() needs a zero)
            self.requests.labels(surface)
        for result in ("hit", "miss"):
            self.cache.labels(result)

    def count_request(self, surface: str) -> None:
        if surface not in SURFACES:
            raise ValueError(f"unknown surface {surface!r}; one of {', '.join(SURFACES)}")
        self.requests.labels(surface).inc()

    def observe_probe(self, result: ProbeResult) -> None:
        """One finished probe (pass it as, or inside, ``on_result``)."""
        outcome = "skipped" if result.skipped else "ok" if result.ok else "failed"
        self.probe_seconds.labels(result.name, outcome).observe(max(0.0, (result.elapsed_ms or 0.0) / 1000))

    def observe_probes(self, results: Iterable[ProbeResult]) -> None:
        for result in results:
            self.observe_probe(result)

    def count_cache(self, *, hit: bool) -> None:
        self.cache.labels("hit" if hit else "miss").inc()

    def count_slack_error(self, method: str, error: str) -> None:
        self.slack_errors.labels(method, error or "unknown").inc()

    def before_scrape(self, refresh: Callable[[], Awaitable[None]]) -> None:
        """Run ``refresh`` (bounded to 1 s) before each /metrics scrape, e.g. to count watches in Redis."""
        self._before_scrape.append(refresh)

    async def render(self) -> bytes:
        for refresh in self._before_scrape:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await refresh()
        return generate_latest(self.registry)


# --- health routes ------------------------------------------------------------------------------

SlackConnected = Callable[[], bool | Awaitable[bool]]
READY_TIMEOUT_S: Final = 2.0


async def _check(name: str, check: Callable[[], Any]) -> bool:
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            value = check()
            if inspect.isawaitable(value):
                value = await value
            return bool(value)
    except Exception as exc:
        get_logger(__name__).warning("readiness check failed", check=name, error=f"{type(exc).__name__}: {exc}")
        return False


def routes(
    *,
    store: Store | None,
    slack_connected: SlackConnected | None = None,
    metrics: Metrics | None = None,
) -> list[web.RouteDef]:
    """``/healthz``, ``/readyz`` and ``/metrics`` for ``app.add_routes(...)``.

    ``store``: its ``ping()`` decides the "store" check (None: no check). ``slack_connected``: a
    plain or async callable, True when the bot can reach Slack (None: no check). ``metrics``:
    what ``/metrics`` serves (None: no ``/metrics`` route).
    """

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"alive": True})

    async def readyz(request: web.Request) -> web.Response:
        checks: dict[str, bool] = {}
        if store is not None:
            checks["store"] = await _check("store", store.ping)
        if slack_connected is not None:
            checks["slack"] = await _check("slack", slack_connected)
        ready = all(checks.values())
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    async def metrics_handler(request: web.Request) -> web.Response:
        assert metrics is not None
        body = await metrics.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    table = [web.get("/healthz", healthz, allow_head=True), web.get("/readyz", readyz, allow_head=True)]
    if metrics is not None:
        table.append(web.get("/metrics", metrics_handler))
    return table


@web.middleware
async def request_id_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Bind ``request_id`` (from X-Request-Id, or a new one) for every line logged while handling."""
    request_id = request.headers.get("X-Request-Id", "")[:64] or new_request_id()
    with log_context(request_id=request_id):
        response = await handler(request)
    response.headers.setdefault("X-Request-Id", request_id)
    return response
