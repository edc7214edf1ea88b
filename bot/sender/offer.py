"""From a bounce to the sender check: does the bounce call for it, and with which command.

A bounce calls for it when its primary code (or a recipient's) is one the catalog lists as
sender-side (``knowledge/facts/sender.toml [offer]``: the 5.7.x authentication and
reputation codes), or is any X.7.x code whose text names SPF, DKIM, DMARC or a blocklist.
Pure, and light: no DNS stack is loaded here (``mailflow explain`` uses it).
"""

from __future__ import annotations

import functools

from bot.fill import EXAMPLES, mark
from bot.parse import Bounce
from bot.sender import knowledge as sender_knowledge

# What the reader fills in, marked as every placeholder is (bot/fill.py): ``<contoso.com>``.
DOMAIN = mark(EXAMPLES["sender_domain"])
IP = mark(EXAMPLES["ip"])


def offers_sender_check(bounce: Bounce) -> bool:
    primary = bounce.primary
    if not bounce.is_ndr or primary is None:
        return False
    # the primary code, then each recipient's that differs from it (most often the same one)
    status = primary.status
    by_code = _offers_by_code(status)
    if by_code:
        return True
    undecided = by_code is None
    for delivery in bounce.deliveries:
        if delivery.status != status:
            by_code = _offers_by_code(delivery.status)
            if by_code:
                return True
            undecided = undecided or by_code is None
    if not undecided:
        return False
    # An X.7.x code: the texts decide (the code's and each recipient's diagnostic).
    text = " ".join(filter(None, (primary.text, *(d.diagnostic for d in bounce.deliveries))))
    return sender_knowledge.load().names_sender_problem(text)


@functools.lru_cache(maxsize=1024)
def _offers_by_code(status: str | None) -> bool | None:
    """``SenderFacts.offers_by_code``, once per code: a batch of bounces repeats a few codes."""
    return sender_knowledge.load().offers_by_code(status)


def sender_command(bounce: Bounce) -> str | None:
    """``mailflow sender contoso.com --ip 203.0.113.5`` for a sender-side bounce (with
    ``--mailfrom bounce.esp.example`` when the envelope domain differs); None otherwise.
    A domain the bounce does not show is a marked example, ``<contoso.com>``, for the reader to replace."""
    if not offers_sender_check(bounce):
        return None
    sender = bounce.sender
    command = f"mailflow sender {sender.domain or DOMAIN}"
    command += f" --ip {sender.ip}" if sender.ip else ""
    # SPF is checked on the envelope domain: an email service's own (bounce.esp.example).
    return command + (f" --mailfrom {sender.mailfrom}" if sender.mailfrom and sender.mailfrom != sender.domain else "")


def code_command(status: str | None) -> str | None:
    """For a code alone (``mailflow explain --code 5.7.509``): the command with the domain and IP
    left for the reader, when the code is a sender-side one; None otherwise."""
    if not sender_knowledge.load().offers(status):
        return None
    return f"mailflow sender {DOMAIN} [--ip {IP}]"


def has_placeholder(command: str | None) -> bool:
    """Does the command hold a marked example (and so needs the placeholder note)?"""
    return command is not None and (DOMAIN in command or IP in command)
