"""Stress benchmark: hostile input, a flood of calls, a slow plugin, a stuck shutdown.

Run:  .venv/bin/python bench/bench_stress.py [--quick] [--events N] [--seed S] [--json PATH]

Each scenario runs in a fresh child process with a time limit, so one scenario's memory
never flatters the next and a bot that crashes or hangs is reported (``crashed``,
``timeout``) instead of ending the benchmark. The scenarios, all through a real
:class:`~cvibot._runtime.Bot` built from a config as ``cvibot run`` builds it:

1. **fuzz** — a seeded random fuzzer (no hypothesis) sends mixed events: tool calls in
   the official shape (``properties: {name, arguments, tool_call_id}``) and the legacy
   ones (``tool_name`` / ``function: {name, arguments}``, ``tool_call_id`` at the top
   level), perception calls, exact duplicates, new calls reusing a seen ``seq``,
   out-of-order ``seq``, interruptions, utterances and garbage; a share of them mutated
   (lone surrogates raw and escaped, nesting hundreds to thousands deep, megabyte fields,
   wrong types, the message sent as JSON text or bytes). The transport is a memory
   transport with a live room's edges: each answer must encode as Daily's outbox
   encodes it (strict JSON, valid UTF-8, within the 4 KB app-message limit) or its send
   fails; the CLI's transcript is attached and written, like the JSON log, to a strict
   UTF-8 stream. Printed: events/s, calls needing an answer (a ``tool_call_id`` the
   parser's rules find, for this conversation), answered exactly once, unanswered,
   answered twice or more, handlers run more than once for one id, sends refused by
   the wire, and exceptions escaped (out of ``Session.on_message`` into the transport,
   or to the event loop's exception handler);
2. **rss** — 100,000 tool calls to a slow async tool delivered at once (in one loop
   step, generated on the fly so the inbound messages are the bot's memory only; the
   full run also delivers them in bursts of 1,000 with a loop step between): peak RSS
   of the child (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), time until every call
   was answered, and the answers by status. Target ≤ 150 MB;
3. **observer** — a plugin whose sync ``cvibot_event`` hook sleeps 0.3 s per event, and
   tool calls arriving 0.1 s apart from another thread (as daily-python delivers them):
   delay from arrival to the answer handed to the transport, p50/p99/max. Target p99 ≤
   20 ms;
4. **sigterm** — ``cvibot run`` (the CLI, its own process) on a recorded conversation
   whose one call runs a sync tool sleeping 60 s, with ``dispatch.shutdown_grace: 2``;
   SIGTERM once the handler runs: time until the process exited, its exit status and
   whether the call was answered. Target ≤ grace + 1 s.

``--quick`` runs smaller counts (3,000 fuzz events, 20,000 concurrent calls, 10 observed
calls, a 15 s stuck handler) in under a minute. The last line printed is one JSON
object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve()
CID = "stress"
TOOL_CALL_TYPES = frozenset({"conversation.tool_call", "conversation.perception_tool_call"})
APP_MESSAGE_LIMIT = 4096
_END = object()  # the end of the fuzzer's stream (None is one of its messages)

# -- shared helpers ------------------------------------------------------------------------


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _strict_sink() -> Any:
    """/dev/null as a strict UTF-8 text stream: what a piped stdout or a log file does
    with text it cannot encode (a lone surrogate) is raise."""
    return open(os.devnull, "w", encoding="utf-8", errors="strict")


def _describe(message: Any) -> str:
    """A short description of a message, for the unanswered calls' examples (two levels
    at most: it may be nested thousands deep)."""

    def brief(value: Any, depth: int = 0) -> str:
        if isinstance(value, str | bytes):
            return repr(value[:40]) + (f"…({len(value):,})" if len(value) > 40 else "")
        if isinstance(value, dict):
            if depth >= 2:
                return f"{{{len(value)} keys}}"
            items = (f"{k!r}: {brief(v, depth + 1)}" for k, v in value.items())
            return "{" + ", ".join(items) + "}"
        if isinstance(value, list):
            return f"[{len(value)} items]"
        return repr(value)

    if isinstance(message, str | bytes):
        return f"{type(message).__name__} of {len(message):,} chars: {message[:120]!r}"
    return brief(message)[:300]


def norm_id(value: Any) -> str | None:
    """A ``tool_call_id`` as valid Unicode (surrogate pairs joined, lone surrogates as
    U+FFFD), so an answer that carries the call's id made valid Unicode still matches."""
    if not isinstance(value, str):
        return None
    return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def carried_id(message: Any) -> str | None:
    """The ``tool_call_id`` a tool call for this conversation carries, by the parser's
    rules (``properties.tool_call_id``, else the top level; ``""`` is none); ``None``
    for anything else (not a tool call, another conversation, no usable id, text that
    is not JSON)."""
    if isinstance(message, bytes | bytearray):
        try:
            message = bytes(message).decode("utf-8")
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


