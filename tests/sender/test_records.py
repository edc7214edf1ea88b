"""Key and policy records read as RFC 6376 and RFC 7489 say (pure: text in, report out)."""

from __future__ import annotations

import pytest

from bot.sender.dkim import DkimReport, read_key
from tests.sender.world import rsa_key

KEY = rsa_key(2048)


def dkim(text: str) -> DkimReport:
    report = DkimReport(selector="s1", name="s1._domainkey.contoso.test", present=True, record=text)
    read_key(report, text)
    return report


@pytest.mark.parametrize(
    ("text", "status", "problem"),
    [
        (f"v=DKIM1; k=rsa; p={KEY}", "ok", None),
        (f"v=DKIM1; h=sha256; p={KEY}", "ok", None),
        (f"v=DKIM1; h=sha1:SHA256; s=email; p={KEY}", "ok", None),
        (f"v=DKIM1; s=*; p={KEY}", "ok", None),
        (f"v=DKIM1; h=sha1; p={KEY}", "invalid", "h=sha1 does not allow sha256"),
        (f"v=DKIM1; s=tlsrpt; p={KEY}", "invalid", "s=tlsrpt: the key is not for email"),
        (f"v=DKIM1; p={KEY}; p=", "invalid", "tag p= appears 2 times"),
        (f"k=rsa; v=DKIM1; p={KEY}", "invalid", "v= must be the first tag"),
        ("v=DKIM1; k=rsa; p=", "revoked", None),
        ("v=DKIM1; k=dsa; p=AAAA", "invalid", "k=dsa is not rsa or ed25519"),
    ],
)
def test_dkim_key_tags(text: str, status: str, problem: str | None) -> None:
    report = dkim(text)
    assert report.status == status
    assert (problem is None) == (not report.problems)
    if problem is not None:
        assert any(p.startswith(problem) for p in report.problems), report.problems


@pytest.mark.parametrize(("flags", "testing"), [("y", True), ("s:y", True), ("s", False), ("", False)])
def test_dkim_testing_flag(flags: str, testing: bool) -> None:
    report = dkim(f"v=DKIM1; t={flags}; p={KEY}")
    assert (report.testing, report.status) == (testing, "ok")
