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
            raise ProbeError(f"{step}: {self.url} did not answer valid JSON ({exc})") from None


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
                raise TargetRefused(result.detail)
            raise _LookupFailed(f"cannot resolve {host}: {result.detail}")
        found: list[ResolveResult] = []
        for address in addresses:
            af = socket.AF_INET6 if ":" in address else socket.AF_INET
            if family in (socket.AF_UNSPEC, af):
                found.append(
                    {"hostname": host, "host": address, "port": port, "family": af, "proto": 0, "flags": _NUMERIC}
                )
        if not found:
            raise _LookupFailed(f"cannot resolve {host}: no accepted address of family {family.name}")
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
        raise ProbeError(f"{step}: {url!r} is not a valid URL ({exc})") from None
    host = target.host or url
    try:
        async with asyncio.timeout(seconds):
            if ctx.http is not None and _is_guarded(ctx):
                return await _follow(ctx, ctx.http, target, request, redirects)
            async with open_session(ctx) as session:
                return await _follow(ctx, session, target, request, redirects)
    except TimeoutError:
        raise ProbeTimeout(f"{step}: no complete HTTP answer from {host} within {seconds:g} s") from None


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
            raise ProbeError(f"{request.step}: {target} redirected to an invalid URL ({exc})") from None
    raise AssertionError("unreachable")  # pragma: no cover


def _check_url(ctx: ProbeContext, target: URL, step: str) -> str:
    if target.scheme not in ("http", "https") or not target.raw_host:
        raise ProbeError(f"{step}: {target} is not an http(s) URL")
    host = target.raw_host
    if parse_ip(host) is not None:
        ctx.guard.check(host)  # aiohttp skips the resolver for literals: check here
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
        raise ProbeError(f"{step}: {exc}") from None
    except ProbeError:
        raise  # the guard's refusal (from GuardedResolver or _check_url), or the size cap
    except TimeoutError:
        raise ProbeTimeout(f"{step}: no complete HTTP answer from {host} within {seconds:g} s") from None
    except aiohttp.ClientConnectorCertificateError as exc:
        raise ProbeError(
            f"{step}: the TLS certificate of {host} failed verification: {exc.certificate_error}"
        ) from None
    except aiohttp.ClientSSLError as exc:
        raise ProbeError(f"{step}: TLS with {host} failed: {exc}") from None
    except aiohttp.ClientConnectorError as exc:
        raise ProbeError(f"{step}: cannot connect to {host} port {exc.port}: {exc.os_error.strerror or exc}") from None
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError) as exc:
        raise ProbeError(f"{step}: the connection to {host} broke: {type(exc).__name__} {exc}".rstrip()) from None
    except aiohttp.InvalidURL as exc:
        raise ProbeError(f"{step}: invalid URL {exc}") from None
    except aiohttp.ClientError as exc:
        raise ProbeError(f"{step}: the HTTP request to {host} failed: {type(exc).__name__} {exc}".rstrip()) from None


async def _read(resp: aiohttp.ClientResponse, step: str, host: str, max_bytes: int) -> bytes:
    """The body, refusing more than ``max_bytes`` (announced or actual)."""
    too_big = f"{step}: {host} sent a body over the {max_bytes}-byte cap"
    if resp.content_length is not None and resp.content_length > max_bytes:
        raise ProbeError(f"{too_big} (Content-Length {resp.content_length})")
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise ProbeError(too_big)
        chunks.append(chunk)
    return b"".join(chunks)
