"""FakeConversation: tool calls in every shape, the answers, the waits and their failures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import pytest

from cvibot import AppendContext, Echo, ToolContext, ToolError, hookimpl, tool
from cvibot._runtime import PluginStartupError
from cvibot.testing import FakeConversation, ReplyTimeout
from cvibot.transports._memory import MemoryTransport

SEEN: list[Mapping[str, Any]] = []


@tool(timeout=2)
def lookup_order(order_id: str, ctx: ToolContext) -> dict[str, Any]:
    """Look up an order.

    Args:
        order_id: The order number.
    """
    SEEN.append(ctx.call.raw)
    if order_id == "missing":
        raise ToolError(f"There is no order {order_id}.")
    return {"order_id": order_id, "status": "shipped"}


@tool(reply="append_context")
def remember(fact: str) -> str:
    """Note a fact for the LLM."""
    return f"noted: {fact}"


@tool(reply="respond")
def relay(text: str) -> str:
    """Say it through the LLM."""
    return text


@tool(reply="none")
def silent() -> str:
    """Answer nothing."""
    return "kept to myself"


@tool(timeout=0.05)
async def too_slow() -> str:
    """Never in time."""
    await asyncio.sleep(10)
    return "late"


@tool(origin="vision")
def saw_badge(colour: str) -> str:
    """A badge was seen."""
    return f"badge {colour}"


TOOLS = (lookup_order, remember, relay, silent, too_slow, saw_badge)


class Greeter:
    """Greets at the start of each conversation."""

    @hookimpl
    async def cvibot_session_started(self, session: Any) -> None:
        await session.send(Echo(text="Welcome!"))


class Responder:
    """Answers user utterances under pipeline_mode: echo."""

    @hookimpl
    def cvibot_respond_to_utterance(self, utterance: Any) -> str | None:
        return None if utterance.speech == "pass" else f"You said: {utterance.speech}"


@pytest.fixture
async def conv() -> Any:
    SEEN.clear()
    async with FakeConversation(tools=TOOLS, grace=0.1) as conversation:
        yield conversation


# -- tool calls --------------------------------------------------------------------------


async def test_an_official_call_is_answered_with_its_tool_result(conv: FakeConversation) -> None:
    reply = await conv.tool_call("lookup_order", {"order_id": "A1"})

    assert reply.event_type == "conversation.tool_result"
    assert reply.status == "success"
    assert reply.json() == {"order_id": "A1", "status": "shipped"}
    assert reply.message == conv.sent[-1]
    assert reply.message is not None
    assert reply.message["conversation_id"] == "fake-conversation"
    [raw] = SEEN
    props = raw["properties"]
    assert props["name"] == "lookup_order"
    assert json.loads(props["arguments"]) == {"order_id": "A1"}  # JSON text
    assert reply.properties["tool_call_id"] == props["tool_call_id"] == "call-1"
    assert raw["inference_id"] and raw["seq"] == 1


async def test_the_legacy_shape_gets_the_same_answer(conv: FakeConversation) -> None:
    official = await conv.tool_call("lookup_order", {"order_id": "A1"})
    legacy = await conv.tool_call("lookup_order", {"order_id": "A1"}, shape="legacy")

    assert legacy.status == "success"
    assert legacy.text == official.text
    raw = SEEN[-1]
    assert raw["properties"]["tool_name"] == "lookup_order"
    assert raw["properties"]["arguments"] == {"order_id": "A1"}  # an object
    assert "inference_id" in raw["properties"] and "inference_id" not in raw
    assert raw["tool_call_id"] == legacy.properties["tool_call_id"] == "call-2"


async def test_the_nested_function_shape_is_answered(conv: FakeConversation) -> None:
    reply = await conv.tool_call("lookup_order", {"order_id": "B2"}, shape="function")

    assert reply.json()["order_id"] == "B2"
    assert SEEN[-1]["properties"]["function"]["name"] == "lookup_order"


async def test_a_call_without_tool_call_id_is_answered_with_an_echo(
    conv: FakeConversation,
) -> None:
    for shape in ("official", "legacy"):
        reply = await conv.tool_call(
            "lookup_order", {"order_id": "C3"}, tool_call_id=None, shape=shape
        )
        assert reply.event_type == "conversation.echo"
        assert reply.status is None
        # Spoken, so in words rather than JSON.
        assert reply.text == "order id: C3, status: shipped"
        assert reply.outcome is not None and reply.outcome.tool_call_id is None


async def test_a_tool_error_is_an_error_result_with_its_message(conv: FakeConversation) -> None:
    reply = await conv.tool_call("lookup_order", {"order_id": "missing"}, tool_call_id="t-9")

    assert reply.status == "error"
    assert reply.text == "There is no order missing."
    assert reply.properties["tool_call_id"] == "t-9"
    assert reply.outcome is not None and reply.outcome.error is not None
    assert reply.outcome.error.value == "tool_error"


async def test_bad_arguments_and_unknown_tools_are_error_results(conv: FakeConversation) -> None:
    invalid = await conv.tool_call("lookup_order", {"order": "A1"})
    unknown = await conv.tool_call("no_such_tool")
    not_json = await conv.tool_call("lookup_order", "{not json")

    assert invalid.status == unknown.status == not_json.status == "error"
    assert "order_id: Field required" in (invalid.text or "")
    assert unknown.text == "unknown tool 'no_such_tool'"
    assert (not_json.text or "").startswith("invalid tool call: properties.arguments")


async def test_each_reply_mode_has_its_event_type_and_text(conv: FakeConversation) -> None:
    appended = await conv.tool_call("remember", {"fact": "likes tea"})
    relayed = await conv.tool_call("relay", {"text": "Tell them it shipped"})
    nothing = await conv.tool_call("silent")

    assert appended.event_type == "conversation.append_llm_context"
    assert appended.text == "noted: likes tea"
    assert relayed.event_type == "conversation.respond"
    assert relayed.text == "Tell them it shipped"
    assert nothing.message is None and nothing.event_type is None
    assert nothing.text == "kept to myself"  # from the outcome: nothing was sent
    assert nothing.outcome is not None and nothing.outcome.kind.value == "success"


async def test_a_perception_call_is_run_and_answered_with_nothing(conv: FakeConversation) -> None:
    frames = [{"data": "aGk=", "mime_type": "image/jpeg"}]
    reply = await conv.perception_tool_call("saw_badge", {"colour": "red"}, frames=frames)
    audio = await conv.perception_tool_call("saw_badge", {"colour": "blue"}, modality="audio")

    assert reply.message is None
    assert reply.text == "badge red"
    assert audio.text == "badge blue"


async def test_a_tool_timeout_is_an_error_result(conv: FakeConversation) -> None:
    reply = await conv.tool_call("too_slow")  # waits the tool's 0.05 s plus a margin

    assert reply.status == "error"
    assert reply.text == "too_slow timed out after 0.05 s"


async def test_concurrent_calls_each_get_their_own_answer() -> None:
    gate = asyncio.Event()

    @tool
    async def wait_then(tag: str) -> str:
        """Answers with its tag; the slow one waits for the test."""
        if tag == "slow":
            await gate.wait()
        return tag

    async with FakeConversation(tools=[wait_then]) as conv:
        slow = asyncio.ensure_future(conv.tool_call("wait_then", {"tag": "slow"}))
        fast = await conv.tool_call("wait_then", {"tag": "fast"}, tool_call_id=None)
        gate.set()
        late = await slow

    assert (fast.event_type, fast.text) == ("conversation.echo", "fast")
    assert (late.event_type, late.text) == ("conversation.tool_result", "slow")
    assert [m["event_type"] for m in conv.sent] == [
        "conversation.echo",
        "conversation.tool_result",
    ]


# -- failures of a wait --------------------------------------------------------------------


async def test_no_answer_in_time_is_a_timeout_that_lists_what_was_sent() -> None:
    release = asyncio.Event()

    @tool
    async def stuck() -> str:
        """Waits for the test."""
        await release.wait()
        return "free"

    async with FakeConversation(tools=[stuck, lookup_order]) as conv:
        await conv.tool_call("lookup_order", {"order_id": "A1"})
        with pytest.raises(ReplyTimeout) as caught:
            await conv.tool_call("stuck", timeout=0.05)
        release.set()

    assert isinstance(caught.value, AssertionError)
    assert isinstance(caught.value, TimeoutError)
    message = str(caught.value)
    assert "no answer to tool call 'stuck'" in message and "within 0.05 s" in message
    assert "the bot sent 1 message:" in message
    assert '"tool_call_id":"call-1"' in message
    # Released before the end, the call is still answered once.
    assert conv.sent[-1]["properties"]["output"] == "free"


async def test_a_call_rejected_without_tool_call_id_fails_at_once(conv: FakeConversation) -> None:
    with pytest.raises(AssertionError, match=r"rejected it \(arguments_not_json") as caught:
        await conv.tool_call("lookup_order", "[1", tool_call_id=None, timeout=30)
    assert "it gets no answer" in str(caught.value)
    assert not isinstance(caught.value, TimeoutError)


async def test_a_duplicate_call_fails_as_dropped(conv: FakeConversation) -> None:
    await conv.tool_call("lookup_order", {"order_id": "A1"}, tool_call_id="same")

    with pytest.raises(AssertionError, match=r"dropped it \(duplicate\)"):
        await conv.tool_call("lookup_order", {"order_id": "A1"}, tool_call_id="same", timeout=30)


async def test_a_wait_fails_when_the_conversation_ends(conv: FakeConversation) -> None:
    conv.send({"event_type": "system.shutdown", "properties": {"shutdown_reason": "done"}})

    with pytest.raises(AssertionError, match="the conversation ended before"):
        await conv.tool_call("lookup_order", {"order_id": "A1"}, timeout=30)


# -- utterances and other messages ----------------------------------------------------------


async def test_an_utterance_gets_the_echo_of_the_responder_in_echo_mode() -> None:
    async with FakeConversation(plugins=[Responder()], pipeline_mode="echo") as conv:
        echo = await conv.say("what are your opening hours?")
        passed = await conv.say("pass")

    assert echo is not None
    assert echo.event_type == "conversation.echo"
    assert echo.text == "You said: what are your opening hours?"
    assert passed is None
    assert len(conv.sent) == 1


async def test_an_utterance_gets_no_answer_in_full_mode() -> None:
    async with FakeConversation(plugins=[Responder()]) as conv:
        assert await conv.say("hello") is None
        assert conv.sent == []


async def test_say_leaves_out_the_answers_of_tool_calls() -> None:
    async with FakeConversation(
        plugins=[Responder()], tools=[remember], pipeline_mode="echo"
    ) as conv:
        conv.send(
            {
                "event_type": "conversation.tool_call",
                "conversation_id": "fake-conversation",
                "properties": {"name": "remember", "arguments": '{"fact": "x"}'},
            }
        )
        echo = await conv.say("hi")

    assert echo is not None and echo.text == "You said: hi"


async def test_wait_for_returns_each_message_once() -> None:
    async with FakeConversation(plugins=[Greeter()], tools=TOOLS) as conv:
        greeting = await conv.wait_for("conversation.echo")
        await conv.tool_call("lookup_order", {"order_id": "A1"}, tool_call_id=None)
        second = await conv.wait_for(lambda m: m["event_type"] == "conversation.echo")
        with pytest.raises(ReplyTimeout) as caught:
            await conv.wait_for("conversation.echo", timeout=0.02)

    assert greeting["properties"]["text"] == "Welcome!"
    assert second["properties"]["text"] == "order id: A1, status: shipped"
    assert "a conversation.echo message within 0.02 s" in str(caught.value)
    assert "the bot sent 2 messages:" in str(caught.value)


async def test_wait_for_raises_what_the_predicate_raises(conv: FakeConversation) -> None:
    await conv.tool_call("lookup_order", {"order_id": "A1"})

    with pytest.raises(KeyError, match="nope"):
        await conv.wait_for(lambda m: m["nope"])


async def test_a_raw_event_is_numbered_before_the_calls_after_it(conv: FakeConversation) -> None:
    conv.send(
        {
            "event_type": "conversation.utterance",
            "conversation_id": "fake-conversation",
            "seq": 41,
            "properties": {"role": "user", "speech": "hi"},
        }
    )
    reply = await conv.tool_call("lookup_order", {"order_id": "A1"})

    assert reply.outcome is not None and reply.outcome.seq == 42


async def test_a_message_from_another_participant_is_dropped(conv: FakeConversation) -> None:
    conv.send(
        {
            "event_type": "conversation.tool_call",
            "properties": {"name": "lookup_order", "arguments": "{}", "tool_call_id": "x"},
        },
        sender="someone-else",
    )
    reply = await conv.tool_call("remember", {"fact": "f"})

    assert reply.text == "noted: f"
    assert SEEN == []
    assert conv.session.stats.drops["untrusted_sender"] == 1


# -- the conversation's life ----------------------------------------------------------------


async def test_closing_ends_the_session_and_answers_running_calls() -> None:
    conv = FakeConversation(tools=TOOLS, grace=0)
    assert conv.bot.tools.keys() >= {"lookup_order", "remember"}
    with pytest.raises(RuntimeError, match="has not started"):
        _ = conv.session
    await conv
    conv.send(
        {
            "event_type": "conversation.tool_call",
            "conversation_id": "fake-conversation",
            "properties": {"name": "too_slow", "arguments": "{}", "tool_call_id": "slow-1"},
        }
    )
    await asyncio.sleep(0)
    await conv.close()
    await conv.close()  # idempotent

    assert conv.sent[-1]["properties"]["tool_call_id"] == "slow-1"
    assert conv.sent[-1]["properties"]["status"] == "error"
    with pytest.raises(RuntimeError, match="closed"):
        conv.send({"event_type": "conversation.utterance"})


async def test_a_start_up_failure_is_raised_by_the_start() -> None:
    class Broken:
        @hookimpl
        def cvibot_startup(self) -> None:
            raise OSError("no database")

    with pytest.raises(PluginStartupError, match="no database"):
        async with FakeConversation(plugins=[Broken()]):
            pytest.fail("the conversation must not start")


async def test_a_transport_failure_fails_the_waits_and_the_exit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def failing_run(self: MemoryTransport, receiver: Any) -> None:
        await asyncio.sleep(0)
        raise ConnectionError("network gone")

    monkeypatch.setattr(MemoryTransport, "run", failing_run)
    conv = FakeConversation(tools=TOOLS)
    with pytest.raises(ConnectionError, match="network gone"):
        async with conv:
            with pytest.raises(AssertionError, match="failed: ConnectionError: network gone"):
                await conv.tool_call("lookup_order", {"order_id": "A1"}, timeout=30)


async def test_a_failure_in_the_body_carries_the_bots_failure_as_a_note(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def failing_run(self: MemoryTransport, receiver: Any) -> None:
        raise ConnectionError("network gone")

    monkeypatch.setattr(MemoryTransport, "run", failing_run)
    with pytest.raises(ValueError, match="the test's own") as caught:
        async with FakeConversation():
            raise ValueError("the test's own")

    assert caught.value.__notes__ == ["the bot failed too: ConnectionError: network gone"]


async def test_explicit_interactions_from_a_tool_are_sent_before_its_answer() -> None:
    @tool
    async def chatty(ctx: ToolContext) -> AppendContext:
        """Speaks first, then appends."""
        await ctx.echo("One moment.")
        return AppendContext(context="done")

    async with FakeConversation(tools=[chatty]) as conv:
        reply = await conv.tool_call("chatty")
        filler = await conv.wait_for("conversation.echo")

    assert reply.event_type == "conversation.append_llm_context" and reply.text == "done"
    assert filler["properties"]["text"] == "One moment."
    assert [m["event_type"] for m in conv.sent] == [
        "conversation.echo",
        "conversation.append_llm_context",
    ]
