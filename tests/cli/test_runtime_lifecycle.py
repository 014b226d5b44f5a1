"""The plugin lifecycle around one conversation, run in-process.

``Bot.from_config(load_config(path))`` then ``bot.run(ReplayTransport(...))``, as the
command line does; plugins record what they saw in a module-level list.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import shutdown, tool_call, utterance, write_jsonl, write_text
from structlog.testing import capture_logs

from cvibot._listening import SessionListener
from cvibot._runtime import Bot, PluginStartupError
from cvibot.config import load_config
from cvibot.transports._replay import ReplayTransport

LIFECYCLE = '''
from cvibot import hookimpl, tool

CALLS = []

@hookimpl
def cvibot_startup(bot, settings):
    CALLS.append(("startup", sorted(bot.tools), bot.pipeline_mode, dict(settings)))

@hookimpl
async def cvibot_session_started(session, settings):
    CALLS.append(("session_started", session.conversation_id, settings["label"]))

@hookimpl
def cvibot_event(event):
    CALLS.append(("event", event.event_type))

@hookimpl
def cvibot_tool_outcome(outcome):
    CALLS.append(("outcome", outcome.tool_call_id))

@hookimpl
async def cvibot_session_ended(session):
    CALLS.append(("session_ended", session.conversation_id))

@hookimpl
def cvibot_shutdown(bot, settings):
    CALLS.append(("shutdown", settings["label"]))

@tool
def ping() -> str:
    """Answer pong."""
    return "pong"
'''

LIFECYCLE_HOOKS = ("startup", "session_started", "session_ended", "shutdown")


def _bot(folder: Path, plugin_source: str, plugin: str = "lifecycle_probe") -> Bot:
    write_text(folder / f"{plugin}.py", plugin_source)
    config = write_text(
        folder / "bot.yaml",
        f"""
        conversation: {{id: conv-7}}
        transport: {{type: replay, path: rec.jsonl}}
        plugins:
          - {{module: {plugin}, settings: {{label: probe}}}}
        """,
    )
    return Bot.from_config(load_config(config), autoload=False)


def _calls(bot: Bot) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = bot.host.plugins[0].plugin.CALLS  # type: ignore[attr-defined]
    return calls


async def test_lifecycle_hooks_run_once_each_in_order(tmp_path: Path) -> None:
    recording = write_jsonl(
        tmp_path / "rec.jsonl",
        [utterance(1, "ping please"), tool_call(2, "ping", {}, "p1"), shutdown()],
    )
    bot = _bot(tmp_path, LIFECYCLE)
    out = tmp_path / "sent.jsonl"

    session = await bot.run(ReplayTransport(recording, out=out))

    calls = _calls(bot)
    hooks = [c for c in calls if c[0] in LIFECYCLE_HOOKS]
    assert hooks == [
        ("startup", ["ping"], "full", {"label": "probe"}),
        ("session_started", "conv-7", "probe"),
        ("session_ended", "conv-7"),
        ("shutdown", "probe"),
    ]
    # The session hooks frame everything that happened in the conversation.
    names = [c[0] for c in calls]
    assert names == [
        "startup",
        "session_started",
        "event",
        "event",
        "outcome",
        "event",
        "session_ended",
        "shutdown",
    ]
    assert [c[1] for c in calls if c[0] == "event"] == [
        "conversation.utterance",
        "conversation.tool_call",
        "system.shutdown",
    ]
    assert ("outcome", "p1") in calls
    assert session.closed
    assert out.read_text().count('"tool_call_id":"p1"') == 1


async def test_lifecycle_when_the_stream_ends_without_shutdown(tmp_path: Path) -> None:
    recording = write_jsonl(tmp_path / "rec.jsonl", [tool_call(1, "ping", {}, "p1")])
    bot = _bot(tmp_path, LIFECYCLE)

    await bot.run(ReplayTransport(recording))

    hooks = [c[0] for c in _calls(bot) if c[0] in LIFECYCLE_HOOKS]
    assert hooks == list(LIFECYCLE_HOOKS)


async def test_failing_session_hook_is_logged_and_the_bot_carries_on(tmp_path: Path) -> None:
    source = LIFECYCLE.replace(
        '    CALLS.append(("session_started", session.conversation_id, settings["label"]))',
        '    CALLS.append(("session_started", session.conversation_id, settings["label"]))\n'
        '    raise RuntimeError("greeting failed")',
    )
    recording = write_jsonl(tmp_path / "rec.jsonl", [tool_call(1, "ping", {}, "p1"), shutdown()])
    bot = _bot(tmp_path, source)

    with capture_logs() as logs:
        await bot.run(ReplayTransport(recording))

    hooks = [c[0] for c in _calls(bot) if c[0] in LIFECYCLE_HOOKS]
    assert hooks == list(LIFECYCLE_HOOKS)
    assert ("outcome", "p1") in _calls(bot)
    [failure] = [log for log in logs if log["event"] == "plugin hook raised"]
    assert (failure["hook"], failure["plugin"]) == ("cvibot_session_started", "lifecycle_probe")


async def test_failing_startup_stops_before_the_conversation(tmp_path: Path) -> None:
    source = LIFECYCLE.replace(
        '    CALLS.append(("startup", sorted(bot.tools), bot.pipeline_mode, dict(settings)))',
        '    CALLS.append(("startup",))\n    raise OSError("no route to database")',
    )
    recording = write_jsonl(tmp_path / "rec.jsonl", [tool_call(1, "ping", {}, "p1"), shutdown()])
    bot = _bot(tmp_path, source)
    out = tmp_path / "sent.jsonl"

    with pytest.raises(PluginStartupError) as caught:
        await bot.run(ReplayTransport(recording, out=out))

    assert caught.value.plugin == "lifecycle_probe"
    assert isinstance(caught.value.cause, OSError)
    assert str(caught.value) == (
        "plugin 'lifecycle_probe' failed to start: OSError: no route to database"
    )
    assert [c[0] for c in _calls(bot)] == ["startup"]
    assert not out.exists()


async def test_failing_startup_shuts_down_the_plugins_that_started(tmp_path: Path) -> None:
    write_text(tmp_path / "starts_ok.py", LIFECYCLE)
    failing = LIFECYCLE.replace(
        '    CALLS.append(("startup", sorted(bot.tools), bot.pipeline_mode, dict(settings)))',
        '    CALLS.append(("startup",))\n    raise OSError("no route to database")',
    ).replace("def ping()", "def ping_too()")
    write_text(tmp_path / "fails.py", failing)
    # pluggy calls the plugin registered last first: "starts_ok" starts, then "fails".
    config = write_text(
        tmp_path / "bot.yaml",
        """
        transport: {type: replay, path: rec.jsonl}
        plugins:
          - {module: fails, settings: {label: second}}
          - {module: starts_ok, settings: {label: first}}
        """,
    )
    recording = write_jsonl(tmp_path / "rec.jsonl", [shutdown()])
    bot = Bot.from_config(load_config(config), autoload=False)
    calls = {p.name: p.plugin.CALLS for p in bot.host.plugins}  # type: ignore[attr-defined]

    with pytest.raises(PluginStartupError) as caught:
        await bot.run(ReplayTransport(recording))

    assert caught.value.plugin == "fails"
    assert [c[0] for c in calls["starts_ok"]] == ["startup", "shutdown"]
    assert calls["starts_ok"][-1] == ("shutdown", "first")
    assert calls["fails"] == [("startup",)]


async def test_transport_failure_after_startup_still_shuts_down(tmp_path: Path) -> None:
    from cvibot.transports._base import TransportError

    bot = _bot(tmp_path, LIFECYCLE)

    with pytest.raises(TransportError, match="recording not found"):
        await bot.run(ReplayTransport(tmp_path / "missing.jsonl"))

    assert [c[0] for c in _calls(bot)] == ["startup", "shutdown"]


SLOW = '''
import asyncio

from cvibot import tool

@tool(timeout=5)
async def slow_lookup(order_id: str) -> str:
    """Take a while."""
    await asyncio.sleep(0.3)
    return f"order {order_id} found"
'''


async def test_calls_running_at_shutdown_are_still_answered(tmp_path: Path) -> None:
    # At recorded pace the shutdown arrives while the call runs: the call still gets its
    # answer (the transport stays open until the drain is over), and only then do the
    # session-end hooks run.
    recording = tmp_path / "rec.jsonl"
    recording.write_text(
        "\n".join(
            json.dumps({"direction": "in", "at": at, "message": msg})
            for at, msg in [
                (0.0, tool_call(1, "slow_lookup", {"order_id": "A7"}, "s1")),
                (0.05, shutdown()),
            ]
        )
    )
    write_text(tmp_path / "slow_tools.py", SLOW)
    config = write_text(
        tmp_path / "bot.yaml",
        "transport: {type: replay, path: rec.jsonl}\nplugins: [slow_tools]\n",
    )
    bot = Bot.from_config(load_config(config), autoload=False)
    out = tmp_path / "sent.jsonl"

    session = await bot.run(ReplayTransport(recording, pace="recorded", out=out))

    assert [json.loads(line)["properties"] for line in out.read_text().splitlines()] == [
        {"tool_call_id": "s1", "output": "order A7 found", "status": "success"}
    ]
    assert session.stats.sent == {"conversation.tool_result": 1}


SLOW_PLUGIN = '''
import asyncio, threading
from cvibot import hookimpl, tool

CALLS = []
RELEASE = asyncio.Event()

@hookimpl
def cvibot_startup(bot):
    CALLS.append("startup")

@hookimpl
def cvibot_shutdown(bot):
    CALLS.append("shutdown")

@tool
async def slow(n: int) -> str:
    """Wait until the test releases it."""
    await RELEASE.wait()
    return f"slow {n}"

@tool
def thread_name() -> str:
    """Say which thread ran the handler."""
    return threading.current_thread().name
'''


def _call(tcid: str, name: str, **args: Any) -> dict[str, Any]:
    return {
        "message_type": "conversation",
        "event_type": "conversation.tool_call",
        "properties": {"name": name, "arguments": json.dumps(args), "tool_call_id": tcid},
    }


async def test_two_conversations_share_startup_shutdown_and_the_thread_pool(
    tmp_path: Path,
) -> None:
    import asyncio

    from cvibot.transports._memory import MemoryTransport

    bot = _bot(tmp_path, SLOW_PLUGIN, "slow_probe")
    plugin = bot.host.plugins[0].plugin
    a, b = MemoryTransport(), MemoryTransport()
    runs = [asyncio.create_task(bot.run(t, conversation_id=None)) for t in (a, b)]
    await asyncio.sleep(0.01)
    for index, transport in enumerate((a, b)):
        transport.push(_call(f"t{index}", "thread_name"))
        transport.end()
    sessions = await asyncio.wait_for(asyncio.gather(*runs), 5)
    assert plugin.CALLS == ["startup", "shutdown"]  # type: ignore[attr-defined]
    names = [t.sent[0]["properties"]["output"] for t in (a, b)]
    assert all(name.startswith("cvibot-tool") for name in names)
    assert [s.stats.outcomes["success"] for s in sessions] == [1, 1]
    # The next conversation starts the plugins again.
    c = MemoryTransport()
    c.end()
    await bot.run(c)
    assert plugin.CALLS == ["startup", "shutdown", "startup", "shutdown"]  # type: ignore[attr-defined]


async def test_stop_drains_running_calls_and_answers_later_ones(tmp_path: Path) -> None:
    import asyncio

    from cvibot.transports._memory import MemoryTransport

    bot = _bot(tmp_path, SLOW_PLUGIN, "slow_probe2")
    plugin = bot.host.plugins[0].plugin
    transport = MemoryTransport()
    run = asyncio.create_task(bot.run(transport, grace=5))
    transport.push(_call("running", "slow", n=1))
    await asyncio.sleep(0.02)
    assert bot.stop("signal SIGTERM") == 1
    transport.push(_call("late", "slow", n=2))
    await asyncio.sleep(0.02)
    assert not run.done()  # the running call holds the drain open
    plugin.RELEASE.set()  # type: ignore[attr-defined]
    session = await asyncio.wait_for(run, 5)
    answers = {m["properties"]["tool_call_id"]: m["properties"] for m in transport.sent}
    assert answers["running"]["output"] == "slow 1"
    assert answers["running"]["status"] == "success"
    assert answers["late"]["status"] == "error"
    assert session.shutdown_reason == "signal SIGTERM"
    assert session.stats.outcomes == {"success": 1, "cancelled": 1}


async def test_stop_cancels_calls_that_outlive_the_grace(tmp_path: Path) -> None:
    import asyncio

    from cvibot.transports._memory import MemoryTransport

    bot = _bot(tmp_path, SLOW_PLUGIN, "slow_probe3")
    transport = MemoryTransport()
    run = asyncio.create_task(bot.run(transport, grace=0.05))
    transport.push(_call("stuck", "slow", n=1))
    await asyncio.sleep(0.02)
    bot.stop()
    session = await asyncio.wait_for(run, 5)
    (answer,) = transport.sent
    assert answer["properties"]["tool_call_id"] == "stuck"
    assert answer["properties"]["status"] == "error"
    assert session.stats.outcomes == {"cancelled": 1}


async def test_a_failing_transport_cancels_running_calls_at_once(tmp_path: Path) -> None:
    import asyncio
    import time

    from cvibot.transports._base import TransportError
    from cvibot.transports._memory import MemoryTransport

    class Failing(MemoryTransport):
        async def run(self, receiver: Any) -> None:
            receiver.on_message(_call("stuck", "slow", n=1))
            await asyncio.sleep(0.05)
            raise TransportError("lost the connection to the room")

    bot = _bot(tmp_path, SLOW_PLUGIN, "slow_probe4")
    listener = _Outcomes()
    started = time.monotonic()
    with pytest.raises(TransportError, match="lost the connection"):
        await asyncio.wait_for(bot.run(Failing(), grace=30, listeners=[listener]), 5)
    assert time.monotonic() - started < 2  # not the 30 s grace
    assert [(o.tool_call_id, o.kind.value) for o in listener.outcomes] == [("stuck", "cancelled")]


class _Outcomes(SessionListener):
    def __init__(self) -> None:
        self.outcomes: list[Any] = []

    def on_outcome(self, outcome: Any) -> None:
        self.outcomes.append(outcome)


async def test_stop_tells_each_transport_the_bot_is_leaving(tmp_path: Path) -> None:
    # A Daily transport stops rejoining on Transport.leaving(): a library user's
    # Bot.stop() must reach it, through a recording too, not only the CLI's signal path.
    import asyncio

    from cvibot.transports._memory import MemoryTransport
    from cvibot.transports._recording import RecordingTransport

    class Leaving(MemoryTransport):
        told = 0

        def leaving(self) -> None:
            self.told += 1

    bot = _bot(tmp_path, SLOW_PLUGIN, "slow_probe_leaving")
    inner = Leaving()
    run = asyncio.create_task(bot.run(RecordingTransport(inner, tmp_path / "rec.jsonl")))
    await asyncio.sleep(0.02)
    assert inner.told == 0
    assert bot.stop("signal SIGTERM") == 1
    bot.stop("signal SIGTERM")  # idempotent: told once
    await asyncio.wait_for(run, 5)
    assert inner.told == 1
