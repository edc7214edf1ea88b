"""What the "Check the sender" button on an explanation carries: the domain, the IP, the
language, and the MAIL FROM domain when it is another."""

from __future__ import annotations

import json
from dataclasses import dataclass

ACTION_SENDER = "check_sender"
MAX_VALUE = 2000  # Slack's limit on a button value


@dataclass(frozen=True, slots=True)
class SenderTarget:
    domain: str
    ip: str | None = None
    language: str | None = None  # set when the request named one (--lang)
    mailfrom: str | None = None  # the MAIL FROM domain, when the bounce shows one that is not ``domain``

    def encode(self) -> str:
        data = {"d": self.domain, "i": self.ip, "l": self.language, "m": self.mailfrom}
        return json.dumps({k: v for k, v in data.items() if v}, separators=(",", ":"))[:MAX_VALUE]

    @classmethod
    def decode(cls, value: str) -> SenderTarget | None:
        try:
            data = json.loads(value)
            return cls(str(data["d"]), data.get("i"), data.get("l"), data.get("m"))
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
