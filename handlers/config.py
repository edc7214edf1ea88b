"""The Slack side's settings: a small frozen value object built from ``bot.settings.Settings``."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.parse_pool import DEFAULT_TIMEOUT_S, default_workers
from bot.store import Limit
from bot.store.limits import CHANNEL_LIMIT, USER_LIMIT


@dataclass(frozen=True, slots=True)
class SlackConfig:
    bot_token: str
    signing_secret: str
    api_url: str = "https://slack.com/api/"  # the Web API base; tests point it at a local stand-in
    upload_max_bytes: int = 5 * 10**6  # files larger than this are not downloaded
    http_timeout_s: float = 10.0  # one Web API call or file download
    per_user: Limit = USER_LIMIT
    per_channel: Limit = CHANNEL_LIMIT
    paste_window_s: float = 600.0  # the same bounce pasted again within this gets a link to the first answer
    locale_ttl_s: float = 86400.0  # a user's Slack locale is asked again after this
    progress_interval_s: float = 1.0  # at most one "diagnosing…" update per this
    checklist_ttl_s: float = 30 * 86400.0  # checklist ticks are kept this long after the last tick
    recent_cap: int = 20  # diagnoses listed on the App Home tab
    rate_limit_retries: int = 2  # Slack 429s retried (after Retry-After) before giving up
    ack_priority_s: float = 1.0  # under a burst, answers wait up to this for the acks to go out
    ack_quiet_s: float = 0.05  # ... that is, until no request has been waiting for this long
    background_limit: int = 32  # answers worked on at once (the rest queue)
    parse_workers: int = field(default_factory=default_workers)  # processes that read pasted and uploaded bounces
    parse_timeout_s: float = DEFAULT_TIMEOUT_S  # an input not read within this gets "too complex to read"
