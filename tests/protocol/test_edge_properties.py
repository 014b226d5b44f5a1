"""Property tests at the edges: hostile text, deep nesting, huge fields, in and out.

- parse_event never raises, whatever JSON value (or text of one) arrives, lone
  surrogates, deep nesting and megabyte strings included, and a rejected tool call keeps
  its ``tool_call_id``;
- mutations of valid tool calls, in every shape the parser accepts, never raise;
- whatever text an answer carries, its app-message is valid UTF-8 JSON within the limit.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvibot._dispatch.answer import answer_for, effective_reply
from cvibot._dispatch.limits import encode_answer
from cvibot._protocol import (
    DEFAULT_MESSAGE_LIMIT,
    Echo,
    Event,
    Rejection,
    RejectReason,
    ToolCall,
    ToolResult,
    encode_message,
    parse_event,
)
from cvibot._protocol.bounds import _SHALLOW_TOKENS as SHALLOW_SCAN_LIMIT
from cvibot._protocol.bounds import _TOKEN as JSON_TOKEN
from cvibot._protocol.bounds import MAX_DEPTH, MAX_SIZE
from cvibot._protocol.text import has_surrogates, valid_unicode
from cvibot.tools._options import ReplyMode

EDGE = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))

# Text that mixes the usual with what breaks encoders: lone surrogates, controls, astral.
surrogates = st.integers(0xD800, 0xDFFF).map(chr)
hostile_text = st.one_of(
    st.text(max_size=12),
    st.lists(
        st.one_of(st.characters(codec="utf-8"), surrogates, st.sampled_from(["\x00", "\x1b"])),
        max_size=12,
    ).map("".join),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    hostile_text,
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4)
    ),
    max_leaves=16,
)


def deep(depth: int, leaf: Any) -> Any:
    """``leaf`` inside ``depth`` alternating arrays and objects, built without recursion."""
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


# A value that is sometimes deep (around the limit, or far past it) or huge.
edge_values = st.one_of(
    json_values,
    st.builds(deep, st.sampled_from([MAX_DEPTH - 3, MAX_DEPTH, MAX_DEPTH + 1, 3000]), scalars),
    st.builds(
        lambda n, c: c * n, st.sampled_from([10, 70_000, MAX_SIZE + 10]), st.sampled_from("x\ud83d")
    ),
)


def depth_of(value: Any) -> int:
    """How deep arrays and objects nest in ``value`` (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            stack.extend(
                (child, depth + 1) for child in (item.values() if isinstance(item, dict) else item)
            )
    return deepest


def check(result: Event | Rejection, message: Any = None) -> None:
    assert isinstance(result, Event | Rejection)
    if isinstance(result, Rejection):
        assert isinstance(result.reason, RejectReason)
        assert result.detail
        assert not result.detail.startswith("message could not be read")
    if isinstance(message, dict) and depth_of(message) > MAX_DEPTH:
        assert isinstance(result, Rejection)
        assert result.reason in (RejectReason.TOO_DEEP, RejectReason.TOO_LARGE)


@EDGE
@given(st.dictionaries(hostile_text, edge_values, max_size=4), st.booleans())
def test_parse_never_raises_on_edge_values(message: dict[str, Any], as_text: bool) -> None:
    if as_text:
        try:
            text = json.dumps(message)
        except RecursionError:
            return  # json.dumps itself cannot write it; the dict form is still checked
        check(parse_event(text), message)
        check(parse_event(text.encode("utf-8", "surrogatepass")))
    check(parse_event(message), message)


@EDGE
@given(edge_values)
def test_parse_never_raises_on_any_edge_value(value: Any) -> None:
    check(parse_event(value))


# -- mutations of valid tool calls -------------------------------------------------------

SHAPES = ("official", "legacy", "function")


def valid_call(shape: str, arguments: dict[str, Any]) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "message_type": "conversation",
        "event_type": "conversation.tool_call",
        "conversation_id": "c1",
        "seq": 3,
        "turn_idx": 1,
        "timestamp": 1.7e9,
    }
    if shape == "official":
        props = {"name": "lookup", "arguments": json.dumps(arguments), "tool_call_id": "t1"}
        envelope["inference_id"] = "inf-1"
    elif shape == "legacy":
        props = {"tool_name": "lookup", "arguments": arguments, "inference_id": "inf-1"}
        envelope["tool_call_id"] = "t1"
    else:
        props = {
            "function": {"name": "lookup", "arguments": json.dumps(arguments)},
            "tool_call_id": "t1",
        }
    envelope["properties"] = props
    return envelope


PATHS = [
    ("event_type",),
    ("conversation_id",),
    ("seq",),
    ("timestamp",),
    ("inference_id",),
    ("tool_call_id",),
    ("properties",),
    ("properties", "name"),
    ("properties", "tool_name"),
    ("properties", "arguments"),
    ("properties", "tool_call_id"),
    ("properties", "function"),
    ("properties", "function", "name"),
    ("properties", "function", "arguments"),
]

mutations = st.lists(
    st.tuples(
        st.sampled_from(PATHS),
        st.one_of(
            edge_values,
            st.just(_DELETE := object()),
            # arguments text deep past the limit, or with a lone surrogate
            st.builds(lambda d: '{"a":' * d + "1" + "}" * d, st.sampled_from([60, 63, 5000])),
            hostile_text.map(lambda t: json.dumps({"q": t})),
        ),
    ),
    min_size=1,
    max_size=3,
)


