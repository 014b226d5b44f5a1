"""Message builders and a recording harness for the dispatch, session and replay tests."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cvibot._dispatch import ToolOutcome
from cvibot._listening import SessionListener
from cvibot._protocol.events import Event
from cvibot._protocol.parse import Rejection
from cvibot._session import DropReason, Session
from cvibot.tools import get_tool_spec
from cvibot.tools._spec import ToolSpec
from cvibot.transports._memory import MemoryTransport

CID = "c1"

_UNSET: Any = object()


def spec_of(fn: Callable[..., Any]) -> ToolSpec:
    spec = get_tool_spec(fn)
    assert spec is not None, f"{fn!r} is not a @tool"
    return spec


def tool_call(
    name: str,
    arguments: Any = _UNSET,
    *,
    tcid: str | None = None,
    seq: int | None = None,
    cid: str | None = CID,
    inference_id: str | None = None,
    event_type: str = "conversation.tool_call",
) -> dict[str, Any]:
    """A ``conversation.tool_call`` app-message; ``arguments`` is JSON-encoded if not a str."""
    props: dict[str, Any] = {"name": name}
    if arguments is not _UNSET:
        props["arguments"] = arguments if isinstance(arguments, str) else json.dumps(arguments)
    else:
        props["arguments"] = "{}"
    if tcid is not None:
        props["tool_call_id"] = tcid
    message: dict[str, Any] = {
        "message_type": "conversation",
        "event_type": event_type,
        "properties": props,
    }
    if cid is not None:
        message["conversation_id"] = cid
    if seq is not None:
        message["seq"] = seq
    if inference_id is not None:
        message["inference_id"] = inference_id
    return message


def perception_call(
    name: str, arguments: Any = _UNSET, *, tcid: str | None = None, seq: int | None = None
) -> dict[str, Any]:
    message = tool_call(
        name, arguments, tcid=tcid, seq=seq, event_type="conversation.perception_tool_call"
    )
    message["properties"]["modality"] = "vision"
    return message


def event(
    event_type: str,
    *,
    cid: str | None = CID,
    seq: int | None = None,
    inference_id: str | None = None,
    **properties: Any,
) -> dict[str, Any]:
    message: dict[str, Any] = {"message_type": "conversation", "event_type": event_type}
    if cid is not None:
        message["conversation_id"] = cid
    if seq is not None:
        message["seq"] = seq
    if inference_id is not None:
        message["inference_id"] = inference_id
    if properties:
        message["properties"] = properties
    return message


def stopped_speaking(
    role: str = "replica", *, interrupted: bool = True, seq: int | None = None, **kw: Any
) -> dict[str, Any]:
    return event("conversation.stopped_speaking", seq=seq, role=role, interrupted=interrupted, **kw)


def tool_result(tcid: str, output: str, status: str = "success", cid: str = CID) -> dict[str, Any]:
    """The exact app-message of a ``conversation.tool_result`` answer."""
    return {
        "message_type": "conversation",
        "event_type": "conversation.tool_result",
        "conversation_id": cid,
        "properties": {"tool_call_id": tcid, "output": output, "status": status},
    }


def echo(text: str, cid: str = CID) -> dict[str, Any]:
    return {
        "message_type": "conversation",
        "event_type": "conversation.echo",
        "conversation_id": cid,
        "properties": {"modality": "text", "text": text, "done": True},
    }


def respond(text: str, cid: str = CID) -> dict[str, Any]:
    return {
        "message_type": "conversation",
        "event_type": "conversation.respond",
        "conversation_id": cid,
        "properties": {"text": text},
    }


def append_context(context: str, cid: str = CID, job_status: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"context": context}
    if job_status is not None:
        props["job_status"] = job_status
    return {
        "message_type": "conversation",
        "event_type": "conversation.append_llm_context",
        "conversation_id": cid,
        "properties": props,
    }


class Recorder(SessionListener):
    """Records everything a session reports to its listeners."""

    def __init__(self) -> None:
        self.events: list[tuple[Event, bool]] = []
        self.rejections: list[Rejection] = []
        self.drops: list[tuple[Event, DropReason]] = []
        self.outcomes: list[ToolOutcome] = []
        self.sent: list[Mapping[str, Any]] = []

    def on_event(self, event: Event, *, late: bool) -> None:
        self.events.append((event, late))

    def on_rejection(self, rejection: Rejection) -> None:
        self.rejections.append(rejection)

    def on_drop(self, event: Event, reason: DropReason) -> None:
        self.drops.append((event, reason))

    def on_outcome(self, outcome: ToolOutcome) -> None:
        self.outcomes.append(outcome)

    def on_sent(self, message: Mapping[str, Any]) -> None:
        self.sent.append(message)

    def outcome(self, tcid: str) -> ToolOutcome:
        found = [o for o in self.outcomes if o.tool_call_id == tcid]
        assert len(found) == 1, f"{tcid}: {len(found)} outcomes"
        return found[0]

    def drop_reasons(self) -> list[str]:
        return [reason.value for _, reason in self.drops]


@dataclass
class Harness:
    session: Session
    transport: MemoryTransport
    rec: Recorder
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sent(self) -> list[Mapping[str, Any]]:
        return self.transport.sent

    def feed(self, *messages: Any) -> None:
        for message in messages:
            self.session.on_message(message)

    async def run(self, *messages: Any) -> list[Mapping[str, Any]]:
        """Feed ``messages`` in one burst, wait until every call settled, return ``sent``."""
        self.feed(*messages)
        await asyncio.wait_for(self.session.settled(), 5)
        return self.sent

    def answers_per_call(self) -> Counter[str]:
        """How many ``tool_result`` messages were sent per ``tool_call_id``."""
        return Counter(
            m["properties"]["tool_call_id"]
            for m in self.sent
            if m["event_type"] == "conversation.tool_result"
        )

    def outcomes_per_call(self) -> Counter[str | None]:
        return Counter(o.tool_call_id for o in self.rec.outcomes)


MakeHarness = Callable[..., Harness]
"""The ``make_harness`` fixture: ``make_harness(*tools, **policy_or_session_options)``."""
