"""What watches say, in the reader's language: the change messages and the command replies.

The words come from ``knowledge/<lang>/ui.toml`` (keys ``watch_*``). Times are Slack date tokens, so each
reader sees them in their own time zone (the fallback after ``|`` is UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from bot import knowledge
from bot.diagnose import Diagnosis
from bot.settings import format_duration
from bot.watch.model import HEALTHY, Watch, verdict_key


def labels(language: str) -> Mapping[str, str]:
    """The UI labels (``watch_*`` among them) in ``language``; English for a language we lack."""
    return knowledge.load(language if language in knowledge.LANGUAGES else knowledge.DEFAULT_LANGUAGE).ui


def slack_time(epoch: float) -> str:
    """A Slack date token: 10:42 in the reader's time zone, ``10:42 UTC`` where tokens are not shown."""
    fallback = datetime.fromtimestamp(epoch, UTC).strftime("%H:%M UTC")
    return f"<!date^{int(epoch)}^{{time}}|{fallback}>"


def evidence(diagnosis: Diagnosis, language: str) -> str:
    """One line of what decided the verdict."""
    verdict = diagnosis.verdict
    if verdict.evidence:
        return verdict.evidence[0].says(language if language in knowledge.LANGUAGES else knowledge.DEFAULT_LANGUAGE)
    if verdict_key(verdict) == HEALTHY:
        return labels(language)["watch_reachable"].format(reachable=verdict.reachable, attempted=verdict.attempted)
    return ""


def change_text(watch: Watch, diagnosis: Diagnosis, *, at: float) -> str:
    """The message for a verdict change seen at ``at``."""
    words = labels(watch.language)
    key = verdict_key(diagnosis.verdict)
    detail = evidence(diagnosis, watch.language)
    if key == HEALTHY:
        return words["watch_recovered"].format(time=slack_time(at), domain=watch.domain, detail=detail)
    title = diagnosis.explanation.title if diagnosis.explanation else ""
    return (
        words["watch_failing"]
        .format(time=slack_time(at), domain=watch.domain, verdict=key, title=title, detail=detail)
        .replace(" ()", "")
    )


def started_text(watch: Watch) -> str:
    return labels(watch.language)["watch_started"].format(
        domain=watch.domain, every=format_duration(watch.every_s), until=slack_time(watch.until)
    )


def exists_text(watch: Watch, language: str) -> str:
    return labels(language)["watch_exists"].format(domain=watch.domain, until=slack_time(watch.until))


def full_text(limit: int, language: str) -> str:
    return labels(language)["watch_full"].format(limit=limit)


def stopped_text(domain: str, language: str, *, found: bool) -> str:
    return labels(language)["watch_stopped" if found else "watch_not_found"].format(domain=domain)


def list_text(watches: list[Watch], language: str) -> str:
    words = labels(language)
    if not watches:
        return words["watch_none"]
    return "\n".join(
        "• "
        + words["watch_item"].format(
            domain=w.domain,
            every=format_duration(w.every_s),
            until=slack_time(w.until),
            verdict=w.verdict or words["watch_not_checked"],
        )
        for w in watches
    )
