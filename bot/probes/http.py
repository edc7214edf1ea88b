"""HTTP for the probes (MTA-STS policy, RDAP, Microsoft 365 endpoints), guarded like every connection.

Strategy:
- A host name is resolved once, through the probe's DNS resolver, by ``GuardedResolver`` (an
  ``aiohttp.abc.AbstractResolver``): it runs ``probe_address``, so every address is checked by
  ``ctx.guard`` and only accepted addresses reach aiohttp's connector, which connects to them
  as given. No second lookup, no DNS-rebinding window; SNI and the certificate check use the
  host name, as usual. aiohttp's DNS cache is off (a diagnosis wants the answer as it is now).
- aiohttp never calls a resolver for IP-literal hosts, so ``fetch`` checks literals itself.
- ``fetch`` uses ``ctx.http`` only when ``open_session(ctx)`` made it (its connector carries the
  guarded resolver). Any other session could connect anywhere, so ``fetch`` then opens a
  short-lived guarded session for the call instead.
- One explicit timeout (``timeouts.http``) bounds the whole exchange, headers and body, every
  redirect hop included. Bodies are capped (1 MiB unless the caller says less). Redirects are
  not followed unless the caller asks; every hop goes through the guard again.
- aiohttp's errors are translated here:

    ProbeError                   cannot connect, TLS failure, broken connection, body over the
    │                            cap, bad URL, name does not resolve
    ├── TargetRefused            the guard refused the address (the rule is named)
    └── ProbeTimeout             no complete answer within the timeout (step and seconds named)
"""

from __future__ import annotations

import asyncio
import json
import socket
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from bot.errors import ProbeError, ProbeTimeout, TargetRefused
from bot.probes.address import probe_address
from bot.probes.context import ProbeContext
from bot.probes.guard import AddressGuard, parse_ip
from bot.texts import error, of_error, raw, text

MAX_BODY = 1024 * 1024
REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "mailflow-probe"
_CHUNK = 64 * 1024
_NUMERIC = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV


@dataclass(frozen=True, slots=True)
class HttpResponse:
    url: str  # the URL that answered (after the redirects followed, if any)
    status: int
    reason: str
    content_type: str  # lower-case media type without parameters: "text/plain"
    charset: str | None
    headers: Mapping[str, str] = field(repr=False)  # lower-case names
    body: bytes = field(repr=False)

    @property
    def location(self) -> str | None:
        return self.headers.get("location")

    def text(self) -> str:
        try:
            return self.body.decode(self.charset or "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know
            return self.body.decode("utf-8", errors="replace")

    def json(self, *, step: str) -> Any:
        """The body as JSON, or ProbeError naming the step."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            said = text("http.bad_json", step=step, url=self.url, error=str(exc))
            raise error(ProbeError, said) from None


@dataclass(frozen=True, slots=True)
class _Request:
    step: str  # named in every error
    accept: str
    max_bytes: int


class _LookupFailed(ProbeError):
    """The URL's host name did not resolve (the step is added by ``fetch``)."""


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver hook: the probe's DNS resolver, and only guard-accepted addresses out."""

    def __init__(self, ctx: ProbeContext) -> None:
        self.ctx = ctx

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        result, addresses = await probe_address(self.ctx, host)
        if not addresses:
            if result.facts.get("refused") is True:
                raise TargetRefused(result.detail, text=result.texts[0] if result.texts else None)
            raise error(
                _LookupFailed, text("http.cannot_resolve", host=host, reason=result.texts or raw(result.detail))
            )
        found: list[ResolveResult] = []
        for address in addresses:
            af = socket.AF_INET6 if ":" in address else socket.AF_INET
            if family in (socket.AF_UNSPEC, af):
                found.append(
                    {"hostname": host, "host": address, "port": port, "family": af, "proto": 0, "flags": _NUMERIC}
                )
        if not found:
            raise error(_LookupFailed, text("http.no_family", host=host, family=family.name))
        return found

    async def close(self) -> None:
        return None


# Sessions made by open_session, and the guard their resolver applies. The value must not refer
# back to the session (a context does, through ctx.http), or the entry would never go away.
_GUARDED: weakref.WeakKeyDictionary[aiohttp.ClientSession, AddressGuard] = weakref.WeakKeyDictionary()


def open_session(ctx: ProbeContext) -> aiohttp.ClientSession:
    """A session whose every connection goes through ``ctx``'s guard; set it as ``ctx.http``.

    The caller owns it and closes it (``async with open_session(ctx) as session``)."""
    connector = aiohttp.TCPConnector(
        resolver=GuardedResolver(ctx),
        use_dns_cache=False,
        ssl=ctx.ssl_context(),
        limit_per_host=ctx.config.per_target_concurrency,
    )
    session = aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=ctx.config.timeouts.http),
        trust_env=False,  # no proxy from the environment: connections go where the guard said
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"User-Agent": USER_AGENT},
    )
    _GUARDED[session] = ctx.guard
    return session


