"""The quick constructor of frozen, slotted dataclasses builds the same instances."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cvibot._dispatch.outcome import ErrorKind, OutcomeKind, ToolOutcome
from cvibot._protocol.events import Event, ToolCall
from cvibot._slots import slots_maker
from cvibot.tools._options import ReplyMode

_ENVELOPE = [f.name for f in dataclasses.fields(Event)]


@given(
    seq=st.none() | st.integers(),
    conversation_id=st.none() | st.text(),
    name=st.text(min_size=1),
    arguments=st.dictionaries(st.text(), st.integers()),
    tool_call_id=st.none() | st.text(min_size=1),
)
def test_a_tool_call_is_the_one_its_class_builds(
    seq: int | None,
    conversation_id: str | None,
    name: str,
    arguments: dict[str, int],
    tool_call_id: str | None,
) -> None:
    env = {
        "event_type": "conversation.tool_call",
        "message_type": "conversation",
        "conversation_id": conversation_id,
        "seq": seq,
        "turn_idx": None,
        "timestamp": 1.5,
        "inference_id": "inf",
        "properties": {},
        "raw": {},
    }
    own = {
        "name": name,
        "arguments": arguments,
        "raw_arguments": None,
        "tool_call_id": tool_call_id,
    }
    made = slots_maker(ToolCall, keyed=_ENVELOPE)(env, **own)
    built = ToolCall(**env, **own)
    assert type(made) is ToolCall
    assert made == built and repr(made) == repr(built)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.name = "other"  # type: ignore[misc]


def test_an_outcome_is_the_one_its_class_builds() -> None:
    fields = {
        "kind": OutcomeKind.ERROR,
        "tool": "lookup",
        "reply": ReplyMode.TOOL_RESULT,
        "latency": 0.25,
        "text": "boom",
        "error": ErrorKind.EXCEPTION,
        "answer": None,
        "conversation_id": "c1",
        "tool_call_id": "t1",
        "inference_id": None,
        "seq": 3,
        "truncated": False,
    }
    assert slots_maker(ToolOutcome)(**fields) == ToolOutcome(**fields)


def test_every_field_is_required() -> None:
    with pytest.raises(TypeError):
        slots_maker(ToolOutcome)(kind=OutcomeKind.SUCCESS)
    with pytest.raises(KeyError):
        slots_maker(ToolCall, keyed=_ENVELOPE)(
            {}, name="x", arguments={}, raw_arguments=None, tool_call_id=None
        )


def test_classes_it_cannot_build_are_refused() -> None:
    @dataclass(frozen=True)
    class NoSlots:
        value: int

    @dataclass(frozen=True, slots=True)
    class Checked:
        value: int

        def __post_init__(self) -> None:
            if self.value < 0:
                raise ValueError("negative")

    with pytest.raises(TypeError, match="slotted"):
        slots_maker(NoSlots)
    with pytest.raises(TypeError, match="__post_init__"):
        slots_maker(Checked)
