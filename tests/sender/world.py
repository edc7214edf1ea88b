"""The sender checks' test world, served by the loopback DNS fixture: one domain per case.

Documentation addresses stand in for senders (203.0.113.5 is the sending IP everywhere);
``bl.test`` is a blocklist zone and ``zen.spamhaus.org`` stands for Spamhaus's (served by the
local server only: nothing is asked outside 127.0.0.1).
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fixtures.dns_server import Zone

IP = "203.0.113.5"
REVERSED = "5.113.0.203"
M365_SPF = "v=spf1 ip4:40.92.0.0/15 ip4:40.107.0.0/16 ip6:2a01:111:f400::/48 -all"


def rsa_key(bits: int) -> str:
    """A base64 SubjectPublicKeyInfo of ``bits`` bits (a modulus of that size; never used to verify)."""
    modulus = (1 << (bits - 1)) | 0x10001
    key = rsa.RSAPublicNumbers(65537, modulus).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def m365_dkim(zone: Zone, domain: str, *, bits: int = 2048, tenant: str = "contoso.onmicrosoft.com") -> None:
    dashed = domain.replace(".", "-")
    for selector in ("selector1", "selector2"):
        target = f"{selector}-{dashed}._domainkey.{tenant}"
        zone.add(f"{selector}._domainkey.{domain}", "CNAME", target + ".")
        zone.add(target, "TXT", f"v=DKIM1; k=rsa; p={rsa_key(bits)}")


def world(zone: Zone) -> None:
    zone.add("test", "SOA", "ns1.test. hostmaster.test. 2026010101 3600 600 86400 60", ttl=3600)
    zone.add("spf.protection.outlook.com", "TXT", M365_SPF)

    # A sender with nothing wrong for 192.0.2.25, and every failure for 203.0.113.5.
    zone.add("ok.test", "TXT", "v=spf1 ip4:192.0.2.0/24 include:spf.protection.outlook.com -all")
    zone.add("ok.test", "TXT", "google-site-verification=abc")
    zone.add("_dmarc.ok.test", "TXT", "v=DMARC1; p=reject; rua=mailto:dmarc@ok.test")
    m365_dkim(zone, "ok.test")

    zone.add("soft.test", "TXT", "v=spf1 ip4:192.0.2.0/24 ~all")
    zone.add("neutral.test", "TXT", "v=spf1 ip4:192.0.2.0/24 ?all")
    zone.add("two.test", "TXT", "v=spf1 ip4:192.0.2.0/24 -all")
    zone.add("two.test", "TXT", "v=spf1 include:spf.protection.outlook.com -all")
    zone.add("loop.test", "TXT", "v=spf1 include:loop2.test -all")
    zone.add("loop2.test", "TXT", "v=spf1 include:loop.test -all")
    zone.behave("broken.test", "servfail", rtype="TXT")

    # Eleven DNS-querying terms; three void lookups; eleven MX names.
    zone.add("eleven.test", "TXT", "v=spf1 " + " ".join(f"a:h{n}.eleven.test" for n in range(11)) + " -all")
    zone.add("ten.test", "TXT", "v=spf1 " + " ".join(f"a:h{n}.eleven.test" for n in range(10)) + " -all")
    for n in range(11):
        zone.add(f"h{n}.eleven.test", "A", f"192.0.2.{100 + n}")
    zone.add("void.test", "TXT", "v=spf1 a:none1.void.test a:none2.void.test a:none3.void.test ip4:203.0.113.5 -all")
    zone.add("twovoid.test", "TXT", "v=spf1 a:none1.void.test a:none2.void.test ip4:203.0.113.5 -all")
    zone.add("manymx.test", "TXT", "v=spf1 mx -all")
    for n in range(11):
        zone.add("manymx.test", "MX", f"{n} mx{n}.manymx.test.")
        zone.add(f"mx{n}.manymx.test", "A", f"192.0.2.{n + 1}")
    zone.add("macro.test", "TXT", "v=spf1 exists:%{ir}.%{v}._spf.%{d} -all")
    zone.add(f"{REVERSED}.in-addr._spf.macro.test", "A", "127.0.0.2")
    zone.add("redirect.test", "TXT", "v=spf1 redirect=ok.test")
    zone.add("ptr.test", "TXT", "v=spf1 ptr -all")
    zone.add(f"{REVERSED}.in-addr.arpa", "PTR", "mail.ptr.test.")
    zone.add("mail.ptr.test", "A", IP)

    zone.add("xn--bcher-kva.test", "TXT", "v=spf1 include:spf.protection.outlook.com -all")  # bücher.test
    zone.add("_dmarc.xn--bcher-kva.test", "TXT", "v=DMARC1; p=reject")
    m365_dkim(zone, "xn--bcher-kva.test")
    zone.add("afterall.test", "TXT", "v=spf1 ip4:192.0.2.0/24 -all include:spf.protection.outlook.com redirect=ok.test")
    zone.add("exp.test", "TXT", "v=spf1 ip4:192.0.2.0/24 -all exp=why.exp.test")
    zone.add("why.exp.test", "TXT", "%{i} is not one of %{d}'s servers")
    # Names compare without case and without the final dot.
    zone.add("upper.test", "TXT", "v=spf1 include:SPF.Protection.Outlook.COM. -all")

    # Long records: the suggestion passes 255 characters (one TXT string); "huge" passes 450 bytes.
    zone.add("long.test", "TXT", "v=spf1 " + " ".join(f"ip4:198.51.100.{n}" for n in range(14)) + " -all")
    zone.add("huge.test", "TXT", "v=spf1 " + " ".join(f"ip4:198.51.100.{n}" for n in range(30)) + " -all")

    # Mail through an email service: From: shop.test, MAIL FROM bounce.esp.test (SPF passes there).
    zone.add("shop.test", "TXT", "v=spf1 include:spf.protection.outlook.com -all")
    zone.add("_dmarc.shop.test", "TXT", "v=DMARC1; p=reject")
    zone.add("bounce.esp.test", "TXT", "v=spf1 ip4:203.0.113.0/24 -all")
    zone.add("em.shop.test", "TXT", "v=spf1 ip4:203.0.113.0/24 -all")  # a custom MAIL FROM under shop.test
    zone.add("_dmarc.strict.test", "TXT", "v=DMARC1; p=reject; aspf=s")
    zone.add("em.strict.test", "TXT", "v=spf1 ip4:203.0.113.0/24 -all")

    # DMARC.
    zone.add("_dmarc.baddmarc.test", "TXT", "v=DMARC1; p=maybe; pct=150")
    zone.add("_dmarc.badp.test", "TXT", "v=DMARC1; p=maybe; np=reject; rua=mailto:d@badp.test")
    zone.add("_dmarc.twodmarc.test", "TXT", "v=DMARC1; p=none")
    zone.add("_dmarc.twodmarc.test", "TXT", "v=DMARC1; p=reject")
    zone.add("_dmarc.contoso.co.uk", "TXT", "v=DMARC1; p=quarantine; sp=reject; rua=mailto:d@reports.example")
    zone.add("contoso.co.uk._report._dmarc.reports.example", "TXT", "v=DMARC1")
    zone.add("_dmarc.co.uk", "TXT", "v=DMARC1; p=none")  # a public suffix's record: never the org's
    zone.add("_dmarc.blogspot.com", "TXT", "v=DMARC1; p=reject")  # blogspot.com is a (private) suffix
    zone.add("_dmarc.monitor.test", "TXT", "v=DMARC1; p=none; pct=50; rua=mailto:x@unverified.example")

    # DKIM.
    zone.add("s1._domainkey.weak.test", "TXT", f"v=DKIM1; k=rsa; p={rsa_key(768)}")
    zone.add("s1._domainkey.short.test", "TXT", f"v=DKIM1; k=rsa; p={rsa_key(1024)}")
    zone.add("s1._domainkey.revoked.test", "TXT", "v=DKIM1; k=rsa; p=")
    zone.add("s1._domainkey.garbled.test", "TXT", "v=DKIM1; k=rsa; p=not*base64")
    zone.add("s1._domainkey.testing.test", "TXT", f"v=DKIM1; t=y; k=rsa; p={rsa_key(2048)}")
    # Microsoft 365 CNAMEs published, signing not set up yet: the targets hold no key.
    for selector in ("selector1", "selector2"):
        target = f"{selector}-dangling-test._domainkey.contoso.onmicrosoft.com"
        zone.add(f"{selector}._domainkey.dangling.test", "CNAME", target + ".")
    zone.add("s1._domainkey.ed.test", "TXT", "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")

    # Blocklists.
    zone.add(f"{REVERSED}.bl.test", "A", "127.0.0.2")
    zone.add(f"{REVERSED}.bl.test", "TXT", "Listed for spam traps, see https://bl.test/lookup")
    zone.add("bl.test", "SOA", "ns.bl.test. hostmaster.bl.test. 1 3600 600 86400 60")
    zone.add(f"{REVERSED}.zen.spamhaus.org", "A", "127.255.255.254")
    zone.add(f"{REVERSED}.hijack.test", "A", "198.51.100.80")
    zone.add(f"{REVERSED}.other.test", "A", "127.255.255.254")  # a list the catalog does not know
    zone.add(f"{REVERSED}.refusing.test", "A", "127.0.0.1")
    zone.behave("failing.test", "servfail")
