"""Property tests of the session's guarantees at the edges, whatever arrives:

- no exception escapes ``Session.on_message`` or reaches the event loop's handler;
- every tool call of this conversation that carries a ``tool_call_id`` (by the parser's
  rules: ``properties.tool_call_id``, else the top level) is answered exactly once,
  malformed ones included, and no id is ever answered twice;
- no handler runs twice for one ``tool_call_id``;
- every outbound message is strict JSON that encodes as valid UTF-8 (what Daily sends).

Inputs: arbitrary JSON values and event-shaped objects, and sequences of valid tool calls
in the official shape (``properties: {name, arguments, tool_call_id}``) and the legacy
ones (``tool_name`` or ``function: {name, arguments}``, the id at the top level) with
mutations: lone surrogates (raw, or escaped in JSON text), nesting hundreds to thousands
deep, megabyte fields, wrong types, missing keys, the message as JSON text or bytes,
exact duplicates, retransmissions under a new ``seq``, reused and out-of-order ``seq``,
interruptions. The CLI's transcript and the JSON log are written to strict UTF-8
streams, as a piped stdout is. Hostile structures are described by small specs (a
depth, a size) and built in the test, so a failing example prints readably.
"""

from __future__ import annotations

import asyncio
import gc
import io
import json
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime_helpers import spec_of

from cvibot import tool
from cvibot._cli.transcript import Transcript
from cvibot._context import ToolContext
from cvibot._dispatch import DispatchPolicy
from cvibot._logging import configure_logging
from cvibot._protocol import MAX_SIZE
from cvibot._protocol.interactions import encode_message
from cvibot._session import Session
from cvibot.tools import ToolRegistry
from cvibot.tools._options import ReplyMode
from cvibot.transports._memory import MemoryTransport

CID = "c1"
TOOL_CALL_TYPES = ("conversation.tool_call", "conversation.perception_tool_call")
SURROGATES = ("\ud83d", "\udc00", "\udfff", "\ud800")
PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- the bot under test ------------------------------------------------------------------

_runs: Counter[str] = Counter()
_runs_lock = threading.Lock()


def _ran(ctx: ToolContext) -> None:
    if ctx.tool_call_id is not None:
        with _runs_lock:
            _runs[_norm(ctx.tool_call_id)] += 1


@tool
async def echo(ctx: ToolContext, text: str) -> str:
    """Say the text back."""
    _ran(ctx)
    return text


@tool
def add(ctx: ToolContext, a: int, b: int) -> int:
    """Add two numbers, in the thread pool."""
    _ran(ctx)
    return a + b


@tool(cancel_on_interrupt=True)
async def slow(ctx: ToolContext, value: int) -> str:
    """Take a moment; an interruption cancels it."""
    _ran(ctx)
    await asyncio.sleep(0.01)
    return "slow"


@tool
async def boom(ctx: ToolContext) -> str:
    """Fail."""
    _ran(ctx)
    raise RuntimeError("boom")


@tool
def opaque(ctx: ToolContext) -> Any:
    """Return something that is not JSON."""
    _ran(ctx)
    return threading.Lock()


@tool
async def mirror(ctx: ToolContext, data: dict[str, Any]) -> Any:
    """Return the object received."""
    _ran(ctx)
    return data


TOOLS = (echo, add, slow, boom, opaque, mirror)
TOOL_NAMES = ("echo", "add", "slow", "boom", "opaque", "mirror", "no_such_tool")
GOOD_ARGUMENTS: dict[str, dict[str, Any]] = {
    "echo": {"text": "hello"},
    "add": {"a": 2, "b": 3},
    "slow": {"value": 1},
    "boom": {},
    "opaque": {},
    "mirror": {"data": {"k": [1, "v", None]}},
    "no_such_tool": {"x": 1},
}


def _norm(value: str) -> str:
    """An id as valid Unicode: surrogate pairs joined, lone surrogates as U+FFFD, so an
    answer that carries the call's id made valid Unicode still matches the call."""
    return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def carried_id(message: Any) -> str | None:
    """The ``tool_call_id`` a tool call of this conversation carries (parser's rules).

    JSON text (or bytes) longer than the parser's size limit is rejected unread, like
    text that is not JSON, so no id can be known from it.
    """
    if isinstance(message, str | bytes) and len(message) > MAX_SIZE:
        return None
    if isinstance(message, bytes):
        try:
            message = message.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(message, str):
        try:
            message = json.loads(message)
        except (ValueError, RecursionError):
            return None
    if not isinstance(message, dict) or message.get("event_type") not in TOOL_CALL_TYPES:
        return None
    if message.get("conversation_id") not in (None, "", CID):
        return None
    props = message.get("properties")
    props = props if isinstance(props, dict) else {}
    inner = props.get("tool_call_id")
    if inner == "":
        return None
    if isinstance(inner, str):
        return inner
    top = message.get("tool_call_id")
    return top if isinstance(top, str) and top else None


