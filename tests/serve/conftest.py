"""Fixtures of the ``cvibot serve`` tests: a bot with tools (see serve_helpers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_helpers import make_bot

from cvibot._runtime import Bot


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Bot]:
    with make_bot(tmp_path) as made:
        yield made
