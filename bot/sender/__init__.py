"""Sender checks: prove why a receiver refused our mail (SPF, DMARC, DKIM, blocklists).

    SenderRequest ──► run_checks() ── all at once, one deadline ──► ProbeResult per check
                        spf.py      check_host() for the IP, or the record's analysis without one
                        dmarc.py    _dmarc.DOMAIN, else the organizational domain (Public Suffix List)
                        dkim.py     SELECTOR._domainkey.DOMAIN for each selector (TXT and CNAME)
                        dnsbl.py    the IP under each blocklist zone
                  ──► conclude.py (pure, in the reader's language) ──► SenderReport
                        failures [{id, detail}], warnings, checklist with the records to publish

Every lookup goes through ``dns.SenderDns``: the configured resolver and ``Timeouts.dns``. The
results are ``ProbeResult``s whose facts are the checks' reports, so ``bot.store.ProbeCache``
caches and single-flights them like a diagnosis (``bot/sender/service.py``).

The package itself imports nothing: ``bot.sender.knowledge`` (which codes offer the check) is
read by ``mailflow explain``, which must not load the DNS stack.
"""