class _Wire(MemoryTransport):
    """Keeps what a live room would refuse to send: not strict JSON, not valid UTF-8."""

    def __init__(self) -> None:
        super().__init__()
        self.unsendable: list[str] = []

    async def send(self, message: Mapping[str, Any], to: str | None = None) -> None:
        try:
            encode_message(message).decode("utf-8")
        except (ValueError, UnicodeDecodeError) as exc:
            self.unsendable.append(f"{message.get('event_type')}: {str(exc)[:120]}")
        await super().send(message, to)


@dataclass
class Outcome:
    escaped: list[str] = field(default_factory=list)
    loop_errors: list[str] = field(default_factory=list)
    needed: set[str] = field(default_factory=set)
    answers: Counter[str] = field(default_factory=Counter)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: Counter[str] = field(default_factory=Counter)
    unsendable: list[str] = field(default_factory=list)
    settled: bool = True

    def check(self) -> None:
        assert not self.escaped, f"exceptions escaped on_message: {self.escaped}"
        assert not self.loop_errors, f"exceptions reached the loop: {self.loop_errors}"
        assert self.settled, "the session did not settle within 10 s"
        unanswered = sorted(i for i in self.needed if self.answers[i] == 0)
        assert not unanswered, f"calls never answered: {unanswered}"
        twice = {i: n for i, n in self.answers.items() if n > 1}
        assert not twice, f"ids answered more than once: {twice}"
        again = {i: n for i, n in self.runs.items() if n > 1}
        assert not again, f"handlers run more than once for one id: {again}"
        assert not self.unsendable, f"outbound messages Daily would refuse: {self.unsendable}"


@contextmanager
def _strict_logging() -> Iterator[io.TextIOWrapper]:
    """JSON logs at debug level to a strict UTF-8 stream; the set-up is put back after."""
    saved = structlog.get_config()
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    configure_logging("debug", "json", stream=stream)
    try:
        yield stream
    finally:
        structlog.configure(**saved)


def feed(messages: list[Any], *, cancel_on_interrupt: bool = False) -> Outcome:
    """Feed ``messages`` to a new session in one burst; what came of it."""
    outcome = Outcome()
    for message in messages:
        call_id = carried_id(message)
        if call_id is not None:
            outcome.needed.add(_norm(call_id))
    with _runs_lock:
        _runs.clear()

    async def run(stream: io.TextIOWrapper) -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(
            lambda _loop, ctx: outcome.loop_errors.append(
                f"{ctx.get('message')}: {ctx.get('exception')!r}"[:300]
            )
        )
        executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cvibot-property")
        wire = _Wire()
        session = Session(
            transport=wire,
            tools=ToolRegistry.build(spec_of(fn) for fn in TOOLS),
            policy=DispatchPolicy(
                perception_reply=ReplyMode.TOOL_RESULT, cancel_on_interrupt=cancel_on_interrupt
            ),
            executor=executor,
            conversation_id=CID,
            listeners=(Transcript(stream, color=False),),
        )
        try:
            for message in messages:
                try:
                    session.on_message(message)
                except Exception as exc:
                    outcome.escaped.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            try:
                await asyncio.wait_for(session.settled(), 10)
            except TimeoutError:
                outcome.settled = False
            await session.drain(0)
        finally:
            executor.shutdown(wait=True)
        gc.collect()  # tasks that failed unobserved report now, to the handler above
        await asyncio.sleep(0)
        for sent in wire.sent:
            props = sent.get("properties")
            if sent.get("event_type") == "conversation.tool_result" and isinstance(props, dict):
                call_id = props.get("tool_call_id")
                if isinstance(call_id, str):
                    outcome.answers[_norm(call_id)] += 1
                    outcome.results[_norm(call_id)] = props
        outcome.unsendable = wire.unsendable

    with _strict_logging() as stream:
        asyncio.run(run(stream))
    with _runs_lock:
        outcome.runs = Counter(_runs)
    return outcome


