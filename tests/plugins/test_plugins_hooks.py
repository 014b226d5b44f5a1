"""PluginHost.call, call_first, calls and observer: order, settings, sync and async impls."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from plugin_helpers import Entry, WriteModule
from structlog.testing import capture_logs

from cvibot.plugins import PluginHost, hookimpl
from cvibot.plugins._binding import HookCall
from cvibot.plugins._workers import HookWorkers

RECORDER = """
from cvibot.plugins import hookimpl

CALLS = []

@hookimpl
def cvibot_event(event, settings):
    CALLS.append((event, dict(settings)))

@hookimpl
async def cvibot_session_started(session, settings):
    return (settings["name"], session)

@hookimpl
def cvibot_respond_to_utterance(utterance, settings):
    if utterance.speech.startswith(settings["name"]):
        return settings["name"] + " answers"
    return None
"""


@pytest.fixture
def two_plugins(tmp_path: Path, write_module: WriteModule) -> PluginHost:
    write_module("alpha.py", RECORDER)
    write_module("beta.py", RECORDER)
    return PluginHost.load(
        [
            Entry("alpha", settings={"name": "alpha"}),
            Entry("beta", settings={"name": "beta"}),
        ],
        base_dir=tmp_path,
        autoload=False,
    )


def utterance(speech: str) -> Any:
    return SimpleNamespace(speech=speech)


async def test_call_gives_each_plugin_its_own_settings(two_plugins: PluginHost) -> None:
    # Last registered first, as pluggy orders implementations.
    assert await two_plugins.call("cvibot_session_started", session="s1") == [
        ("beta", "s1"),
        ("alpha", "s1"),
    ]


async def test_call_drops_none_results(two_plugins: PluginHost) -> None:
    assert await two_plugins.call("cvibot_event", event="e1", session="s1") == []
    alpha = two_plugins.plugins[0].plugin
    assert alpha.CALLS == [("e1", {"name": "alpha"})]  # type: ignore[attr-defined]


async def test_call_first(two_plugins: PluginHost) -> None:
    hook = "cvibot_respond_to_utterance"
    assert await two_plugins.call_first(hook, utterance=utterance("alpha?"), session=None) == (
        "alpha answers"
    )
    assert await two_plugins.call_first(hook, utterance=utterance("beta?"), session=None) == (
        "beta answers"
    )
    assert await two_plugins.call_first(hook, utterance=utterance("gamma?"), session=None) is None


async def test_call_of_a_firstresult_hook_stops_at_the_first_result() -> None:
    calls: list[str] = []

    class First:
        @hookimpl
        def cvibot_respond_to_utterance(self) -> str:
            calls.append("first")
            return "first"

    class Second:
        @hookimpl
        async def cvibot_respond_to_utterance(self) -> str:
            calls.append("second")
            return "second"

    host = PluginHost.load([], autoload=False, builtins=[("first", First()), ("second", Second())])

    assert await host.call("cvibot_respond_to_utterance", utterance=None, session=None) == [
        "second"
    ]
    assert await host.call_first("cvibot_respond_to_utterance", utterance=None, session=None) == (
        "second"
    )
    assert calls == ["second", "second"]


async def test_call_first_awaits_async_impls_in_turn() -> None:
    calls: list[str] = []

    class Passes:
        @hookimpl
        async def cvibot_respond_to_utterance(self, utterance: Any) -> None:
            calls.append("passes")

    class Answers:
        @hookimpl(trylast=True)
        def cvibot_respond_to_utterance(self, utterance: Any) -> str:
            calls.append("answers")
            return f"echo {utterance.speech}"

    host = PluginHost.load(
        [], autoload=False, builtins=[("passes", Passes()), ("answers", Answers())]
    )

    result = await host.call_first(
        "cvibot_respond_to_utterance", utterance=utterance("hi"), session=None
    )
    assert result == "echo hi"
    assert calls == ["passes", "answers"]


async def test_order_respects_tryfirst_and_trylast() -> None:
    calls: list[str] = []

    def plugin(name: str, *, tryfirst: bool = False, trylast: bool = False) -> object:
        class Plugin:
            @hookimpl(tryfirst=tryfirst, trylast=trylast)
            def cvibot_startup(self) -> None:
                calls.append(name)

        return Plugin()

    host = PluginHost.load(
        [],
        autoload=False,
        builtins=[
            ("early", plugin("early", tryfirst=True)),
            ("a", plugin("a")),
            ("late", plugin("late", trylast=True)),
            ("b", plugin("b")),
        ],
    )

    await host.call("cvibot_startup", bot=None)
    assert calls == ["early", "b", "a", "late"]
    calls.clear()
    for call in host.calls("cvibot_startup", bot=None):
        call()
    assert calls == ["early", "b", "a", "late"]


async def test_impls_receive_only_the_arguments_they_declare() -> None:
    seen: dict[str, tuple[Any, ...]] = {}

    class Plugin:
        @hookimpl
        def cvibot_tool_outcome(self, session: Any, outcome: Any) -> None:
            seen["outcome"] = (session, outcome)

        @hookimpl
        def cvibot_shutdown(self) -> None:
            seen["shutdown"] = ()

        @hookimpl
        def cvibot_startup(self, settings: Mapping[str, Any]) -> None:
            seen["startup"] = (settings,)

    host = PluginHost.load([], autoload=False, builtins=[("plugin", Plugin())])

    await host.call("cvibot_tool_outcome", outcome="o", session="s")
    await host.call("cvibot_shutdown", bot="b")
    await host.call("cvibot_startup", bot="b")
    assert seen == {"outcome": ("s", "o"), "shutdown": (), "startup": ({},)}


async def test_observers_bind_settings_and_pass_sync_and_async(
    tmp_path: Path, write_module: WriteModule
) -> None:
    write_module(
        "async_observer.py",
        """
        from cvibot.plugins import hookimpl

        CALLS = []

        @hookimpl
        async def cvibot_event(settings, event):
            CALLS.append((event, dict(settings)))
        """,
    )
    write_module("sync_observer.py", RECORDER)
    host = PluginHost.load(
        [
            Entry("async_observer", settings={"name": "async"}),
            Entry("sync_observer", settings={"name": "sync"}),
        ],
        base_dir=tmp_path,
        autoload=False,
    )

    observers = host.calls("cvibot_event", event="e", session="s")

    assert [o.plugin_name for o in observers] == ["sync_observer", "async_observer"]
    assert all(isinstance(o, HookCall) for o in observers)
    results = [observer() for observer in observers]
    assert results[0] is None
    assert inspect.iscoroutine(results[1])
    await results[1]
    assert host.plugins[0].plugin.CALLS == [("e", {"name": "async"})]  # type: ignore[attr-defined]
    assert host.plugins[1].plugin.CALLS == [("e", {"name": "sync"})]  # type: ignore[attr-defined]
    assert "async_observer:cvibot_event" in repr(observers[1])


async def test_observer_is_none_without_impls_and_calls_plugins_registered_later() -> None:
    seen: list[tuple[Any, str]] = []

    class Plugin:
        @hookimpl
        def cvibot_event(self, event: Any) -> None:
            seen.append((event, threading.current_thread().name))

    host = PluginHost()
    workers = HookWorkers()
    assert host.observer("cvibot_event", workers) is None
    assert not host.has_impls("cvibot_event")

    host.pm.register(Plugin(), name="direct")
    observer = host.observer("cvibot_event", workers)
    assert observer is not None and host.has_impls("cvibot_event")
    # Registered on pm directly, it still runs in its plugin's worker thread.
    assert observer(event="e", session="s") is None
    host.pm.register(Plugin(), name="another")
    observer(event="f", session="s")
    assert await workers.close(5.0) == []
    assert sorted(seen) == [
        ("e", "cvibot-hooks-direct"),
        ("f", "cvibot-hooks-another"),
        ("f", "cvibot-hooks-direct"),
    ]


async def test_plugin_registered_on_pm_directly_gets_empty_settings() -> None:
    class Plugin:
        @hookimpl
        def cvibot_startup(self, settings: Mapping[str, Any]) -> Mapping[str, Any]:
            return settings

    host = PluginHost()
    host.pm.register(Plugin(), name="direct")

    assert await host.call("cvibot_startup", bot=None) == [{}]


async def test_exceptions_propagate() -> None:
    class Plugin:
        @hookimpl
        async def cvibot_startup(self) -> None:
            raise RuntimeError("no database")

    host = PluginHost.load([], autoload=False, builtins=[("plugin", Plugin())])

    with pytest.raises(RuntimeError, match="no database"):
        await host.call("cvibot_startup", bot=None)


async def test_unknown_hook_and_bad_arguments() -> None:
    host = PluginHost()

    with pytest.raises(ValueError, match="unknown hook 'cvibot_nope'"):
        await host.call("cvibot_nope")
    with pytest.raises(ValueError, match="unknown hook"):
        host.calls("cvibot_nope")
    with pytest.raises(ValueError, match="unknown hook"):
        host.observer("cvibot_nope", HookWorkers())
    with pytest.raises(TypeError, match=r"missing: \['session'\]"):
        await host.call("cvibot_event", event=None)
    with pytest.raises(TypeError, match=r"unexpected: \['settings'\]"):
        await host.call_first(
            "cvibot_respond_to_utterance", utterance=None, session=None, settings={}
        )


async def test_no_impls() -> None:
    host = PluginHost()

    assert await host.call("cvibot_startup", bot=None) == []
    assert (
        await host.call_first("cvibot_respond_to_utterance", utterance=None, session=None) is None
    )


async def test_notify_isolates_failures() -> None:
    calls: list[str] = []

    class Failing:
        @hookimpl
        async def cvibot_session_ended(self, session: Any) -> None:
            calls.append("failing")
            raise RuntimeError("flush failed")

    class Fine:
        @hookimpl
        def cvibot_session_ended(self, session: Any) -> str:
            calls.append("fine")
            return "ignored"

    # Registered first, so called last: the failure comes first.
    host = PluginHost.load([], autoload=False, builtins=[("fine", Fine()), ("failing", Failing())])

    with capture_logs() as logs:
        errors = await host.notify("cvibot_session_ended", session="s")

    assert calls == ["failing", "fine"]
    assert [str(error) for error in errors] == ["flush failed"]
    assert [(log["event"], log["hook"], log["plugin"]) for log in logs] == [
        ("plugin hook raised", "cvibot_session_ended", "failing")
    ]
    assert await host.notify("cvibot_shutdown", bot=None) == []


async def test_notify_skips_the_named_plugins() -> None:
    calls: list[str] = []

    def probe(name: str) -> object:
        class Probe:
            @hookimpl
            def cvibot_shutdown(self, bot: Any) -> None:
                calls.append(name)

        return Probe()

    host = PluginHost.load(
        [], autoload=False, builtins=[(n, probe(n)) for n in ("first", "second", "third")]
    )

    assert await host.notify("cvibot_shutdown", skip={"second"}, bot=None) == []
    assert calls == ["third", "first"]


async def test_observers_that_raise_are_logged_counted_and_never_stop_the_others() -> None:
    seen: list[str] = []

    class SyncFails:
        @hookimpl
        def cvibot_tool_outcome(self, outcome: Any) -> None:
            raise RuntimeError("sync observer broke")

    class AsyncFails:
        @hookimpl
        async def cvibot_tool_outcome(self, outcome: Any) -> None:
            raise RuntimeError("async observer broke")

    class Healthy:
        @hookimpl(trylast=True)
        async def cvibot_tool_outcome(self, outcome: Any, settings: Mapping[str, Any]) -> None:
            seen.append(f"async {outcome} {dict(settings)}")

        @hookimpl(trylast=True)
        def cvibot_event(self, event: Any) -> None:
            seen.append(f"sync {event}")

    host = PluginHost.load(
        [],
        autoload=False,
        builtins=[("sync_fails", SyncFails()), ("async_fails", AsyncFails()), ("ok", Healthy())],
    )
    workers = HookWorkers()
    outcome_observer = host.observer("cvibot_tool_outcome", workers)
    event_observer = host.observer("cvibot_event", workers)
    assert outcome_observer is not None and event_observer is not None

    with capture_logs() as logs:
        for n in range(2):
            pending = outcome_observer(outcome=n, session="s")
            assert pending is not None  # the async ones, to run as a task
            await pending
            assert event_observer(event=n, session="s") is None
        assert await workers.close(5.0) == []

    assert sorted(seen) == ["async 0 {}", "async 1 {}", "sync 0", "sync 1"]
    assert workers.failed == {"sync_fails": 2, "async_fails": 2}
    raised = [(e["plugin"], e["hook"]) for e in logs if e["event"] == "plugin observer raised"]
    assert (
        sorted(raised)
        == [("async_fails", "cvibot_tool_outcome")] * 2
        + [("sync_fails", "cvibot_tool_outcome")] * 2
    )