# -- the fuzzer ----------------------------------------------------------------------------

SURROGATES = ("\ud83d", "\udc00", "\udfff", "\ud800")


def deep(depth: int, leaf: Any = 1, kind: str = "object") -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value} if kind == "object" else [value]
    return value


class Fuzzer:
    """Seeded random events for the conversation ``CID``: ``next()`` gives one message."""

    def __init__(self, seed: int, big: int = 1 << 20) -> None:
        self.rng = random.Random(seed)
        self.seq = 0
        self.calls = 0
        self.big = big
        self.history: list[Any] = []
        self.seqs: list[int] = []
        self.skipped: list[int] = []

    def _id(self) -> str:
        self.calls += 1
        return f"call-{self.calls}"

    def _seq(self) -> int:
        r = self.rng.random()
        if r < 0.08 and self.skipped:  # out of order: an earlier seq, not seen yet
            return self.skipped.pop(self.rng.randrange(len(self.skipped)))
        if r < 0.11 and self.seqs:  # a new event reusing a seen seq
            return self.rng.choice(self.seqs)
        if r < 0.2:  # leave a gap, filled later (out of order)
            self.seq += 1
            self.skipped.append(self.seq)
        self.seq += 1
        return self.seq

    def _envelope(self, event_type: str, props: dict[str, Any]) -> dict[str, Any]:
        seq = self._seq()
        self.seqs.append(seq)
        if len(self.seqs) > 500:
            del self.seqs[:250]
        message: dict[str, Any] = {
            "message_type": "conversation",
            "event_type": event_type,
            "conversation_id": CID if self.rng.random() < 0.95 else None,
            "seq": seq,
            "inference_id": f"inf-{self.seq // 3}",
            "properties": props,
        }
        if message["conversation_id"] is None:
            del message["conversation_id"]
        return message

    def _arguments(self, name: str) -> Any:
        args: dict[str, Any] = {
            "echo": {"text": f"hello {self.rng.randint(0, 999)}"},
            "add": {"a": self.rng.randint(-9, 9), "b": self.rng.randint(-9, 9)},
            "slow": {"value": self.rng.randint(0, 9)},
            "boom": {"value": 1},
            "opaque": {},
            "mirror": {"data": {"k": [1, 2, {"x": "y"}]}},
        }.get(name, {"value": 1})
        return json.dumps(args) if self.rng.random() < 0.7 else args

    def _tool_call(self) -> dict[str, Any]:
        rng = self.rng
        name = rng.choice(["echo", "add", "slow", "boom", "opaque", "mirror", "nope"])
        arguments = self._arguments(name)
        shape = rng.random()
        event_type = "conversation.tool_call"
        if shape < 0.65:  # the official shape
            props: dict[str, Any] = {"name": name, "arguments": arguments}
            props["tool_call_id"] = self._id()
            message = self._envelope(event_type, props)
        elif shape < 0.85:  # the legacy shapes: tool_name or function, id at the top level
            if rng.random() < 0.5:
                props = {"tool_name": name, "arguments": arguments}
            else:
                props = {"function": {"name": name, "arguments": arguments}}
            message = self._envelope(event_type, props)
            message["tool_call_id"] = self._id()
        elif shape < 0.95:  # a perception call
            props = {
                "name": name,
                "arguments": arguments,
                "tool_call_id": self._id(),
                "modality": "vision",
                "frames": [],
            }
            message = self._envelope("conversation.perception_tool_call", props)
        else:  # the older shape without any id (answered by echo)
            message = self._envelope(event_type, {"name": name, "arguments": arguments})
        return message

    def _plain(self) -> Any:
        rng = self.rng
        r = rng.random()
        if r < 0.55:
            return self._tool_call()
        if r < 0.65 and self.history:
            return rng.choice(self.history[-200:])  # an exact duplicate
        if r < 0.8:
            return self._envelope(
                "conversation.utterance",
                {"role": rng.choice(["user", "replica", "pal"]), "speech": "how are you?"},
            )
        if r < 0.87:
            return self._envelope("conversation.replica_interrupted", {})
        if r < 0.93:
            return self._envelope(
                "conversation.stopped_speaking",
                {"role": rng.choice(["user", "replica"]), "interrupted": rng.random() < 0.5},
            )
        return rng.choice(
            [
                42,
                None,
                [1, 2, 3],
                "not json",
                b"\xff\xfe not utf-8",
                {"event_type": 7},
                {"event_type": "conversation.mystery", "properties": {"x": 1}},
                {"event_type": "conversation.echo", "properties": {"text": "forged"}},
            ]
        )

    def _mutate(self, message: Any) -> Any:
        rng = self.rng
        if not isinstance(message, dict):
            return message
        props = message.get("properties")
        if not isinstance(props, dict):
            return message
        message = {**message, "properties": dict(props)}
        props = message["properties"]
        kind = rng.choice(
            ["surrogate", "surrogate", "deep", "huge", "wrong_type", "text", "escaped_text"]
        )
        if kind == "surrogate":
            s = rng.choice(SURROGATES)
            where = rng.choice(["speech", "arguments", "tool_call_id", "name", "inference_id"])
            if where == "speech":
                props["speech"] = f"caf{s}é"
            elif where == "arguments":
                props["arguments"] = {"text": f"x{s}y"}
                if props.get("name") == "mirror":
                    props["arguments"] = {"data": {f"k{s}": [f"v{s}"]}}
            elif where == "tool_call_id" and "tool_call_id" in props:
                props["tool_call_id"] = f"{props['tool_call_id']}{s}"
            elif where == "tool_call_id" and "tool_call_id" in message:
                message["tool_call_id"] = f"{message['tool_call_id']}{s}"
            elif where == "name":
                props["name"] = f"echo{s}"
            else:
                message["inference_id"] = f"inf{s}"
        elif kind == "deep":
            depth = rng.choice([200, 900, 1500, 5000])
            shape = rng.choice(["object", "array"])
            where = rng.choice(["arguments", "arguments_text", "extra", "speech"])
            if where == "arguments":
                props["arguments"] = {"data": deep(depth, kind=shape), "value": 1}
            elif where == "arguments_text":
                props["arguments"] = '{"data":' + "[" * depth + "]" * depth + "}"
            elif where == "extra":
                props["extra"] = deep(depth, kind=shape)
            else:
                props["speech"] = deep(depth, kind=shape)
        elif kind == "huge":
            blob = "x" * self.big
            where = rng.choice(["arguments", "speech", "name", "extra"])
            if where == "arguments":
                props["arguments"] = {"text": blob, "value": 1, "a": 1, "b": 1}
            elif where == "speech":
                props["speech"] = blob
            elif where == "name":
                props["name"] = blob
            else:
                props["extra"] = blob
        elif kind == "wrong_type":
            where = rng.choice(
                ["seq", "seq_bool", "properties", "arguments", "name", "tool_call_id", "role"]
            )
            if where == "seq":
                message["seq"] = str(message.get("seq"))
            elif where == "seq_bool":
                message["seq"] = True
            elif where == "properties":
                message["properties"] = [props]
            elif where == "arguments":
                props["arguments"] = rng.choice([42, [1], "[1, 2]", "{not json", True])
            elif where == "name":
                props["name"] = rng.choice([42, None, ["echo"]])
            elif where == "tool_call_id":
                props["tool_call_id"] = rng.choice([42, ["x"], {"id": "x"}])
            else:
                props["role"] = 5
        elif kind in ("text", "escaped_text"):
            try:
                text = json.dumps(message, ensure_ascii=kind == "escaped_text")
            except (ValueError, RecursionError):  # a deep duplicate: sent as an object
                return message
            if kind == "text":
                return text if rng.random() < 0.5 else text.encode("utf-8", "surrogatepass")
            if rng.random() < 0.5:  # surrogates arrive as \\u escapes
                text = text.replace("hello", "hello\\ud83d", 1).replace("call-", "call-\\udc00", 1)
            return text
        return message

    def next(self) -> Any:
        message = self._plain()
        if self.rng.random() < 0.3:
            message = self._mutate(message)
        if isinstance(message, dict) and message.get("event_type") in TOOL_CALL_TYPES:
            self.history.append(message)
            if len(self.history) > 1000:
                del self.history[:500]
        return message