# -- hostile structures, built from small specs ------------------------------------------


def nested(depth: int, kind: str, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value} if kind == "object" else [value]
    return value


def nested_text(depth: int, kind: str) -> str:
    return ('{"a":' * depth + "1" + "}" * depth) if kind == "object" else "[" * depth + "]" * depth


Spec = tuple[Any, ...]

text_with_surrogates = st.lists(
    st.one_of(st.characters(), st.sampled_from(SURROGATES)), max_size=12
).map("".join)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | text_with_surrogates
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(text_with_surrogates, children, max_size=4)
    ),
    max_leaves=16,
)
EVENT_TYPES = [
    *TOOL_CALL_TYPES,
    *TOOL_CALL_TYPES,
    "conversation.utterance",
    "conversation.utterance.streaming",
    "conversation.stopped_speaking",
    "conversation.replica_interrupted",
    "conversation.perception_analysis",
    "system.replica_joined",
    "conversation.echo",
    "conversation.something_new",
]
PROPERTY_KEYS = [
    "name",
    "tool_name",
    "arguments",
    "tool_call_id",
    "function",
    "speech",
    "role",
    "interrupted",
    "frames",
    "modality",
    "inference_id",
]


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, json_values)


call_ids = st.one_of(
    st.sampled_from(["t1", "t2", "t3"]), text_with_surrogates.filter(bool).map(lambda s: s[:40])
)
event_shaped = st.fixed_dictionaries(
    {"event_type": st.sampled_from(EVENT_TYPES)},
    optional={
        "conversation_id": st.sampled_from([CID, None, ""]),
        "seq": _maybe(st.integers(0, 6)),
        "tool_call_id": _maybe(call_ids),
        "inference_id": _maybe(text_with_surrogates),
        "properties": _maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "name": _maybe(st.sampled_from(TOOL_NAMES)),
                    "tool_name": _maybe(st.sampled_from(TOOL_NAMES)),
                    "arguments": _maybe(
                        st.sampled_from(
                            [json.dumps(a) for a in GOOD_ARGUMENTS.values()]
                            + list(GOOD_ARGUMENTS.values())
                        )
                    ),
                    "tool_call_id": _maybe(call_ids),
                    "speech": _maybe(text_with_surrogates),
                    "role": _maybe(st.sampled_from(["user", "replica", "pal"])),
                    "function": json_values,
                    "frames": json_values,
                    "interrupted": json_values,
                },
            )
        ),
    },
)


def _encoded(message: Any, how: str) -> Any:
    """``message`` as an object, JSON text (surrogates raw or escaped) or UTF-8 bytes."""
    if how == "object":
        return message
    try:
        if how == "text":
            return json.dumps(message, ensure_ascii=False)
        if how == "escaped":
            return json.dumps(message)
        return json.dumps(message, ensure_ascii=False).encode("utf-8", "surrogatepass")
    except (ValueError, TypeError, RecursionError):
        return message


ENCODINGS = st.sampled_from(["object", "object", "text", "escaped", "bytes"])


@PROPERTY
@given(
    messages=st.lists(
        st.tuples(st.one_of(json_values, event_shaped, event_shaped), ENCODINGS),
        min_size=1,
        max_size=8,
    )
)
def test_arbitrary_json_values(messages: list[tuple[Any, str]]) -> None:
    feed([_encoded(m, how) for m, how in messages]).check()


# -- mutations of valid tool calls, in sequences ------------------------------------------

