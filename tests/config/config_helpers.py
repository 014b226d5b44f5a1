"""Helpers shared by the config tests (a module of its own: conftest is not importable)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cvibot._errors import ConfigError
from cvibot.config import LoadedConfig

# The smallest valid config: only the transport is required.
MINIMAL = """\
transport:
  type: replay
  path: rec.jsonl
"""

WriteConfig = Callable[[str], Path]
LoadText = Callable[..., LoadedConfig]
LoadError = Callable[..., ConfigError]
