"""Helpers of the tools-sync tests (a module of its own: conftest is not importable)."""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import structlog
from click.testing import CliRunner, Result

import cvibot
from cvibot._cli.main import cli
from cvibot.tavus import RegistryTool, RetryPolicy
from cvibot.tools import ToolSpec, build_tool_spec, to_registry_tool
from doubles.fake_tavus import FakeTavusAPI, RecordedRequest

KEY = "tvs-sync-key-8c1d4e7f2a9b"
"""The fake's API key: long and distinctive, so a leak is found by a substring search."""

PERSONA = "p-sync"

FAST = RetryPolicy(attempts=2, initial_backoff=0.001, max_backoff=0.002, max_retry_after=0.01)


def spec(fn: Callable[..., Any], **options: Any) -> ToolSpec:
    """The tool spec of ``fn`` (``options`` as for ``@tool``)."""
    return build_tool_spec(fn, **options)


def stored(s: ToolSpec, tool_id: str | None = None, **changes: Any) -> RegistryTool:
    """The account tool Tavus would hold for ``s`` (with its defaults and server keys),
    ``changes`` applied to the fields."""
    body = {**to_registry_tool(s), **changes}
    return RegistryTool.model_validate(
        {
            "tool_id": tool_id or f"t-{s.name}",
            "owner_id": "u1",
            "is_system_tool": False,
            "trigger_type": "in_call",
            "tags": [],
            "static_filler": None,
            "created_at": "2025-01-01T00:00:00.000Z",
            "updated_at": "2025-01-01T00:00:00.000Z",
            **body,
        }
    )


def writes(fake: FakeTavusAPI) -> list[RecordedRequest]:
    """The requests that could change something (all but GET)."""
    return [r for r in fake.requests if r.method != "GET"]


def calls(fake: FakeTavusAPI) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in fake.requests]


def write_bot(folder: Path, tools_source: str, extra: str = "", module: str = "sync_tools") -> Path:
    """A bot config in ``folder`` whose plugin is the module ``tools_source`` (dedented)."""
    (folder / f"{module}.py").write_text(textwrap.dedent(tools_source), encoding="utf-8")
    config = folder / "bot.yaml"
    config.write_text(
        f"transport: {{type: daily}}\nplugins: [{module}]\n" + textwrap.dedent(extra),
        encoding="utf-8",
    )
    return config


_KEPT = tuple(
    str(Path(root).resolve()) + os.sep
    for root in {sys.prefix, sys.base_prefix, sys.exec_prefix, *cvibot.__path__}
)


def _forget_plugins(before: set[str]) -> None:
    """Forget the plugin modules imported since ``before``: the next run may rewrite them."""
    for name in set(sys.modules) - before:
        where = getattr(sys.modules[name], "__file__", None)
        if where and not str(Path(where).resolve()).startswith(_KEPT):
            del sys.modules[name]
    importlib.invalidate_caches()


def invoke(
    *args: str | os.PathLike[str],
    env: Mapping[str, str | None] | None = None,
    input: str | None = None,
) -> Result:
    """Run ``cvibot ARGS...`` in-process (stderr apart); what the command changes for
    the process (structlog, ``sys.path``, plugin modules) is put back afterwards."""
    saved, path, modules = structlog.get_config(), list(sys.path), set(sys.modules)
    try:
        result = CliRunner().invoke(
            cli, [os.fspath(a) for a in args], env=env, input=input, prog_name="cvibot"
        )
    finally:
        structlog.configure(**saved)
        sys.path[:] = path
        _forget_plugins(modules)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"cvibot raised {result.exception!r}") from result.exception
    return result