FIELDS = ["name", "arguments", "argument_value", "tool_call_id", "inference_id", "speech"]
mutations = st.one_of(
    st.tuples(st.just("surrogate"), st.sampled_from(FIELDS), st.sampled_from(SURROGATES)),
    st.tuples(
        st.just("deep"),
        st.sampled_from(["arguments", "arguments_text", "argument_value", "extra", "speech"]),
        st.sampled_from([100, 500, 999, 1000, 3000, 5000]),
        st.sampled_from(["object", "array"]),
    ),
    st.tuples(
        st.just("huge"),
        st.sampled_from(["arguments", "argument_value", "name", "extra", "speech"]),
        st.sampled_from([5_000, 1 << 20]),
    ),
    st.tuples(
        st.just("wrong_type"),
        st.sampled_from(["seq", "name", "arguments", "tool_call_id", "properties", "inference_id"]),
        st.sampled_from([42, -1.5, True, None, [1], {"k": "v"}, "[1, 2]", "{not json"]),
    ),
    st.tuples(st.just("drop"), st.sampled_from(["name", "arguments", "tool_call_id", "seq"])),
)
steps = st.one_of(
    st.fixed_dictionaries(
        {
            "kind": st.just("call"),
            "shape": st.sampled_from(["official", "tool_name", "function", "perception"]),
            "tool": st.sampled_from(TOOL_NAMES),
            "args_as_text": st.booleans(),
            "seq": st.sampled_from(["next", "next", "reuse", "earlier", "none"]),
            "mutations": st.lists(mutations, max_size=2),
            "encoding": ENCODINGS,
        }
    ),
    st.fixed_dictionaries({"kind": st.just("duplicate"), "of": st.integers(0, 20)}),
    st.fixed_dictionaries(
        {"kind": st.just("retransmit"), "of": st.integers(0, 20), "seq": st.just("next")}
    ),
    st.fixed_dictionaries(
        {"kind": st.just("interrupt"), "seq": st.sampled_from(["next", "earlier", "none"])}
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("utterance"),
            "role": st.sampled_from(["user", "replica", "pal"]),
            "mutations": st.lists(mutations, max_size=1),
            "encoding": ENCODINGS,
        }
    ),
)


class Conversation:
    """Builds the messages of a sequence of steps: ids, ``seq`` values, mutations."""

    def __init__(self) -> None:
        self.seq = 0
        self.used: list[int] = []
        self.skipped: list[int] = []
        self.sent: list[Any] = []

    def _seq(self, mode: str) -> int | None:
        if mode == "none":
            return None
        if mode == "reuse" and self.used:
            return self.used[-1]
        if mode == "earlier" and self.skipped:
            return self.skipped.pop()
        self.seq += 2
        self.skipped.append(self.seq - 1)  # a gap that an "earlier" event fills later
        self.used.append(self.seq)
        return self.seq

    def _envelope(self, event_type: str, seq_mode: str, props: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_type": "conversation",
            "event_type": event_type,
            "conversation_id": CID,
            "inference_id": f"inf-{len(self.sent)}",
            "properties": props,
        }
        seq = self._seq(seq_mode)
        if seq is not None:
            message["seq"] = seq
        return message

    def build(self, step: dict[str, Any]) -> Any:
        kind = step["kind"]
        if kind == "duplicate":
            message = self.sent[step["of"] % len(self.sent)] if self.sent else None
        elif kind == "retransmit":  # an earlier message again, under a new seq
            earlier = self.sent[step["of"] % len(self.sent)] if self.sent else None
            message = earlier
            if isinstance(earlier, dict):
                message = {**earlier, "seq": self._seq(step["seq"])}
        elif kind == "interrupt":
            message = self._envelope("conversation.replica_interrupted", step["seq"], {})
        elif kind == "utterance":
            props = {"role": step["role"], "speech": "where is my order?"}
            message = self._envelope("conversation.utterance", "next", props)
            for mutation in step["mutations"]:
                mutate(message, mutation)
            message = _encoded(message, step["encoding"])
        else:
            message = self._call(step)
        self.sent.append(message)
        return message

    def _call(self, step: dict[str, Any]) -> Any:
        call_id = f"call-{len(self.sent)}"
        name = step["tool"]
        arguments: Any = dict(GOOD_ARGUMENTS[name])
        if step["args_as_text"]:
            arguments = json.dumps(arguments)
        shape = step["shape"]
        event_type = TOOL_CALL_TYPES[shape == "perception"]
        props: dict[str, Any]
        if shape in ("official", "perception"):
            props = {"name": name, "arguments": arguments, "tool_call_id": call_id}
            if shape == "perception":
                props |= {"modality": "vision", "frames": []}
        elif shape == "tool_name":
            props = {"tool_name": name, "arguments": arguments}
        else:
            props = {"function": {"name": name, "arguments": arguments}}
        message = self._envelope(event_type, step["seq"], props)
        if shape in ("tool_name", "function"):
            message["tool_call_id"] = call_id
        for mutation in step["mutations"]:
            mutate(message, mutation)
        return _encoded(message, step["encoding"])


def _props(message: dict[str, Any]) -> dict[str, Any]:
    props = message.get("properties")
    if not isinstance(props, dict):
        return {}
    function = props.get("function")
    return function if isinstance(function, dict) else props


