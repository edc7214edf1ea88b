"""Shared fixtures: where the shared reference material and the sample table live.

The Sisimai corpus and the reference files are read in place from ``../shared`` (or
``MAILFLOW_SHARED``). Outside CI a missing ``shared/`` skips those tests; under CI (``CI=true``)
it fails them, so a CI run can never pass without having read the corpus. The knowledge cache
goes to a directory of the run, never the user's own.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "samples"
SHARED = Path(os.environ.get("MAILFLOW_SHARED", ROOT.parent / "shared"))


def pytest_configure(config: pytest.Config) -> None:
    # The knowledge cache the CLI keeps goes to a directory of this run, not the user's home
    # (subprocesses inherit it); the cache's own tests set theirs.
    os.environ.setdefault("MAILFLOW_CACHE_DIR", tempfile.mkdtemp(prefix="mailflow-test-cache-"))


def shared_path(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"{path} is missing: put the shared/ folder beside the checkout or set MAILFLOW_SHARED"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return shared_path("corpus", "sisimai", "maildir")


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return shared_path("reference")


def load_cases() -> list[dict[str, Any]]:
    with (SAMPLES / "cases.toml").open("rb") as fh:
        cases: list[dict[str, Any]] = tomllib.load(fh)["case"]
    return cases
