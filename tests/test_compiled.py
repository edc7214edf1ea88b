"""The parser is compiled to C when installed (mypyc, ``pyproject.toml``): the compiled and the
plain modules must stay one program. An editable install compiles them in place, beside their
sources, and Python loads a compiled module before its source: a compiled module older than its
source would run code that is no longer there.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES

PARSE = ROOT / "bot" / "parse"
_HOOK = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]
_EXCLUDED = {ROOT / path.lstrip("/") for path in _HOOK["custom"]["exclude"]}
COMPILED = sorted(p for p in PARSE.glob("*.py") if p not in _EXCLUDED)
_REBUILD = "rebuild it: pip install -e '.[test]' (HATCH_BUILD_NO_HOOKS=true installs the plain sources)"


def _built(source: Path) -> list[Path]:
    """The compiled modules beside ``source`` (``reading.cpython-311-x86_64-linux-gnu.so``)."""
    return [p for p in source.parent.glob(f"{source.stem}.*") if p.suffix in (".so", ".pyd")]


def test_the_build_compiles_the_parser_but_its_package_module_and_value_objects() -> None:
    assert _HOOK["custom"]["path"] == "deploy/build_hook.py"
    assert _HOOK["custom"]["include"] == ["/bot/parse"]
    assert {p.name for p in _EXCLUDED} == {"__init__.py", "model.py"}
    assert {p.name for p in COMPILED} >= {"reading.py", "source.py", "reason.py", "codes.py"}


@pytest.mark.parametrize("source", COMPILED, ids=lambda p: p.name)
def test_no_compiled_module_lowercases_text_with_the_method(source: Path) -> None:
    """Compiled, ``text.lower()`` becomes mypyc's own lower-casing, which lowers a final capital
    sigma to "σ" where Python gives "ς" (``"ΟΔΟΣ".lower()``): the parser calls ``str.lower(text)``,
    which stays Python's. A line that lowers bytes says ``# bytes``."""
    lines = source.read_text(encoding="utf-8").splitlines()
    found = [
        f"{source.name}:{node.lineno}"
        for node in ast.walk(ast.parse("\n".join(lines)))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "lower"
        and not (isinstance(node.func.value, ast.Name) and node.func.value.id == "str")
        and not lines[node.lineno - 1].endswith("# bytes")
    ]
    assert found == []


def test_each_compiled_module_is_as_new_as_its_source() -> None:
    stale = [
        f"{built.name} is older than {source.name}"
        for source in COMPILED
        for built in _built(source)
        if built.stat().st_mtime < source.stat().st_mtime
    ]
    assert stale == [], _REBUILD
    strays = [built.name for source in _EXCLUDED for built in _built(source)]
    assert strays == [], "compiled modules the build no longer makes: delete them, or " + _REBUILD


def test_the_parser_in_use_is_compiled_under_ci() -> None:
    """CI installs as users do (``.ci/run``: ``pip install -e``), so its tests run the compiled
    parser; elsewhere an install of the plain sources is allowed."""
    origins = {p.stem: importlib.util.find_spec(f"bot.parse.{p.stem}").origin for p in COMPILED}  # type: ignore[union-attr]
    plain = sorted(name for name, origin in origins.items() if not str(origin).endswith((".so", ".pyd")))
    if plain and not os.environ.get("CI"):
        pytest.skip(f"the parser is installed uncompiled here ({', '.join(plain)})")
    assert plain == []


def test_compiled_and_plain_parsers_answer_alike(tmp_path: Path) -> None:
    """The samples, the examples and a report in capitals that lower-case differently (a final
    sigma, a dotted capital I), read by the parser in use and by its plain sources alone (a copy
    without compiled modules): every answer is the same. (``test_casing`` compares the
    lower-casing itself with Python's.)"""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "casing.txt").write_text(
        "Subject: Undelivered Mail Returned to Sender\nFrom: MAILER-DAEMON@example.org\n\n"
        "<ΟΔΟΣ@example.gr>: host mx.example.gr said: 550 5.1.1 ΑΠΟΤΥΧΙΑ ΠΑΡΑΔΟΣΗΣ: ΧΡΗΣΤΗΣ ΑΓΝΩΣΤΟΣ\n"
        "<İSTANBUL@example.com.tr>: 550 5.7.1 İLETİ REDDEDİLDİ (POLİCY)\n",
        encoding="utf-8",
    )
    plain = tmp_path / "plain"
    shutil.copytree(ROOT / "bot", plain / "bot", ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    shutil.copytree(ROOT / "knowledge", plain / "knowledge", ignore=shutil.ignore_patterns("__pycache__"))
    args = [
        "explain",
        "--jobs",
        "1",
        "--format",
        "jsonl",
        "--lang",
        "fr",
        str(inputs),
        str(SAMPLES),
        str(ROOT / "docs" / "examples"),
    ]
    run = [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())", *args]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    in_use = subprocess.run(run, capture_output=True, cwd=tmp_path, env=env, check=False, timeout=300)
    alone = subprocess.run(
        run, capture_output=True, cwd=plain, env={**env, "PYTHONPATH": str(plain)}, check=False, timeout=300
    )
    assert in_use.returncode == alone.returncode
    assert in_use.stdout.count(b"\n") > 50
    assert in_use.stdout == alone.stdout
    assert in_use.stderr == alone.stderr


def test_a_machine_that_cannot_compile_still_installs_the_plain_parser(tmp_path: Path) -> None:
    """With no C compiler (``CC`` names none), the wheel is built from the plain sources and the
    build says why (``deploy/build_hook.py``). Built offline, from a copy of the project, with the
    build tools of this environment."""
    project = tmp_path / "project"
    skip = shutil.ignore_patterns("*.so", "*.pyd", "__pycache__")
    for name in ("bot", "handlers", "knowledge"):
        shutil.copytree(ROOT / name, project / name, ignore=skip)
    (project / "deploy").mkdir()
    for name in ("pyproject.toml", "README.md", "deploy/build_hook.py"):
        shutil.copyfile(ROOT / name, project / name)
    build = [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation", "--no-index"]
    env = {**os.environ, "CC": str(tmp_path / "no-such-compiler"), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run(
        [*build, "-w", str(tmp_path / "wheels"), str(project)], capture_output=True, env=env, check=False, timeout=600
    )
    output = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    assert done.returncode == 0, output[-3000:]
    assert "mailflow: the parser is installed uncompiled (mypyc failed:" in output
    [wheel] = (tmp_path / "wheels").glob("*.whl")
    assert wheel.name.endswith("-py3-none-any.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "bot/parse/reading.py" in names
    assert [n for n in names if n.endswith((".so", ".pyd"))] == []
    assert list(project.rglob("*.so")) == []  # nothing half-built left beside the sources
