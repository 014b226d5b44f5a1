"""Installing test distributions offline (a module of its own: conftest is not importable)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def install_into(target: Path, *projects: Path) -> Path:
    """Build and install ``projects`` into the folder ``target`` (``pip --target``), offline.

    hatchling is in the dev environment, so nothing is downloaded; put ``target`` on
    ``PYTHONPATH`` to run an interpreter that has them installed. Returns ``target``.
    """
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
            str(target),
            *map(str, projects),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return target
