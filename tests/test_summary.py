"""``mailflow summary`` end to end: a real subprocess over the repository's samples and over
bounces written here with dates relative to now; the chart decoded as a real PNG."""

from __future__ import annotations

import csv
import datetime as dt
import email.utils
import fcntl
import io
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bot import knowledge
from bot.cli.explain import MAX_ASKED_JOBS, PARALLEL_FROM, Input, _jobs, _outcomes
from bot.cli.summary import PROGRESS_FROM
from bot.explain import explain_code
from bot.parse import parse_bounce
from bot.parse.phrases import REASONS
from bot.parse.reason import STATUS_NAME
from bot.parse.source import MAX_BYTES
from bot.render.chart import HEIGHT_PX, WIDTH_PX, cjk_font, write_chart
from bot.render.summary import render_summary_text, summary_message
from bot.render.terminal import display_width
from bot.summary import (
    BUCKETS,
    MAX_BUCKETS,
    MAX_RECIPIENTS,
    Event,
    diagnosis_event,
    event_from_bounce,
    pick_bucket,
    summarise,
    timeline,
)
from tests.test_many_recipients import postfix_bounce as many_recipients

SAMPLES = Path(__file__).parent / "samples"
ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}

pytestmark = pytest.mark.timeout(120)


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, timeout=110, env=ENV, check=False
    )
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def postfix_bounce(recipient: str, *, age_s: float, code: str = "5.1.1") -> str:
    date = email.utils.formatdate(time.time() - age_s)
    return (
        f"From: MAILER-DAEMON@mx.example.org\nTo: alice@example.org\nDate: {date}\n"
        "Subject: Undelivered Mail Returned to Sender\nContent-Type: text/plain\n\n"
        "This is the mail system at host mx.example.org.\n\n"
        f"<{recipient}>: host mail.example.net[203.0.113.5] said: 550 {code} <{recipient}>: "
        "Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)\n"
    )


def exchange_bounce(recipient: str, *, age_s: float) -> str:
    date = email.utils.formatdate(time.time() - age_s)
    host = recipient.split("@")[1]
    return (
        f"From: postmaster@contoso.onmicrosoft.com\nTo: alice@example.org\nDate: {date}\n"
        "Subject: Undeliverable: status report\nContent-Type: text/plain\n\n"
        f"Delivery has failed to these recipients or groups:\n\n{recipient}\n\n"
        "Remote Server returned '450 4.4.316 Connection refused [Message=Socket error code 10061] "
        f"[LastAttemptedServerName=mail.{host}] [LastAttemptedIP=203.0.113.25:25]'\n"
    )


