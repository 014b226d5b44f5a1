"""Fixtures shared by more than one test folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from install_helpers import install_into

from cvibot.plugins._selection import DISABLE_AUTOLOAD_ENV

FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Hermetic bots: the plugins installed in the test environment (the first-party ones
# under plugins/) are loaded only where a test names them. Tests of autoloading set
# the variable to "" for the processes they start.
os.environ[DISABLE_AUTOLOAD_ENV] = "1"


@pytest.fixture(scope="session")
def installed_plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture plugin distributions, installed into a ``--target`` folder (offline).

    Both projects under ``tests/fixtures`` are built and installed once per session
    (hatchling is in the dev environment, so no network is needed); put the folder on
    ``PYTHONPATH`` to run an interpreter that has them installed.
    """
    return install_into(
        tmp_path_factory.mktemp("site"),
        FIXTURES / "cvibot-example-plugin",
        FIXTURES / "cvibot-broken-plugin",
    )