def mutate(message: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    target: Any = message
    for key in path[:-1]:
        if not isinstance(target, dict) or not isinstance(target.get(key), dict):
            return
        target = target[key]
    if value is _DELETE:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value


@EDGE
@given(
    st.sampled_from(SHAPES),
    st.dictionaries(hostile_text, scalars, max_size=3),
    mutations,
    st.booleans(),
)
def test_mutated_tool_calls_never_raise_and_keep_their_id(
    shape: str, arguments: dict[str, Any], changes: list[Any], as_text: bool
) -> None:
    message = valid_call(shape, arguments)
    unmutated = parse_event(message)
    assert isinstance(unmutated, ToolCall) and unmutated.tool_call_id == "t1"
    for path, value in changes:
        mutate(message, path, value)
    text = ""
    if as_text:
        try:
            text = json.dumps(message)
        except RecursionError:
            return
        result = parse_event(text)
    else:
        result = parse_event(message)
    check(result)
    # The call's id survives a rejection whenever it is still where the shape put it.
    props = message.get("properties")
    kept = props.get("tool_call_id") if isinstance(props, dict) else None
    # Text the parser does not read at all: over the size limit, or too deep with more
    # strings and brackets than the shallow scan that reads the ids of a too-deep message
    # takes (documented limits).
    unread = isinstance(result, Rejection) and (
        result.reason is RejectReason.TOO_LARGE
        or (
            result.reason is RejectReason.TOO_DEEP
            and len(JSON_TOKEN.findall(text)) > SHALLOW_SCAN_LIMIT
        )
    )
    unread = as_text and unread
    if isinstance(result, Rejection) and isinstance(kept, str) and kept and not unread:
        assert result.tool_call_id == kept


# -- outbound --------------------------------------------------------------------------

big_text = st.one_of(
    hostile_text,
    st.builds(lambda t, n: t * n, hostile_text, st.integers(1, 2000)),
)


@EDGE
@given(
    text=big_text,
    tool_call_id=st.one_of(st.none(), hostile_text.filter(bool)),
    conversation_id=hostile_text,
    mode=st.sampled_from(list(ReplyMode)),
    ok=st.booleans(),
    on_oversize=st.sampled_from(["truncate", "error"]),
)
def test_every_answer_encodes_as_utf8_json_within_the_limit(
    text: str,
    tool_call_id: str | None,
    conversation_id: str,
    mode: ReplyMode,
    ok: bool,
    on_oversize: Any,
) -> None:
    call = ToolCall(
        event_type="conversation.tool_call", name="t\ud83d", arguments={}, tool_call_id=tool_call_id
    )
    resolved = effective_reply(mode, tool_call_id)
    interaction = answer_for(resolved, text=text, ok=ok, tool_call_id=tool_call_id)
    if interaction is None:
        return
    encoded = encode_answer(
        interaction,
        mode=resolved,
        call=call,
        conversation_id=conversation_id,
        limit=DEFAULT_MESSAGE_LIMIT,
        on_oversize=on_oversize,
        log=structlog.get_logger("test"),
    )
    data = encode_message(encoded.message)
    assert len(data) <= DEFAULT_MESSAGE_LIMIT
    decoded = json.loads(data.decode("utf-8"))  # strict UTF-8, strict JSON
    assert decoded["conversation_id"] == valid_unicode(conversation_id)
    if tool_call_id is not None and resolved is ReplyMode.TOOL_RESULT:
        assert decoded["properties"]["tool_call_id"] == valid_unicode(tool_call_id)


@EDGE
@given(hostile_text)
def test_valid_unicode_always_encodes_and_keeps_valid_text(text: str) -> None:
    mended = valid_unicode(text)
    mended.encode("utf-8")
    assert not has_surrogates(mended)
    if not has_surrogates(text):
        assert mended is text
    else:
        assert "\ufffd" in mended or len(mended) < len(text)  # replaced, or a pair joined


def test_valid_unicode_joins_split_pairs_and_replaces_lone_ones() -> None:
    assert valid_unicode("a\ud83db") == "a\ufffdb"
    assert valid_unicode("\ud83d\ude00") == "😀"
    assert valid_unicode("\ude00\ud83d") == "\ufffd\ufffd"
    assert valid_unicode("plain") == "plain"


def test_interactions_mend_every_string_they_send() -> None:
    result = ToolResult(tool_call_id="t\ud83d", output="o\udc00")
    assert result.to_message("c\ud800") == {
        "message_type": "conversation",
        "event_type": "conversation.tool_result",
        "conversation_id": "c\ufffd",
        "properties": {"tool_call_id": "t\ufffd", "output": "o\ufffd", "status": "success"},
    }
    # model_copy skips validation: to_message mends what it lets through.
    copied = ToolResult(output="x").model_copy(update={"tool_call_id": "\ud83d"})
    assert copied.to_message("c")["properties"]["tool_call_id"] == "\ufffd"
    echo = Echo(text="\ud83d", inference_id="i\ud83d").to_message("c")
    encode_message(echo)  # no longer raises
