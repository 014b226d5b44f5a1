"""The config models on their own: defaults, plugin entry forms, constraints, validators."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from cvibot.config import (
    BotConfig,
    Defaults,
    DispatchConfig,
    LoggingConfig,
    PluginEntry,
    ReplayTransportConfig,
    ToolOverride,
)
from cvibot.config._model import LocatedValueError
from cvibot.tools._options import ReplyMode

TRANSPORT = {"type": "replay", "path": "rec.jsonl"}


def test_defaults_of_a_minimal_config() -> None:
    config = BotConfig.model_validate({"transport": TRANSPORT})

    assert config.pipeline_mode == "full"
    assert config.conversation.id is None
    assert config.transport == ReplayTransportConfig(type="replay", path=Path("rec.jsonl"))
    assert config.transport.pace == "fast"
    assert config.transport.speed == 1.0
    assert config.transport.out is None
    assert config.plugins == []
    assert config.tools == {}
    assert config.defaults == Defaults(
        reply=ReplyMode.AUTO,
        perception_reply=ReplyMode.NONE,
        timeout=10.0,
        cancel_on_interrupt=False,
    )
    assert config.dispatch == DispatchConfig(
        max_concurrent_calls=16, sync_workers=8, message_limit=4096, on_oversize="truncate"
    )
    assert config.logging == LoggingConfig(level=None, format="auto", transcript=True)


def test_models_are_frozen() -> None:
    config = BotConfig.model_validate({"transport": TRANSPORT})
    with pytest.raises(ValidationError):
        config.pipeline_mode = "echo"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        config.defaults.timeout = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("written", "ref", "kind", "settings"),
    [
        ("shop_tools", "shop_tools", "auto", {}),
        ({"module": "bots.shop.tools"}, "bots.shop.tools", "module", {}),
        (
            {"module": "bots.shop.tools", "settings": {"db": 1}},
            "bots.shop.tools",
            "module",
            {"db": 1},
        ),
        ({"name": "cvibot-faq", "settings": {"a": [1]}}, "cvibot-faq", "entry_point", {"a": [1]}),
        ({"module": "m", "kind": "module"}, "m", "module", {}),
        ({"ref": "x"}, "x", "auto", {}),
        (
            {"ref": "x", "kind": "entry_point", "settings": {"k": "v"}},
            "x",
            "entry_point",
            {"k": "v"},
        ),
    ],
)
def test_plugin_entry_forms(written: Any, ref: str, kind: str, settings: dict[str, Any]) -> None:
    entry = PluginEntry.model_validate(written)
    assert (entry.ref, entry.kind, entry.settings) == (ref, kind, settings)


def test_plugin_entry_model_instance_passes_through() -> None:
    entry = PluginEntry(ref="m", kind="module")
    config = BotConfig(
        transport=ReplayTransportConfig(type="replay", path=Path("r")), plugins=[entry]
    )
    assert config.plugins == [entry]


@pytest.mark.parametrize(
    ("written", "loc", "message"),
    [
        ({"module": "a", "name": "b"}, ("name",), "give only one of 'module', 'name' and 'ref'"),
        ({"ref": "a", "module": "b"}, ("ref",), "give only one of 'module', 'name' and 'ref'"),
        ({"settings": {}}, (), "needs one of 'module', 'name' or 'ref'"),
        ({"module": "a", "setings": {}}, ("setings",), "unknown key (allowed: kind, module,"),
        ({"module": ""}, ("module",), "must be a non-empty string (got '')"),
        ({"name": 3}, ("name",), "must be a non-empty string (got 3)"),
        ({"module": "a", "kind": "entry_point"}, ("kind",), "contradicts 'module'"),
        (["a"], (), "expected a plugin: a name, or a mapping with 'module' or 'name' (got a list)"),
    ],
)
def test_plugin_entry_errors_point_at_the_key(
    written: Any, loc: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        PluginEntry.model_validate(written)
    cause = info.value.errors()[0]["ctx"]["error"]
    assert isinstance(cause, LocatedValueError)
    assert cause.loc == loc
    assert cause.message.startswith(message)


def test_plugin_ref_must_not_be_empty() -> None:
    with pytest.raises(ValidationError) as info:
        PluginEntry.model_validate({"ref": ""})
    assert info.value.errors()[0]["type"] == "string_too_short"


@pytest.mark.parametrize("timeout", [0, -1, 3600.5, float("inf"), float("nan")])
def test_timeouts_are_bounded(timeout: float) -> None:
    with pytest.raises(ValidationError):
        ToolOverride(timeout=timeout)
    with pytest.raises(ValidationError):
        Defaults(timeout=timeout)


def test_timeout_limits_accepted() -> None:
    assert ToolOverride(timeout=3600).timeout == 3600
    assert Defaults(timeout=0.001).timeout == 0.001


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_concurrent_calls", 0), ("sync_workers", 0), ("message_limit", 255)],
)
def test_dispatch_lower_bounds(field: str, value: int) -> None:
    with pytest.raises(ValidationError):
        DispatchConfig.model_validate({field: value})
    DispatchConfig.model_validate({field: value + 1})


@pytest.mark.parametrize("speed", [0, -2, float("inf")])
def test_replay_speed_must_be_positive_and_finite(speed: float) -> None:
    with pytest.raises(ValidationError):
        ReplayTransportConfig.model_validate({**TRANSPORT, "speed": speed})


def test_respond_is_fine_with_the_full_pipeline() -> None:
    config = BotConfig.model_validate(
        {
            "transport": TRANSPORT,
            "defaults": {"reply": "respond"},
            "tools": {"t": {"reply": "respond"}},
        }
    )
    assert config.defaults.reply is ReplyMode.RESPOND


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        ({"defaults": {"reply": "respond"}}, ("defaults", "reply")),
        ({"defaults": {"perception_reply": "respond"}}, ("defaults", "perception_reply")),
        ({"tools": {"a": {"reply": "echo"}, "b": {"reply": "respond"}}}, ("tools", "b", "reply")),
    ],
)
def test_respond_under_echo_pipeline_is_located(data: dict[str, Any], loc: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as info:
        BotConfig.model_validate({"transport": TRANSPORT, "pipeline_mode": "echo", **data})
    cause = info.value.errors()[0]["ctx"]["error"]
    assert isinstance(cause, LocatedValueError)
    assert cause.loc == loc
    assert cause.message == "respond needs Tavus's LLM, which pipeline_mode: echo turns off"


def test_echo_pipeline_accepts_other_replies() -> None:
    config = BotConfig.model_validate(
        {
            "transport": TRANSPORT,
            "pipeline_mode": "echo",
            "defaults": {"reply": "echo"},
            "tools": {"t": {"reply": "append_context"}, "u": {}},
        }
    )
    assert config.tools["u"].reply is None
