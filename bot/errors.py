"""One exception tree for mailflow.

    MailflowError
    ├── ConfigError         a setting (environment variable or .env) is missing or invalid
    ├── InputError          input we cannot read at all (unreadable file, wrong type)
    ├── KnowledgeError      knowledge/ is missing, malformed or incomplete
    ├── WorkerLost          a worker process stopped before sending its answers (bot/cli/fanout.py)
    ├── ProbeError          a network probe could not run (refused target, timeout, ...)
    │   ├── TargetRefused   the guard refused an address (loopback, private, metadata, ...)
    │   └── ProbeTimeout    one step ran past its timeout; the message names the step
    └── StoreError          the shared store refused an operation (bot/store/errors.py)
        └── StoreUnavailable  the store cannot answer now (down, timed out, loading)

Third-party errors (dnspython, ssl, aiohttp, redis) are translated where they enter, so callers
catch ``MailflowError`` and show its message.
"""

from __future__ import annotations


class MailflowError(Exception):
    """Base of every error mailflow raises on purpose."""


class ConfigError(MailflowError):
    """A setting is invalid; the message names its environment variable and says why."""


class InputError(MailflowError):
    """The input could not be read."""


class KnowledgeError(MailflowError):
    """The knowledge base is missing, malformed or incomplete."""


class WorkerLost(MailflowError):
    """A worker process stopped before sending its answers (killed, out of memory)."""


class ProbeError(MailflowError):
    """A network probe could not run.

    ``text``: the same message as a knowledge-base text (``bot.texts.Text``), so the evidence
    built from it is said in the reader's language; None when the message is raw data.
    """

    def __init__(self, *args: object, text: object = None) -> None:
        super().__init__(*args)
        self.text = text


class TargetRefused(ProbeError):
    """The target resolves to an address the guard refuses.

    ``rule``: the id of the guard's rule (``loopback``, ``private``; stable English, for JSON),
    None when the target is no address at all.
    """

    def __init__(self, *args: object, text: object = None, rule: str | None = None) -> None:
        super().__init__(*args, text=text)
        self.rule = rule


class ProbeTimeout(ProbeError):
    """A probe step ran past its timeout."""