def _set(message: dict[str, Any], where: str, value: Any) -> None:
    """Put ``value`` at the field ``where`` names, in whichever shape the call has."""
    props = _props(message)
    if where == "name":
        key = "tool_name" if "tool_name" in props else "name"
        props[key] = value
    elif where == "arguments":
        props["arguments"] = value
    elif where == "argument_value":
        arguments = props.get("arguments")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                arguments = {}
        if not isinstance(arguments, dict):
            arguments = {}
        key = next(iter(arguments), "text")
        props["arguments"] = {**arguments, key: value}
    elif where == "tool_call_id":
        if "tool_call_id" in message:
            message["tool_call_id"] = value
        elif isinstance(message.get("properties"), dict):
            message["properties"]["tool_call_id"] = value
    elif where in ("speech", "extra"):
        if isinstance(message.get("properties"), dict):
            message["properties"][where] = value
    elif where == "properties":
        message["properties"] = value
    else:
        message[where] = value


def mutate(message: dict[str, Any], mutation: Spec) -> None:
    kind, where = mutation[0], mutation[1]
    if kind == "surrogate":
        current = _get(message, where)
        base = current if isinstance(current, str) else "text"
        _set(message, where, base[:3] + mutation[2] + base[3:])
    elif kind == "deep":
        depth, shape = mutation[2], mutation[3]
        if where == "arguments_text":
            _set(message, "arguments", '{"data":' + nested_text(depth, shape) + "}")
        elif where == "arguments":
            _set(message, "arguments", {"data": nested(depth, shape)})
        else:
            _set(message, where, nested(depth, shape))
    elif kind == "huge":
        _set(message, where, "x" * mutation[2])
    elif kind == "wrong_type":
        _set(message, where, mutation[2])
    else:  # drop
        props = _props(message)
        for key in (where, "tool_name"):
            props.pop(key, None)
        if where in ("tool_call_id", "seq"):
            message.pop(where, None)


def _get(message: dict[str, Any], where: str) -> Any:
    props = _props(message)
    if where == "name":
        return props.get("tool_name", props.get("name"))
    if where == "tool_call_id":
        outer = message.get("properties")
        inner = outer.get("tool_call_id") if isinstance(outer, dict) else None
        return message.get("tool_call_id", inner)
    if where in props:
        return props[where]
    return message.get(where)


@PROPERTY
@given(sequence=st.lists(steps, min_size=1, max_size=10), cancel=st.booleans())
def test_mutated_tool_calls(sequence: list[dict[str, Any]], cancel: bool) -> None:
    conversation = Conversation()
    messages = [conversation.build(step) for step in sequence]
    feed([m for m in messages if m is not None], cancel_on_interrupt=cancel).check()


# -- examples of each edge, so a regression names itself ---------------------------------


def _call(call_id: str = "t1", name: str = "echo", **envelope: Any) -> dict[str, Any]:
    return {
        "message_type": "conversation",
        "event_type": "conversation.tool_call",
        "conversation_id": CID,
        "properties": {
            "name": name,
            "arguments": json.dumps(GOOD_ARGUMENTS.get(name, {})),
            "tool_call_id": call_id,
        },
        **envelope,
    }


def test_a_lone_surrogate_in_an_utterance() -> None:
    utterance = {
        "message_type": "conversation",
        "event_type": "conversation.utterance",
        "conversation_id": CID,
        "properties": {"role": "user", "speech": "caf\ud83d"},
    }
    feed([utterance, _call("t1")]).check()


def test_a_lone_surrogate_in_the_arguments_and_the_id() -> None:
    call = _call("t1\udc00")
    call["properties"]["arguments"] = '{"text": "x\\ud83dy"}'
    feed([call, _call("t2")]).check()


def test_a_new_call_reusing_a_seen_seq_is_answered() -> None:
    feed([_call("t1", seq=1), _call("t2", seq=1)]).check()


def test_arguments_nested_5000_deep() -> None:
    call = _call("t1", name="mirror")
    call["properties"]["arguments"] = {"data": nested(5000, "object")}
    feed([call, _call("t2")]).check()


def test_a_message_nested_5000_deep_as_text() -> None:
    call = _call("t1", name="mirror")
    call["properties"]["arguments"] = '{"data":' + nested_text(5000, "array") + "}"
    feed([json.dumps(call), _call("t2")]).check()


def test_a_result_that_is_not_json_is_an_error_naming_its_type() -> None:
    outcome = feed([_call("t1", name="opaque")])
    outcome.check()
    assert outcome.results["t1"]["status"] == "error"
    assert "lock" in outcome.results["t1"]["output"]
