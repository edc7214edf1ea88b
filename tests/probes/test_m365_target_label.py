"""The Microsoft 365 ranges step names what it checked in the reader's language (issue 12 item 3)."""

from __future__ import annotations

import pytest

from bot import knowledge
from bot.probes.m365_ranges import STEP, TARGET
from bot.probes.result import observed
from bot.render.blocks import _probe_line
from bot.render.diagnosis import progress_line
from bot.texts import text

LANGUAGES = ("en", "es", "fr", "ja", "nl", "ko")


def test_the_probes_label_is_the_english_text() -> None:
    assert knowledge.load("en").texts["target.m365_ranges"] == TARGET  # JSON keeps this English target


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_ranges_step_is_labelled_in_the_readers_language(language: str) -> None:
    result = observed(STEP, TARGET, False, text("m365.unavailable", reason="x", docs="https://example.test/"))
    label = knowledge.load(language).texts["target.m365_ranges"]
    assert result.target_in(language) == label
    assert result.target == TARGET
    for line in (progress_line(result, language), _probe_line(result, language)):
        assert label in line
        if language != "en":
            assert TARGET not in line, line


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_host_target_is_shown_as_it_is(language: str) -> None:
    result = observed("tcp", "mail.contoso.com", True, text("address.literal", address="203.0.113.25"))
    assert result.target_in(language) == "mail.contoso.com"
