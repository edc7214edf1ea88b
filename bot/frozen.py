"""Cheap construction of frozen, slotted dataclasses: the parser's (``parse/model.py``,
``parse/sender.py``), the explanation (``explain.py``) and the knowledge base's (``knowledge.py``).

A frozen dataclass's generated ``__init__`` stores each field through ``object.__setattr__``;
calling the field's slot descriptor stores the same value at about a third of the cost, and the
parser builds several such objects per bounce. A class that writes its own ``__init__``
(``init=False``) stores its fields through the setters ``slot_setters`` gives it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def slot_setters(cls: type) -> tuple[Callable[[Any, Any], None], ...]:
    """The ``__set__`` of each field's slot of the dataclass ``cls``, in field order: it stores
    into a frozen instance as ``object.__setattr__`` does."""
    return tuple(cls.__dict__[name].__set__ for name in cls.__dataclass_fields__)  # type: ignore[attr-defined]