@pytest.fixture
def incident(tmp_path: Path) -> Path:
    """Six bounces within the last hour (4 x 4.4.316 to two domains, 2 x 5.1.1), one from three
    days ago, one not a bounce."""
    files = {
        "a.eml": exchange_bounce("ann@fabrikam.com", age_s=3000),
        "b.eml": exchange_bounce("bob@fabrikam.com", age_s=2400),
        "c.eml": exchange_bounce("ann@fabrikam.com", age_s=1800),  # the same recipient again
        "d.eml": exchange_bounce("cy@tailspin.example", age_s=600),
        "e.eml": postfix_bounce("dee@example.net", age_s=1200),
        "f.eml": postfix_bounce("ed@example.net", age_s=300),
        "old.eml": postfix_bounce("old@example.net", age_s=3 * 86400),
        "chat.txt": "550 people joined, version 5.1.1 ships Tuesday\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_counts_codes_domains_recipients_and_dates(incident: Path) -> None:
    result = run("summary", str(incident), "--format", "json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert (record["bounces"], record["not_bounces"], record["unreadable"]) == (7, 1, 0)
    assert record["recipients"] == 6  # ann@fabrikam.com bounced twice
    by_code = {row["code"]: row for row in record["by_code"]}
    assert by_code["4.4.316"]["count"] == 4 and by_code["5.1.1"]["count"] == 3
    assert by_code["4.4.316"]["domains"] == [
        {"domain": "fabrikam.com", "count": 3},
        {"domain": "tailspin.example", "count": 1},
    ]
    assert by_code["4.4.316"]["title"] == knowledge.load("en").exact["4.4.316"].title
    assert record["by_code"][0]["code"] == "4.4.316"  # the most frequent first
    assert by_code["4.4.316"]["share"] == pytest.approx(4 / 7, abs=1e-3)
    assert {row["domain"]: row["count"] for row in record["by_domain"]} == {
        "fabrikam.com": 3,
        "example.net": 3,
        "tailspin.example": 1,
    }
    first, last = record["first_seen"], record["last_seen"]
    assert first < by_code["4.4.316"]["first_seen"] <= by_code["4.4.316"]["last_seen"] < last
    assert sum(sum(b["counts"].values()) for b in record["timeline"]) == 7


def test_since_counts_only_the_window_by_each_bounces_own_date(incident: Path) -> None:
    record = json.loads(run("summary", str(incident), "--since", "2h", "--format", "json").stdout)
    assert record["bounces"] == 6 and record["left_out"] == 1
    assert record["since_s"] == 7200
    # A one-hour span: buckets of minutes, not days.
    assert record["bucket_s"] <= 300
    assert len(record["timeline"]) <= MAX_BUCKETS
    result = run("summary", str(incident), "--since", "10s")
    assert result.returncode == 2 and "no bounces in the last 10s" in result.stderr
    bad = run("summary", str(incident), "--since", "soon")
    assert bad.returncode == 2 and "--since" in bad.stderr


def test_json_schema_on_the_samples_matches_explain() -> None:
    summary = run("summary", str(SAMPLES), "--format", "json", "--jobs", "1")
    assert summary.returncode == 0, summary.stderr
    record = json.loads(summary.stdout)
    top = {"bounces", "not_bounces", "unreadable", "by_code", "by_domain", "timeline"}
    assert top <= set(record)
    for row in record["by_code"]:
        assert {"code", "title", "count", "domains", "first_seen", "last_seen"} <= set(row)
        assert all(set(d) == {"domain", "count"} for d in row["domains"])
        assert row["code"] is None or isinstance(row["title"], str)
    for bucket in record["timeline"]:
        assert set(bucket) == {"start", "counts"} and bucket["start"].endswith("Z")
    # The same parser as explain: the same bounces, the same primary codes.
    lines = run("explain", str(SAMPLES), "--format", "jsonl", "--jobs", "1").stdout.splitlines()
    explained = [json.loads(line) for line in lines]
    ndrs = [r for r in explained if r["is_ndr"]]
    assert record["bounces"] == len(ndrs) > 50
    assert record["not_bounces"] == len(explained) - len(ndrs)
    codes = Counter((r["primary"] or {}).get("status") or (r["primary"] or {}).get("reply_code") for r in ndrs)
    assert {row["code"]: row["count"] for row in record["by_code"]} == dict(codes)
    dated = sum(1 for r in ndrs if r["date"])
    assert record["undated"] == len(ndrs) - dated
    assert sum(sum(b["counts"].values()) for b in record["timeline"]) == dated
    assert sum(row["share"] for row in record["by_code"]) == pytest.approx(1.0, abs=0.01)


def test_parallel_workers_give_the_same_summary() -> None:
    args = ["summary", str(SAMPLES), str(SAMPLES), str(SAMPLES), "--format", "json"]  # over 200 inputs: workers
    one, many = run(*args, "--jobs", "1"), run(*args, "--jobs", "2")
    assert one.returncode == many.returncode == 0, many.stderr
    assert json.loads(one.stdout) == json.loads(many.stdout)
    assert json.loads(one.stdout)["bounces"] > 150


def _worker_pid(item: Input) -> int:
    return os.getpid()


def test_a_huge_jobs_count_starts_only_a_few_workers() -> None:
    # Every worker starts at once: --jobs 100000 must not fork 100000 processes.
    assert _jobs(100_000) == MAX_ASKED_JOBS and _jobs(0) == 1
    items = [Input(f"in-{n}", b"") for n in range(PARALLEL_FROM)]
    pids = set(_outcomes(items, _worker_pid, jobs=_jobs(100_000)))
    assert os.getpid() in pids and 2 <= len(pids) <= PARALLEL_FROM // 8  # this process works too


@pytest.mark.parametrize("by", ["code", "domain", "reason"])
def test_csv_rows_add_up(incident: Path, by: str) -> None:
    result = run("summary", str(incident), "--format", "csv", "--by", by)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert by in rows[0] and "count" in rows[0] and "first_seen" in rows[0]
    if by == "code":
        assert {r["code"]: r["title"] for r in rows}["4.4.316"] == knowledge.load("en").exact["4.4.316"].title
        assert {r["code"]: r["domains"] for r in rows}["4.4.316"] == "fabrikam.com=3;tailspin.example=1"
    if by != "domain":  # a bounce counts once per code and reason (per domain it may count more than once)
        assert sum(int(r["count"]) for r in rows) == 7
    assert sum(float(r["share"]) for r in rows) == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("lang", ["es", "fr", "ja", "nl", "ko"])
def test_text_table_in_the_chosen_language(incident: Path, lang: str) -> None:
    result = run("summary", str(incident), "--lang", lang)
    assert result.returncode == 0, result.stderr
    ui = knowledge.load(lang).ui
    assert ui["summary_bounces"] in result.stdout and ui["summary_recipients"] in result.stdout
    assert knowledge.load(lang).exact["4.4.316"].title in result.stdout


@pytest.mark.parametrize("lang", ["ja", "ko", "en"])
def test_text_table_columns_line_up_by_display_width(lang: str) -> None:
    # Japanese and Korean titles take two terminal cells a character: the count and share
    # columns must still end in one column, on every row of every table.
    result = run("summary", str(SAMPLES), "--lang", lang, "--jobs", "1")
    assert result.returncode == 0, result.stderr
    tables = result.stdout.split("\n\n")[1:4]
    assert len(tables) == 3
    for table in tables:
        rows = table.splitlines()[1:]
        ends = {display_width(row[: row.index("%") + 1]) for row in rows}
        assert len(rows) > 3 and len(ends) == 1, (lang, table)
    assert any(display_width(row) > len(row) for row in tables[0].splitlines()) == (lang != "en")


def test_every_reason_the_parser_gives_is_in_words_in_every_language(incident: Path) -> None:
    # Phrase tables, not reasons.
    phrases_only = {"blocked_connection", "rejected_not", "rejected_sender", "userunknown_stated", "content_rejected"}
    reasons = {*REASONS, *STATUS_NAME.values(), "onhold", "undefined", "delivered"} - phrases_only
    for lang in knowledge.LANGUAGES:
        ui = knowledge.load(lang).ui
        assert not [r for r in sorted(reasons) if not ui.get(f"reason_{r}")], lang
    table = run("summary", str(incident), "--lang", "ja", "--by", "reason").stdout.split("\n\n")[1]
    ja = knowledge.load("ja").ui
    assert ja["reason_userunknown"] in table and "userunknown" not in table
    record = json.loads(run("summary", str(incident), "--lang", "ja", "--format", "json").stdout)
    assert "userunknown" in {r["reason"] for r in record["by_reason"]}  # JSON keeps the name


def test_text_leads_with_the_grouping_asked_for(incident: Path) -> None:
    by_domain = run("summary", str(incident), "--by", "domain").stdout.split("\n\n")
    assert by_domain[1].splitlines()[0].startswith("Destination")
    by_reason = run("summary", str(incident), "--by", "reason").stdout.split("\n\n")
    assert by_reason[1].splitlines()[0].startswith("Reason")


def _decode(path: Path) -> Image.Image:
    image = Image.open(path)
    image.load()
    assert image.format == "PNG"
    return image.convert("RGB")


def _ink(image: Image.Image) -> tuple[float, int]:
    """The share of pixels that are not white, and how many distinct colours there are."""
    colours = {colour: n for n, colour in image.getcolors(maxcolors=1 << 24) or []}
    total = image.size[0] * image.size[1]
    return (total - colours.get((255, 255, 255), 0)) / total, len(colours)


def test_chart_is_a_real_png_about_1200_px_wide_with_bars(incident: Path, tmp_path: Path) -> None:
    chart = tmp_path / "war-room.png"
    result = run("summary", str(incident), "--since", "2h", "--chart", str(chart), "--format", "json")
    assert result.returncode == 0, result.stderr
    image = _decode(chart)
    assert image.size == (WIDTH_PX, HEIGHT_PX) and 1100 <= image.size[0] <= 1300
    ink, colours = _ink(image)
    assert 0.03 < ink < 0.8
    assert colours > 20
    # The two codes' colours (the first two of the palette) are drawn as bars.
    pixels = {colour for _, colour in image.getcolors(maxcolors=1 << 24) or []}
    assert (214, 39, 40) in pixels and (31, 119, 180) in pixels


@pytest.mark.parametrize("lang", ["fr", "ja"])
def test_long_titles_leave_the_bars_the_width_of_the_chart(tmp_path: Path, lang: str) -> None:
    # The longest titles in the legend: cut to fit, so the bars keep most of the width (an
    # uncut Japanese legend squeezed them into a tenth of it).
    titles = knowledge.load(lang).exact
    codes = sorted(titles, key=lambda c: (-len(titles[c].title), c))[:8]
    events = [Event("bounce", 1_700_000_000 + n * 600 + i, c, c) for i, c in enumerate(codes) for n in range(i + 1)]
    chart = tmp_path / "long.png"
    write_chart(summarise(events), chart, language=lang)
    image = _decode(chart)
    red = [x for x in range(image.size[0]) for y in range(60, 470, 10) if image.getpixel((x, y)) == (214, 39, 40)]
    assert red and max(red) - min(red) > 0.7 * image.size[0]


def test_chart_of_nothing_says_so_and_is_still_a_png(incident: Path, tmp_path: Path) -> None:
    chart = tmp_path / "empty.png"
    result = run("summary", str(incident / "chat.txt"), "--chart", str(chart))
    assert result.returncode == 2
    image = _decode(chart)
    assert image.size == (WIDTH_PX, HEIGHT_PX)
    assert 0 < _ink(image)[0] < 0.2  # the title and the "no bounces" line


@pytest.mark.parametrize("lang", ["ja", "ko"])
def test_cjk_chart_uses_a_cjk_font_or_falls_back_to_english(incident: Path, tmp_path: Path, lang: str) -> None:
    chart = tmp_path / f"{lang}.png"
    result = run("summary", str(incident), "--chart", str(chart), "--lang", lang)
    assert result.returncode == 0, result.stderr
    assert _ink(_decode(chart))[0] > 0.03
    if cjk_font(lang):
        assert "in English" not in result.stderr
    else:
        assert "labels are in English" in result.stderr
    assert "Glyph" not in result.stderr  # no "missing glyph" warnings: no empty boxes


def test_chart_without_matplotlib_says_how_to_get_it(incident: Path, tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from bot.cli import main\n"
        f"sys.exit(main(['summary', {str(incident)!r}, '--chart', {str(tmp_path / 'x.png')!r}]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=60, check=False
    )
    assert proc.returncode == 1
    assert "pip install 'mailflow[chart]'" in proc.stderr
    assert not (tmp_path / "x.png").exists()


def _on_a_terminal(args: list[str]) -> tuple[int, bytes, bytes]:
    """Run with stderr on a pseudo-terminal 100 columns wide: (exit status, stdout, the terminal's bytes)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bot", *args],
            stdout=subprocess.PIPE,
            stderr=follower,
            env=ENV,
            timeout=110,
            check=False,
        )
    finally:
        os.close(follower)
        reader.join(10)
        os.close(leader)
    return proc.returncode, proc.stdout, b"".join(chunks)


def test_progress_bar_only_on_a_terminal() -> None:
    assert len([p for p in SAMPLES.rglob("*") if p.is_file()]) >= PROGRESS_FROM
    quiet = run("summary", str(SAMPLES), "--jobs", "1")
    assert quiet.returncode == 0
    assert "%|" not in quiet.stderr and "file/s" not in quiet.stderr
    status, stdout, terminal = _on_a_terminal(["summary", str(SAMPLES), "--jobs", "1"])
    assert status == 0
    assert b"%|" in terminal and b"file" in terminal
    assert b"%|" not in stdout and b"Bounces" in stdout
    # A handful of files: no bar even on a terminal.
    status, _, terminal = _on_a_terminal(["summary", str(SAMPLES / "queue")])
    assert status == 0 and b"%|" not in terminal


# -- the pure parts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("span_s", "bucket_s"), [(0, 60), (30 * 60, 60), (2 * 3600, 300), (12 * 3600, 1800), (3 * 86400, 7200)]
)
def test_bucket_follows_the_span(span_s: int, bucket_s: int) -> None:
    assert pick_bucket(1_700_000_000, 1_700_000_000 + span_s) == bucket_s
    assert span_s // bucket_s + 1 <= MAX_BUCKETS


@pytest.mark.parametrize("span_s", [10 * 365 * 86400, 8000 * 365 * 86400, 48 * BUCKETS[-1]])
def test_a_span_of_years_still_gives_few_bars(span_s: int) -> None:
    # One bounce dated 1990 among today's must not draw a hundred thousand bars.
    first = 631_152_000.0  # 1990-01-01
    bucket = pick_bucket(first, first + span_s)
    assert bucket % BUCKETS[-1] == 0
    line = timeline([Event("bounce", first, "5.1.1"), Event("bounce", first + span_s, "4.4.316")])
    assert line.bucket_s == bucket and 2 <= len(line.starts) <= MAX_BUCKETS


def test_timeline_keeps_empty_buckets_between() -> None:
    base = 1_700_000_000 // 3600 * 3600
    events = [Event("bounce", base + 10, "5.1.1"), Event("bounce", base + 7000, "4.4.316"), Event("bounce", None)]
    line = timeline(events)
    assert line.bucket_s == 300
    assert len(line.starts) == 24 and sum(sum(c.values()) for c in line.counts) == 2
    assert line.counts[0] == {"5.1.1": 1} and line.counts[-1] == {"4.4.316": 1}
    assert summarise(events).undated == 1


def test_events_round_trip_without_addresses() -> None:
    event = Event("bounce", 1.5, "5.1.1", "5.1.1", "userunknown", ("contoso.com",), ("0123456789abcdef",))
    raw = event.dumps()
    assert b"@" not in raw
    assert Event.loads(raw) == event
    assert Event.loads(b"{not json") is None and Event.loads(b'{"at": 1}') is None


_events = st.lists(
    st.builds(
        Event,
        kind=st.sampled_from(["bounce", "bounce", "diagnosis"]),
        at=st.one_of(st.none(), st.floats(1.6e9, 1.7e9), st.floats(6.3e8, 2.5e11)),
        code=st.one_of(st.none(), st.sampled_from(["4.4.316", "5.1.1", "550", "4.7.320"])),
        domains=st.lists(st.sampled_from(["a.test", "b.test", "c.test"]), max_size=3, unique=True).map(tuple),
        recipients=st.lists(st.sampled_from(["r1", "r2", "r3", "r4"]), max_size=3).map(tuple),
        reason=st.one_of(st.none(), st.sampled_from(["expired", "userunknown"])),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(_events, st.one_of(st.none(), st.floats(1.6e9, 1.7e9)))
def test_the_tables_add_up(events: list[Event], since: float | None) -> None:
    summary = summarise(events, since=since)
    bounces = [e for e in events if e.kind == "bounce" and (since is None or (e.at is not None and e.at >= since))]
    assert summary.bounces == len(bounces) == sum(g.count for g in summary.by_code)
    assert summary.bounces == sum(g.count for g in summary.by_reason)
    assert summary.left_out == sum(1 for e in events if e.kind == "bounce") - len(bounces)
    dated = [e for e in bounces if e.at is not None]
    assert sum(sum(c.values()) for c in summary.timeline.counts) == len(dated)
    assert len(summary.timeline.starts) <= MAX_BUCKETS
    assert summary.recipients == len({r for e in bounces for r in e.recipients})
    if dated:
        assert summary.first == min(e.at for e in dated if e.at is not None)
        starts = summary.timeline.starts
        assert (
            starts[0] <= summary.first
            and summary.last is not None
            and summary.last < starts[-1] + summary.timeline.bucket_s
        )


def test_the_slack_diagnoses_line_says_a_failure_in_words() -> None:
    events = [
        diagnosis_event("parked.example", None, "null-mx", at=1_700_000_000),
        diagnosis_event("slow.example", None, "incomplete", at=1_700_000_100),
        diagnosis_event("fine.example", None, None, at=1_700_000_200),
    ]
    kb = knowledge.load("ja")
    text = json.dumps(summary_message(summarise(events), kb.ui, language="ja", window="1d").blocks, ensure_ascii=False)
    null_mx = explain_code("556", "ja")
    assert null_mx is not None and null_mx.title in text
    assert kb.ui["incomplete"] in text and kb.ui["summary_healthy"] in text
    assert "null-mx" not in text and '"incomplete' not in text


def test_a_file_read_only_in_part_is_said_on_stderr(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text(postfix_bounce("ann@contoso.com", age_s=60) + "\n" + "x" * (MAX_BYTES + 10))
    result = run("summary", str(big), str(SAMPLES / "postfix"))
    assert result.returncode == 0, result.stderr
    assert f"{big}: input is " in result.stderr and f"only the first {MAX_BYTES}" in result.stderr
    assert result.stderr.count("mailflow: ") == 1


def test_a_destination_with_control_characters_is_shown_not_obeyed() -> None:
    events = [Event("bounce", 1_700_000_000, "4.4.316", domains=("mx\x1b]0;pwned\x07.contoso.com",))]
    text = render_summary_text(summarise(events), knowledge.load("en").ui, by="domain")
    assert "\x1b" not in text and "\x07" not in text and "mx\ufffd]0;pwned\ufffd.contoso.com" in text


def test_every_recipient_counts_on_the_command_line_and_the_store_keeps_a_bounded_event(tmp_path: Path) -> None:
    (tmp_path / "many.eml").write_text(many_recipients(300))
    record = json.loads(run("summary", str(tmp_path), "--format", "json").stdout)
    assert record["bounces"] == 1 and record["recipients"] == 300
    bounce = parse_bounce(many_recipients(300).encode())
    event = event_from_bounce(bounce, None)
    assert len(event.recipients) == 300
    kept = Event.loads(event.dumps())
    assert kept is not None and len(kept.recipients) == MAX_RECIPIENTS and kept.domains == ("fabrikam.com",)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_bounce_answered_by_its_reply_code_has_explains_title(tmp_path: Path, language: str) -> None:
    # 454 4.7.0: X.7.0 says only "other security", so explain answers with the 454 entry (SMTP AUTH).
    bounce = postfix_bounce("ann@fabrikam.com", age_s=60, code="4.7.0").replace("550 4.7.0", "454 4.7.0")
    (tmp_path / "auth.eml").write_text(bounce.replace("User unknown in virtual mailbox table", "Try again later"))
    explained = json.loads(run("explain", str(tmp_path / "auth.eml"), "--format", "json", "--lang", language).stdout)
    record = json.loads(run("summary", str(tmp_path), "--format", "json", "--lang", language).stdout)
    [row] = record["by_code"]
    assert explained["explanation"]["code"] == "454"
    assert row["title"] == explained["explanation"]["title"]


@pytest.mark.parametrize(
    ("language", "bucket_s", "words"),
    [("en", 300, "5 min"), ("fr", 7 * 86400, "7 j"), ("ja", 3600, "1時間"), ("ko", 300, "5분"), ("nl", 7200, "2 u")],
)
def test_the_chart_titles_bucket_is_in_the_readers_words(language: str, bucket_s: int, words: str) -> None:
    from bot.render.chart import chart_title  # noqa: PLC0415

    title = chart_title(bucket_s, knowledge.load(language).ui)
    assert words in title
    assert not any(raw in title for raw in ("5m", "7d", "1h", "2h"))


def test_every_bucket_the_chart_can_pick_has_words_in_every_language() -> None:
    from bot.render.chart import chart_title  # noqa: PLC0415
    from bot.summary import BUCKETS  # noqa: PLC0415

    for language in knowledge.LANGUAGES:
        for bucket_s in (*BUCKETS, 28 * 86400 * 3, 45):
            assert "{" not in chart_title(bucket_s, knowledge.load(language).ui)


def test_a_bounce_dated_in_the_future_is_counted_but_its_date_left_out(tmp_path: Path) -> None:
    (tmp_path / "now.eml").write_text(postfix_bounce("ann@fabrikam.com", age_s=600))
    (tmp_path / "ahead.eml").write_text(postfix_bounce("bob@fabrikam.com", age_s=-3 * 365 * 86400))  # a clock off
    (tmp_path / "late.eml").write_text(postfix_bounce("cy@fabrikam.com", age_s=-3600))  # within a day: kept
    record = json.loads(run("summary", str(tmp_path), "--format", "json").stdout)
    assert record["bounces"] == 3 and record["future"] == 1 and record["undated"] == 0
    last = dt.datetime.fromisoformat(record["last_seen"].replace("Z", "+00:00"))
    assert last < dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert sum(n for bar in record["timeline"] for n in bar["counts"].values()) == 2
    text = run("summary", str(tmp_path)).stdout
    assert "1 bounce(s) are dated in the future" in text
