"""What each reply mode and each kind of return value sends (protocol reference §3, §6 rule 8)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from pydantic import BaseModel
from runtime_helpers import (
    MakeHarness,
    append_context,
    echo,
    perception_call,
    respond,
    spec_of,
    tool_call,
    tool_result,
)

from cvibot import AppendContext, Echo, ToolError, ToolResult, tool
from cvibot._dispatch import ErrorKind, OutcomeKind
from cvibot._protocol import MessageTooLarge, OverwriteContext, Respond, encode_message
from cvibot.tools import ReplyMode


@tool
async def greet(name: str = "world") -> str:
    """Say hello."""
    return f"hello {name}"


# -- reply modes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "tcid", "expected", "resolved"),
    [
        ("auto", "t1", tool_result("t1", "hello ann"), ReplyMode.TOOL_RESULT),
        ("auto", None, echo("hello ann"), ReplyMode.ECHO),
        ("tool_result", "t1", tool_result("t1", "hello ann"), ReplyMode.TOOL_RESULT),
        ("tool_result", None, echo("hello ann"), ReplyMode.ECHO),
        ("echo", "t1", echo("hello ann"), ReplyMode.ECHO),
        ("echo", None, echo("hello ann"), ReplyMode.ECHO),
        ("respond", "t1", respond("hello ann"), ReplyMode.RESPOND),
        ("append_context", "t1", append_context("hello ann"), ReplyMode.APPEND_CONTEXT),
        ("append_context", None, append_context("hello ann"), ReplyMode.APPEND_CONTEXT),
        ("none", "t1", None, ReplyMode.NONE),
        ("none", None, None, ReplyMode.NONE),
    ],
)
async def test_reply_mode_from_tool(
    make_harness: MakeHarness,
    reply: str,
    tcid: str | None,
    expected: dict[str, Any] | None,
    resolved: ReplyMode,
) -> None:
    h = make_harness(spec_of(greet).with_options(reply=reply))
    sent = await h.run(tool_call("greet", {"name": "ann"}, tcid=tcid, seq=1))
    assert sent == ([] if expected is None else [expected])
    [outcome] = h.rec.outcomes
    assert outcome.kind is OutcomeKind.SUCCESS
    assert outcome.reply is resolved
    assert outcome.text == "hello ann"
    assert outcome.answer == expected
    assert outcome.tool_call_id == tcid
    assert outcome.conversation_id == "c1"
    assert outcome.seq == 1


@pytest.mark.parametrize(
    ("default_reply", "expected"),
    [
        (ReplyMode.AUTO, tool_result("t1", "hello world")),
        (ReplyMode.ECHO, echo("hello world")),
        (ReplyMode.APPEND_CONTEXT, append_context("hello world")),
        (ReplyMode.NONE, None),
    ],
)
async def test_policy_default_reply_applies_when_tool_sets_none(
    make_harness: MakeHarness, default_reply: ReplyMode, expected: dict[str, Any] | None
) -> None:
    h = make_harness(greet, default_reply=default_reply)
    sent = await h.run(tool_call("greet", tcid="t1"))
    assert sent == ([] if expected is None else [expected])


async def test_tool_reply_overrides_policy_default(make_harness: MakeHarness) -> None:
    h = make_harness(spec_of(greet).with_options(reply="echo"), default_reply=ReplyMode.NONE)
    assert await h.run(tool_call("greet", tcid="t1")) == [echo("hello world")]


async def test_exact_tool_result_message(make_harness: MakeHarness) -> None:
    @tool
    async def ping() -> str:
        return "ok"

    h = make_harness(ping)
    sent = await h.run(tool_call("ping", tcid="t1"))
    assert sent == [
        {
            "message_type": "conversation",
            "event_type": "conversation.tool_result",
            "conversation_id": "c1",
            "properties": {"tool_call_id": "t1", "output": "ok", "status": "success"},
        }
    ]


async def test_errors_follow_the_reply_mode(make_harness: MakeHarness) -> None:
    @tool(reply="echo")
    async def spoken() -> str:
        raise ToolError("sorry, the shop is closed")

    @tool(reply="append_context")
    async def silent() -> str:
        raise ToolError("no stock")

    @tool(reply="none")
    async def quiet() -> str:
        raise ToolError("ignored")

    h = make_harness(spoken, silent, quiet)
    sent = await h.run(
        tool_call("spoken", tcid="t1", seq=1),
        tool_call("silent", tcid="t2", seq=2),
        tool_call("quiet", tcid="t3", seq=3),
    )
    assert sent == [echo("sorry, the shop is closed"), append_context("no stock")]
    assert [o.kind for o in h.rec.outcomes] == [OutcomeKind.ERROR] * 3
    assert h.rec.outcome("t3").answer is None


# -- return values --------------------------------------------------------------------------


class Order(BaseModel):
    id: int
    items: list[str]


@dataclasses.dataclass
class Point:
    x: int
    y: int


@pytest.mark.parametrize(
    ("value", "output"),
    [
        ("plain text", "plain text"),
        ({"a": 1, "b": [1, 2], "c": None}, '{"a":1,"b":[1,2],"c":null}'),
        ([1, "two", 3.5], '[1,"two",3.5]'),
        (Order(id=7, items=["tea", "café"]), '{"id":7,"items":["tea","café"]}'),
        (Point(1, 2), '{"x":1,"y":2}'),
        (42, "42"),
        (True, "true"),
        (None, ""),
    ],
    ids=["str", "dict", "list", "model", "dataclass", "int", "bool", "none"],
)
async def test_return_values_become_output_text(
    make_harness: MakeHarness, value: Any, output: str
) -> None:
    @tool
    async def produce() -> Any:
        return value

    h = make_harness(produce)
    assert await h.run(tool_call("produce", tcid="t1")) == [tool_result("t1", output)]
    assert h.rec.outcome("t1").kind is OutcomeKind.SUCCESS


async def test_dict_output_is_json_text_that_decodes(make_harness: MakeHarness) -> None:
    @tool
    async def lookup() -> dict[str, Any]:
        return {"order": 7, "status": "shipped", "eta": "2 days"}

    h = make_harness(lookup)
    [message] = await h.run(tool_call("lookup", tcid="t1"))
    assert json.loads(message["properties"]["output"]) == {
        "order": 7,
        "status": "shipped",
        "eta": "2 days",
    }


@pytest.mark.parametrize("reply", ["echo", "respond", "append_context", "none"])
async def test_none_return_sends_nothing_in_spoken_and_silent_modes(
    make_harness: MakeHarness, reply: str
) -> None:
    @tool
    async def nothing() -> None:
        return None

    h = make_harness(spec_of(nothing).with_options(reply=reply))
    assert await h.run(tool_call("nothing", tcid="t1")) == []
    outcome = h.rec.outcome("t1")
    assert outcome.kind is OutcomeKind.SUCCESS
    assert outcome.answer is None


async def test_none_return_with_auto_and_no_id_sends_nothing(make_harness: MakeHarness) -> None:
    @tool
    async def nothing() -> None:
        return None

    h = make_harness(nothing)
    assert await h.run(tool_call("nothing")) == []
    [outcome] = h.rec.outcomes
    assert outcome.kind is OutcomeKind.SUCCESS
    assert outcome.reply is ReplyMode.ECHO


async def test_explicit_echo_overrides_configured_tool_result(make_harness: MakeHarness) -> None:
    @tool(reply="tool_result")
    async def speak() -> Echo:
        return Echo(text="let me check")

    h = make_harness(speak)
    assert await h.run(tool_call("speak", tcid="t1")) == [echo("let me check")]
    outcome = h.rec.outcome("t1")
    assert outcome.kind is OutcomeKind.SUCCESS
    assert outcome.reply is ReplyMode.ECHO
    assert outcome.answer == echo("let me check")


async def test_explicit_append_context_overrides_echo(make_harness: MakeHarness) -> None:
    @tool(reply="echo")
    async def remember() -> AppendContext:
        return AppendContext(context="user likes tea", job_status="completed")

    h = make_harness(remember)
    sent = await h.run(tool_call("remember", tcid="t1"))
    assert sent == [append_context("user likes tea", job_status="completed")]
    assert h.rec.outcome("t1").reply is ReplyMode.APPEND_CONTEXT


async def test_explicit_respond_overrides_none(make_harness: MakeHarness) -> None:
    @tool(reply="none")
    async def ask() -> Respond:
        return Respond(text="what is my order status?")

    h = make_harness(ask)
    assert await h.run(tool_call("ask", tcid="t1")) == [respond("what is my order status?")]


async def test_explicit_tool_result_gets_the_call_id(make_harness: MakeHarness) -> None:
    @tool(reply="echo")
    async def check() -> ToolResult:
        return ToolResult(status="error", output="card declined")

    h = make_harness(check)
    assert await h.run(tool_call("check", tcid="t9")) == [
        tool_result("t9", "card declined", "error")
    ]
    outcome = h.rec.outcome("t9")
    assert outcome.reply is ReplyMode.TOOL_RESULT
    assert outcome.answer == tool_result("t9", "card declined", "error")


async def test_explicit_tool_result_without_call_id_is_spoken(make_harness: MakeHarness) -> None:
    @tool
    async def check() -> ToolResult:
        return ToolResult(output="card declined", status="error")

    h = make_harness(check)
    assert await h.run(tool_call("check", seq=1)) == [echo("card declined")]
    [outcome] = h.rec.outcomes
    assert outcome.reply is ReplyMode.ECHO


# -- perception tool calls --------------------------------------------------------------------


@tool(origin="vision")
async def saw_object(item: str) -> str:
    """An object was seen."""
    return f"seen {item}"


async def test_perception_calls_default_to_no_reply(make_harness: MakeHarness) -> None:
    h = make_harness(saw_object)
    sent = await h.run(
        perception_call("saw_object", {"item": "cup"}, tcid="p1", seq=1),
        perception_call("saw_object", {"item": "pen"}, seq=2),
    )
    assert sent == []
    assert [(o.kind, o.reply, o.text) for o in h.rec.outcomes] == [
        (OutcomeKind.SUCCESS, ReplyMode.NONE, "seen cup"),
        (OutcomeKind.SUCCESS, ReplyMode.NONE, "seen pen"),
    ]


async def test_perception_tool_with_its_own_reply(make_harness: MakeHarness) -> None:
    h = make_harness(spec_of(saw_object).with_options(reply="append_context"))
    sent = await h.run(perception_call("saw_object", {"item": "cup"}, seq=1))
    assert sent == [append_context("seen cup")]


async def test_perception_reply_policy(make_harness: MakeHarness) -> None:
    h = make_harness(saw_object, perception_reply=ReplyMode.ECHO)
    assert await h.run(perception_call("saw_object", {"item": "cup"})) == [echo("seen cup")]


async def test_perception_errors_send_nothing_by_default(make_harness: MakeHarness) -> None:
    @tool(origin="audio")
    async def heard() -> str:
        raise ToolError("not understood")

    h = make_harness(heard)
    assert await h.run(perception_call("heard", tcid="p1")) == []
    outcome = h.rec.outcome("p1")
    assert (outcome.kind, outcome.error) == (OutcomeKind.ERROR, ErrorKind.TOOL_ERROR)


# -- unknown tools and invalid arguments --------------------------------------------------------


async def test_unknown_tool_gets_an_error_naming_it(
    make_harness: MakeHarness, logs: list[dict[str, Any]]
) -> None:
    h = make_harness(greet)
    sent = await h.run(tool_call("launch_rocket", {"target": "moon"}, tcid="t1", seq=4))
    assert sent == [tool_result("t1", "unknown tool 'launch_rocket'", "error")]
    outcome = h.rec.outcome("t1")
    assert (outcome.kind, outcome.error) == (OutcomeKind.ERROR, ErrorKind.UNKNOWN_TOOL)
    assert outcome.tool == "launch_rocket"
    [warning] = [e for e in logs if e["event"] == "unknown tool"]
    assert warning["log_level"] == "warning"
    assert warning["tool"] == "launch_rocket"
    assert warning["known"] == ["greet"]
    assert warning["tool_call_id"] == "t1"


async def test_unknown_tool_without_id_is_spoken(make_harness: MakeHarness) -> None:
    h = make_harness(greet)
    assert await h.run(tool_call("launch_rocket")) == [echo("unknown tool 'launch_rocket'")]


class Calls:
    count = 0


@tool
async def add(a: int, b: int) -> str:
    """Add two numbers."""
    Calls.count += 1
    return str(a + b)


@pytest.fixture(autouse=True)
def reset_calls() -> None:
    Calls.count = 0


@pytest.mark.parametrize(
    ("arguments", "fragments"),
    [
        ({"a": "x", "b": 2}, ["a: ", "valid integer", "'x'"]),
        ({"a": 1}, ["b: Field required"]),
        ({"a": 1, "b": 2, "c": 3}, ["c: Extra inputs are not permitted"]),
    ],
    ids=["wrong-type", "missing", "extra"],
)
async def test_invalid_arguments_answer_names_the_field(
    make_harness: MakeHarness, arguments: dict[str, Any], fragments: list[str]
) -> None:
    h = make_harness(add)
    [message] = await h.run(tool_call("add", arguments, tcid="t1"))
    assert message["event_type"] == "conversation.tool_result"
    assert message["properties"]["status"] == "error"
    assert message["properties"]["tool_call_id"] == "t1"
    output = message["properties"]["output"]
    assert output.startswith("invalid arguments for add: ")
    for fragment in fragments:
        assert fragment in output
    outcome = h.rec.outcome("t1")
    assert (outcome.kind, outcome.error) == (OutcomeKind.ERROR, ErrorKind.INVALID_ARGUMENTS)
    assert outcome.text == output
    assert Calls.count == 0


async def test_valid_arguments_are_coerced(make_harness: MakeHarness) -> None:
    h = make_harness(add)
    assert await h.run(tool_call("add", {"a": "2", "b": 3}, tcid="t1")) == [tool_result("t1", "5")]
    assert Calls.count == 1


# -- app-message size limit ----------------------------------------------------------------------


@tool
async def big() -> str:
    return "x" * 1000


async def test_oversize_answer_is_truncated(make_harness: MakeHarness) -> None:
    h = make_harness(big, message_limit=300, on_oversize="truncate")
    [message] = await h.run(tool_call("big", tcid="t1"))
    assert len(encode_message(message)) <= 300
    output = message["properties"]["output"]
    assert output.endswith("…")
    assert output[:-1] == "x" * (len(output) - 1)
    assert len(output) > 100  # kept the longest prefix that fits, not a stub
    assert message["properties"]["status"] == "success"
    outcome = h.rec.outcome("t1")
    assert outcome.kind is OutcomeKind.SUCCESS
    assert outcome.truncated is True
    assert outcome.answer == message


async def test_oversize_echo_is_truncated(make_harness: MakeHarness) -> None:
    h = make_harness(spec_of(big).with_options(reply="echo"), message_limit=300)
    [message] = await h.run(tool_call("big", tcid="t1"))
    assert message["event_type"] == "conversation.echo"
    assert len(encode_message(message)) <= 300
    assert message["properties"]["text"].endswith("…")


async def test_fitting_answer_is_not_marked_truncated(make_harness: MakeHarness) -> None:
    h = make_harness(greet, message_limit=300)
    await h.run(tool_call("greet", tcid="t1"))
    assert h.rec.outcome("t1").truncated is False


async def test_oversize_answer_replaced_by_error(make_harness: MakeHarness) -> None:
    h = make_harness(big, message_limit=300, on_oversize="error")
    [message] = await h.run(tool_call("big", tcid="t1"))
    assert len(encode_message(message)) <= 300
    assert message["properties"]["status"] == "error"
    assert message["properties"]["output"].startswith("the answer of big is too large to send (")
    assert "limit 300" in message["properties"]["output"]
    outcome = h.rec.outcome("t1")
    assert (outcome.kind, outcome.error) == (OutcomeKind.ERROR, ErrorKind.OVERSIZE)
    assert outcome.truncated is False
    assert outcome.text == message["properties"]["output"]


async def test_session_send_refuses_oversize(make_harness: MakeHarness) -> None:
    h = make_harness(message_limit=300)
    with pytest.raises(MessageTooLarge) as raised:
        await h.session.send(Echo(text="y" * 1000))
    assert raised.value.limit == 300
    assert raised.value.event_type == "conversation.echo"
    assert h.sent == []
    await h.session.send(Echo(text="short"))
    assert h.sent == [echo("short")]


@tool
async def reset_context() -> OverwriteContext:
    return OverwriteContext(context="w" * 1000)


async def test_explicit_overwrite_context_is_sent(make_harness: MakeHarness) -> None:
    @tool
    async def reset() -> OverwriteContext:
        return OverwriteContext(context="fresh start")

    h = make_harness(reset)
    assert await h.run(tool_call("reset", tcid="t1")) == [
        {
            "message_type": "conversation",
            "event_type": "conversation.overwrite_llm_context",
            "conversation_id": "c1",
            "properties": {"context": "fresh start"},
        }
    ]
    assert h.rec.outcome("t1").kind is OutcomeKind.SUCCESS


async def test_oversize_explicit_overwrite_context_is_truncated(make_harness: MakeHarness) -> None:
    h = make_harness(reset_context, message_limit=300)
    [message] = await h.run(tool_call("reset_context", tcid="t1"))
    assert message["event_type"] == "conversation.overwrite_llm_context"
    assert len(encode_message(message)) <= 300
    assert h.rec.outcome("t1").truncated is True


@pytest.mark.parametrize(
    ("tcid", "event_type"),
    [("t1", "conversation.tool_result"), (None, "conversation.echo")],
)
async def test_oversize_explicit_overwrite_context_error_still_answers(
    make_harness: MakeHarness, tcid: str | None, event_type: str
) -> None:
    h = make_harness(reset_context, message_limit=300, on_oversize="error")
    [message] = await h.run(tool_call("reset_context", tcid=tcid, seq=1))
    assert message["event_type"] == event_type
    assert "too large to send" in json.dumps(message)
    [outcome] = h.rec.outcomes
    assert (outcome.kind, outcome.error) == (OutcomeKind.ERROR, ErrorKind.OVERSIZE)


async def test_failing_transport_still_gives_one_outcome(
    make_harness: MakeHarness, logs: list[dict[str, Any]]
) -> None:
    h = make_harness(greet)

    async def broken_send(message: Any) -> None:
        raise ConnectionError("room gone")

    h.transport.send = broken_send  # type: ignore[method-assign]
    assert await h.run(tool_call("greet", tcid="t1")) == []
    outcome = h.rec.outcome("t1")
    assert (outcome.kind, outcome.answer) == (OutcomeKind.SUCCESS, None)
    assert h.session.stats.sent == {}
    [entry] = [e for e in logs if e["event"] == "answer could not be sent"]
    assert entry["tool_call_id"] == "t1"