async def fetch(
    ctx: ProbeContext,
    url: str,
    *,
    step: str,
    params: Mapping[str, str] | None = None,
    accept: str = "*/*",
    max_bytes: int = MAX_BODY,
    redirects: int = 0,
) -> HttpResponse:
    """GET ``url`` through the guard; at most ``redirects`` redirects followed (each one guarded).

    A redirect not followed is returned as is (status 3xx, ``location``), with no body."""
    seconds = ctx.config.timeouts.http
    request = _Request(step, accept, max_bytes)
    try:
        target = URL(url)
        if params:
            target = target.update_query(params)
    except (ValueError, TypeError) as exc:
        raise error(ProbeError, text("http.bad_url", step=step, url=repr(url), error=str(exc))) from None
    host = target.host or url
    try:
        async with asyncio.timeout(seconds):
            if ctx.http is not None and _is_guarded(ctx):
                return await _follow(ctx, ctx.http, target, request, redirects)
            async with open_session(ctx) as session:
                return await _follow(ctx, session, target, request, redirects)
    except TimeoutError:
        raise error(ProbeTimeout, text("http.timeout", step=step, host=host, seconds=f"{seconds:g}")) from None


def _is_guarded(ctx: ProbeContext) -> bool:
    """True when ctx.http came from open_session with the same guard (same allowlist)."""
    return ctx.http is not None and _GUARDED.get(ctx.http) == ctx.guard


async def _follow(
    ctx: ProbeContext, session: aiohttp.ClientSession, target: URL, request: _Request, redirects: int
) -> HttpResponse:
    for hop in range(redirects + 1):
        response = await _get(ctx, session, target, request)
        if response.status not in REDIRECTS or not response.location or hop == redirects:
            return response
        try:
            target = target.join(URL(response.location))
        except ValueError as exc:
            said = text("http.bad_redirect", step=request.step, target=str(target), error=str(exc))
            raise error(ProbeError, said) from None
    raise AssertionError("unreachable")  # pragma: no cover


def _check_url(ctx: ProbeContext, target: URL, step: str) -> str:
    if target.scheme not in ("http", "https") or not target.raw_host:
        raise error(ProbeError, text("http.not_http", step=step, target=str(target)))
    host = target.raw_host
    literal = ":" in host or host.replace(".", "").isdigit()  # how aiohttp tells a literal: no resolver asked
    if parse_ip(host) is not None:
        ctx.guard.check(host)  # aiohttp skips the resolver for literals: check here
    if literal and (parse_ip(host) is None or "%" in host):
        # A zone id, or a legacy IPv4 spelling (1.2.3, 127.0.0.1.): aiohttp and the system would
        # read it their own way, not as the guard checked it.
        raise error(TargetRefused, text("guard.not_ip", address=repr(host)))
    return host


async def _get(ctx: ProbeContext, session: aiohttp.ClientSession, target: URL, request: _Request) -> HttpResponse:
    step = request.step
    host = _check_url(ctx, target, step)
    seconds = ctx.config.timeouts.http
    try:
        async with session.get(
            target,
            allow_redirects=False,
            headers={"Accept": request.accept, "User-Agent": USER_AGENT},
            timeout=aiohttp.ClientTimeout(total=seconds),
        ) as resp:
            body = b"" if resp.status in REDIRECTS else await _read(resp, step, host, request.max_bytes)
            return HttpResponse(
                url=str(resp.url),
                status=resp.status,
                reason=resp.reason or "",
                content_type=resp.content_type.lower(),
                charset=resp.charset,
                headers={k.lower(): v for k, v in resp.headers.items()},
                body=body,
            )
    except _LookupFailed as exc:
        raise error(ProbeError, text("http.step", step=step, reason=of_error(exc))) from None
    except ProbeError:
        raise  # the guard's refusal (from GuardedResolver or _check_url), or the size cap
    except TimeoutError:
        raise error(ProbeTimeout, text("http.timeout", step=step, host=host, seconds=f"{seconds:g}")) from None
    except aiohttp.ClientConnectorCertificateError as exc:
        said = text("http.certificate", step=step, host=host, error=str(exc.certificate_error))
        raise error(ProbeError, said) from None
    except aiohttp.ClientSSLError as exc:
        raise error(ProbeError, text("http.tls", step=step, host=host, error=str(exc))) from None
    except aiohttp.ClientConnectorError as exc:
        said = text("http.connect", step=step, host=host, port=str(exc.port), error=str(exc.os_error.strerror or exc))
        raise error(ProbeError, said) from None
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError) as exc:
        said = text("http.broke", step=step, host=host, error=f"{type(exc).__name__} {exc}".rstrip())
        raise error(ProbeError, said) from None
    except aiohttp.InvalidURL as exc:
        raise error(ProbeError, text("http.invalid_url", step=step, error=str(exc))) from None
    except aiohttp.ClientError as exc:
        said = text("http.failed", step=step, host=host, error=f"{type(exc).__name__} {exc}".rstrip())
        raise error(ProbeError, said) from None


async def _read(resp: aiohttp.ClientResponse, step: str, host: str, max_bytes: int) -> bytes:
    """The body, refusing more than ``max_bytes`` (announced or actual)."""
    too_big = text("http.too_big", step=step, host=host, max_bytes=max_bytes)
    if resp.content_length is not None and resp.content_length > max_bytes:
        said = text("http.too_big_announced", step=step, host=host, max_bytes=max_bytes, length=resp.content_length)
        raise error(ProbeError, said)
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise error(ProbeError, too_big)
        chunks.append(chunk)
    return b"".join(chunks)
