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
    # Key of the address hashes kept in the store (bot.store.keys.address_hash); empty: derived
    # from signing_secret. Never logged.
    hash_key: str = ""
    api_url: str = "https://slack.com/api/"  # the Web API base; tests point it at a local stand-in
    upload_max_bytes: int = 5 * 10**6  # files larger than this are not downloaded
    http_timeout_s: float = 10.0  # one Web API call or file download
    per_user: Limit = USER_LIMIT
    per_channel: Limit = CHANNEL_LIMIT
    paste_window_s: float = 600.0  # the same bounce pasted again within this gets a link to the first answer
    locale_ttl_s: float = 86400.0  # a user's Slack locale is asked again after this
    locale_wait_s: float = 1.5  # an answer waits this long for users.info, then goes out in English
    locale_refused_ttl_s: float = 3600.0  # users.info refused (missing_scope ...): not asked again for this long
    progress_interval_s: float = 1.0  # at most one "diagnosing…" update per this
    response_progress_gap_s: float = 5.0  # ... and per this through a response_url (5 posts in all)
    checklist_ttl_s: float = 30 * 86400.0  # checklist ticks are kept this long after the last tick
    # A copy of each answer with a checklist, to redraw a tick Slack sends without the message: that
    # happens on ephemeral answers, which Slack drops on reload, so a day is plenty.
    answer_copy_ttl_s: float = 86400.0
    recent_cap: int = 20  # diagnoses listed on the App Home tab
    rate_limit_retries: int = 2  # Slack 429s retried (after Retry-After) before giving up
    ack_priority_s: float = 1.0  # under a burst, answers wait up to this for the acks to go out
    ack_quiet_s: float = 0.05  # ... that is, until no request has been waiting for this long
    background_limit: int = 32  # answers worked on at once (the rest queue)
    parse_workers: int = field(default_factory=default_workers)  # processes that read pasted and uploaded bounces
    parse_timeout_s: float = DEFAULT_TIMEOUT_S  # an input not read within this gets "too complex to read"
    identity_refresh_s: float = 3600.0  # auth.test is asked again this often, in the background
    identity_retry_s: float = 1.0  # an identity never loaded is asked for again after this, doubling to 5 min