# -- the children: one scenario each, figures as one JSON line on stdout --------------------


def _bot(
    config: Mapping[str, Any], *, tools: tuple[Any, ...] = (), builtins: tuple[Any, ...] = ()
) -> Any:
    from cvibot.testing._assembly import build_bot, load_test_config

    bot, _ = build_bot(load_test_config(dict(config)), tools=list(tools), builtins=list(builtins))
    return bot


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_fuzz(events: int, seed: int, big: int) -> dict[str, Any]:
    import cvibot._protocol
    from cvibot import tool
    from cvibot._cli.transcript import Transcript
    from cvibot._context import ToolContext
    from cvibot._logging import configure_logging
    from cvibot._protocol.interactions import encode_message
    from cvibot.transports._base import InboundMessage, Receiver, Transport, TransportError

    sink = _strict_sink()
    configure_logging("info", "json", stream=sink)
    runs: Counter[str] = Counter()

    def ran(ctx: ToolContext) -> None:
        if ctx.tool_call_id is not None:
            runs[norm_id(ctx.tool_call_id) or ""] += 1

    @tool
    async def echo(ctx: ToolContext, text: str) -> str:
        """Say the text back."""
        ran(ctx)
        return text

    @tool
    def add(ctx: ToolContext, a: int, b: int) -> int:
        """Add, in the thread pool."""
        ran(ctx)
        return a + b

    @tool(cancel_on_interrupt=True, timeout=5)
    async def slow(ctx: ToolContext, value: int) -> str:
        """Take a while; cancelled by an interruption."""
        ran(ctx)
        await asyncio.sleep(0.05)
        return "slow"

    @tool
    async def boom(ctx: ToolContext, value: int) -> str:
        """Fail."""
        ran(ctx)
        raise RuntimeError("boom")

    @tool
    def opaque(ctx: ToolContext) -> Any:
        """Return something that is not JSON."""
        ran(ctx)
        return threading.Lock()

    @tool
    async def mirror(ctx: ToolContext, data: dict[str, Any]) -> Any:
        """Return the data received."""
        ran(ctx)
        return data

    class Wire(Transport):
        """Delivers the fuzzer's events; sends as Daily's outbox would."""

        name = "stress-wire"

        def __init__(self) -> None:
            self.queue: asyncio.Queue[Any] = asyncio.Queue()
            self.answers: Counter[str] = Counter()
            self.escaped: Counter[str] = Counter()
            self.refused: Counter[str] = Counter()
            self.first_escape: str | None = None

        async def run(self, receiver: Receiver) -> None:
            while True:
                item = await self.queue.get()
                if item is _END or receiver.closed:
                    return
                try:
                    InboundMessage(item, None, time.time()).deliver(receiver)
                except Exception as exc:  # what would have ended a live bot's receive loop
                    self.escaped[type(exc).__name__] += 1
                    if self.first_escape is None:
                        self.first_escape = f"{type(exc).__name__}: {str(exc)[:200]}"
                finally:
                    self.queue.task_done()

        async def send(self, message: Mapping[str, Any], to: str | None = None) -> None:
            try:
                encoded = encode_message(message)
                encoded.decode("utf-8")
            except (ValueError, UnicodeDecodeError) as exc:
                self.refused["not_strict_json_utf8"] += 1
                raise TransportError(f"not strict JSON: {exc}") from exc
            if len(encoded) > APP_MESSAGE_LIMIT:
                self.refused["over_limit"] += 1
                raise TransportError("over the app-message limit")
            if message.get("event_type") == "conversation.tool_result":
                call_id = norm_id(message.get("properties", {}).get("tool_call_id"))
                if call_id is not None:
                    self.answers[call_id] += 1

    loop_errors: Counter[str] = Counter()

    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(
            lambda _loop, ctx: loop_errors.update([type(ctx.get("exception")).__name__])
        )
        bot = _bot(
            {
                "conversation": {"id": CID},
                "defaults": {"perception_reply": "tool_result"},
                "dispatch": {"shutdown_grace": 5},
            },
            tools=(echo, add, slow, boom, opaque, mirror),
        )
        wire = Wire()
        fuzzer = Fuzzer(seed, big)
        needed: dict[str, str] = {}
        unreadable = 0
        # JSON text longer than the parser's size bound is rejected unread (no bound: read).
        readable = getattr(cvibot._protocol, "MAX_SIZE", None) or float("inf")
        messages = []
        for _ in range(events):
            message = fuzzer.next()
            messages.append(message)
            call_id = carried_id(message)
            if call_id is None:
                continue
            if isinstance(message, str | bytes) and len(message) > readable:
                unreadable += 1  # the parser rejects such text unread: no id to answer
                continue
            needed.setdefault(norm_id(call_id) or "", _describe(message))
        run = asyncio.create_task(bot.run(wire, listeners=[Transcript(sink, color=False)], grace=5))

        async def drained() -> None:
            join = asyncio.ensure_future(wire.queue.join())
            await asyncio.wait({join, run}, return_when=asyncio.FIRST_COMPLETED)
            join.cancel()

        await asyncio.sleep(0.05)
        start = time.perf_counter()
        for i, message in enumerate(messages):
            wire.queue.put_nowait(message)
            if i % 50 == 49:  # in bursts, so calls overlap as they would live
                await drained()
        await drained()
        delivered = time.perf_counter() - start
        wire.queue.put_nowait(_END)
        ended: str | None = None
        try:
            await asyncio.wait_for(run, 120)
        except Exception as exc:
            ended = f"{type(exc).__name__}: {str(exc)[:200]}"
        elapsed = time.perf_counter() - start
        answered = [wire.answers.get(i, 0) for i in needed]
        missing = [f"{i!r}: {what}" for i, what in needed.items() if not wire.answers.get(i)]
        return {
            "events": events,
            "seed": seed,
            "events_per_s": events / delivered,
            "elapsed_s": elapsed,
            "calls_needing_answer": len(needed),
            "answered_once": sum(1 for n in answered if n == 1),
            "unanswered": sum(1 for n in answered if n == 0),
            "unanswered_examples": missing[:5],
            "calls_in_unreadable_text": unreadable,
            "answered_twice_or_more": sum(1 for n in answered if n > 1),
            "answers_to_unknown_ids": sum(n for i, n in wire.answers.items() if i not in needed),
            "unknown_ids_answered": [i for i in wire.answers if i not in needed][:5],
            "handlers_run_twice": sum(1 for n in runs.values() if n > 1),
            "sends_refused": dict(wire.refused),
            "escaped_on_message": sum(wire.escaped.values()),
            "escaped_by_type": dict(wire.escaped),
            "first_escape": wire.first_escape,
            "loop_exception_handler": sum(loop_errors.values()),
            "loop_errors_by_type": dict(loop_errors),
            "exceptions_escaped": sum(wire.escaped.values()) + sum(loop_errors.values()),
            "bot_run_ended_with": ended,
        }

    return asyncio.run(main())


