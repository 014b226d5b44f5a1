"""Helpers shared by the plugin tests (a module of its own: conftest is not importable)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WriteModule = Callable[..., Path]


@dataclass
class Entry:
    """A config ``plugins:`` item, as PluginHost.load reads it."""

    ref: str
    kind: str = "module"
    settings: Mapping[str, Any] = field(default_factory=dict)
