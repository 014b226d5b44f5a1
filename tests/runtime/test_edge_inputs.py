"""Exactly one answer, whatever arrives: lone surrogates, deep nesting, huge fields, and
handler results that are not JSON. Each sent message must encode as strict UTF-8 JSON,
as the Daily transport requires before it sends one."""

from __future__ import annotations

import dataclasses
import json
import math
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import Harness, MakeHarness, echo, event, tool_call, tool_result
from test_replay_transport import replay, write_lines

from cvibot import tool
from cvibot._dispatch import ErrorKind, OutcomeKind
from cvibot._protocol import Echo, encode_message
from cvibot._protocol.bounds import MAX_SIZE
from cvibot.tools._options import ReplyMode

LONE = "\ud83d"  # what a "\ud83d" escape decodes to


def assert_answered_once(h: Harness, *tcids: str) -> None:
    assert h.answers_per_call() == Counter(dict.fromkeys(tcids, 1))
    assert h.outcomes_per_call() == Counter(dict.fromkeys(tcids, 1))
    for message in h.sent:
        json.loads(encode_message(message).decode("utf-8"))


@tool
def repeat(text: str) -> str:
    """Say the text back."""
    return f"you said {text}"


@tool
def fields(text: str) -> dict[str, Any]:
    """Return the text in an object."""
    return {"text": text, LONE: "key"}


# -- lone surrogates -------------------------------------------------------------------


