"""Property tests: parse_event never raises and is consistent across encodings (§6 rule 1)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvibot._protocol import (
    Event,
    PerceptionToolCall,
    Rejection,
    RejectReason,
    SpeakingStopped,
    ToolCall,
    Utterance,
    parse_event,
)

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)

EVENT_TYPES = [
    "conversation.tool_call",
    "conversation.perception_tool_call",
    "conversation.utterance",
    "conversation.utterance.streaming",
    "conversation.started_speaking",
    "conversation.stopped_speaking",
    "conversation.replica.started_speaking",
    "conversation.replica.stopped_speaking",
    "conversation.user.stopped_speaking",
    "conversation.replica_interrupted",
    "conversation.replica.interrupted",
    "conversation.perception_analysis",
    "system.replica_joined",
    "system.shutdown",
    "conversation.echo",
    "conversation.something_new",
]


def plausible(*good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly well-typed values, sometimes any JSON value."""
    return st.one_of(*good, json_values)


ids = plausible(st.text(max_size=12))
flags = plausible(st.booleans(), st.sampled_from(["true", "false", "True"]))
numbers = plausible(st.integers(), st.floats())
arguments = plausible(
    st.dictionaries(st.text(max_size=5), json_scalars, max_size=3),
    st.dictionaries(st.text(max_size=5), json_scalars, max_size=3).map(json.dumps),
    st.sampled_from(["", " ", "{", "[]", "null", '"x"']),
)
frames = plausible(
    st.lists(
        st.one_of(
            st.text(max_size=8),
            st.fixed_dictionaries(
                {"data": plausible(st.text(max_size=8))},
                optional={"mime_type": plausible(st.just("image/jpeg"))},
            ),
        ),
        max_size=3,
    )
)

properties = st.fixed_dictionaries(
    {},
    optional={
        "name": ids,
        "tool_name": ids,
        "function": plausible(
            st.fixed_dictionaries({}, optional={"name": ids, "arguments": arguments})
        ),
        "arguments": arguments,
        "tool_call_id": ids,
        "inference_id": ids,
        "modality": plausible(st.sampled_from(["vision", "audio"])),
        "frames": frames,
        "role": plausible(st.sampled_from(["user", "replica", "pal"])),
        "speech": ids,
        "content": ids,
        "text": ids,
        "transcript": ids,
        "interrupted": flags,
        "final": flags,
        "is_interrupted": flags,
        "content_index": numbers,
        "duration": numbers,
        "analysis": ids,
        "replica_id": ids,
        "shutdown_reason": ids,
    },
)

shaped_messages = st.fixed_dictionaries(
    {"event_type": plausible(st.sampled_from(EVENT_TYPES))},
    optional={
        "message_type": plausible(st.sampled_from(["conversation", "system"])),
        "conversation_id": ids,
        "seq": numbers,
        "turn_idx": numbers,
        "timestamp": plausible(
            st.floats(), st.integers(), st.datetimes().map(lambda d: d.isoformat() + "Z")
        ),
        "inference_id": ids,
        "tool_call_id": ids,
        "properties": plausible(properties),
    },
)


def check_result(result: Event | Rejection) -> None:
    """The invariants every result holds."""
    assert isinstance(result, Event | Rejection)
    if isinstance(result, Rejection):
        assert isinstance(result.reason, RejectReason)
        assert isinstance(result.detail, str) and result.detail
        # The safety net is for hostile Python objects, never for JSON-shaped input.
        assert not result.detail.startswith("message could not be read")
        for value in (result.conversation_id, result.tool_call_id, result.inference_id):
            assert value is None or (isinstance(value, str) and value)
        assert result.seq is None or (type(result.seq) is int)
        return
    assert isinstance(result.event_type, str) and result.event_type
    assert isinstance(result.properties, dict)
    assert result.seq is None or type(result.seq) is int
    assert result.timestamp is None or isinstance(result.timestamp, float)
    if isinstance(result, ToolCall):
        assert isinstance(result.name, str) and result.name
        assert isinstance(result.arguments, dict)
        assert result.tool_call_id is None or isinstance(result.tool_call_id, str)
    if isinstance(result, PerceptionToolCall):
        assert all(isinstance(frame.data, str) for frame in result.frames)
    if isinstance(result, Utterance | SpeakingStopped):
        assert result.role != "pal"
        assert isinstance(result.interrupted, bool)


@FUZZ
@given(json_values)
def test_never_raises_on_any_json_value(value: Any) -> None:
    check_result(parse_event(value))


@FUZZ
@given(shaped_messages)
def test_never_raises_on_shaped_messages(message: dict[str, Any]) -> None:
    result = parse_event(message)
    check_result(result)
    # A rejected call keeps its id, so the runtime can still answer it with an error.
    props = message.get("properties")
    inner = props.get("tool_call_id") if isinstance(props, dict) else None
    if isinstance(result, Rejection) and isinstance(inner, str) and inner:
        assert result.tool_call_id == inner


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=40),
        st.text(max_size=40),
        st.tuples(json_scalars),
        st.frozensets(st.integers(), max_size=3),
        st.complex_numbers(),
        st.builds(object),
    )
)
def test_never_raises_on_other_python_values(value: Any) -> None:
    check_result(parse_event(value))


def outcome(result: Event | Rejection) -> tuple[type, RejectReason | None, str | None]:
    if isinstance(result, Rejection):
        return Rejection, result.reason, result.field
    return type(result), None, None


@FUZZ
@given(st.one_of(shaped_messages, st.dictionaries(st.text(max_size=10), json_values, max_size=5)))
def test_json_text_parses_like_the_object(message: dict[str, Any]) -> None:
    direct = parse_event(message)
    text = json.dumps(message)
    assert outcome(parse_event(text)) == outcome(direct)
    assert outcome(parse_event(text.encode())) == outcome(direct)
