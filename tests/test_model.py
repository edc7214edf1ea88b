"""The value objects that write their own ``__init__`` (``bot/parse/model.py``; ``Sender`` and
``Explanation`` through ``bot/frozen.py``; the knowledge base's ``Cause``, ``Step`` and
``Entry``): it must take exactly the fields, in order, with their defaults, and the objects must
stay frozen dataclasses (equality, hashing, ``replace``, pickling) as the generated ``__init__``
made them."""

from __future__ import annotations

import dataclasses
import inspect
import pickle

import pytest

from bot import knowledge
from bot.explain import Explanation, explain_bounce
from bot.knowledge import Cause, Entry, Step
from bot.parse import Bounce, Code, Delivery, parse_bounce
from bot.parse.model import Sender

# Every class whose __init__ is written by hand, storing through its slots' setters.
HAND_WRITTEN_INIT = [Code, Delivery, Bounce, Sender, Explanation, Cause, Step, Entry]


@pytest.mark.parametrize("cls", HAND_WRITTEN_INIT)
def test_init_takes_the_fields_in_order_with_their_defaults(cls: type) -> None:
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    fields = dataclasses.fields(cls)
    assert [p.name for p in params] == [f.name for f in fields]
    for param, field in zip(params, fields, strict=True):
        assert param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        if field.default is not dataclasses.MISSING:
            assert param.default == field.default, field.name
        elif field.default_factory is not dataclasses.MISSING:
            assert param.default == field.default_factory(), field.name
        else:
            assert param.default is inspect.Parameter.empty, field.name


@pytest.mark.parametrize("cls", HAND_WRITTEN_INIT)
def test_every_field_is_stored(cls: type) -> None:
    fields = dataclasses.fields(cls)
    values = {f.name: object() for f in fields}
    made = cls(**values)
    assert all(getattr(made, name) is value for name, value in values.items())
    positional = cls(*values.values())
    assert all(getattr(positional, name) is value for name, value in values.items())


def test_objects_stay_frozen_comparable_and_picklable() -> None:
    bounce = parse_bounce("550 5.1.1 <user@example.net>: Recipient address rejected: User unknown")
    assert bounce.is_ndr and bounce.deliveries and bounce.primary is not None
    explanation = explain_bounce(bounce)
    assert explanation is not None
    entry = knowledge.load("en").exact["4.4.316"]
    knowledge_values = (entry, entry.causes[0], entry.checklist[0])
    for value in (bounce, bounce.primary, bounce.deliveries[0], bounce.sender, explanation, *knowledge_values):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, dataclasses.fields(value)[0].name, "x")
        copy = pickle.loads(pickle.dumps(value))
        assert copy == value and hash(copy) == hash(value)
        assert dataclasses.replace(value) == value
    assert dataclasses.replace(bounce, truncated=True).truncated is True
    assert Code("5.1.1", "550", "x") == Code(status="5.1.1", reply_code="550", text="x", depth=0)
