"""The call fence (``cvibot serve``): asked once per call before its handler runs and
before an answer that needs no handler is sent; ``False`` means no handler, no answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from runtime_helpers import MakeHarness, tool_call

from cvibot import tool
from cvibot._dispatch import OutcomeKind

RUNS: list[str] = []


@tool
async def lookup(order_id: str) -> str:
    """Look up an order."""
    RUNS.append(order_id)
    return f"order {order_id} shipped"


@tool(timeout=0.2)
async def quick(order_id: str) -> str:
    """A tool with a short timeout."""
    RUNS.append(order_id)
    return "done"


@pytest.fixture(autouse=True)
def _clear() -> None:
    RUNS.clear()


class Fence:
    """Says yes to the keys in ``allowed`` (all when ``None``); records what it is asked."""

    def __init__(self, allowed: set[str] | None = None, *, hang: bool = False) -> None:
        self.allowed = allowed
        self.asked: list[str] = []
        self.hang = hang

    async def __call__(self, key: str) -> bool:
        self.asked.append(key)
        if self.hang:
            await asyncio.sleep(3600)
        return self.allowed is None or key in self.allowed


async def test_without_a_fence_calls_are_answered_as_always(make_harness: MakeHarness) -> None:
    h = make_harness(lookup)
    sent = await h.run(tool_call("lookup", {"order_id": "A1"}, tcid="t1"))
    assert [m["properties"]["status"] for m in sent] == ["success"]


async def test_a_fence_is_asked_once_per_call_with_its_tool_call_id(
    make_harness: MakeHarness,
) -> None:
    fence = Fence({"t1"})
    h = make_harness(lookup, call_fence=fence)
    sent = await h.run(
        tool_call("lookup", {"order_id": "A1"}, tcid="t1"),
        tool_call("lookup", {"order_id": "B2"}, tcid="t2"),
        tool_call("lookup", {"order_id": "B2"}, tcid="t2"),  # a duplicate: dropped before
    )
    assert fence.asked == ["t1", "t2"]
    assert RUNS == ["A1"]
    assert [m["properties"]["tool_call_id"] for m in sent] == ["t1"]
    kinds = {o.tool_call_id: o.kind for o in h.rec.outcomes}
    assert kinds == {"t1": OutcomeKind.SUCCESS, "t2": OutcomeKind.FENCED}
    fenced = next(o for o in h.rec.outcomes if o.kind is OutcomeKind.FENCED)
    assert fenced.answer is None and fenced.text is None
    assert h.session.stats.outcomes["fenced"] == 1


@pytest.mark.parametrize(
    "message",
    [
        tool_call("nope", {}, tcid="t1"),  # unknown tool
        tool_call("lookup", {"wrong": 1}, tcid="t1"),  # invalid arguments
        tool_call("lookup", "{not json", tcid="t1"),  # rejected by the parser
    ],
)
async def test_answers_that_need_no_handler_are_fenced_too(
    make_harness: MakeHarness, message: dict[str, Any]
) -> None:
    fence = Fence(set())
    h = make_harness(lookup, call_fence=fence)
    sent = await h.run(message)
    assert sent == [] and fence.asked == ["t1"]
    assert [o.kind for o in h.rec.outcomes] == [OutcomeKind.FENCED]


async def test_the_key_of_a_call_without_an_id_is_its_dedupe_key(
    make_harness: MakeHarness,
) -> None:
    fence = Fence()
    h = make_harness(lookup, call_fence=fence)
    await h.run(
        tool_call("lookup", {"order_id": "A1"}, seq=7),
        tool_call("lookup", {"order_id": "B2"}, inference_id="inf-1"),
    )
    assert fence.asked[0] == "seq:7"
    assert fence.asked[1].startswith("hash:") and len(fence.asked[1]) == 5 + 64
    assert RUNS == ["A1", "B2"]


async def test_a_fence_that_raises_counts_as_no(
    make_harness: MakeHarness, logs: list[dict[str, Any]]
) -> None:
    async def broken(key: str) -> bool:
        raise ConnectionError("redis is down")

    h = make_harness(lookup, call_fence=broken)
    sent = await h.run(tool_call("lookup", {"order_id": "A1"}, tcid="t1"))
    assert sent == [] and RUNS == []
    assert [o.kind for o in h.rec.outcomes] == [OutcomeKind.FENCED]
    assert any(line["event"] == "call fence failed" for line in logs)


async def test_a_fence_that_hangs_past_the_timeout_answers_nothing(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(quick, call_fence=Fence(hang=True))
    sent = await h.run(tool_call("quick", {"order_id": "A1"}, tcid="t1"))
    # At most once: an unanswered ask is a no, so not even the timeout error goes out.
    assert sent == [] and RUNS == []
    assert [o.kind for o in h.rec.outcomes] == [OutcomeKind.FENCED]
