"""``mailflow summary`` end to end: a real subprocess over the repository's samples and over
bounces written here with dates relative to now; the chart decoded as a real PNG."""

from __future__ import annotations

import csv
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
from bot.cli.summary import PROGRESS_FROM
from bot.render.chart import HEIGHT_PX, WIDTH_PX, cjk_font
from bot.summary import BUCKETS, MAX_BUCKETS, Event, pick_bucket, summarise, timeline

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
    assert pick_bucket(0, 10 * 365 * 86400) == BUCKETS[-1]


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
        at=st.one_of(st.none(), st.floats(1.6e9, 1.7e9)),
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
    assert len(summary.timeline.starts) <= MAX_BUCKETS or summary.timeline.bucket_s == BUCKETS[-1]
    assert summary.recipients == len({r for e in bounces for r in e.recipients})
    if dated:
        assert summary.first == min(e.at for e in dated if e.at is not None)
        starts = summary.timeline.starts
        assert (
            starts[0] <= summary.first
            and summary.last is not None
            and summary.last < starts[-1] + summary.timeline.bucket_s
        )