def child_rss(calls: int, burst: int = 0) -> dict[str, Any]:
    """``calls`` tool calls in one loop step (``burst`` 0), or in bursts of ``burst``
    calls with a loop step between them."""
    from cvibot import tool
    from cvibot._logging import configure_logging
    from cvibot.transports._base import Receiver, Transport

    configure_logging("warning", "json", stream=_strict_sink())

    @tool
    async def slow(value: int) -> str:
        """Take a second (the default timeout, 10 s, applies)."""
        await asyncio.sleep(1)
        return "slow"

    statuses: Counter[str] = Counter()
    done = asyncio.Event()

    class Flood(Transport):
        """The calls at once, each message built as it is delivered."""

        name = "flood"

        async def run(self, receiver: Receiver) -> None:
            for i in range(calls):
                if burst and i and i % burst == 0:
                    await asyncio.sleep(0)
                receiver.on_message(
                    {
                        "message_type": "conversation",
                        "event_type": "conversation.tool_call",
                        "conversation_id": CID,
                        "seq": i + 1,
                        "inference_id": f"inf-{i}",
                        "properties": {
                            "name": "slow",
                            "arguments": '{"value": 1}',
                            "tool_call_id": f"call-{i}",
                        },
                    }
                )
            await done.wait()

        async def send(self, message: Mapping[str, Any], to: str | None = None) -> None:
            status = message.get("properties", {}).get("status", "?")
            output = str(message.get("properties", {}).get("output", ""))
            kind = status if status == "success" else f"{status}: {output[:40]}"
            statuses[re.sub(r"\d+(\.\d+)?", "N", kind)] += 1
            if sum(statuses.values()) >= calls:
                done.set()

    async def main() -> dict[str, Any]:
        bot = _bot({"conversation": {"id": CID}}, tools=(slow,))
        before = _rss_mib()
        start = time.perf_counter()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(bot.run(Flood(), grace=1), 600)
        return {
            "calls": calls,
            "burst": burst,
            "peak_rss_mib": _rss_mib(),
            "rss_before_calls_mib": before,
            "all_answered_s": time.perf_counter() - start,
            "answered": sum(statuses.values()),
            "answers": dict(statuses.most_common(6)),
        }

    return asyncio.run(main())


