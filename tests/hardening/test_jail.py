"""The network jail itself (conftest.py): what it lets through, what it refuses, what it records.

The refusals are shown by calling the audit hook directly with a stand-in socket: no test here
(or anywhere) opens a connection to an address outside loopback, even one the jail would stop.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import pytest

from tests.hardening import conftest
from tests.hardening.conftest import Jail


@dataclass
class FakeSocket:
    family: int = socket.AF_INET
    type: int = socket.SOCK_STREAM


@pytest.mark.parametrize(
    ("event", "address", "family"),
    [
        ("socket.connect", ("192.0.2.1", 25), socket.AF_INET),
        ("socket.connect", ("169.254.169.254", 80), socket.AF_INET),
        ("socket.connect", ("::ffff:127.0.0.1", 25, 0, 0), socket.AF_INET6),
        ("socket.connect", ("2001:db8::1", 25, 0, 0), socket.AF_INET6),
        ("socket.sendto", ("203.0.113.53", 53), socket.AF_INET),
    ],
)
def test_the_jail_refuses_anything_but_loopback(
    jail: Jail, event: str, address: tuple[object, ...], family: int
) -> None:
    with pytest.raises(PermissionError, match="network jail"):
        conftest._hook(event, (FakeSocket(family=family), address))
    assert len(jail.blocked) == 1
    jail.blocked.clear()  # seen: the fixture must not fail this test for it


def test_the_jail_refuses_system_name_lookups(jail: Jail) -> None:
    with pytest.raises(PermissionError, match=r"system lookup of 'mail\.contoso\.com'"):
        conftest._hook("socket.getaddrinfo", ("mail.contoso.com", 25, 0, 0, 0))
    conftest._hook("socket.getaddrinfo", ("127.0.0.1", 25, 0, 0, 0))  # literals need no lookup
    jail.blocked.clear()


def test_the_jail_records_loopback_connections(jail: Jail) -> None:
    with socket.socket() as listener, socket.socket() as client:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        client.connect(("127.0.0.1", port))
    assert jail.tcp(port) == [("127.0.0.1", port)]
    assert jail.blocked == []
