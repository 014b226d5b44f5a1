"""parse_event on every documented inbound shape (protocol reference §2, §4, §5, §6)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest

from cvibot._protocol import (
    INTERACTION_TYPES,
    Event,
    ForeignInteraction,
    Frame,
    PerceptionAnalysis,
    PerceptionToolCall,
    Rejection,
    RejectReason,
    ReplicaInterrupted,
    ReplicaJoined,
    Shutdown,
    SpeakingStarted,
    SpeakingStopped,
    ToolCall,
    UnknownEvent,
    Utterance,
    UtteranceStreaming,
    normalise_role,
    parse_event,
)

OFFICIAL_TOOL_CALL: dict[str, Any] = {
    "message_type": "conversation",
    "event_type": "conversation.tool_call",
    "conversation_id": "c123",
    "inference_id": "inf-user-1",
    "seq": 41,
    "turn_idx": 3,
    "timestamp": 1750000000.25,
    "properties": {
        "name": "get_weather",
        "arguments": '{"city": "Paris", "days": 2}',
        "tool_call_id": "call_abc",
    },
}


def event(message: Any) -> Event:
    result = parse_event(message)
    assert isinstance(result, Event), result
    return result


def rejection(message: Any) -> Rejection:
    result = parse_event(message)
    assert isinstance(result, Rejection), result
    return result


def tool_call(properties: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"event_type": "conversation.tool_call", **top, "properties": properties}


# --- conversation.tool_call (§4.4, D1-D4) ---------------------------------------------------


def test_official_tool_call() -> None:
    call = event(OFFICIAL_TOOL_CALL)
    assert type(call) is ToolCall
    assert call.event_type == "conversation.tool_call"
    assert call.message_type == "conversation"
    assert call.conversation_id == "c123"
    assert call.inference_id == "inf-user-1"
    assert call.seq == 41
    assert call.turn_idx == 3
    assert call.timestamp == 1750000000.25
    assert call.name == "get_weather"
    assert call.arguments == {"city": "Paris", "days": 2}
    assert call.raw_arguments == '{"city": "Paris", "days": 2}'
    assert call.tool_call_id == "call_abc"
    assert call.properties == OFFICIAL_TOOL_CALL["properties"]
    assert call.raw == OFFICIAL_TOOL_CALL
    assert not call.is_replica_interruption


def test_seed_tool_call_shape() -> None:
    arguments = {"city": "Oslo"}
    call = event(
        tool_call(
            {"tool_name": "get_weather", "arguments": arguments, "inference_id": "inf-9"},
            conversation_id="c1",
        )
    )
    assert isinstance(call, ToolCall)
    assert call.name == "get_weather"
    assert call.arguments == {"city": "Oslo"}
    assert call.raw_arguments is arguments
    assert call.inference_id == "inf-9"
    assert call.tool_call_id is None
    assert call.seq is None and call.turn_idx is None and call.timestamp is None


def test_function_shape_tool_call() -> None:
    call = event(tool_call({"function": {"name": "lookup", "arguments": '{"q": "x"}'}}))
    assert isinstance(call, ToolCall)
    assert call.name == "lookup"
    assert call.arguments == {"q": "x"}
    assert call.raw_arguments == '{"q": "x"}'


def test_name_precedence_name_then_tool_name_then_function() -> None:
    call = event(tool_call({"name": "a", "tool_name": "b", "function": {"name": "c"}}))
    assert isinstance(call, ToolCall) and call.name == "a"
    call = event(tool_call({"name": "", "tool_name": "b", "function": {"name": "c"}}))
    assert isinstance(call, ToolCall) and call.name == "b"
    call = event(tool_call({"name": None, "tool_name": 7, "function": {"name": "c"}}))
    assert isinstance(call, ToolCall) and call.name == "c"


def test_top_level_arguments_win_over_function_arguments() -> None:
    call = event(tool_call({"name": "t", "arguments": {"a": 1}, "function": {"arguments": "{}"}}))
    assert isinstance(call, ToolCall) and call.arguments == {"a": 1}


@pytest.mark.parametrize("arguments", ["", "   ", "\n\t", None])
def test_blank_or_null_arguments_are_empty(arguments: Any) -> None:
    call = event(tool_call({"name": "t", "arguments": arguments}))
    assert isinstance(call, ToolCall)
    assert call.arguments == {}
    assert call.raw_arguments == arguments


def test_absent_arguments_are_empty() -> None:
    call = event(tool_call({"name": "t"}))
    assert isinstance(call, ToolCall)
    assert call.arguments == {}
    assert call.raw_arguments is None


def test_tool_call_id_from_properties_then_top_level() -> None:
    call = event(tool_call({"name": "t"}, tool_call_id="top"))
    assert isinstance(call, ToolCall) and call.tool_call_id == "top"
    call = event(tool_call({"name": "t", "tool_call_id": "inner"}, tool_call_id="top"))
    assert isinstance(call, ToolCall) and call.tool_call_id == "inner"


def test_inference_id_top_level_wins_over_properties() -> None:
    call = event(tool_call({"name": "t", "inference_id": "inner"}, inference_id="top"))
    assert call.inference_id == "top"


def test_empty_ids_read_as_absent() -> None:
    call = event(
        tool_call(
            {"name": "t", "tool_call_id": "", "inference_id": "inner"},
            conversation_id="",
            inference_id="",
        )
    )
    assert isinstance(call, ToolCall)
    assert call.conversation_id is None
    assert call.tool_call_id is None
    assert call.inference_id == "inner"


def test_message_as_json_string_and_bytes() -> None:
    text = json.dumps(OFFICIAL_TOOL_CALL)
    from_dict = event(OFFICIAL_TOOL_CALL)
    assert event(text) == from_dict
    assert event(text.encode()) == from_dict
    assert event(bytearray(text.encode())) == from_dict


def test_non_ascii_utf8_bytes() -> None:
    call = event(json.dumps(tool_call({"name": "say", "arguments": {"t": "héllo ✓"}})).encode())
    assert isinstance(call, ToolCall) and call.arguments == {"t": "héllo ✓"}


def test_any_mapping_is_accepted() -> None:
    message = MappingProxyType(
        {"event_type": "conversation.tool_call", "properties": MappingProxyType({"name": "t"})}
    )
    call = event(message)
    assert isinstance(call, ToolCall) and call.name == "t" and call.arguments == {}


# --- conversation.perception_tool_call (§4.5) ---------------------------------------------


def test_vision_perception_tool_call() -> None:
    call = event(
        {
            "message_type": "conversation",
            "event_type": "conversation.perception_tool_call",
            "conversation_id": "c1",
            "seq": 7,
            "properties": {
                "modality": "vision",
                "name": "notice_badge",
                "arguments": {"colour": "red"},
                "frames": [
                    {"data": "/9j/AAA=", "mime_type": "image/jpeg"},
                    {"data": "/9j/BBB="},
                    "/9j/CCC=",
                ],
            },
        }
    )
    assert type(call) is PerceptionToolCall
    assert isinstance(call, ToolCall)
    assert call.modality == "vision"
    assert call.name == "notice_badge"
    assert call.arguments == {"colour": "red"}
    assert call.tool_call_id is None
    assert call.frames == (
        Frame(data="/9j/AAA=", mime_type="image/jpeg"),
        Frame(data="/9j/BBB="),
        Frame(data="/9j/CCC="),
    )


def test_audio_perception_tool_call() -> None:
    call = event(
        {
            "event_type": "conversation.perception_tool_call",
            "properties": {
                "modality": "audio",
                "name": "detect_tone",
                "arguments": '{"tone": "angry"}',
                "tool_call_id": "pcall-1",
            },
        }
    )
    assert isinstance(call, PerceptionToolCall)
    assert call.modality == "audio"
    assert call.arguments == {"tone": "angry"}
    assert call.frames == ()
    assert call.tool_call_id == "pcall-1"


def test_older_perception_tool_call_without_modality() -> None:
    call = event(
        {
            "event_type": "conversation.perception_tool_call",
            "properties": {"name": "n", "arguments": {}, "frames": []},
        }
    )
    assert isinstance(call, PerceptionToolCall)
    assert call.modality is None and call.frames == ()


# --- conversation.utterance / .streaming (§4.2, §4.3, D5, D6) -----------------------------


def test_official_utterance_with_pal_role() -> None:
    utterance = event(
        {
            "message_type": "conversation",
            "event_type": "conversation.utterance",
            "conversation_id": "c1",
            "inference_id": "inf-2",
            "seq": 5,
            "properties": {"role": "pal", "speech": "Hello there"},
        }
    )
    assert type(utterance) is Utterance
    assert utterance.role == "replica"
    assert utterance.original_role == "pal"
    assert utterance.speech == "Hello there"
    assert utterance.interrupted is False
    assert utterance.inference_id == "inf-2"


def test_legacy_replica_and_user_roles() -> None:
    replica = event(
        {"event_type": "conversation.utterance", "properties": {"role": "replica", "speech": "x"}}
    )
    user = event(
        {"event_type": "conversation.utterance", "properties": {"role": "user", "speech": "y"}}
    )
    assert isinstance(replica, Utterance) and replica.role == replica.original_role == "replica"
    assert isinstance(user, Utterance) and user.role == user.original_role == "user"


@pytest.mark.parametrize("key", ["speech", "content", "text", "transcript"])
def test_utterance_text_keys(key: str) -> None:
    utterance = event(
        {"event_type": "conversation.utterance", "properties": {"role": "user", key: "words"}}
    )
    assert isinstance(utterance, Utterance) and utterance.speech == "words"


def test_utterance_text_key_precedence() -> None:
    utterance = event(
        {
            "event_type": "conversation.utterance",
            "properties": {"role": "user", "text": "c", "content": "b", "speech": "a"},
        }
    )
    assert isinstance(utterance, Utterance) and utterance.speech == "a"
    utterance = event(
        {
            "event_type": "conversation.utterance",
            "properties": {"role": "user", "speech": None, "text": "c", "content": "b"},
        }
    )
    assert isinstance(utterance, Utterance) and utterance.speech == "b"


@pytest.mark.parametrize(("value", "expected"), [(True, True), ("true", True), ("false", False)])
def test_utterance_interrupted_flag(value: Any, expected: bool) -> None:
    utterance = event(
        {
            "event_type": "conversation.utterance",
            "properties": {"role": "replica", "speech": "cut", "interrupted": value},
        }
    )
    assert isinstance(utterance, Utterance) and utterance.interrupted is expected


def test_utterance_streaming() -> None:
    chunk = event(
        {
            "event_type": "conversation.utterance.streaming",
            "inference_id": "inf-3",
            "seq": 11,
            "properties": {
                "role": "pal",
                "speech": "Hello wor",
                "content_index": 4,
                "final": True,
                "is_interrupted": "true",
            },
        }
    )
    assert type(chunk) is UtteranceStreaming
    assert chunk.role == "replica" and chunk.original_role == "pal"
    assert chunk.speech == "Hello wor"
    assert chunk.content_index == 4
    assert chunk.final is True
    assert chunk.is_interrupted is True


def test_utterance_streaming_defaults() -> None:
    chunk = event(
        {
            "event_type": "conversation.utterance.streaming",
            "properties": {"role": "user", "content": "hi", "final": "false"},
        }
    )
    assert isinstance(chunk, UtteranceStreaming)
    assert chunk.content_index is None and chunk.final is False and chunk.is_interrupted is False


# --- speaking events and interruptions (§4.7, D7) -----------------------------------------


def test_modern_started_speaking() -> None:
    started = event(
        {
            "event_type": "conversation.started_speaking",
            "inference_id": "inf-4",
            "properties": {"role": "pal"},
        }
    )
    assert type(started) is SpeakingStarted
    assert started.role == "replica" and started.original_role == "pal"


def test_modern_stopped_speaking_interrupted() -> None:
    stopped = event(
        {
            "event_type": "conversation.stopped_speaking",
            "properties": {"role": "replica", "interrupted": True, "duration": 3.5},
        }
    )
    assert type(stopped) is SpeakingStopped
    assert stopped.role == "replica"
    assert stopped.interrupted is True
    assert stopped.duration == 3.5
    assert stopped.is_replica_interruption


def test_stopped_speaking_duration_null_and_int() -> None:
    stopped = event(
        {
            "event_type": "conversation.stopped_speaking",
            "properties": {"role": "user", "duration": None},
        }
    )
    assert isinstance(stopped, SpeakingStopped)
    assert stopped.duration is None and stopped.interrupted is False
    stopped = event(
        {
            "event_type": "conversation.stopped_speaking",
            "properties": {"role": "user", "duration": 2},
        }
    )
    assert isinstance(stopped, SpeakingStopped)
    assert stopped.duration == 2.0 and isinstance(stopped.duration, float)


@pytest.mark.parametrize(
    ("event_type", "cls", "role"),
    [
        ("conversation.replica.started_speaking", SpeakingStarted, "replica"),
        ("conversation.replica.stopped_speaking", SpeakingStopped, "replica"),
        ("conversation.user.started_speaking", SpeakingStarted, "user"),
        ("conversation.user.stopped_speaking", SpeakingStopped, "user"),
    ],
)
def test_legacy_speaking_events_take_role_from_type(
    event_type: str, cls: type[Event], role: str
) -> None:
    # Legacy started events have no properties at all; the role comes from the type.
    parsed = event({"event_type": event_type, "conversation_id": "c1", "inference_id": "i"})
    assert type(parsed) is cls
    assert isinstance(parsed, SpeakingStarted | SpeakingStopped)
    assert parsed.role == role and parsed.original_role == role
    assert parsed.properties == {}
    assert not parsed.is_replica_interruption


def test_legacy_replica_stopped_speaking_with_properties() -> None:
    stopped = event(
        {
            "event_type": "conversation.replica.stopped_speaking",
            "properties": {"duration": None, "interrupted": "true"},
        }
    )
    assert isinstance(stopped, SpeakingStopped)
    assert stopped.role == "replica" and stopped.interrupted and stopped.duration is None
    assert stopped.is_replica_interruption


@pytest.mark.parametrize(
    "message",
    [
        {"event_type": "conversation.replica_interrupted", "inference_id": "i1"},
        {"event_type": "conversation.replica.interrupted", "properties": {"inference_id": "i1"}},
        {
            "event_type": "conversation.stopped_speaking",
            "inference_id": "i1",
            "properties": {"role": "pal", "interrupted": True},
        },
    ],
)
def test_three_interruption_spellings(message: dict[str, Any]) -> None:
    parsed = event(message)
    assert parsed.is_replica_interruption
    assert parsed.inference_id == "i1"


def test_replica_interrupted_types() -> None:
    assert type(event({"event_type": "conversation.replica_interrupted"})) is ReplicaInterrupted
    assert type(event({"event_type": "conversation.replica.interrupted"})) is ReplicaInterrupted


@pytest.mark.parametrize(
    "properties",
    [
        {"role": "user", "interrupted": True},
        {"role": "replica", "interrupted": False},
        {"role": "replica"},
    ],
)
def test_not_a_replica_interruption(properties: dict[str, Any]) -> None:
    parsed = event({"event_type": "conversation.stopped_speaking", "properties": properties})
    assert not parsed.is_replica_interruption


# --- timestamps (D13) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1750000000, 1750000000.0),
        (1750000000.125, 1750000000.125),
        ("2026-05-22T10:00:00Z", datetime(2026, 5, 22, 10, tzinfo=UTC).timestamp()),
        ("2026-05-22T12:00:00.5+02:00", datetime(2026, 5, 22, 10, tzinfo=UTC).timestamp() + 0.5),
        ("2026-05-22T10:00:00", datetime(2026, 5, 22, 10, tzinfo=UTC).timestamp()),
    ],
)
def test_timestamp_epoch_and_iso(value: Any, expected: float) -> None:
    parsed = event({"event_type": "conversation.replica_interrupted", "timestamp": value})
    assert parsed.timestamp == expected
    assert isinstance(parsed.timestamp, float)


# --- perception analysis, system events (§4.6, §4.8, D16) ---------------------------------


def test_perception_analysis() -> None:
    parsed = event(
        {
            "event_type": "conversation.perception_analysis",
            "properties": {"analysis": "The user wore a red badge."},
        }
    )
    assert type(parsed) is PerceptionAnalysis
    assert parsed.analysis == "The user wore a red badge."


@pytest.mark.parametrize(
    "event_type",
    ["system.replica_joined", "system.pal_joined", "system.replica_present", "system.pal_present"],
)
def test_replica_joined_variants(event_type: str) -> None:
    parsed = event(
        {
            "message_type": "system",
            "event_type": event_type,
            "conversation_id": "c1",
            "timestamp": "2026-05-22T10:00:00Z",
            "properties": {"replica_id": "r79e1c033f"},
        }
    )
    assert type(parsed) is ReplicaJoined
    assert parsed.replica_id == "r79e1c033f"
    assert parsed.message_type == "system"
    assert parsed.timestamp == datetime(2026, 5, 22, 10, tzinfo=UTC).timestamp()


def test_replica_joined_without_properties() -> None:
    parsed = event({"event_type": "system.replica_joined"})
    assert isinstance(parsed, ReplicaJoined) and parsed.replica_id is None


def test_shutdown() -> None:
    parsed = event(
        {
            "message_type": "system",
            "event_type": "system.shutdown",
            "conversation_id": "c1",
            "properties": {
                "replica_id": "r1",
                "shutdown_reason": "participant_left_timeout reached",
            },
        }
    )
    assert type(parsed) is Shutdown
    assert parsed.shutdown_reason == "participant_left_timeout reached"
    assert parsed.replica_id == "r1"


# --- foreign interactions and unknown events (§6 rules 2-3) -------------------------------


@pytest.mark.parametrize("event_type", sorted(INTERACTION_TYPES))
def test_inbound_interaction_types_are_foreign(event_type: str) -> None:
    parsed = event(
        {
            "message_type": "conversation",
            "event_type": event_type,
            "conversation_id": "c1",
            "properties": {"text": "from the browser"},
        }
    )
    assert type(parsed) is ForeignInteraction
    assert parsed.properties == {"text": "from the browser"}


def test_interaction_types_cover_section_3_and_seed_spellings() -> None:
    assert {
        "conversation.echo",
        "conversation.respond",
        "conversation.interrupt",
        "conversation.overwrite_llm_context",
        "conversation.append_llm_context",
        "conversation.sensitivity",
        "conversation.tool_result",
        "conversation.overwrite_context",
        "conversation.append_context",
    } == INTERACTION_TYPES


def test_foreign_echo_reads_its_properties_inference_id() -> None:
    parsed = event(
        {
            "event_type": "conversation.echo",
            "properties": {"modality": "text", "text": "hi", "inference_id": "e1", "done": "true"},
        }
    )
    assert isinstance(parsed, ForeignInteraction) and parsed.inference_id == "e1"


@pytest.mark.parametrize(
    "event_type",
    ["conversation.objective.completed", "Conversation.rag.observability", "system.new_thing"],
)
def test_unknown_event(event_type: str) -> None:
    message = {"event_type": event_type, "seq": 99, "properties": {"anything": [1, 2]}}
    parsed = event(message)
    assert type(parsed) is UnknownEvent
    assert parsed.event_type == event_type
    assert parsed.seq == 99
    assert parsed.properties == {"anything": [1, 2]}
    assert parsed.raw == message


def test_null_properties_read_as_absent() -> None:
    parsed = event({"event_type": "conversation.replica_interrupted", "properties": None})
    assert parsed.properties == {}


def test_normalise_role() -> None:
    assert normalise_role("pal") == "replica"
    assert normalise_role("replica") == "replica"
    assert normalise_role("user") == "user"
    assert normalise_role("PAL") == "PAL"
    assert normalise_role("assistant") == "assistant"


def test_events_are_frozen() -> None:
    call = event(OFFICIAL_TOOL_CALL)
    assert isinstance(call, ToolCall)
    with pytest.raises(AttributeError):
        call.name = "other"  # type: ignore[misc]


# --- rejections: one block per RejectReason -----------------------------------------------


@pytest.mark.parametrize("message", ["{not json", "", "   ", b"\xff\xfe{}", "\ufeff{}"])
def test_not_json(message: Any) -> None:
    rejected = rejection(message)
    assert rejected.reason is RejectReason.NOT_JSON
    assert rejected.field is None
    assert rejected.raw == message
    assert rejected.detail.startswith("message is not valid")


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("[1, 2]", "an array"),
        ([{"event_type": "conversation.tool_call"}], "an array"),
        ("null", "null"),
        (None, "null"),
        (5, "a number"),
        (2.5, "a number"),
        (True, "a boolean"),
        ('"conversation.tool_call"', "a string"),
        (object(), "a Python object"),
        ({1, 2}, "a Python set"),
    ],
)
def test_not_object(message: Any, kind: str) -> None:
    rejected = rejection(message)
    assert rejected.reason is RejectReason.NOT_OBJECT
    assert rejected.detail == f"message is {kind}, not a JSON object"
    assert rejected.field is None


@pytest.mark.parametrize(
    "message",
    [
        {"properties": {"tool_call_id": "t1"}, "seq": 4},
        {"event_type": None, "properties": {"tool_call_id": "t1"}, "seq": 4},
        {"event_type": "", "properties": {"tool_call_id": "t1"}, "seq": 4},
    ],
)
def test_missing_event_type(message: dict[str, Any]) -> None:
    rejected = rejection(message)
    assert rejected.reason is RejectReason.MISSING_EVENT_TYPE
    assert rejected.field == "event_type"
    assert rejected.event_type is None
    assert rejected.tool_call_id == "t1"
    assert rejected.seq == 4


@pytest.mark.parametrize("value", [5, ["conversation.tool_call"], {"a": 1}, True])
def test_event_type_not_string(value: Any) -> None:
    rejected = rejection({"event_type": value, "conversation_id": "c1", "seq": 2})
    assert rejected.reason is RejectReason.EVENT_TYPE_NOT_STRING
    assert rejected.field == "event_type"
    assert rejected.event_type is None
    assert rejected.conversation_id == "c1"
    assert rejected.seq == 2


@pytest.mark.parametrize("value", ["name=x", [1], 3, True])
def test_properties_not_object(value: Any) -> None:
    rejected = rejection(
        {
            "event_type": "conversation.tool_call",
            "properties": value,
            "tool_call_id": "top-1",
            "seq": 8,
            "inference_id": "i8",
        }
    )
    assert rejected.reason is RejectReason.PROPERTIES_NOT_OBJECT
    assert rejected.field == "properties"
    assert rejected.event_type == "conversation.tool_call"
    assert rejected.tool_call_id == "top-1"
    assert rejected.seq == 8
    assert rejected.inference_id == "i8"


def test_arguments_not_json_keeps_identifiers() -> None:
    message = {
        "message_type": "conversation",
        "event_type": "conversation.tool_call",
        "conversation_id": "c9",
        "inference_id": "inf-9",
        "seq": 17,
        "properties": {
            "name": "get_weather",
            "arguments": "{city: Paris",
            "tool_call_id": "call_9",
        },
    }
    rejected = rejection(message)
    assert rejected.reason is RejectReason.ARGUMENTS_NOT_JSON
    assert rejected.field == "properties.arguments"
    assert rejected.detail == (
        "properties.arguments is not valid JSON: "
        "Expecting property name enclosed in double quotes at char 1"
    )
    assert rejected.event_type == "conversation.tool_call"
    assert rejected.conversation_id == "c9"
    assert rejected.tool_call_id == "call_9"
    assert rejected.seq == 17
    assert rejected.inference_id == "inf-9"
    assert rejected.raw == message


def test_arguments_not_json_in_function_shape() -> None:
    rejected = rejection(tool_call({"function": {"name": "f", "arguments": "nope"}}, seq=1))
    assert rejected.reason is RejectReason.ARGUMENTS_NOT_JSON
    assert rejected.field == "properties.function.arguments"
    assert rejected.detail == (
        "properties.function.arguments is not valid JSON: Expecting value at char 0"
    )


@pytest.mark.parametrize(
    ("arguments", "detail"),
    [
        ("[1, 2]", "properties.arguments decodes to an array, not an object"),
        ('"text"', "properties.arguments decodes to a string, not an object"),
        ("null", "properties.arguments decodes to null, not an object"),
        ("42", "properties.arguments decodes to a number, not an object"),
        ([1, 2], "properties.arguments is an array, not an object or a JSON string"),
        (42, "properties.arguments is a number, not an object or a JSON string"),
        (False, "properties.arguments is a boolean, not an object or a JSON string"),
    ],
)
def test_arguments_not_object(arguments: Any, detail: str) -> None:
    rejected = rejection(
        tool_call({"name": "t", "arguments": arguments, "tool_call_id": "call_2"}, seq=3)
    )
    assert rejected.reason is RejectReason.ARGUMENTS_NOT_OBJECT
    assert rejected.field == "properties.arguments"
    assert rejected.detail == detail
    assert rejected.tool_call_id == "call_2"
    assert rejected.seq == 3


def test_perception_arguments_not_object() -> None:
    rejected = rejection(
        {
            "event_type": "conversation.perception_tool_call",
            "properties": {"modality": "audio", "name": "t", "arguments": "[]"},
        }
    )
    assert rejected.reason is RejectReason.ARGUMENTS_NOT_OBJECT
    assert rejected.event_type == "conversation.perception_tool_call"
    assert rejected.tool_call_id is None


@pytest.mark.parametrize(
    "properties",
    [
        {"arguments": "{}", "tool_call_id": "call_3"},
        {"name": "", "arguments": "{}", "tool_call_id": "call_3"},
        {"name": 5, "tool_name": None, "tool_call_id": "call_3"},
        {"function": {"arguments": "{}"}, "tool_call_id": "call_3"},
        {"function": "get_weather", "tool_call_id": "call_3"},
    ],
)
def test_missing_tool_name(properties: dict[str, Any]) -> None:
    rejected = rejection(tool_call(properties, seq=12, conversation_id="c3"))
    assert rejected.reason is RejectReason.MISSING_TOOL_NAME
    assert rejected.field == "properties.name"
    assert rejected.tool_call_id == "call_3"
    assert rejected.seq == 12
    assert rejected.conversation_id == "c3"


def test_tool_call_without_properties_has_no_name() -> None:
    rejected = rejection({"event_type": "conversation.tool_call", "tool_call_id": "top"})
    assert rejected.reason is RejectReason.MISSING_TOOL_NAME
    assert rejected.tool_call_id == "top"


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (
            {"event_type": "conversation.utterance", "properties": {"role": "user"}},
            "properties.speech",
        ),
        (
            {"event_type": "conversation.utterance", "properties": {"speech": "hi"}},
            "properties.role",
        ),
        (
            {"event_type": "conversation.utterance", "properties": {"role": "", "speech": "hi"}},
            "properties.role",
        ),
        (
            {"event_type": "conversation.utterance.streaming", "properties": {"role": "pal"}},
            "properties.speech",
        ),
        ({"event_type": "conversation.started_speaking", "properties": {}}, "properties.role"),
        ({"event_type": "conversation.stopped_speaking"}, "properties.role"),
        (
            {"event_type": "conversation.perception_analysis", "properties": {}},
            "properties.analysis",
        ),
        (
            {
                "event_type": "conversation.perception_tool_call",
                "properties": {"name": "n", "frames": [{}]},
            },
            "properties.frames[0].data",
        ),
    ],
)
def test_missing_field(message: dict[str, Any], field: str) -> None:
    message = {**message, "seq": 21, "conversation_id": "c5"}
    rejected = rejection(message)
    assert rejected.reason is RejectReason.MISSING_FIELD
    assert rejected.field == field
    assert rejected.seq == 21
    assert rejected.conversation_id == "c5"
    assert field in rejected.detail


_CALL = {"event_type": "conversation.tool_call", "properties": {"name": "t", "tool_call_id": "c"}}


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


def _with_props(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, "properties": {**base.get("properties", {}), **changes}}


_UTTERANCE = {"event_type": "conversation.utterance", "properties": {"role": "user", "speech": "s"}}
_STREAMING = {
    "event_type": "conversation.utterance.streaming",
    "properties": {"role": "pal", "speech": "s"},
}
_STOPPED = {"event_type": "conversation.stopped_speaking", "properties": {"role": "replica"}}
_VISION = {
    "event_type": "conversation.perception_tool_call",
    "properties": {"name": "n", "modality": "vision", "tool_call_id": "c"},
}


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (_with(_CALL, seq="5"), "seq"),
        (_with(_CALL, seq=True), "seq"),
        (_with(_CALL, seq=5.0), "seq"),
        (_with(_CALL, turn_idx=1.5), "turn_idx"),
        (_with(_CALL, conversation_id=123), "conversation_id"),
        (_with(_CALL, message_type=["conversation"]), "message_type"),
        (_with(_CALL, inference_id=7), "inference_id"),
        (_with_props(_CALL, inference_id={"id": 1}), "properties.inference_id"),
        (_with(_CALL, timestamp="yesterday"), "timestamp"),
        (_with(_CALL, timestamp=True), "timestamp"),
        (_with(_CALL, timestamp=float("nan")), "timestamp"),
        (_with(_CALL, timestamp=float("inf")), "timestamp"),
        (_with(_CALL, timestamp=10**400), "timestamp"),
        (_with(_CALL, timestamp=[1]), "timestamp"),
        (_with_props(_CALL, tool_call_id=5), "properties.tool_call_id"),
        (_with_props(_VISION, frames="abc"), "properties.frames"),
        (_with_props(_VISION, frames=[5]), "properties.frames[0]"),
        (_with_props(_VISION, frames=[{"data": "x"}, {"data": 1}]), "properties.frames[1].data"),
        (
            _with_props(_VISION, frames=[{"data": "x", "mime_type": 3}]),
            "properties.frames[0].mime_type",
        ),
        (_with_props(_VISION, modality=1), "properties.modality"),
        (_with_props(_UTTERANCE, role=5), "properties.role"),
        (_with_props(_UTTERANCE, speech=5), "properties.speech"),
        (_with_props(_UTTERANCE, interrupted="yes"), "properties.interrupted"),
        (_with_props(_UTTERANCE, interrupted=1), "properties.interrupted"),
        (_with_props(_STREAMING, final="maybe"), "properties.final"),
        (_with_props(_STREAMING, is_interrupted=0), "properties.is_interrupted"),
        (_with_props(_STREAMING, content_index="3"), "properties.content_index"),
        (_with_props(_STOPPED, duration="long"), "properties.duration"),
        (_with_props(_STOPPED, duration=False), "properties.duration"),
        (
            {"event_type": "conversation.perception_analysis", "properties": {"analysis": 3}},
            "properties.analysis",
        ),
        (
            {"event_type": "system.shutdown", "properties": {"shutdown_reason": 1}},
            "properties.shutdown_reason",
        ),
        (
            {"event_type": "system.pal_joined", "properties": {"replica_id": 1}},
            "properties.replica_id",
        ),
    ],
)
def test_invalid_field(message: dict[str, Any], field: str) -> None:
    rejected = rejection(message)
    assert rejected.reason is RejectReason.INVALID_FIELD
    assert rejected.field == field
    assert rejected.detail.startswith(field)
    assert rejected.event_type == message["event_type"]


def test_invalid_field_keeps_readable_identifiers() -> None:
    rejected = rejection(
        {
            "event_type": "conversation.tool_call",
            "conversation_id": "c1",
            "seq": 3,
            "timestamp": "not a time",
            "inference_id": "i1",
            "properties": {"name": "t", "tool_call_id": "call_1"},
        }
    )
    assert rejected.reason is RejectReason.INVALID_FIELD
    assert rejected.field == "timestamp"
    assert rejected.tool_call_id == "call_1"
    assert rejected.seq == 3
    assert rejected.conversation_id == "c1"
    assert rejected.inference_id == "i1"


def test_wrongly_typed_identifiers_are_not_extracted() -> None:
    rejected = rejection(
        {
            "event_type": "conversation.tool_call",
            "seq": "3",
            "conversation_id": 9,
            "inference_id": 1,
            "properties": {"name": "t", "tool_call_id": 5},
        }
    )
    assert rejected.reason is RejectReason.INVALID_FIELD
    assert rejected.seq is None
    assert rejected.conversation_id is None
    assert rejected.inference_id is None
    assert rejected.tool_call_id is None


def test_invalid_tool_call_id_falls_back_to_readable_top_level_id() -> None:
    rejected = rejection(
        {
            "event_type": "conversation.tool_call",
            "tool_call_id": "top",
            "properties": {"name": "t", "tool_call_id": 5},
        }
    )
    assert rejected.field == "properties.tool_call_id"
    assert rejected.tool_call_id == "top"


# --- never raises, even for hostile Python objects ----------------------------------------


class _HostileMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("no items for you")

    def __iter__(self) -> Iterator[str]:
        return iter(["event_type"])

    def __len__(self) -> int:
        return 1


class _HostileStr(str):
    def lower(self) -> str:
        raise RuntimeError("no lower for you")


def test_hostile_mapping_is_rejected_not_raised() -> None:
    rejected = rejection(_HostileMapping())
    assert rejected.reason is RejectReason.INVALID_FIELD
    assert rejected.detail == "message could not be read: RuntimeError: no items for you"
    assert rejected.event_type is None


def test_hostile_field_value_is_rejected_not_raised() -> None:
    message = {
        "event_type": "conversation.utterance",
        "seq": 4,
        "properties": {"role": "u", "speech": "s", "interrupted": _HostileStr("x")},
    }
    rejected = rejection(message)
    assert rejected.reason is RejectReason.INVALID_FIELD
    assert rejected.detail == "message could not be read: RuntimeError: no lower for you"
    assert rejected.event_type == "conversation.utterance"
    assert rejected.seq == 4


def test_huge_integer_is_described_without_printing_it() -> None:
    rejected = rejection({"event_type": "x", "timestamp": 10**5000})
    assert rejected.reason is RejectReason.INVALID_FIELD
    assert rejected.field == "timestamp"