def child_observer(calls: int, gap: float, hook_sleep: float) -> dict[str, Any]:
    from cvibot import hookimpl, tool
    from cvibot._logging import configure_logging
    from cvibot.transports._base import Receiver, Transport

    configure_logging("warning", "json", stream=_strict_sink())

    class SlowObserver:
        """A plugin whose sync cvibot_event hook takes ``hook_sleep`` seconds."""

        @hookimpl
        def cvibot_event(self, event: Any, session: Any) -> None:
            time.sleep(hook_sleep)

    @tool
    async def quick(value: int) -> str:
        """Return at once."""
        return "ok"

    arrived: dict[str, float] = {}
    answered: dict[str, float] = {}
    all_done = threading.Event()

    class Room(Transport):
        """Calls arrive on another thread, ``gap`` seconds apart, as daily-python's do."""

        name = "room"

        async def run(self, receiver: Receiver) -> None:
            loop = asyncio.get_running_loop()

            def sdk_thread() -> None:
                start = time.perf_counter()
                for i in range(calls):
                    time.sleep(max(0.0, start + i * gap - time.perf_counter()))
                    call_id = f"call-{i}"
                    message = {
                        "message_type": "conversation",
                        "event_type": "conversation.tool_call",
                        "conversation_id": CID,
                        "seq": i + 1,
                        "properties": {
                            "name": "quick",
                            "arguments": '{"value": 1}',
                            "tool_call_id": call_id,
                        },
                    }
                    arrived[call_id] = time.perf_counter()
                    loop.call_soon_threadsafe(receiver.on_message, message)

            threading.Thread(target=sdk_thread, daemon=True).start()
            await asyncio.to_thread(all_done.wait, calls * (gap + hook_sleep) + 30)

        async def send(self, message: Mapping[str, Any], to: str | None = None) -> None:
            call_id = message.get("properties", {}).get("tool_call_id")
            if isinstance(call_id, str):
                answered[call_id] = time.perf_counter()
                if len(answered) >= calls:
                    all_done.set()

    async def main() -> dict[str, Any]:
        bot = _bot({"conversation": {"id": CID}}, tools=(quick,), builtins=(SlowObserver(),))
        await bot.run(Room(), grace=5)
        delays = [(answered[i] - arrived[i]) * 1000 for i in arrived if i in answered]
        return {
            "calls": calls,
            "gap_s": gap,
            "hook_sleep_s": hook_sleep,
            "answered": len(delays),
            "p50_ms": _pct(delays, 50) if delays else None,
            "p99_ms": _pct(delays, 99) if delays else None,
            "max_ms": max(delays) if delays else None,
        }

    return asyncio.run(main())