async def test_lone_surrogate_in_arguments_is_answered_in_valid_utf8(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(repeat, fields)
    sent = await h.run(
        tool_call("repeat", {"text": f"a{LONE}b"}, tcid="t1", seq=1),
        tool_call("fields", {"text": LONE}, tcid="t2", seq=2),
    )
    assert_answered_once(h, "t1", "t2")
    assert sent[0] == tool_result("t1", "you said a\ufffdb")
    assert json.loads(sent[1]["properties"]["output"]) == {"text": "\ufffd", "\ufffd": "key"}
    assert h.rec.outcome("t1").kind is OutcomeKind.SUCCESS


async def test_lone_surrogate_in_the_tool_call_id_is_answered_once(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(repeat)
    sent = await h.run(
        tool_call("repeat", {"text": "x"}, tcid=f"t{LONE}1", seq=1),
        tool_call("nope", tcid=f"t{LONE}2", seq=2),  # unknown tool: an error answer
        tool_call("repeat", "{", tcid=f"t{LONE}3", seq=3),  # rejected: not JSON
    )
    answers = {m["properties"]["tool_call_id"]: m["properties"]["status"] for m in sent}
    assert answers == {"t\ufffd1": "success", "t\ufffd2": "error", "t\ufffd3": "error"}
    for message in sent:
        json.loads(encode_message(message).decode("utf-8"))
    assert len(h.rec.outcomes) == 3


async def test_lone_surrogates_in_the_envelope_and_utterance(make_harness: MakeHarness) -> None:
    h = make_harness(repeat, conversation_id=None, default_reply=ReplyMode.ECHO)
    utterance = event(
        "conversation.utterance", cid=f"c{LONE}", seq=1, role="user", speech=f"hi {LONE}"
    )
    sent = await h.run(
        utterance,
        tool_call("repeat", {"text": "x"}, seq=2, cid=f"c{LONE}", inference_id=f"i{LONE}"),
    )
    assert sent == [echo("you said x", cid="c\ufffd")]
    assert h.rec.events[0][0].speech == f"hi {LONE}"  # handlers and plugins see what came
    assert [o.kind for o in h.rec.outcomes] == [OutcomeKind.SUCCESS]


async def test_a_surrogate_from_a_raw_json_text_message(make_harness: MakeHarness) -> None:
    # The replay and the Daily SDK both hand over text with escaped lone surrogates.
    h = make_harness(repeat)
    text = json.dumps(tool_call("repeat", {"text": LONE}, tcid=f"t{LONE}", seq=1))
    assert "\\ud83d" in text
    sent = await h.run(text)
    assert sent == [tool_result("t\ufffd", "you said \ufffd")]


# -- nesting and size ------------------------------------------------------------------


def nested_text(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


async def test_arguments_nested_5000_deep_get_an_error_answer(make_harness: MakeHarness) -> None:
    h = make_harness(repeat)
    deep_object: Any = 1
    for _ in range(5000):
        deep_object = {"a": deep_object}
    as_object = tool_call("repeat", tcid="t2", seq=2)
    as_object["properties"]["arguments"] = deep_object
    sent = await h.run(
        tool_call("repeat", nested_text(5000), tcid="t1", seq=1),  # as a JSON string
        as_object,
        json.dumps(tool_call("repeat", tcid="t3", seq=3)).replace('"{}"', nested_text(5000)),
    )
    assert_answered_once(h, "t1", "t2", "t3")
    for message in sent:
        assert message["properties"]["status"] == "error"
        assert "nested more than" in message["properties"]["output"]
    assert h.session.stats.rejections == {"too_deep": 3}
    assert {o.error for o in h.rec.outcomes} == {ErrorKind.REJECTED}


async def test_a_megabyte_call_gets_an_error_answer(make_harness: MakeHarness) -> None:
    h = make_harness(repeat)
    sent = await h.run(tool_call("repeat", {"text": "x" * MAX_SIZE}, tcid="t1", seq=1))
    assert_answered_once(h, "t1")
    assert sent[0]["properties"]["status"] == "error"
    assert "too large" in sent[0]["properties"]["output"]
    assert h.session.stats.rejections == {"too_large": 1}


async def test_replay_rejects_deep_and_huge_lines_and_carries_on(
    tmp_path: Path, executor: ThreadPoolExecutor
) -> None:
    deep_call = json.dumps(tool_call("lookup", tcid="t2", seq=2)).replace('"{}"', nested_text(5000))
    recorded_deep = json.dumps(
        {"direction": "in", "at": 0.1, "message": tool_call("lookup", tcid="t3", seq=3)}
    ).replace('"{}"', nested_text(5000))
    path = write_lines(
        tmp_path / "conv.jsonl",
        tool_call("lookup", {"order_id": 1}, tcid="t1", seq=1),
        deep_call,  # a plain app-message line: json.loads raised RecursionError here
        recorded_deep,  # a recording line around one
        "[" * 5000 + "]" * 5000,
        json.dumps({"event_type": "conversation.utterance", "note": "x" * (MAX_SIZE + 70_000)}),
        tool_call("lookup", {"order_id": 4}, tcid="t4", seq=4),
    )
    session, rec = await replay(path, executor=executor)
    answers = {m["properties"]["tool_call_id"]: m["properties"]["status"] for m in rec.sent}
    assert answers == {"t1": "success", "t2": "error", "t3": "error", "t4": "success"}
    assert session.stats.rejections == {"too_deep": 3, "too_large": 1}
    assert [r.reason.value for r in rec.rejections] == [
        "too_deep",
        "too_deep",
        "too_deep",
        "too_large",
    ]


# -- results that are not JSON ---------------------------------------------------------


class BadStr:
    def __str__(self) -> str:
        raise RuntimeError("no text")

    __repr__ = __str__


@dataclasses.dataclass
class Order:
    number: int
    lock: Any = None


RESULTS: dict[str, tuple[Any, str]] = {
    "lock": (threading.Lock(), "_thread.lock"),
    "nested_lock": ({"order": Order(1, threading.Lock())}, "test_edge_inputs.Order"),
    "set": ({"a", "b"}, "set (JSON has no sets: return a sorted list)"),
    "nan": ({"total": math.nan}, "dict (NaN or an infinite float, which JSON cannot carry)"),
    "bad_str": (BadStr(), "test_edge_inputs.BadStr"),
    "object": (object(), "object"),
}


@pytest.mark.parametrize("case", list(RESULTS))
async def test_a_result_that_is_not_json_is_an_error_naming_its_type(
    make_harness: MakeHarness, case: str
) -> None:
    value, described = RESULTS[case]

    @tool
    def lookup_order() -> Any:
        """Return something."""
        return value

    h = make_harness(lookup_order)
    sent = await h.run(tool_call("lookup_order", tcid="t1", seq=1))
    expected = f"lookup_order returned a value that cannot be sent as JSON: {described}"
    assert sent == [tool_result("t1", expected, "error")]
    outcome = h.rec.outcome("t1")
    assert (outcome.kind, outcome.error, outcome.text) == (
        OutcomeKind.ERROR,
        ErrorKind.TOOL_ERROR,
        expected,
    )


async def test_results_pydantic_can_convert_are_still_json(make_harness: MakeHarness) -> None:
    @tool
    async def order() -> Any:
        """Return a dataclass."""
        return [Order(7), (1, "é")]

    h = make_harness(order)
    sent = await h.run(tool_call("order", tcid="t1", seq=1))
    assert sent == [tool_result("t1", '[{"number":7,"lock":null},[1,"é"]]')]


async def test_an_interaction_that_cannot_be_encoded_is_replaced_by_an_error(
    make_harness: MakeHarness,
) -> None:
    @tool
    def play() -> Any:
        """Return audio at an impossible rate."""
        return Echo(audio="AAAA", sample_rate=10**5000)  # an int json cannot write

    h = make_harness(play)
    sent = await h.run(tool_call("play", tcid="t1", seq=1))
    assert sent == [echo("the answer of play cannot be sent as JSON")]
    assert h.rec.outcome("t1").kind is OutcomeKind.ERROR
