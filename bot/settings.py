"""Process settings: environment variables (and a ``.env`` file), validated once at start-up.

``load_settings()`` is the only entry point the commands use. A bad value never reaches the
code that would trip over it later: it becomes a ``ConfigError`` whose message names the
environment variable and says why, e.g. ``MAILFLOW_PORT: must be from 1 to 65535, not '0'``.
Secrets are ``SecretStr`` (their repr is ``'**********'``) and never appear in a message.

Values that people write by hand take the forms people write: durations ``90``, ``90s``,
``5m``, ``2h``, ``1d``; sizes ``5000000``, ``512KB``, ``5MB``, ``5MiB``; lists comma-separated
(``MAILFLOW_ALLOW=127.0.0.0/8,mx.test``). An empty variable counts as unset.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import ConfigError
from bot.parse_pool import DEFAULT_TIMEOUT_S, default_workers
from bot.probes.config import ProbeConfig, Timeouts, parse_resolver

LogFormat = Literal["auto", "json", "console"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

# Matched against the stripped text with fullmatch: one run of spaces to backtrack over, not
# three around an optional unit (which made "1", 20,000 spaces and "x" take 2 s).
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?", re.IGNORECASE)
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)
_REDIS_SCHEMES = ("redis", "rediss", "unix")


def parse_duration(text: str | float) -> float:
    """Seconds in ``text`` (``90``, ``90s``, ``5m``, ``2h``, ``1d``, ``250ms``); ValueError if unreadable."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = _DURATION.fullmatch(str(text).strip())
        if match is None:
            raise ValueError(f"not a duration: {text!r} (write 90s, 5m, 2h or 1d)")
        seconds = float(match[1]) * _DURATION_UNITS[(match[2] or "s").lower()]
    if not seconds > 0:
        raise ValueError(f"a duration must be more than 0, not {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact form of ``seconds`` in d/h/m/s (``300`` -> ``5m``, ``5400`` -> ``90m``)."""
    for unit in ("d", "h", "m"):
        size = _DURATION_UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def parse_size(text: str | int) -> int:
    """Bytes in ``text`` (``5000000``, ``512KB``, ``5MB``, ``5MiB``); ValueError if unreadable."""
    match = _SIZE.fullmatch(str(text).strip())
    if match is None:
        raise ValueError(f"not a size: {text!r} (write 5000000, 512KB or 5MB)")
    size = int(float(match[1]) * _SIZE_UNITS[(match[2] or "b").lower()])
    if size < 1:
        raise ValueError(f"a size must be at least 1 byte, not {text!r}")
    return size


def _host_name(item: str) -> str:
    """A host name (RFC 1123 labels), lower-cased without a trailing dot; ValueError otherwise."""
    name = item.strip().rstrip(".").lower()
    if not name or len(name) > 253 or not all(_HOST_LABEL.match(label) for label in name.split(".")):
        raise ValueError(f"{item!r} is not a host name")
    return name


def _host_or_network(item: str) -> str:
    """A CIDR, an IP address or a host name, normalised; ValueError otherwise."""
    try:
        return str(ipaddress.ip_network(item.strip(), strict=False))
    except ValueError:
        pass
    try:
        return _host_name(item)
    except ValueError:
        raise ValueError(f"{item!r} is neither a CIDR, an IP address nor a host name") from None


def _without_password(url: str) -> str:
    """``url`` with the password masked; the last ``@`` ends the credentials (``redis://:p@ss@host``)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, hostport = parts.netloc.rsplit("@", 1)
    if ":" not in userinfo:
        return url
    return urlunsplit(parts._replace(netloc=f"{userinfo.split(':', 1)[0]}:***@{hostport}"))


class Settings(BaseSettings):
    """Every setting of the bot, the worker and the CLI; see README.md, "Production"."""

    model_config = SettingsConfigDict(
        env_prefix="MAILFLOW_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        case_sensitive=False,
        frozen=True,
        validate_by_name=True,  # load_settings(port=...) as well as MAILFLOW_PORT=...
        validate_by_alias=True,
    )

    # Slack
    slack_bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/", validation_alias="SLACK_API_URL")

    # Shared state
    redis_url: SecretStr | None = Field(default=None, validation_alias="REDIS_URL")
    hash_key: SecretStr | None = None  # key of the recipient hashes in the store (see README)

    # HTTP server
    host: str = "127.0.0.1"
    port: int = 3000
    upload_max_bytes: Annotated[int, NoDecode] = 5 * 10**6
    http_head_timeout: Annotated[float, NoDecode] = 10.0  # a request head must arrive within this
    http_body_timeout: Annotated[float, NoDecode] = 10.0  # ... and its body within this after it
    http_max_connections: int = 256  # open at once; past it the slowest is pushed out (503 if all are busy)

    # Reading bounces (worker processes, each input within a deadline)
    parse_workers: int = Field(default_factory=default_workers)
    parse_timeout: Annotated[float, NoDecode] = DEFAULT_TIMEOUT_S

    # Logging
    log_format: LogFormat = "auto"
    log_level: LogLevel = "INFO"

    # Probes
    resolver: Annotated[tuple[str, int] | None, NoDecode] = None
    smtp_port: int = 25
    allow: Annotated[tuple[str, ...], NoDecode] = ()
    ca_file: str | None = None
    ehlo_name: str = "mailflow.invalid"
    probe_timeout: Annotated[float, NoDecode] = Timeouts().overall

    # Watches
    watch_every: Annotated[float, NoDecode] = 300.0
    watch_for: Annotated[float, NoDecode] = 7200.0
    watch_min_every: Annotated[float, NoDecode] = 60.0
    watch_max_for: Annotated[float, NoDecode] = 86400.0
    watch_max_per_channel: int = 5

    # -- validators (each message says what is expected; the variable name is added later) ---

    @field_validator("slack_bot_token", "slack_app_token")
    @classmethod
    def _token_prefix(cls, value: SecretStr | None, info: Any) -> SecretStr | None:
        expected = {"slack_bot_token": "xoxb-", "slack_app_token": "xapp-"}[info.field_name]
        if value is not None:
            secret = value.get_secret_value().strip()
            if not secret.startswith(expected):
                raise ValueError(f"must be a Slack token starting with {expected!r}")
            return SecretStr(secret)
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http(s) URL such as https://slack.com/api/, not {value!r}")
        url = value.strip()
        return url if url.endswith("/") else url + "/"  # slack_sdk joins method names onto it

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        url = value.get_secret_value().strip()
        scheme = urlsplit(url).scheme
        if scheme not in _REDIS_SCHEMES:
            raise ValueError(f"must start with redis://, rediss:// or unix://, not {_without_password(url)!r}")
        if scheme != "unix" and not urlsplit(url).hostname:
            raise ValueError(f"names no host: {_without_password(url)!r}")
        try:
            urlsplit(url).port  # noqa: B018 - the property raises for a port that is no number or out of range
        except ValueError:
            raise ValueError(f"the port must be a number from 1 to 65535: {_without_password(url)!r}") from None
        return SecretStr(url)

    @field_validator("port", "smtp_port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 1 <= value <= 65535:
            raise ValueError(f"must be from 1 to 65535, not {value}")
        return value

    @field_validator("host")
    @classmethod
    def _listen_host(cls, value: str) -> str:
        value = value.strip()
        try:
            ipaddress.ip_address(value)
        except ValueError:
            _host_name(value)  # a name such as "localhost"
        return value

    @field_validator("upload_max_bytes", mode="before")
    @classmethod
    def _size(cls, value: Any) -> int:
        return parse_size(value)

    @field_validator("parse_workers")
    @classmethod
    def _workers(cls, value: int) -> int:
        if not 1 <= value <= 64:
            raise ValueError(f"must be from 1 to 64, not {value}")
        return value

    @field_validator(
        "probe_timeout",
        "parse_timeout",
        "watch_every",
        "watch_for",
        "watch_min_every",
        "watch_max_for",
        "http_head_timeout",
        "http_body_timeout",
        mode="before",
    )
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().upper()
            return "WARNING" if value == "WARN" else value
        return value

    @field_validator("resolver", mode="before")
    @classmethod
    def _resolver(cls, value: Any) -> tuple[str, int] | None:
        if value is None or isinstance(value, tuple):
            return value
        return parse_resolver(str(value))

    @field_validator("allow", mode="before")
    @classmethod
    def _allow(cls, value: Any) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else list(value)
        return tuple(_host_or_network(str(item).strip()) for item in items if str(item).strip())

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"no such file: {value!r}")
        return value

    @field_validator("ehlo_name")
    @classmethod
    def _ehlo_name(cls, value: str) -> str:
        # RFC 5321 section 4.1.1.1: EHLO takes a domain (address literals are not offered here).
        return _host_name(value)

    @field_validator("http_max_connections")
    @classmethod
    def _connections(cls, value: int) -> int:
        if not 1 <= value <= 100_000:
            raise ValueError(f"must be from 1 to 100000, not {value}")
        return value

    @field_validator("watch_max_per_channel")
    @classmethod
    def _cap(cls, value: int) -> int:
        if not 1 <= value <= 100:
            raise ValueError(f"must be from 1 to 100, not {value}")
        return value

    @model_validator(mode="after")
    def _watch_bounds(self) -> Settings:
        if self.watch_every < self.watch_min_every:
            raise ValueError(
                f"MAILFLOW_WATCH_EVERY: {format_duration(self.watch_every)} is shorter than "
                f"MAILFLOW_WATCH_MIN_EVERY ({format_duration(self.watch_min_every)})"
            )
        if self.watch_for > self.watch_max_for:
            raise ValueError(
                f"MAILFLOW_WATCH_FOR: {format_duration(self.watch_for)} is longer than "
                f"MAILFLOW_WATCH_MAX_FOR ({format_duration(self.watch_max_for)})"
            )
        return self

    # -- derived values --------------------------------------------------------------------

    def probe_config(self) -> ProbeConfig:
        """The probe settings: each step's timeout at most half of ``MAILFLOW_PROBE_TIMEOUT``."""
        timeouts = Timeouts.within(self.probe_timeout)
        return ProbeConfig(
            resolver=self.resolver,
            smtp_port=self.smtp_port,
            timeouts=timeouts,
            ca_file=self.ca_file,
            ehlo_name=self.ehlo_name,
            allow=self.allow,
        )

    @property
    def redis_dsn(self) -> str | None:
        """``REDIS_URL`` in clear (for the store and arq), or None for the in-process store."""
        return None if self.redis_url is None else self.redis_url.get_secret_value()


def env_var(field_name: str) -> str:
    """The environment variable that sets ``field_name`` (``port`` -> ``MAILFLOW_PORT``)."""
    field = Settings.model_fields.get(field_name)
    if field is not None and isinstance(field.validation_alias, str):
        return field.validation_alias
    return f"MAILFLOW_{field_name.upper()}"


_PYDANTIC_MESSAGES = {
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_type": "must be a whole number",
    "float_parsing": "must be a number",
    "string_type": "must be text",
}


def _message(error: Any) -> str:
    """pydantic's message for one error, said the way the rest of mailflow says things."""
    kind = error.get("type")
    shown = error.get("input")
    if kind in _PYDANTIC_MESSAGES:
        return f"{_PYDANTIC_MESSAGES[kind]}, not {shown!r}"
    if kind == "literal_error":
        expected = str(error.get("ctx", {}).get("expected", "")).replace("'", "")
        return f"must be one of {expected}, not {shown!r}"
    return str(error.get("msg", "invalid value")).removeprefix("Value error, ")


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """The settings from the environment and ``env_file`` (ignored when missing; None: none).

    ``overrides`` are field values that win over both (for tests and command-line flags).
    Raises ``ConfigError`` naming each bad variable and why.
    """
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = error.get("loc") or ()
            if not loc:  # a check across settings: its message names the variables itself
                problems.append(_message(error))
                continue
            name = str(loc[0])
            variable = name if name.isupper() else env_var(name)
            problems.append(f"{variable}: {_message(error)}")
        raise ConfigError("; ".join(problems)) from None
