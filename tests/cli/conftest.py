from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from cli_helpers import RunProcess, forget_plugin_modules
from process_helpers import Watched


@pytest.fixture(autouse=True)
def isolated_imports() -> Iterator[None]:
    """Undo what loading plugins in-process does: sys.path entries and plugin modules."""
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    forget_plugin_modules(modules)


@pytest.fixture(scope="session")
def cvibot_exe() -> str:
    """The ``cvibot`` console script of the interpreter running the tests."""
    exe = shutil.which("cvibot", path=os.path.dirname(sys.executable))
    assert exe is not None, "the cvibot console script is not installed next to python"
    return exe


@pytest.fixture(scope="session")
def run_cvibot(cvibot_exe: str, tmp_path_factory: pytest.TempPathFactory) -> RunProcess:
    """Run ``cvibot ARGS...`` as a real process; ``extra_env`` is added to the environment."""
    default_cwd = tmp_path_factory.mktemp("cwd")

    def run(
        *args: str | os.PathLike[str],
        cwd: Path | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **(extra_env or {})}
        return subprocess.run(
            [cvibot_exe, *map(os.fspath, args)],
            cwd=cwd or default_cwd,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=60,
        )

    return run


@pytest.fixture
def watch() -> Iterator[Callable[[Sequence[str | os.PathLike[str]], Path], Watched]]:
    """``watch(argv, cwd)``: a :class:`Watched` process, killed and closed afterwards."""
    started: list[Watched] = []

    def start(argv: Sequence[str | os.PathLike[str]], cwd: Path) -> Watched:
        process = Watched(argv, cwd)
        started.append(process)
        return process

    yield start
    for process in started:
        process.__exit__(None, None, None)
