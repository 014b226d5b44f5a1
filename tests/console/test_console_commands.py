"""The console's line grammar and its rendering of each message kind."""

from __future__ import annotations

import json
import shlex
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cvibot._cli.console import render
from cvibot._cli.console.commands import (
    Call,
    Help,
    Interrupt,
    ListTools,
    Problem,
    Quit,
    Say,
    parse_arguments,
    parse_line,
)

_KEYS = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,10}", fullmatch=True)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False)
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(st.text(max_size=200))
def test_any_line_parses_to_a_command_or_a_problem(line: str) -> None:
    command = parse_line(line)
    assert command is None or isinstance(
        command, Say | Call | Interrupt | ListTools | Help | Quit | Problem
    )
    if command is None:
        assert not line.strip()
    if not line.strip().startswith("/") and line.strip():
        assert command == Say(line.strip())


@given(st.dictionaries(_KEYS, _JSON, max_size=5))
def test_key_value_words_round_trip_any_json_arguments(arguments: dict[str, Any]) -> None:
    # Written as key='<json>' (quoted for the shell-like split), each value comes back
    # as the same JSON; a string that does not parse as JSON stays that string.
    words = " ".join(f"{k}={shlex.quote(json.dumps(v))}" for k, v in arguments.items())
    assert parse_arguments(words) == arguments
    assert parse_line(f"/call tool {json.dumps(arguments)}") == Call("tool", arguments)


def test_values_are_json_when_they_parse_else_strings() -> None:
    assert parse_arguments("n=3 f=1.5 ok=true none=null s=hello t='two words' e=") == {
        "n": 3,
        "f": 1.5,
        "ok": True,
        "none": None,
        "s": "hello",
        "t": "two words",
        "e": "",
    }
    # NaN and Infinity are not JSON: they stay strings (the arguments go out as JSON text)
    assert parse_arguments("x=NaN y=Infinity") == {"x": "NaN", "y": "Infinity"}
    # deep nesting does not crash the parser: it is a string, or an error for an object
    deep = "[" * 100_000
    assert parse_arguments(f"d={deep}") == {"d": deep}
    assert isinstance(parse_line("/call t {" + '"a":' * 100_000), Problem)


def test_commands_and_their_shapes() -> None:
    assert parse_line("/legacy t a=1") == Call("t", {"a": 1}, shape="legacy")
    assert parse_line("/perception seen what=cup") == Call("seen", {"what": "cup"}, perception=True)
    assert parse_line("  /INTERRUPT ") == Interrupt()
    assert parse_line("//call is what I said") == Say("/call is what I said")
    assert parse_line("/quit now") == Problem("/quit takes no arguments")
    assert isinstance(parse_line('/call t ["a"]'), Problem)  # not an object


def test_each_message_kind_is_shown_with_its_fields() -> None:
    def show(event_type: str, props: dict[str, Any] | None) -> list[str]:
        message: dict[str, Any] = {"message_type": "conversation", "event_type": event_type}
        if props is not None:
            message["properties"] = props
        return render.render_sent(message)

    assert show("conversation.echo", {"modality": "text", "text": "Hi", "done": True}) == [
        "← echo: Hi"
    ]
    audio = {"modality": "audio", "audio": "QUJD", "sample_rate": 16000}
    assert show("conversation.echo", audio) == [
        "← echo (audio: 4 base64 characters, sample_rate 16000)"
    ]
    assert show("conversation.respond", {"text": "say hi"}) == [
        "← respond (to the LLM, as the user): say hi"
    ]
    assert show("conversation.append_llm_context", {"context": "vip"}) == [
        "← append_llm_context: vip"
    ]
    assert show("conversation.overwrite_llm_context", {"context": "c", "job_status": "done"}) == [
        "← overwrite_llm_context (job_status done): c"
    ]
    assert show("conversation.interrupt", None) == ["← interrupt (the replica stops speaking)"]
    assert show("conversation.sensitivity", {"participant_pause_sensitivity": "low"}) == [
        '← sensitivity: participant_pause_sensitivity "low"'
    ]
    result = {"tool_call_id": "c1", "output": "[1, 2]", "status": "success"}
    assert show("conversation.tool_result", result) == [
        '← tool_result success (tool_call_id "c1")', "    [", "      1,", "      2", "    ]"
    ]  # fmt: skip
    assert show("x.unknown", {"a": 1}) == [
        '← x.unknown: {"message_type": "conversation", "event_type": "x.unknown", '
        '"properties": {"a": 1}}'
    ]
    # a message with a broken shape is still shown, never an exception
    assert render.render_sent({"event_type": "conversation.tool_result", "properties": 7})
    assert render.render_sent({"event_type": 3})
