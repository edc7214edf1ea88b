"""The wheel's build hook (``pyproject.toml``): hatch-mypyc's, compiling the parser (``bot/parse``)
to C, except that a machine that cannot compile it still installs mailflow.

Without a C compiler or Python's headers, mypyc's build fails; the wheel is then built from the
plain sources (the same answers, for more CPU time) and the build says why. CI runs its tests on
the compiled parser (``tests/test_compiled.py``), so a failure there is not hidden.
"""

from __future__ import annotations

from typing import Any

from hatch_mypyc.plugin import MypycBuildHook


class CompiledWhenPossible(MypycBuildHook):  # type: ignore[misc]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        try:
            super().initialize(version, build_data)
        except Exception as exc:  # hatch-mypyc raises a bare Exception holding the compiler's output
            self.clean([version])  # nothing half-built stays beside the sources
            reason = str(exc).strip().splitlines()[-1:] or ["no output"]
            self.app.display_warning(f"mailflow: the parser is installed uncompiled (mypyc failed: {reason[0]})")


def get_build_hook() -> type[MypycBuildHook]:
    """The hook hatchling loads from this file (the module also holds hatch-mypyc's own class)."""
    return CompiledWhenPossible
