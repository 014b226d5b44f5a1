"""Helpers shared by the command-line tests (a module of its own: conftest is not importable)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import structlog
from click.testing import CliRunner, Result

import cvibot
from cvibot._cli.main import cli

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = REPO / "config.example.yaml"
SHOP_DIR = REPO / "bots" / "shop"
SHOP_CONVERSATION = SHOP_DIR / "conversation.jsonl"

RunProcess = Callable[..., "subprocess.CompletedProcess[str]"]
"""The ``run_cvibot`` fixture: ``run_cvibot(*args, cwd=None, extra_env=None)``."""

CONVERSATION_ID = "conv-7"
_T0 = 1_795_000_000.0


def message(
    event_type: str,
    properties: Mapping[str, Any] | None = None,
    *,
    seq: int | None = None,
    inference_id: str | None = None,
    conversation_id: str = CONVERSATION_ID,
) -> dict[str, Any]:
    """An inbound app-message as Tavus broadcasts it."""
    kind = event_type.split(".", 1)[0]
    msg: dict[str, Any] = {
        "message_type": kind,
        "event_type": event_type,
        "conversation_id": conversation_id,
        "properties": dict(properties or {}),
    }
    if seq is not None:
        msg["seq"] = seq
        msg["timestamp"] = _T0 + seq
    if inference_id is not None:
        msg["inference_id"] = inference_id
    return msg


def utterance(seq: int, speech: str, role: str = "user") -> dict[str, Any]:
    return message(
        "conversation.utterance",
        {"role": role, "speech": speech},
        seq=seq,
        inference_id=f"inf-{seq}",
    )


def tool_call(seq: int, name: str, arguments: Mapping[str, Any], call_id: str) -> dict[str, Any]:
    return message(
        "conversation.tool_call",
        {"name": name, "arguments": json.dumps(arguments), "tool_call_id": call_id},
        seq=seq,
        inference_id=f"inf-{seq}",
    )


def shutdown() -> dict[str, Any]:
    return message("system.shutdown", {"shutdown_reason": "participant_left_timeout"})


def write_jsonl(path: Path, messages: Iterable[Mapping[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(m) + "\n" for m in messages), encoding="utf-8")
    return path


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` (dedented) to ``path``, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


def answered_ids(messages: Iterable[Mapping[str, Any]]) -> list[str]:
    """The tool_call_id of every conversation.tool_result, in order."""
    return [
        m["properties"]["tool_call_id"]
        for m in messages
        if m["event_type"] == "conversation.tool_result"
    ]


_KEPT_ROOTS = tuple(
    str(Path(root).resolve()) + os.sep
    for root in {sys.prefix, sys.base_prefix, sys.exec_prefix, *cvibot.__path__}
)


def forget_plugin_modules(before: set[str]) -> None:
    """Forget the modules imported since ``before`` that are plugins, not libraries.

    Plugin modules (a temporary folder's, the shop bot's) must not outlive a test: the
    next test may write a module of the same name. Modules of cvibot, the standard
    library and installed packages stay, so class identities do not change.
    """
    for name in set(sys.modules) - before:
        module = sys.modules[name]
        file = getattr(module, "__file__", None)
        locations = [file] if file else list(getattr(module, "__path__", []) or [])
        if not locations:
            continue
        where = str(Path(locations[0]).resolve())
        if not where.startswith(_KEPT_ROOTS):
            del sys.modules[name]
    importlib.invalidate_caches()


def invoke(*args: str | os.PathLike[str], env: Mapping[str, str | None] | None = None) -> Result:
    """Run ``cvibot ARGS...`` in-process with click's runner (stderr kept apart).

    What a command changes for the whole process (the structlog set-up, pointing at the
    runner's streams, and ``sys.path``) is put back afterwards. An exception other than
    the command's exit fails the caller.
    """
    saved, path, modules = structlog.get_config(), list(sys.path), set(sys.modules)
    try:
        result = CliRunner().invoke(cli, [os.fspath(a) for a in args], env=env, prog_name="cvibot")
    finally:
        structlog.configure(**saved)
        sys.path[:] = path
        forget_plugin_modules(modules)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(
            f"cvibot {' '.join(map(os.fspath, args))} raised {result.exception!r}"
        ) from result.exception
    return result
