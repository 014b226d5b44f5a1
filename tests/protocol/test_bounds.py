"""Depth and size bounds of inbound messages: measured before anything recurses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cvibot._protocol import Rejection, RejectReason, ToolCall, UnknownEvent, parse_event
from cvibot._protocol.bounds import (
    _SHALLOW_TOKENS,
    MAX_DEPTH,
    MAX_SIZE,
    _deeper_than,
    _shallow_decode,
    elided_mark,
)


def nested_text(depth: int, inner: str = "1") -> str:
    """JSON text of ``depth`` nested objects around ``inner``."""
    return '{"a":' * depth + inner + "}" * depth


def nested_lists(depth: int) -> list[Any]:
    """``depth`` nested lists, built without recursion."""
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def call(arguments: Any, **top: Any) -> dict[str, Any]:
    return {
        "event_type": "conversation.tool_call",
        "conversation_id": "c1",
        "seq": 7,
        "inference_id": "inf-7",
        "properties": {"name": "lookup", "arguments": arguments, "tool_call_id": "t7"},
        **top,
    }


def rejected(result: object, reason: RejectReason) -> Rejection:
    assert isinstance(result, Rejection), result
    assert result.reason is reason, result.detail
    return result


def assert_ids_kept(rejection: Rejection) -> None:
    """The ids the session needs to answer the call with an error."""
    assert rejection.event_type == "conversation.tool_call"
    assert rejection.tool_call_id == "t7"
    assert rejection.conversation_id == "c1"
    assert rejection.seq == 7
    assert rejection.inference_id == "inf-7"


# -- depth -----------------------------------------------------------------------------


@pytest.mark.parametrize("as_text", [False, True])
def test_depth_limit_counts_the_message_as_level_one(as_text: bool) -> None:
    def message(depth: int) -> Any:
        value = {"event_type": "x.y", "a": nested_lists(depth - 1)}
        return json.dumps(value) if as_text else value

    assert isinstance(parse_event(message(MAX_DEPTH)), UnknownEvent)
    rejection = rejected(parse_event(message(MAX_DEPTH + 1)), RejectReason.TOO_DEEP)
    assert rejection.event_type == "x.y"
    assert rejection.detail == f"message is nested more than {MAX_DEPTH} levels deep"


def test_object_arguments_nested_5000_deep_are_rejected_with_the_call_ids() -> None:
    arguments = json.loads(nested_text(900))  # as deep as json.loads itself goes
    for _ in range(4100):
        arguments = {"a": arguments}
    rejection = rejected(parse_event(call(arguments)), RejectReason.TOO_DEEP)
    assert_ids_kept(rejection)
    assert rejection.field is None


def test_string_arguments_nested_5000_deep_are_rejected_before_decoding() -> None:
    # Before the bound, json.loads raised RecursionError here (it was reported as
    # not_json); now the text is measured first.
    rejection = rejected(parse_event(call(nested_text(5000))), RejectReason.TOO_DEEP)
    assert_ids_kept(rejection)
    assert rejection.field == "properties.arguments"


@pytest.mark.parametrize("where", ["arguments", "function"])
def test_string_arguments_are_measured_from_the_level_they_sit_at(where: str) -> None:
    # properties.arguments sits at level 3: its own objects may nest MAX_DEPTH - 2 deep;
    # properties.function.arguments one level lower.
    allowed = MAX_DEPTH - 2 if where == "arguments" else MAX_DEPTH - 3

    def message(depth: int) -> dict[str, Any]:
        text = nested_text(depth)
        if where == "arguments":
            return call(text)
        msg = call(None)
        msg["properties"] = {"function": {"name": "lookup", "arguments": text}}
        return msg

    assert isinstance(parse_event(message(allowed)), ToolCall)
    rejection = rejected(parse_event(message(allowed + 1)), RejectReason.TOO_DEEP)
    assert rejection.field == f"properties.{'function.' if where == 'function' else ''}arguments"
    # The same arguments as an object are measured with the message: the same limit.
    obj = message(allowed + 1)
    props = obj["properties"]
    container = props if where == "arguments" else props["function"]
    container["arguments"] = json.loads(container["arguments"])
    rejected(parse_event(obj), RejectReason.TOO_DEEP)
    container["arguments"] = json.loads(nested_text(allowed))
    assert isinstance(parse_event(obj), ToolCall)


def test_a_message_text_nested_5000_deep_keeps_its_top_level_ids() -> None:
    text = json.dumps(call(None)).replace("null", nested_text(5000))
    for message in (text, text.encode()):
        rejection = rejected(parse_event(message), RejectReason.TOO_DEEP)
        assert_ids_kept(rejection)
        # raw is the message with the deep part cut, safe to print or walk.
        assert rejection.raw["properties"] == {
            "name": "lookup",
            "arguments": None,
            "tool_call_id": "t7",
        }


def test_an_array_nested_5000_deep_is_rejected() -> None:
    rejected(parse_event("[" * 5000 + "]" * 5000), RejectReason.TOO_DEEP)
    rejected(parse_event({"event_type": "x", "a": nested_lists(5000)}), RejectReason.TOO_DEEP)


def test_brackets_inside_strings_do_not_count() -> None:
    tricky = '"[[[{{{\\"]]]' + "[" * 100 + '"'
    text = '{"a":' + tricky + ',"b":[{"c":' + tricky + "}]}"
    assert _deeper_than(text, 2) and not _deeper_than(text, 3)
    message = json.dumps({"event_type": "x.y", "text": "[" * 5000})
    assert isinstance(parse_event(message), UnknownEvent)


@pytest.mark.parametrize("depth", [64, 65, 5000, 400_000])
@pytest.mark.parametrize("prefix", [0, 4095, 4096, 10_000])
def test_depth_is_found_across_chunks(depth: int, prefix: int) -> None:
    # A long flat run first moves the deep part into a later chunk of the scan.
    text = "[" + "[]," * prefix + "[" * (depth - 1) + "]" * (depth - 1) + "]"
    assert _deeper_than(text, depth - 1)
    assert not _deeper_than(text, depth)


def test_a_cyclic_python_message_is_rejected_not_walked_forever() -> None:
    message: dict[str, Any] = {"event_type": "x.y"}
    message["self"] = message
    rejected(parse_event(message), RejectReason.TOO_DEEP)
    shared = [list(range(1000))] * 5000  # wide, shared: counted once per reference
    rejected(parse_event({"event_type": "x.y", "w": shared}), RejectReason.TOO_LARGE)


# -- size ------------------------------------------------------------------------------


def test_a_message_over_the_size_limit_is_rejected_with_its_ids() -> None:
    message = call("{}")
    message["properties"]["note"] = "x" * MAX_SIZE
    rejection = rejected(parse_event(message), RejectReason.TOO_LARGE)
    assert_ids_kept(rejection)
    # The summary in raw cuts the long string.
    assert len(rejection.raw["properties"]["note"]) < 300


def test_a_message_just_under_the_size_limit_is_parsed() -> None:
    message = call("{}")
    message["properties"]["note"] = "x" * (MAX_SIZE - 1000)
    assert isinstance(parse_event(message), ToolCall)
    assert isinstance(parse_event(json.dumps(message)), ToolCall)


@pytest.mark.parametrize("kind", [str, bytes, bytearray, memoryview])
def test_text_over_the_size_limit_is_rejected_without_decoding(kind: type) -> None:
    text = json.dumps(call("{}")) + " " * MAX_SIZE
    message = kind(text.encode()) if kind is not str else text
    rejection = rejected(parse_event(message), RejectReason.TOO_LARGE)
    assert rejection.tool_call_id is None  # not decoded, so not read
    assert len(rejection.raw) <= 200


def test_many_keys_and_long_keys_count_towards_the_size() -> None:
    rejected(parse_event({"event_type": "x", "k" * MAX_SIZE: 1}), RejectReason.TOO_LARGE)
    wide = {str(i): i for i in range(MAX_SIZE // 8)}
    rejected(parse_event({"event_type": "x", "w": wide}), RejectReason.TOO_LARGE)


# -- reading ids of what cannot be decoded ------------------------------------------------


def test_shallow_decode_cuts_below_the_kept_levels() -> None:
    text = '{"a":{"b":{"c":[1]}},"d":"{[","e":[1,[2]]}'
    assert _shallow_decode(text, 1) == {"a": None, "d": "{[", "e": None}
    assert _shallow_decode(text, 2) == {"a": {"b": None}, "d": "{[", "e": [1, None]}
    elided: list[str] = []
    assert _shallow_decode(text, 1, elided) == {
        "a": elided_mark(0),
        "d": "{[",
        "e": elided_mark(1),
    }
    assert elided == ['{"b":{"c":[1]}}', "[1,[2]]"]


@pytest.mark.parametrize("text", ['{"a":[[[', '{"a":1}}]', "{", '{"a":"[}'])
def test_shallow_decode_gives_none_for_what_is_not_json(text: str) -> None:
    assert _shallow_decode(text, 1) is None


def test_a_too_deep_call_with_a_megabyte_field_keeps_its_ids() -> None:
    # One huge string is one token of the shallow scan, however long: the ids are read.
    message = call({"x": 1})
    message["properties"]["name"] = "n" * (1 << 20)
    text = json.dumps(message).replace('{"x": 1}', nested_text(100))
    assert_ids_kept(rejected(parse_event(text), RejectReason.TOO_DEEP))


def test_shallow_decode_gives_up_past_its_token_budget() -> None:
    fits = '{"a":[' + ",".join(["[]"] * (_SHALLOW_TOKENS // 2 - 4)) + "]}"
    assert _shallow_decode(fits, 1) == {"a": None}
    too_many = '{"a":[' + ",".join(["[]"] * (_SHALLOW_TOKENS // 2 + 4)) + "]}"
    assert _shallow_decode(too_many, 1) is None
