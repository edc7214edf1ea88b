"""The network jail: every hardening test runs with an audit hook that records each connection the
process makes and refuses, before any packet leaves, one to an address outside loopback.

Why an audit hook: CPython raises ``socket.connect``, ``socket.sendto`` and ``socket.sendmsg``
(PEP 578 audit events) before the system call, in whatever thread or library makes it (asyncio,
aiohttp, dnspython, redis). So a test can ask "did the probe connect anywhere but the loopback
peer?" and be sure the answer is complete, and a guard that failed would fail the test instead
of sending traffic: the jail raises ``PermissionError`` for any address but 127.0.0.0/8 and
``::1`` (IPv4-mapped loopback ``::ffff:127.x`` included: the guard must never hand that out).
Host-name lookups through the system resolver (``socket.getaddrinfo`` with a name, not a
literal) are refused the same way: the probes resolve through their own resolver, pointed at
the loopback DNS fixture, and nothing else may ask the network.

Audit hooks cannot be removed, so one is installed for the process and does nothing unless a
``Jail`` is active (the autouse ``jail`` fixture, for the duration of one test).
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

_EVENTS = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg"})


@dataclass
class Jail:
    """What the process tried while the jail was active."""

    connects: list[tuple[str, int, str]] = field(default_factory=list)  # (host, port, "tcp"|"udp") allowed
    blocked: list[str] = field(default_factory=list)  # every refused attempt, described
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def tcp(self, port: int | None = None) -> list[tuple[str, int]]:
        """TCP connections made (to ``port`` only, when given)."""
        with self.lock:
            return [(h, p) for h, p, kind in self.connects if kind == "tcp" and (port is None or p == port)]

    def refuse(self, what: str) -> None:
        with self.lock:
            self.blocked.append(what)
        raise PermissionError(f"network jail: {what} (tests talk to 127.0.0.0/8 and ::1 only)")


_ACTIVE: Jail | None = None
_INSTALLED = False


def loopback_only(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv4Address):
        return ip in ipaddress.IPv4Network("127.0.0.0/8")
    return ip == ipaddress.IPv6Address("::1")


def _is_literal(host: object) -> bool:
    if host is None:
        return True
    text = host.decode() if isinstance(host, bytes) else str(host)
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return text == "localhost"
    return True


def _hook(event: str, args: tuple[Any, ...]) -> None:
    jail = _ACTIVE
    if jail is None:
        return
    if event == "socket.getaddrinfo":
        if not _is_literal(args[0]):
            jail.refuse(f"system lookup of {args[0]!r}")
        return
    if event not in _EVENTS:
        return
    sock, address = args[0], args[1]
    if not isinstance(address, tuple) or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # Unix sockets, or sendmsg on a connected socket (its connect was checked)
    host, port = str(address[0]), int(address[1])
    if not loopback_only(host):
        jail.refuse(f"{event} to {host} port {port}")
    kind = "tcp" if sock.type == socket.SOCK_STREAM else "udp"
    if event == "socket.connect" or kind == "udp":
        with jail.lock:
            jail.connects.append((host, port, kind))


@pytest.fixture(autouse=True)
def jail() -> Iterator[Jail]:
    """The active jail for this test; it fails the test if anything was refused."""
    global _ACTIVE, _INSTALLED  # noqa: PLW0603 - one process-wide hook, switched per test
    if not _INSTALLED:
        sys.addaudithook(_hook)
        _INSTALLED = True
    current = Jail()
    _ACTIVE = current
    try:
        yield current
    finally:
        _ACTIVE = None
    assert current.blocked == [], f"the network jail refused: {current.blocked}"
