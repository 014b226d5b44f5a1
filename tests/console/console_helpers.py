"""A small bot for the console tests: two tools, a slow one and an echo-mode responder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

TOOLS = '''
"""Tools of the console tests' bot."""

import asyncio

from cvibot import ToolError, hookimpl, tool


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@tool
def greet(name: str, excited: bool = False) -> dict:
    """Greet someone by name."""
    return {"greeting": f"Hello, {name}" + ("!" if excited else "."), "name": name}


@tool(cancel_on_interrupt=True)
async def slow(seconds: float) -> str:
    """Wait, then answer."""
    await asyncio.sleep(seconds)
    return "done waiting"


@tool
def refuse(reason: str) -> str:
    """Always fails."""
    raise ToolError(f"refused: {reason}")


@tool
def surrogate() -> str:
    """Answers with a lone surrogate, which UTF-8 cannot carry."""
    return "half " + chr(0xD800) + " a pair"


@hookimpl
def cvibot_respond_to_utterance(utterance, session, settings):
    return f"you said: {utterance.speech}"
'''


def write_bot(folder: Path, *, pipeline_mode: str = "echo", transport: bool = False) -> Path:
    """A config (without a transport section unless asked) and its tools module."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "console_tools.py").write_text(textwrap.dedent(TOOLS), encoding="utf-8")
    config = f"pipeline_mode: {pipeline_mode}\nplugins:\n  - module: console_tools\n"
    if transport:
        config += "transport:\n  type: replay\n  path: none.jsonl\n"
    path = folder / "bot.yaml"
    path.write_text(config, encoding="utf-8")
    return path


def cvibot_exe() -> str:
    exe = shutil.which("cvibot", path=os.path.dirname(sys.executable))
    assert exe is not None, "the cvibot console script is not installed next to python"
    return exe


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CVIBOT_")}
    env["CVIBOT_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def console(
    config: Path, lines: list[str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``cvibot console CONFIG ARGS`` with ``lines`` piped to its stdin."""
    return subprocess.run(
        [cvibot_exe(), "console", str(config), *args],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=environment(),
        cwd=config.parent,
        timeout=timeout,
    )