STUCK_TOOL = """
import time
from pathlib import Path

from cvibot import tool

@tool(timeout=600)
def stuck(value: int = 0) -> str:
    \"\"\"Sleep far beyond the shutdown grace.\"\"\"
    Path({marker!r}).touch()
    time.sleep({sleep})
    return "done"
"""


def child_sigterm(sleep: float, grace: float) -> dict[str, Any]:
    """``cvibot run`` on a recording whose call runs ``stuck``; SIGTERM once it runs."""
    exe = shutil.which("cvibot", path=str(Path(sys.executable).parent)) or "cvibot"
    with tempfile.TemporaryDirectory(prefix="cvibot-stress-") as tmp:
        folder = Path(tmp)
        marker = folder / "running"
        (folder / "stuck_tool.py").write_text(STUCK_TOOL.format(marker=str(marker), sleep=sleep))
        call = {
            "message_type": "conversation",
            "event_type": "conversation.tool_call",
            "conversation_id": CID,
            "seq": 1,
            "properties": {"name": "stuck", "arguments": "{}", "tool_call_id": "call-1"},
        }
        later = {
            "message_type": "conversation",
            "event_type": "conversation.utterance",
            "conversation_id": CID,
            "seq": 2,
            "properties": {"role": "user", "speech": "still there?"},
        }
        (folder / "conversation.jsonl").write_text(
            json.dumps({"direction": "in", "at": 0.0, "message": call})
            + "\n"
            + json.dumps({"direction": "in", "at": 600.0, "message": later})
            + "\n"
        )
        (folder / "bot.yaml").write_text(
            f"conversation: {{id: {CID}}}\n"
            "transport: {type: replay, path: conversation.jsonl, pace: recorded, "
            "out: out.jsonl}\n"
            "plugins: [{module: stuck_tool.py}]\n"
            f"dispatch: {{shutdown_grace: {grace}}}\n"
        )
        env = {**os.environ, "CVIBOT_DISABLE_PLUGIN_AUTOLOAD": "1"}
        proc = subprocess.Popen(
            [exe, "run", str(folder / "bot.yaml")],
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        limit = time.monotonic() + 60
        while not marker.exists() and proc.poll() is None and time.monotonic() < limit:
            time.sleep(0.02)
        if not marker.exists():
            proc.kill()
            _, err = proc.communicate()
            return {"status": "handler never ran", "stderr": err.decode(errors="replace")[-400:]}
        time.sleep(0.2)
        signalled = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=sleep + 30)
            exit_s: float | None = time.perf_counter() - signalled
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            exit_s = None
        out = folder / "out.jsonl"
        answers = [
            json.loads(line)
            for line in (out.read_text().splitlines() if out.exists() else [])
            if line.strip()
        ]
        results = [a for a in answers if a.get("event_type") == "conversation.tool_result"]
        return {
            "handler_sleep_s": sleep,
            "grace_s": grace,
            "exit_s": exit_s,
            "returncode": proc.returncode,
            "answered": len(results),
            "answer": results[0]["properties"] if results else None,
            "traceback": "Traceback" in err.decode(errors="replace"),
        }


