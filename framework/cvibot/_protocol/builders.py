"""One builder per event family: from the envelope and ``properties`` to the event model.

:data:`_BUILDERS` maps each documented ``event_type`` (all spellings, §4 and §5) to its
builder. A builder gets the envelope fields already read (``env``, the keyword arguments
every :class:`~cvibot._protocol.events.Event` takes), the message and its ``properties``,
and raises :class:`~cvibot._protocol.rejection._Invalid` when a field is unusable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from cvibot._protocol.bounds import MAX_DEPTH, MAX_SIZE
from cvibot._protocol.events import (
    Event,
    PerceptionAnalysis,
    PerceptionToolCall,
    ReplicaInterrupted,
    ReplicaJoined,
    Shutdown,
    SpeakingStarted,
    SpeakingStopped,
    ToolCall,
    Utterance,
    UtteranceStreaming,
)
from cvibot._protocol.fields import (
    _arguments,
    _duration,
    _flag,
    _frames,
    _opt_id,
    _opt_int,
    _opt_str,
    _role,
    _scan,
    _speech,
)
from cvibot._protocol.rejection import RejectReason, _describe, _Invalid
from cvibot._slots import slots_maker

_Builder = Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], Event]


# The most frequent event built the quick way (see cvibot._slots): the values are read
# and typed here already.
_make_tool_call = slots_maker(ToolCall, keyed=[f.name for f in dataclasses.fields(Event)])


# Arguments given as JSON text sit at level 3 (message, properties, arguments): text with
# no more brackets than this cannot take the message past MAX_DEPTH (bounds.check_text).
_PLAIN_BRACKETS = MAX_DEPTH - 2


def _tool_call(env: dict[str, Any], message: dict[str, Any], props: dict[str, Any]) -> Event:
    # The shape Tavus sends, read inline: a name, a tool_call_id and arguments as the JSON
    # text of an object, shallow and within bounds, that the scanner reads to its end.
    # Anything else (and any error) goes the checking way (_tool_values), which decides.
    name = props.get("name")
    raw = props.get("arguments")
    tool_call_id = props.get("tool_call_id")
    if (
        type(name) is str
        and name
        and type(tool_call_id) is str
        and tool_call_id
        and type(raw) is str
        and raw[:1] == "{"
        and len(raw) <= MAX_SIZE
        and raw.count("{") + raw.count("[") <= _PLAIN_BRACKETS
    ):
        try:
            arguments, end = _scan(raw, 0)
        except (StopIteration, ValueError):
            pass
        else:
            if end == len(raw) and type(arguments) is dict:
                return _make_tool_call(
                    env,
                    name=name,
                    arguments=arguments,
                    raw_arguments=raw,
                    tool_call_id=tool_call_id,
                )
    name, arguments, raw_arguments, tool_call_id = _tool_values(message, props)
    return _make_tool_call(
        env, name=name, arguments=arguments, raw_arguments=raw_arguments, tool_call_id=tool_call_id
    )


def _perception_tool_call(
    env: dict[str, Any], message: dict[str, Any], props: dict[str, Any]
) -> Event:
    return PerceptionToolCall(
        **env,
        **_tool_fields(message, props),
        modality=_opt_str(props.get("modality"), "properties.modality"),
        frames=_frames(props.get("frames")),
    )


def _tool_fields(message: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    """Name, arguments and id of a tool call, from any documented shape (D1-D3)."""
    name, arguments, raw_arguments, tool_call_id = _tool_values(message, props)
    return {
        "name": name,
        "arguments": arguments,
        "raw_arguments": raw_arguments,
        "tool_call_id": tool_call_id,
    }


def _tool_values(message: dict[str, Any], props: dict[str, Any]) -> tuple[Any, ...]:
    """``(name, arguments, raw_arguments, tool_call_id)`` of a tool call, in
    :class:`ToolCall`'s field order, from any documented shape (D1-D3)."""
    function = props.get("function")
    if not isinstance(function, dict):
        function = None  # only the hover-over bug nests here; anything else is noise

    name = props.get("name")
    if not (isinstance(name, str) and name):
        name = props.get("tool_name")
        if not (isinstance(name, str) and name):
            name = function.get("name") if function is not None else None
            if not (isinstance(name, str) and name):
                raise _Invalid(
                    RejectReason.MISSING_TOOL_NAME,
                    "properties.name",
                    "tool call has no name: none of properties.name, properties.tool_name, "
                    "properties.function.name is a non-empty string",
                )

    where = "properties.arguments"
    raw_arguments = props.get("arguments")
    if raw_arguments is None and function is not None:
        where = "properties.function.arguments"
        raw_arguments = function.get("arguments")

    tool_call_id = props.get("tool_call_id")
    if tool_call_id is None:
        tool_call_id = _opt_id(message.get("tool_call_id"), "tool_call_id")
    else:
        tool_call_id = _opt_id(tool_call_id, "properties.tool_call_id")

    return name, _arguments(raw_arguments, where), raw_arguments, tool_call_id


