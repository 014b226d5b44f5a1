"""``cvibot check``: the warnings about what loads but silently does nothing, and
``--strict``, which makes them errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import EXAMPLE_CONFIG, invoke, write_text

TRANSPORT = "transport: {type: replay, path: rec.jsonl}\n"


def _check(tmp_path: Path, config: str, source: str, *args: str) -> tuple[int, list[str]]:
    write_text(tmp_path / "mytools.py", source)
    path = write_text(tmp_path / "bot.yaml", config)
    result = invoke("check", path, *args)
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    return result.exit_code, warnings


def test_a_hook_function_without_hookimpl_is_reported_at_its_plugin(tmp_path: Path) -> None:
    source = """
    from cvibot import hookimpl

    def cvibot_startup(settings):
        raise SystemExit("never called")

    def cvibot_sesion_started(session):
        pass

    @hookimpl
    def cvibot_shutdown():
        pass
    """
    code, warnings = _check(tmp_path, TRANSPORT + "plugins:\n  - mytools\n", source)

    where = f"warning: {tmp_path / 'bot.yaml'}:3: plugins[0]: plugin 'mytools': "
    assert code == 0
    assert warnings == [
        where + "cvibot_sesion_started() looks like a hook, but cvibot has no hook of that "
        "name; did you mean cvibot_session_started?",
        where + "cvibot_startup() has the name of a hook but no @hookimpl, so it is never "
        "called; mark it with @hookimpl (from cvibot import hookimpl)",
    ]


def test_a_tool_without_a_description(tmp_path: Path) -> None:
    source = """
    from cvibot import tool

    @tool
    def nameless(order_id: str) -> str:
        return order_id

    @tool(description="   ")
    def blank() -> str:
        return ""

    @tool
    def described() -> str:
        \"\"\"Has one.\"\"\"
        return ""
    """
    code, warnings = _check(tmp_path, TRANSPORT + "plugins: [mytools]\n", source)

    assert code == 0
    assert [w.split(": plugins[0]: ", 1)[1] for w in warnings] == [
        f"tool {name!r} (plugin mytools) has no description, so the LLM knows it by its "
        "name alone: give the function a docstring, or description="
        for name in ("blank", "nameless")
    ]


@pytest.mark.parametrize(
    ("responder", "warned"),
    [
        ("", True),
        ("@hookimpl\ndef cvibot_respond_to_utterance(utterance):\n    return 'hi'\n", False),
    ],
)
def test_echo_mode_without_a_responder(tmp_path: Path, responder: str, warned: bool) -> None:
    source = "from cvibot import hookimpl\n" + responder
    config = "pipeline_mode: echo\n" + TRANSPORT + "plugins: [mytools]\n"

    code, warnings = _check(tmp_path, config, source)

    assert code == 0
    assert warnings == (
        [
            f"warning: {tmp_path / 'bot.yaml'}:1: pipeline_mode: echo turns Tavus's LLM off, "
            "and no plugin implements cvibot_respond_to_utterance, so what the user says "
            "goes unanswered: add a responder plugin (cvibot-faq is one) or use "
            "pipeline_mode: full"
        ]
        if warned
        else []
    )


SPOKEN = '''
from __future__ import annotations

import dataclasses
from typing import Any, TypedDict

from pydantic import BaseModel

from cvibot import Echo, tool


class Order(BaseModel):
    id: int


class Row(TypedDict):
    sku: str


@dataclasses.dataclass
class Point:
    x: int


@tool(reply="echo")
def as_dict() -> dict[str, Any]:
    """A dict."""
    return {}


@tool(reply="respond")
async def as_model() -> Order | None:
    """A model, or nothing."""
    return None


@tool(reply="echo")
def as_rows() -> list[Row]:
    """Rows."""
    return []


@tool(reply="echo")
def as_point() -> Point:
    """A point."""
    return Point(1)


@tool
def overridden() -> dict[str, int]:
    """Spoken because the config says so."""
    return {}


@tool(reply="echo", say=lambda order: "said")
def with_say() -> dict[str, Any]:
    """Has a sentence."""
    return {}


@tool(reply="echo")
def text() -> str:
    """Words already."""
    return ""


@tool(reply="echo")
def explicit() -> Echo:
    """An interaction replaces the reply."""
    return Echo(text="hi")


@tool(reply="echo")
def unannotated():
    """Nothing to tell from."""
    return {}


@tool
def read_by_tavus() -> dict[str, Any]:
    """auto: a tool_result for calls with an id."""
    return {}
'''


def test_a_structured_result_spoken_without_say(tmp_path: Path) -> None:
    config = TRANSPORT + "plugins: [mytools]\ntools:\n  overridden:\n    reply: echo\n"

    code, warnings = _check(tmp_path, config, SPOKEN)

    bot = tmp_path / "bot.yaml"
    sentence = "speaks as 'key: value' words: give it a sentence with @tool(say=lambda result: ...)"
    assert code == 0
    assert warnings == [
        f"warning: {bot}:2: plugins[0]: tool 'as_dict' (plugin mytools) returns "
        f"dict[str, Any], which its reply 'echo' {sentence}",
        f"warning: {bot}:2: plugins[0]: tool 'as_model' (plugin mytools) returns "
        f"mytools.Order | None, which its reply 'respond' {sentence}",
        f"warning: {bot}:2: plugins[0]: tool 'as_point' (plugin mytools) returns "
        f"Point, which its reply 'echo' {sentence}",
        f"warning: {bot}:2: plugins[0]: tool 'as_rows' (plugin mytools) returns "
        f"list[mytools.Row], which its reply 'echo' {sentence}",
        f"warning: {bot}:5: tools.overridden.reply: tool 'overridden' (plugin mytools) returns "
        f"dict[str, int], which its reply 'echo' {sentence}",
    ]


def test_strict_makes_the_warnings_errors(tmp_path: Path) -> None:
    config = "pipeline_mode: echo\n" + TRANSPORT + "plugins: [mytools]\n"

    lenient, warned = _check(tmp_path, config, "x = 1\n")
    strict, _ = _check(tmp_path, config, "x = 1\n", "--strict")
    result = invoke("check", tmp_path / "bot.yaml", "--strict")

    assert (lenient, len(warned)) == (0, 1)
    assert strict == 2
    assert result.stderr.splitlines()[-1] == "error: 1 warning, which --strict makes errors"


def test_the_example_bot_has_no_warnings() -> None:
    result = invoke("check", EXAMPLE_CONFIG, "--strict")

    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
