"""From a bounce to the sender check: does the bounce call for it, and with which command.

A bounce calls for it when its primary code (or a recipient's) is one the catalog lists as
sender-side (``knowledge/catalog/sender.toml [offer]``: the 5.7.x authentication and
reputation codes), or is any X.7.x code whose text names SPF, DKIM, DMARC or a blocklist.
Pure, and light: no DNS stack is loaded here (``mailflow explain`` uses it).
"""

from __future__ import annotations

from bot.parse import Bounce
from bot.sender import knowledge as sender_knowledge


def offers_sender_check(bounce: Bounce) -> bool:
    if not bounce.is_ndr or bounce.primary is None:
        return False
    words = sender_knowledge.load()
    text = " ".join(filter(None, (bounce.primary.text, *(d.diagnostic for d in bounce.deliveries))))
    statuses = dict.fromkeys((bounce.primary.status, *(d.status for d in bounce.deliveries)))
    return any(words.offers(status, text) for status in statuses)


def sender_command(bounce: Bounce) -> str | None:
    """``mailflow sender contoso.com --ip 203.0.113.5`` for a sender-side bounce; None otherwise.
    A domain the bounce does not show is written ``DOMAIN`` for the reader to fill in."""
    if not offers_sender_check(bounce):
        return None
    command = f"mailflow sender {bounce.sender.domain or 'DOMAIN'}"
    return command + (f" --ip {bounce.sender.ip}" if bounce.sender.ip else "")


def code_command(status: str | None) -> str | None:
    """For a code alone (``mailflow explain --code 5.7.509``): the command with the domain and IP
    left for the reader, when the code is a sender-side one; None otherwise."""
    if not sender_knowledge.load().offers(status):
        return None
    return "mailflow sender DOMAIN [--ip IP]"