def _utterance(env: dict[str, Any], message: dict[str, Any], props: dict[str, Any]) -> Event:
    return Utterance(
        **_spoken(env, props),
        interrupted=_flag(props.get("interrupted"), "properties.interrupted"),
    )


def _utterance_streaming(
    env: dict[str, Any], message: dict[str, Any], props: dict[str, Any]
) -> Event:
    return UtteranceStreaming(
        **_spoken(env, props),
        content_index=_opt_int(props.get("content_index"), "properties.content_index"),
        final=_flag(props.get("final"), "properties.final"),
        is_interrupted=_flag(props.get("is_interrupted"), "properties.is_interrupted"),
    )


def _spoken(env: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    """``env`` plus who spoke and what, for both utterance events (D5, D6).

    Adds to ``env`` in place (it is built for this one event) rather than to a new dict,
    which measurably slows the most frequent events.
    """
    env["role"], env["original_role"] = _role(props)
    env["speech"] = _speech(props)
    return env


def _speaking(stopped: bool, fixed_role: str | None) -> _Builder:
    """Builder for one speaking event type; ``fixed_role`` for the legacy per-role types."""

    def build(env: dict[str, Any], message: dict[str, Any], props: dict[str, Any]) -> Event:
        if fixed_role is None:
            role, original_role = _role(props)
        else:
            role = original_role = fixed_role
        if not stopped:
            return SpeakingStarted(**env, role=role, original_role=original_role)
        return SpeakingStopped(
            **env,
            role=role,
            original_role=original_role,
            interrupted=_flag(props.get("interrupted"), "properties.interrupted"),
            duration=_duration(props.get("duration")),
        )

    return build


def _replica_interrupted(
    env: dict[str, Any], message: dict[str, Any], props: dict[str, Any]
) -> Event:
    return ReplicaInterrupted(**env)


def _perception_analysis(
    env: dict[str, Any], message: dict[str, Any], props: dict[str, Any]
) -> Event:
    analysis = props.get("analysis")
    if not isinstance(analysis, str):
        raise _Invalid(
            RejectReason.MISSING_FIELD if analysis is None else RejectReason.INVALID_FIELD,
            "properties.analysis",
            f"properties.analysis must be a string, got {_describe(analysis)}",
        )
    return PerceptionAnalysis(**env, analysis=analysis)


def _system_field(message: dict[str, Any], props: dict[str, Any], key: str) -> str | None:
    # The in-call envelope of system events is undocumented (§11); the webhook shape puts
    # these fields in properties, so look there first and at the top level second.
    value = props.get(key)
    if value is not None:
        return _opt_id(value, f"properties.{key}")
    return _opt_id(message.get(key), key)


def _replica_joined(env: dict[str, Any], message: dict[str, Any], props: dict[str, Any]) -> Event:
    return ReplicaJoined(**env, replica_id=_system_field(message, props, "replica_id"))


def _shutdown(env: dict[str, Any], message: dict[str, Any], props: dict[str, Any]) -> Event:
    return Shutdown(
        **env,
        shutdown_reason=_system_field(message, props, "shutdown_reason"),
        replica_id=_system_field(message, props, "replica_id"),
    )


_BUILDERS: dict[str, _Builder] = {
    "conversation.tool_call": _tool_call,
    "conversation.perception_tool_call": _perception_tool_call,
    "conversation.utterance": _utterance,
    "conversation.utterance.streaming": _utterance_streaming,
    "conversation.started_speaking": _speaking(False, None),
    "conversation.stopped_speaking": _speaking(True, None),
    "conversation.replica.started_speaking": _speaking(False, "replica"),
    "conversation.replica.stopped_speaking": _speaking(True, "replica"),
    "conversation.user.started_speaking": _speaking(False, "user"),
    "conversation.user.stopped_speaking": _speaking(True, "user"),
    "conversation.replica_interrupted": _replica_interrupted,
    "conversation.replica.interrupted": _replica_interrupted,
    "conversation.perception_analysis": _perception_analysis,
    "system.replica_joined": _replica_joined,
    "system.pal_joined": _replica_joined,
    "system.replica_present": _replica_joined,
    "system.pal_present": _replica_joined,
    "system.shutdown": _shutdown,
}