CHILDREN: dict[str, Callable[..., dict[str, Any]]] = {
    "fuzz": child_fuzz,
    "rss": child_rss,
    "observer": child_observer,
    "sigterm": child_sigterm,
}


# -- the parent ----------------------------------------------------------------------------


def run_child(scenario: str, timeout: float, **params: Any) -> dict[str, Any]:
    """Run one scenario in a fresh interpreter; its figures, or how it failed."""
    command = [sys.executable, str(BENCH), "--child", scenario, "--params", json.dumps(params)]
    started = time.perf_counter()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stderr or b"")[-400:]
        return {
            "status": "timeout",
            "after_s": timeout,
            "stderr": tail.decode(errors="replace") if isinstance(tail, bytes) else tail,
        }
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {
            "status": "crashed",
            "returncode": proc.returncode,
            "after_s": time.perf_counter() - started,
            "stderr": proc.stderr[-600:],
        }
    return {"status": "ok", **json.loads(lines[-1])}


def _verdict(value: float | None, target: float) -> str:
    if value is None:
        return "n/a"
    return "ok" if value <= target else "OVER TARGET"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, under a minute")
    parser.add_argument("--events", type=int, help="fuzz events (default 20,000; quick 3,000)")
    parser.add_argument("--calls", type=int, help="concurrent calls (default 100,000)")
    parser.add_argument("--seed", type=int, default=9, help="fuzzer seed")
    parser.add_argument("--only", help="comma-separated scenarios (fuzz,rss,observer,sigterm)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](**json.loads(args.params))), flush=True)
        return

    quick = args.quick
    only = set(args.only.split(",")) if args.only else set(CHILDREN)
    events = args.events or (3_000 if quick else 20_000)
    calls = args.calls or (20_000 if quick else 100_000)
    grace, stuck = 2.0, (15.0 if quick else 60.0)
    results: dict[str, Any] = {"quick": quick}
    print(f"cvibot stress benchmark · Python {sys.version.split()[0]} · {os.cpu_count()} cores")

    if "fuzz" in only:
        fuzz = run_child("fuzz", 300, events=events, seed=args.seed, big=1 << 20)
        results["fuzz"] = fuzz
        print(f"fuzz: {events:,} mixed events, seed {args.seed}  [{fuzz['status']}]")
        if fuzz["status"] == "ok":
            print(f"  events/s                               {fuzz['events_per_s']:10,.0f}")
            for key in (
                "calls_needing_answer",
                "answered_once",
                "unanswered",
                "answered_twice_or_more",
                "handlers_run_twice",
                "answers_to_unknown_ids",
                "exceptions_escaped",
            ):
                print(f"  {key.replace('_', ' '):<38} {fuzz[key]:10,}")
            print(f"    out of on_message: {fuzz['escaped_by_type'] or 0}")
            print(f"    to the loop's handler: {fuzz['loop_errors_by_type'] or 0}")
            print(f"  sends refused by the wire: {fuzz['sends_refused'] or 0}")
            print(
                "  calls sent as JSON text over the parser's size limit (read by nobody, "
                f"not counted): {fuzz['calls_in_unreadable_text']}"
            )
            for example in fuzz["unanswered_examples"]:
                print(f"    unanswered: {example[:150]}")
            if fuzz["first_escape"]:
                print(f"  first escaped: {fuzz['first_escape'][:120]}")
        else:
            print(f"  {fuzz.get('stderr', '')[-300:]}")

    if "rss" in only:
        bursts = [0] if quick else [0, 1000]
        for burst in bursts:
            rss = run_child("rss", 900, calls=calls, burst=burst)
            results["rss" if not burst else f"rss_bursts_of_{burst}"] = rss
            how = "in one loop step" if not burst else f"in bursts of {burst:,}"
            print(f"peak RSS, {calls:,} calls to a slow async tool {how}  [{rss['status']}]")
            if rss["status"] == "ok":
                print(
                    f"  peak RSS {rss['peak_rss_mib']:8.1f} MiB (before the calls "
                    f"{rss['rss_before_calls_mib']:.1f})   target ≤ 150 MB: "
                    f"{_verdict(rss['peak_rss_mib'] * 1.048576, 150)}"
                )
                print(f"  all answered after {rss['all_answered_s']:.1f} s: {rss['answers']}")

    if "observer" in only:
        n = 10 if quick else 50
        obs = run_child("observer", 300, calls=n, gap=0.1, hook_sleep=0.3)
        results["observer"] = obs
        print(f"answer delay with a 0.3 s sync cvibot_event observer, {n} calls 0.1 s apart")
        if obs["status"] == "ok" and obs["p99_ms"] is not None:
            print(
                f"  p50 {obs['p50_ms']:8.1f} ms   p99 {obs['p99_ms']:8.1f} ms   max "
                f"{obs['max_ms']:8.1f} ms   target p99 ≤ 20 ms: {_verdict(obs['p99_ms'], 20)}"
            )
        else:
            print(f"  [{obs['status']}] {obs}")

    if "sigterm" in only:
        term = run_child("sigterm", stuck + 120, sleep=stuck, grace=grace)
        results["sigterm"] = term
        print(f"exit after SIGTERM, sync handler sleeping {stuck:g} s, shutdown_grace {grace:g} s")
        if term["status"] == "ok" and term.get("exit_s") is not None:
            print(
                f"  exited after {term['exit_s']:6.2f} s (status {term['returncode']}, "
                f"call answered {term['answered']}x, traceback {term['traceback']})   "
                f"target ≤ {grace + 1:g} s: {_verdict(term['exit_s'], grace + 1)}"
            )
        else:
            print(f"  [{term['status']}] {term}")

    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
