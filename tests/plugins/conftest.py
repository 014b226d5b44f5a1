from __future__ import annotations

import importlib
import importlib.metadata
import sys
import textwrap
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from plugin_helpers import WriteModule

from cvibot.plugins._selection import AUTOLOAD_ENV, DISABLE_AUTOLOAD_ENV


@pytest.fixture(autouse=True)
def isolated_imports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Undo what loading plugins does: sys.path entries, and modules imported from tmp dirs.

    Only the test's own plugin modules are forgotten, so that the next test may reuse
    their names; cvibot's modules stay, keeping class identities stable.
    """
    path = list(sys.path)
    before = set(sys.modules)
    yield
    sys.path[:] = path
    temp = str(tmp_path_factory.getbasetemp())
    for name in set(sys.modules) - before:
        module = sys.modules[name]
        file = getattr(module, "__file__", None) or ""
        locations = list(getattr(module, "__path__", []) or [])
        if any(str(where).startswith(temp) for where in [file, *locations]):
            del sys.modules[name]
    importlib.invalidate_caches()


@pytest.fixture
def write_module(tmp_path: Path) -> WriteModule:
    """Write ``source`` (dedented) to ``<directory or tmp_path>/<relpath>``."""

    def write(relpath: str, source: str, directory: Path | None = None) -> Path:
        target = (directory or tmp_path) / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(source))
        return target

    return write


@pytest.fixture
def fake_entry_points(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Replace the installed ``cvibot`` entry points; other groups stay as installed."""

    real = importlib.metadata.entry_points
    # The faked entry points are all that is installed, so autoloading (an opt-in) is
    # turned on and hermetic here.
    monkeypatch.setenv(DISABLE_AUTOLOAD_ENV, "")
    monkeypatch.setenv(AUTOLOAD_ENV, "1")

    def install(*entries: EntryPoint, **points: str) -> None:
        """``name=value`` pairs, or ``EntryPoint`` objects (for two of one name)."""
        eps = [*entries]
        eps += [
            EntryPoint(name=name, value=value, group="cvibot") for name, value in points.items()
        ]

        def entry_points(**selection: Any) -> Any:
            if selection != {"group": "cvibot"}:
                return real(**selection)  # other libraries' groups (pydantic's plugins)
            return eps

        monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)

    return install
