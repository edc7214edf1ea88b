"""``mailflow explain`` end to end, as a user runs it: a real subprocess, real files, exit codes."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.explain import OUTPUT_BLOCK, _files_under, _Output

QUEUE_ERROR = (
    "450 4.4.316 Connection refused [Message=Socket error code 10061] "
    "[LastAttemptedServerName=mail.contoso.com] [LastAttemptedIP=203.0.113.25:25]\n"
)
CHAT = "550 people joined, version 5.1.1 ships Tuesday\n"


def run(*args: str, stdin: bytes = b"", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **(env or {})},
        check=False,
    )
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def test_console_script_is_installed() -> None:
    script = shutil.which("mailflow", path=str(Path(sys.executable).parent))
    assert script, "the mailflow console script is not installed next to this interpreter"
    out = subprocess.run([script, "--version"], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.startswith("mailflow ")


def test_text_from_stdin_explains_the_queue_error() -> None:
    result = run("explain", "--color", "never", stdin=QUEUE_ERROR.encode())
    assert result.returncode == 0, result.stderr
    assert "4.4.316" in result.stdout
    assert "mail.contoso.com" in result.stdout and "203.0.113.25" in result.stdout
    assert "[ ] 1." in result.stdout  # the checklist


def test_json_shape() -> None:
    result = run("explain", "--format", "json", "-", stdin=QUEUE_ERROR.encode())
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["is_ndr"] is True
    assert record["primary"]["status"] == "4.4.316" and record["primary"]["reply_code"] == "450"
    assert record["remote_host"] == "mail.contoso.com" and record["remote_ip"] == "203.0.113.25"
    assert {"file", "language", "codes", "recipients", "reporting_server", "deliveries"} <= set(record)
    explanation = record["explanation"]
    assert explanation["title"] and explanation["summary"]
    assert explanation["causes"] and explanation["checklist"]


@pytest.mark.parametrize("lang", ["es", "fr", "ja", "nl", "ko"])
def test_lang_changes_the_explanation(lang: str) -> None:
    en = json.loads(run("explain", "--format", "json", stdin=QUEUE_ERROR.encode()).stdout)
    other = json.loads(run("explain", "--format", "json", "--lang", lang, stdin=QUEUE_ERROR.encode()).stdout)
    assert other["explanation"]["language"] == lang
    assert other["explanation"]["title"] != en["explanation"]["title"]


def test_locale_picks_the_language() -> None:
    result = run("explain", "--format", "json", stdin=QUEUE_ERROR.encode(), env={"LANG": "fr_FR.UTF-8"})
    assert json.loads(result.stdout)["explanation"]["language"] == "fr"


def test_not_a_bounce_exits_2_with_a_reason() -> None:
    result = run("explain", stdin=CHAT.encode())
    assert result.returncode == 2
    assert "not a bounce" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreadable_input_exits_1_without_traceback(tmp_path: Path) -> None:
    result = run("explain", str(tmp_path / "missing.eml"))
    assert result.returncode == 1
    assert "no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_jsonl_over_a_directory(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(QUEUE_ERROR)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text(CHAT)
    result = run("explain", "--format", "jsonl", str(tmp_path))
    assert result.returncode == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(r["file"]).name for r in lines] == ["a.txt", "b.txt"]
    assert [r["is_ndr"] for r in lines] == [True, False]
    assert lines[1]["primary"] is None and lines[1]["explanation"] is None


def test_binary_garbage_is_not_a_bounce(tmp_path: Path) -> None:
    path = tmp_path / "garbage.bin"
    path.write_bytes(bytes(range(256)) * 100)
    result = run("explain", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_huge_input_is_cut_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    path.write_bytes(QUEUE_ERROR.encode() * 150_000)  # about 20 MB
    result = run("explain", "--format", "json", str(path))
    assert result.returncode == 0
    record = json.loads(result.stdout)
    assert record["truncated"] is True
    assert "only the first" in result.stderr


@pytest.mark.parametrize(
    ("code", "word"),
    [("4.4.316", "Set-AcceptedDomain"), ("5.7.620", ""), ("550", ""), ("354", "DATA"), ("221", ""), ("535", "")],
)
def test_explain_one_code(code: str, word: str) -> None:
    result = run("explain", "--code", code, "--color", "never")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(code)
    assert word in result.stdout


@pytest.mark.parametrize("code", ["banana", "154", "699", "3.1.1", "5.4", "3540"])
def test_unknown_code_exits_2(code: str) -> None:
    result = run("explain", "--code", code)
    assert result.returncode == 2
    assert "not a known" in result.stderr


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_explain_code_354_is_the_data_go_ahead(lang: str) -> None:
    result = run("explain", "--code", "354", "--lang", lang, "--format", "json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert (record["code"], record["key"], record["language"]) == ("354", "354", lang)
    assert record["checklist"] == []


def test_bad_arguments_exit_2() -> None:
    result = run("explain", "--format", "xml")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


@pytest.mark.parametrize("url", ["memcached://:s3cret@cache:11211/0", "redis://:s3cret@cache:port/0"])
@pytest.mark.parametrize(
    "command",
    [["serve"], ["worker"], ["diagnose", "contoso.test", "--resolver", "127.0.0.1:9"]],
    ids=["serve", "worker", "diagnose"],
)
def test_a_redis_url_it_cannot_use_is_bad_configuration(command: list[str], url: str, tmp_path: Path) -> None:
    """Exit 2 (bad configuration, as for bad usage), naming REDIS_URL, never the password."""
    env = {"REDIS_URL": url, "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "x" * 32}
    result = run(*command, *(["--env-file", str(tmp_path / "none")] if command[0] != "diagnose" else []), env=env)
    assert result.returncode == 2, result.stderr
    assert "REDIS_URL" in result.stderr
    assert "s3cret" not in result.stderr
    assert "Traceback" not in result.stderr


def test_explain_loads_only_what_it_uses(tmp_path: Path) -> None:
    # Every run pays for what `mailflow` imports: explain to JSON must not load the other
    # commands (probes, Slack, the worker), the terminal renderer or a process pool.
    samples = Path(__file__).parent / "samples"
    script = (
        "import sys\n"
        "from bot.cli import main\n"
        f"status = main(['explain', '--format', 'jsonl', {str(samples / 'postfix')!r}])\n"
        "print(sorted(m for m in sys.modules if m.startswith(('bot.cli.', 'bot.render.', 'bot.probes', "
        "'bot.slack', 'multiprocessing', 'concurrent'))), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "MAILFLOW_CACHE_DIR": str(tmp_path)},
        check=False,
    )
    assert proc.stdout.count("\n") > 3, proc.stderr
    loaded = proc.stderr.strip().splitlines()[-1]
    assert loaded == "['bot.cli.explain', 'bot.render.record']", loaded


@pytest.mark.parametrize(
    ("encoding", "errors"),
    [("utf-8", "strict"), ("UTF8", "surrogateescape"), ("latin-1", "replace"), ("utf-16", "strict")],
)
def test_answers_are_written_as_the_text_stream_would_write_them(encoding: str, errors: str) -> None:
    """Each answer is encoded on its own and written in blocks of bytes: the same bytes, in the
    same order, as writing the answers to the text stream, also after text written there."""
    answers = ["plain\n", "caf\u00e9 \u2019quoted\u2019 \u30e1\u30fc\u30eb\n", "x" * OUTPUT_BLOCK + "\n", "\udcff\n"]
    if errors == "strict":
        answers.pop()  # a lone surrogate: written only where the error handler allows it
    written = io.BytesIO()
    stdout = io.TextIOWrapper(written, encoding=encoding, errors=errors)
    stdout.write("before\n")
    output = _Output(stdout)
    for answer in answers:
        output.write(answer)
    output.flush()
    stdout.flush()
    assert written.getvalue() == "".join(["before\n", *answers]).encode(encoding, errors)


def test_files_under_a_directory_come_in_the_order_of_their_path_components(tmp_path: Path) -> None:
    for name in (
        "a/x",
        "a/ x",
        "a.b/y",
        "a b/z",
        "a0",
        "b/c/w",
        "b/c.d/v",
        "b/c0",
        "b/Z",
        "b/\u00e9",
        ".hidden/f",
        "b/.h",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    wanted = [str(p) for p in sorted(tmp_path.rglob("*")) if p.is_file() and not p.name.startswith(".")]
    assert _files_under(str(tmp_path)) == wanted
