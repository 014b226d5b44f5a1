"""Fixtures of the cvibot-http tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from http_helpers import RecordingServer, recording_server


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    """A recording HTTP server on 127.0.0.1, stopped after the test."""
    with recording_server() as running:
        yield running
