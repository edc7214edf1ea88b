"""Errors of the shared-state layer, under the project root ``bot.errors.MailflowError``.

    MailflowError
    └── StoreError            the store refused an operation (a key holds another type, a bad URL)
        └── StoreUnavailable  the store cannot answer now (down, timed out, loading, read-only)

Redis errors are translated in ``redis_store`` where they enter; ``ResilientStore`` catches
``StoreUnavailable`` and answers from its fallback, so callers above it never see one.
"""

from __future__ import annotations

from bot.errors import MailflowError


class StoreError(MailflowError):
    """The store refused the operation."""


class StoreUnavailable(StoreError):
    """The store cannot answer now; the message names the operation and the cause."""
