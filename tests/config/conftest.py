from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest
from config_helpers import LoadError, LoadText, WriteConfig

from cvibot._errors import ConfigError
from cvibot.config import LoadedConfig, load_config


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    """Write dedented YAML to ``<tmp>/bot.yaml`` and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "bot.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def load_text(write_config: WriteConfig) -> LoadText:
    """Write YAML to ``bot.yaml`` and load it; the environment is empty unless given."""

    def load(text: str, environ: Mapping[str, str] | None = None) -> LoadedConfig:
        return load_config(write_config(text), environ=environ or {})

    return load


@pytest.fixture
def load_error(load_text: LoadText) -> LoadError:
    """Write YAML to ``bot.yaml``, load it, and return the ConfigError it raises."""

    def fail(text: str, environ: Mapping[str, str] | None = None) -> ConfigError:
        with pytest.raises(ConfigError) as info:
            load_text(text, environ)
        return info.value

    return fail
