"""The pytest plugin: registered by its entry point, cheap to import, and its fixture.

The fixture runs in a pytest of its own (a subprocess in a folder with its own ini), so
the plugin is found the way a plugin author's pytest finds it: by the ``pytest11``
entry point of the installed cvibot.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

INNER_TESTS = '''
import pytest

from cvibot import ConfigError, tool
from cvibot.transports._memory import MemoryTransport

KEPT = []


@tool
def ping() -> str:
    """Ping."""
    return "pong"


@pytest.mark.asyncio
async def test_awaited(cvibot_conversation):
    conv = await cvibot_conversation(tools=[ping])
    KEPT.append(conv)
    assert (await conv.tool_call("ping")).text == "pong"


@pytest.mark.asyncio
async def test_closed_at_the_end_of_the_test():
    [conv] = KEPT
    with pytest.raises(RuntimeError, match="closed"):
        conv.send({"event_type": "conversation.utterance"})


@pytest.mark.asyncio
async def test_async_with(cvibot_conversation):
    async with cvibot_conversation(tools=[ping], pipeline_mode="echo") as conv:
        assert conv.bot.pipeline_mode == "echo"
        assert (await conv.tool_call("ping", tool_call_id=None)).event_type == "conversation.echo"


@pytest.mark.asyncio
async def test_several_conversations(cvibot_conversation):
    first = await cvibot_conversation(tools=[ping], conversation_id="one")
    second = await cvibot_conversation(tools=[ping], conversation_id="two")
    assert (await first.tool_call("ping")).message["conversation_id"] == "one"
    assert (await second.tool_call("ping")).message["conversation_id"] == "two"


@pytest.mark.asyncio
async def test_a_config_error_is_raised_by_the_call(cvibot_conversation):
    with pytest.raises(ConfigError, match="bogus"):
        cvibot_conversation(config={"bogus": 1})


@pytest.mark.asyncio
async def test_a_bot_failure_fails_the_teardown(cvibot_conversation, monkeypatch):
    async def broken(self, receiver):
        raise ConnectionError("network gone")

    monkeypatch.setattr(MemoryTransport, "run", broken)
    await cvibot_conversation()
'''

# Plugins the inner run does not need: leaving them out halves its start-up.
QUIET = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:respx", "-p", "no:anyio"]

INI = """\
[pytest]
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""


@pytest.mark.parametrize("mode", ["auto", "strict"])
def test_the_fixture_in_a_pytest_of_its_own(tmp_path: Path, mode: str) -> None:
    (tmp_path / "pytest.ini").write_text(INI)
    (tmp_path / "test_inner.py").write_text(INNER_TESTS)
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-o", f"asyncio_mode={mode}", *QUIET],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    out = done.stdout
    assert re.search(r"\b6 passed, 1 error\b", out), out + done.stderr
    assert "ERROR at teardown of test_a_bot_failure_fails_the_teardown" in out
    assert "ConnectionError: network gone" in out
    assert "warning" not in out.lower()


def test_importing_the_plugin_imports_nothing_heavy() -> None:
    script = textwrap.dedent(
        """
        import sys
        import cvibot.testing
        import cvibot.testing._pytest_plugin
        heavy = ("pydantic", "daily", "yaml", "cvibot._runtime", "cvibot.testing._conversation")
        print(sorted(name for name in heavy if name in sys.modules))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_plugin_is_registered_under_pytest11() -> None:
    from importlib.metadata import entry_points

    [entry] = entry_points(group="pytest11", name="cvibot")
    assert entry.value == "cvibot.testing._pytest_plugin"


def test_the_testing_package_names_its_exports_lazily() -> None:
    import cvibot.testing

    assert {"FakeConversation", "ToolReply", "ReplyTimeout"} <= set(dir(cvibot.testing))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = cvibot.testing.Nope  # type: ignore[attr-defined]
