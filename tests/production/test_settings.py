"""``load_settings``: tables of (environment, expected value) and (environment, error message).

Every case runs with a clean environment (``monkeypatch`` removes every variable the settings
read) and no ``.env`` unless the case writes one, so the machine's own settings never leak in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.errors import ConfigError, MailflowError
from bot.probes.config import ProbeConfig, Timeouts
from bot.settings import Settings, env_var, format_duration, load_settings, parse_duration, parse_size

pytestmark = pytest.mark.timeout(10)

VARIABLES = sorted({env_var(name) for name in Settings.model_fields})


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env from the checkout


def load(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Settings:
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    return load_settings(env_file=None)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, {})
    assert settings.slack_bot_token is None and settings.redis_url is None and settings.redis_dsn is None
    assert (settings.host, settings.port) == ("127.0.0.1", 3000)
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.upload_max_bytes == 5_000_000
    assert (settings.log_format, settings.log_level) == ("auto", "INFO")
    assert (settings.watch_every, settings.watch_for, settings.watch_max_per_channel) == (300.0, 7200.0, 5)
    assert settings.probe_config() == ProbeConfig()


GOOD: list[tuple[str, str, str, Any]] = [
    ("SLACK_BOT_TOKEN", "xoxb-1-2-abc", "slack_bot_token", "xoxb-1-2-abc"),
    ("SLACK_APP_TOKEN", " xapp-1-A-1-x ", "slack_app_token", "xapp-1-A-1-x"),
    ("SLACK_SIGNING_SECRET", "8f14e45fceea167a", "slack_signing_secret", "8f14e45fceea167a"),
    ("SLACK_API_URL", "http://127.0.0.1:8080/api", "slack_api_url", "http://127.0.0.1:8080/api/"),
    ("REDIS_URL", "redis://:pw@127.0.0.1:6379/0", "redis_dsn", "redis://:pw@127.0.0.1:6379/0"),
    ("REDIS_URL", "unix:///run/redis.sock", "redis_dsn", "unix:///run/redis.sock"),
    ("REDIS_URL", "", "redis_dsn", None),  # empty counts as unset
    ("MAILFLOW_HOST", "0.0.0.0", "host", "0.0.0.0"),
    ("MAILFLOW_HOST", "localhost", "host", "localhost"),
    ("MAILFLOW_PORT", "8080", "port", 8080),
    ("MAILFLOW_UPLOAD_MAX_BYTES", "1048576", "upload_max_bytes", 1_048_576),
    ("MAILFLOW_UPLOAD_MAX_BYTES", "5MiB", "upload_max_bytes", 5 * 2**20),
    ("MAILFLOW_UPLOAD_MAX_BYTES", "512 kb", "upload_max_bytes", 512_000),
    ("MAILFLOW_LOG_FORMAT", "JSON", "log_format", "json"),
    ("MAILFLOW_LOG_FORMAT", "console", "log_format", "console"),
    ("MAILFLOW_LOG_LEVEL", "debug", "log_level", "DEBUG"),
    ("MAILFLOW_LOG_LEVEL", "warn", "log_level", "WARNING"),
    ("MAILFLOW_RESOLVER", "127.0.0.1", "resolver", ("127.0.0.1", 53)),
    ("MAILFLOW_RESOLVER", "127.0.0.1:5353", "resolver", ("127.0.0.1", 5353)),
    ("MAILFLOW_RESOLVER", "[::1]:5353", "resolver", ("::1", 5353)),
    ("MAILFLOW_RESOLVER", "2001:db8::1", "resolver", ("2001:db8::1", 53)),
    ("MAILFLOW_SMTP_PORT", "2525", "smtp_port", 2525),
    ("MAILFLOW_ALLOW", "127.0.0.0/8, MX.Test. ,10.1.2.3", "allow", ("127.0.0.0/8", "mx.test", "10.1.2.3/32")),
    ("MAILFLOW_ALLOW", ",", "allow", ()),
    ("MAILFLOW_EHLO_NAME", "Probe.Example.COM", "ehlo_name", "probe.example.com"),
    ("MAILFLOW_PROBE_TIMEOUT", "30", "probe_timeout", 30.0),
    ("MAILFLOW_PROBE_TIMEOUT", "2m", "probe_timeout", 120.0),
    ("MAILFLOW_PARSE_TIMEOUT", "2s", "parse_timeout", 2.0),
    ("MAILFLOW_PARSE_TIMEOUT", "750ms", "parse_timeout", 0.75),
    ("MAILFLOW_PARSE_WORKERS", "4", "parse_workers", 4),
    ("MAILFLOW_WATCH_EVERY", "10m", "watch_every", 600.0),
    ("MAILFLOW_WATCH_FOR", "1d", "watch_for", 86400.0),
    ("MAILFLOW_WATCH_MAX_PER_CHANNEL", "10", "watch_max_per_channel", 10),
]


@pytest.mark.parametrize(("variable", "value", "attribute", "expected"), GOOD, ids=[f"{g[0]}={g[1]}" for g in GOOD])
def test_good_values(monkeypatch: pytest.MonkeyPatch, variable: str, value: str, attribute: str, expected: Any) -> None:
    got = getattr(load(monkeypatch, {variable: value}), attribute)
    if hasattr(got, "get_secret_value"):
        got = got.get_secret_value()
    assert got == expected


BAD: list[tuple[dict[str, str], str]] = [
    ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN: must be a Slack token starting with 'xoxb-'"),
    ({"SLACK_APP_TOKEN": "xoxb-1"}, "SLACK_APP_TOKEN: must be a Slack token starting with 'xapp-'"),
    ({"SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL: must be an http(s) URL"),
    ({"REDIS_URL": "http://:hunter2@cache:6379"}, "REDIS_URL: must start with redis://, rediss:// or unix://"),
    ({"REDIS_URL": "redis://"}, "REDIS_URL: names no host"),
    ({"REDIS_URL": "redis://cache:port/0"}, "REDIS_URL: the port must be a number from 1 to 65535"),
    ({"REDIS_URL": "redis://cache:99999/0"}, "REDIS_URL: the port must be a number from 1 to 65535"),
    ({"MAILFLOW_HOST": "not a host"}, "MAILFLOW_HOST: 'not a host' is not a host name"),
    ({"MAILFLOW_PORT": "abc"}, "MAILFLOW_PORT: must be a whole number, not 'abc'"),
    ({"MAILFLOW_PORT": "0"}, "MAILFLOW_PORT: must be from 1 to 65535, not 0"),
    ({"MAILFLOW_PORT": "70000"}, "MAILFLOW_PORT: must be from 1 to 65535, not 70000"),
    ({"MAILFLOW_UPLOAD_MAX_BYTES": "lots"}, "MAILFLOW_UPLOAD_MAX_BYTES: not a size: 'lots'"),
    ({"MAILFLOW_UPLOAD_MAX_BYTES": "0"}, "MAILFLOW_UPLOAD_MAX_BYTES: a size must be at least 1 byte"),
    ({"MAILFLOW_LOG_FORMAT": "xml"}, "MAILFLOW_LOG_FORMAT: must be one of auto, json or console, not 'xml'"),
    ({"MAILFLOW_LOG_LEVEL": "loud"}, "MAILFLOW_LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR or CRITICAL"),
    ({"MAILFLOW_RESOLVER": "dns.google"}, "MAILFLOW_RESOLVER: must be an IP address (optionally :PORT)"),
    ({"MAILFLOW_RESOLVER": "127.0.0.1:dns"}, "MAILFLOW_RESOLVER: must be IP or IP:PORT, not '127.0.0.1:dns'"),
    ({"MAILFLOW_RESOLVER": "127.0.0.1:0"}, "MAILFLOW_RESOLVER: port must be from 1 to 65535, not 0"),
    ({"MAILFLOW_SMTP_PORT": "-25"}, "MAILFLOW_SMTP_PORT: must be from 1 to 65535, not -25"),
    ({"MAILFLOW_ALLOW": "127.0.0.0/8,bad_host!"}, "MAILFLOW_ALLOW: 'bad_host!' is neither a CIDR"),
    ({"MAILFLOW_CA_FILE": "/nonexistent/ca.pem"}, "MAILFLOW_CA_FILE: no such file: '/nonexistent/ca.pem'"),
    ({"MAILFLOW_EHLO_NAME": "10.0.0.0/8"}, "MAILFLOW_EHLO_NAME: '10.0.0.0/8' is not a host name"),
    ({"MAILFLOW_PROBE_TIMEOUT": "soon"}, "MAILFLOW_PROBE_TIMEOUT: not a duration: 'soon'"),
    ({"MAILFLOW_PROBE_TIMEOUT": "0s"}, "MAILFLOW_PROBE_TIMEOUT: a duration must be more than 0"),
    ({"MAILFLOW_PARSE_TIMEOUT": "0"}, "MAILFLOW_PARSE_TIMEOUT: a duration must be more than 0"),
    ({"MAILFLOW_PARSE_WORKERS": "0"}, "MAILFLOW_PARSE_WORKERS: must be from 1 to 64, not 0"),
    ({"MAILFLOW_PARSE_WORKERS": "many"}, "MAILFLOW_PARSE_WORKERS: must be a whole number"),
    ({"MAILFLOW_WATCH_EVERY": "10s"}, "MAILFLOW_WATCH_EVERY: 10s is shorter than MAILFLOW_WATCH_MIN_EVERY (1m)"),
    ({"MAILFLOW_WATCH_FOR": "3d"}, "MAILFLOW_WATCH_FOR: 3d is longer than MAILFLOW_WATCH_MAX_FOR (1d)"),
    ({"MAILFLOW_WATCH_MAX_PER_CHANNEL": "0"}, "MAILFLOW_WATCH_MAX_PER_CHANNEL: must be from 1 to 100, not 0"),
]


@pytest.mark.parametrize(("env", "message"), BAD, ids=[next(iter(b[0])) + "=" + next(iter(b[0].values())) for b in BAD])
def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(monkeypatch, env)
    assert isinstance(caught.value, MailflowError)
    assert str(caught.value).startswith(message), str(caught.value)


def test_every_bad_setting_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as caught:
        load(monkeypatch, {"MAILFLOW_PORT": "x", "MAILFLOW_SMTP_PORT": "0", "MAILFLOW_LOG_LEVEL": "loud"})
    message = str(caught.value)
    assert all(name in message for name in ("MAILFLOW_PORT", "MAILFLOW_SMTP_PORT", "MAILFLOW_LOG_LEVEL"))


@pytest.mark.parametrize(
    ("variable", "secret"),
    [
        ("SLACK_BOT_TOKEN", "xoxp-leaked-secret"),
        ("SLACK_APP_TOKEN", "xoxb-leaked-secret"),
        ("REDIS_URL", "http://:leaked-secret@cache:6379/0"),
        ("REDIS_URL", "memcached://:leaked@secret@cache:6379/0"),  # an @ in the password
        ("REDIS_URL", "redis://:leaked-secret@cache:port/0"),
    ],
)
def test_errors_never_show_secrets(monkeypatch: pytest.MonkeyPatch, variable: str, secret: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(monkeypatch, {variable: secret})
    assert "leaked" not in str(caught.value) and "secret" not in str(caught.value)


def test_secrets_are_hidden_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, {"SLACK_BOT_TOKEN": "xoxb-very-secret", "REDIS_URL": "redis://:pw-secret@r:6379"})
    assert "very-secret" not in repr(settings) and "pw-secret" not in repr(settings)


def test_env_file_is_read_and_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env_file = tmp_path / "mailflow.env"
    env_file.write_text("MAILFLOW_PORT=4000\nMAILFLOW_SMTP_PORT=2525\nSLACK_SIGNING_SECRET=abc\nOTHER_APP=1\n")
    monkeypatch.setenv("MAILFLOW_PORT", "5000")
    settings = load_settings(env_file=env_file)
    assert (settings.port, settings.smtp_port) == (5000, 2525)
    assert settings.slack_signing_secret is not None and settings.slack_signing_secret.get_secret_value() == "abc"


def test_bad_value_in_env_file_names_the_variable(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("MAILFLOW_PORT=eighty\n")
    with pytest.raises(ConfigError, match=r"^MAILFLOW_PORT: must be a whole number, not 'eighty'$"):
        load_settings(env_file=env_file)


def test_missing_env_file_is_ignored(tmp_path: Path) -> None:
    assert load_settings(env_file=tmp_path / "absent.env").port == 3000


def test_overrides_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILFLOW_PORT", "5000")
    assert load_settings(env_file=None, port=6000).port == 6000


def test_probe_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    env = {
        "MAILFLOW_RESOLVER": "127.0.0.1:5353",
        "MAILFLOW_SMTP_PORT": "2525",
        "MAILFLOW_ALLOW": "127.0.0.0/8",
        "MAILFLOW_CA_FILE": str(ca),
        "MAILFLOW_EHLO_NAME": "probe.test",
        "MAILFLOW_PROBE_TIMEOUT": "3s",
    }
    config = load(monkeypatch, env).probe_config()
    assert config.resolver == ("127.0.0.1", 5353)
    assert (config.smtp_port, config.allow, config.ca_file, config.ehlo_name) == (
        2525,
        ("127.0.0.0/8",),
        str(ca),
        "probe.test",
    )
    assert config.timeouts == Timeouts(dns=1.5, connect=1.5, banner=1.5, command=1.5, tls=1.5, http=1.5, overall=3)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("5m", 300.0), ("2h", 7200.0), ("1d", 86400.0), ("250ms", 0.25), ("1.5h", 5400.0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "-5m", "5 minutes", "0", "5m30s"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(300, "5m"), (7200, "2h"), (5400, "90m"), (86400, "1d"), (45, "45s"), (0.5, "0.5s")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "size"), [("1", 1), ("5MB", 5_000_000), ("1KiB", 1024), ("1 GB", 10**9)])
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("parse", [parse_duration, parse_size])
def test_durations_and_sizes_are_read_in_linear_time(parse: Callable[[str], float]) -> None:
    # --since and the settings are user input: a long run of spaces before a bad unit must cost
    # ten times as much for ten times the text, not a hundred.
    def took(n: int) -> float:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            with pytest.raises(ValueError, match="not a"):
                parse("1" + " " * n + "x")
            best = min(best, time.perf_counter() - start)
        return best

    assert took(40_000) < 30 * took(4_000)
