"""The bot of ``cvibot console`` and its fake conversation, on an event loop of its own.

The bot runs as ``cvibot run`` would run it (:meth:`Bot.run <cvibot._runtime.Bot.run>`,
every message through the same parser, filters, dispatcher and reply rules) but on a
:class:`~cvibot.transports._memory.MemoryTransport`, optionally wrapped in a
:class:`~cvibot.transports._recording.RecordingTransport`. The event loop runs in a
thread so that the main thread can read lines (with readline's editing) and take
Ctrl-C as Python does: :meth:`Engine.send` blocks until the line's answers came, or
its wait ran out.

Every message the conversation sends gets a ``seq`` of its own; the session's report
on it (accepted, dropped, rejected) and the outcome of the call it carries are matched
by that ``seq`` (:class:`~cvibot.testing._watch.Watcher`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cvibot._cli.console import render
from cvibot._cli.console.commands import Call, Interrupt, Say
from cvibot.testing._messages import (
    Envelope,
    perception_tool_call_message,
    tool_call_message,
    utterance_message,
)
from cvibot.testing._watch import Watcher
from cvibot.transports._memory import MemoryTransport

if TYPE_CHECKING:
    from cvibot._dispatch import ToolOutcome
    from cvibot._runtime import Bot
    from cvibot._session import Session
    from cvibot.transports._base import Receiver, Transport

__all__ = ["BotEnded", "Engine"]

T = TypeVar("T")

_MARGIN = 1.0  # seconds a line's wait adds to the tool's timeout
_START_WAIT = 60.0  # seconds for the plugins' start-up
_STOP_MARGIN = 5.0  # seconds beyond the grace that closing waits for the bot

Printer = Callable[[list[str]], None]


class BotEnded(Exception):
    """The bot stopped (its transport failed, or it could not start); the message says why."""


class _ConsoleTransport(MemoryTransport):
    """A memory transport that tells when the bot starts reading it, and with what."""

    def __init__(self, on_send: Callable[[Mapping[str, Any]], None]) -> None:
        super().__init__(on_send=on_send)
        self.receiver: asyncio.Future[Receiver] | None = None

    def describe(self) -> str:
        return "console"

    async def run(self, receiver: Receiver) -> None:
        if self.receiver is not None and not self.receiver.done():
            self.receiver.set_result(receiver)
        await super().run(receiver)


class Engine:
    """One conversation between the console and ``bot``.

    ``conversation_id`` is the id every message carries; ``record`` a JSONL file that
    receives the conversation (``cvibot replay --check`` replays it); ``show`` prints
    lines (called on the loop's thread for what the bot sends, whenever it sends it);
    ``wait`` the seconds each line's answers are awaited (``None``: the tool's timeout
    plus 1 s for a call, ``defaults.timeout`` plus 1 s otherwise).
    """

    def __init__(
        self,
        bot: Bot,
        *,
        show: Printer,
        conversation_id: str,
        record: Path | None = None,
        wait: float | None = None,
    ) -> None:
        self.bot = bot
        self.conversation_id = conversation_id
        self._show = show
        self._record = record
        self._wait_for = wait
        self._watch = Watcher()
        self._seq = 0
        self._turn = 0
        self._calls = 0
        self._last_inference: str | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="cvibot console", daemon=True
        )
        self._transport: _ConsoleTransport | None = None
        self._receiver: Receiver | None = None
        self._run: asyncio.Task[Session] | None = None

    # -- from the main thread --------------------------------------------------------------

    def start(self) -> str:
        """Start the loop and the bot; return once the bot reads its messages, with the
        transport's description. Raises :class:`BotEnded` (the cause chained) when the
        bot fails to start."""
        self._thread.start()
        return self._blocking(self._start())

    def send(self, command: Say | Call | Interrupt) -> None:
        """Send ``command``'s message and show what happens to it, until its answers are
        sent or the wait runs out. Raises :class:`BotEnded` when the bot stopped, and
        ``KeyboardInterrupt`` (the wait abandoned; the call goes on) on Ctrl-C."""
        self._blocking(self._send(command))

    def close(self) -> None:
        """End the conversation (running calls get the grace period) and the loop.
        Raises :class:`BotEnded` when the bot failed or did not stop in time."""
        try:
            if self._thread.is_alive():
                self._blocking(self._close())
        finally:
            if self._thread.is_alive():
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(timeout=_STOP_MARGIN)
            if not self._thread.is_alive():
                self._loop.close()

    def _blocking(self, coro: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            raise
        except concurrent.futures.CancelledError:
            raise BotEnded("the console's wait was cancelled") from None

    # -- on the loop -----------------------------------------------------------------------

    async def _start(self) -> str:
        loop = asyncio.get_running_loop()
        inner = _ConsoleTransport(on_send=self._on_send)
        inner.receiver = loop.create_future()
        self._transport = inner
        transport: Transport = inner
        if self._record is not None:
            from cvibot.transports._recording import RecordingTransport

            transport = RecordingTransport(inner, self._record)
        self._run = loop.create_task(
            self.bot.run(transport, listeners=(self._watch,), conversation_id=self.conversation_id),
            name="cvibot console conversation",
        )
        waiting: set[asyncio.Future[Any]] = {inner.receiver, self._run}
        await asyncio.wait(waiting, timeout=_START_WAIT, return_when=asyncio.FIRST_COMPLETED)
        if inner.receiver.done():
            self._receiver = inner.receiver.result()
            return transport.describe()
        inner.receiver.cancel()
        if self._run.done():
            self._ended("before it started")
        raise BotEnded(f"the bot did not start within {_START_WAIT:g} s")

    def _on_send(self, message: Mapping[str, Any]) -> None:
        self._watch.record_sent(message)
        self._show(render.render_sent(message))

    async def _send(self, command: Say | Call | Interrupt) -> None:
        assert self._transport is not None and self._receiver is not None
        loop = asyncio.get_running_loop()
        self._seq += 1
        seq = self._seq
        message, seconds, sent_lines = self._message(command, seq)
        deadline = loop.time() + seconds
        arrived = self._watch.expect_delivery(seq)
        answered = self._watch.expect_outcome(seq) if isinstance(command, Call) else None
        self._show(sent_lines)
        sent_before = len(self._watch.sent)
        self._transport.push(message)
        if not await self._ready(arrived, deadline):
            self._show(render.render_no_answer(seconds))
            return
        delivery = arrived.result()
        problem = delivery.problem()
        if problem is not None:
            self._show(render.render_problem(problem))
            # A call rejected with a tool_call_id still gets an error answer (§6 rule 9).
            if answered is None or delivery.rejection is None:
                return
            if delivery.rejection.tool_call_id is None:
                return
        if answered is not None:
            if not await self._ready(answered, deadline):
                self._show(render.render_no_answer(seconds))
                answered.add_done_callback(self._late_outcome)
                return
            self._show(render.render_outcome(answered.result()))
        settled = asyncio.ensure_future(self._receiver.settled())
        try:
            if not await self._ready(settled, deadline):
                self._show(render.render_no_answer(seconds))
                return
        finally:
            settled.cancel()
        if isinstance(command, Say) and len(self._watch.sent) == sent_before:
            self._show(render.render_silence(self.bot.pipeline_mode))

    def _late_outcome(self, future: asyncio.Future[ToolOutcome]) -> None:
        """Show how a call ended after its line stopped waiting for it."""
        if not future.cancelled():
            self._show(render.render_outcome(future.result()))

    def _message(
        self, command: Say | Call | Interrupt, seq: int
    ) -> tuple[dict[str, Any], float, list[str]]:
        """The message of ``command``, the seconds its answers are awaited, and the
        lines that show it."""
        default = self.bot.policy.default_timeout + _MARGIN
        if isinstance(command, Say):
            self._turn += 1
            inference = f"inference-{seq}"
            self._last_inference = inference
            message = utterance_message(self._envelope(seq, inference), command.text)
            return message, self._wait_for or default, render.render_utterance(command.text)
        if isinstance(command, Interrupt):
            env = self._envelope(seq, self._last_inference)
            message = env.message(
                "conversation.replica.stopped_speaking", {"interrupted": True, "duration": None}
            )
            return message, self._wait_for or default, render.render_interrupted()
        spec = self.bot.tools.get(command.name)
        limit = (
            spec.timeout
            if spec is not None and spec.timeout is not None
            else self.bot.policy.default_timeout
        )
        seconds = self._wait_for or limit + _MARGIN
        if command.perception:
            message = perception_tool_call_message(
                self._envelope(seq, None), command.name, command.arguments, modality="vision"
            )
            return message, seconds, render.render_call(command, None)
        self._calls += 1
        call_id = f"call-{self._calls}"
        inference = f"inference-{seq}"
        self._last_inference = inference
        message = tool_call_message(
            self._envelope(seq, inference), command.name, command.arguments,
            tool_call_id=call_id, shape=command.shape,
        )  # fmt: skip
        return message, seconds, render.render_call(command, call_id)

    def _envelope(self, seq: int, inference_id: str | None) -> Envelope:
        return Envelope(
            conversation_id=self.conversation_id,
            seq=seq,
            turn_idx=self._turn,
            inference_id=inference_id,
        )

    async def _ready(self, future: asyncio.Future[Any], deadline: float) -> bool:
        """True once ``future`` is done, false when ``deadline`` (loop time) passed first;
        raises :class:`BotEnded` when the bot stops first."""
        assert self._run is not None
        remaining = max(0.0, deadline - asyncio.get_running_loop().time())
        waiting: set[asyncio.Future[Any]] = {future, self._run}
        await asyncio.wait(waiting, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        if future.done():
            return True
        if self._run.done():
            self._ended("while waiting for the answers")
        return False

    def _ended(self, when: str) -> None:
        assert self._run is not None
        failure = None if self._run.cancelled() else self._run.exception()
        if failure is not None:
            raise BotEnded(f"the bot failed {when}: {failure}") from failure
        raise BotEnded(f"the conversation ended {when}")

    async def _close(self) -> None:
        if self._run is None or self._transport is None:
            return
        self._transport.end()
        grace = self.bot.config.dispatch.shutdown_grace
        running: set[asyncio.Future[Any]] = {self._run}
        done, _ = await asyncio.wait(running, timeout=grace + _STOP_MARGIN)
        if not done:
            self._run.cancel()
            await asyncio.wait({self._run}, timeout=_STOP_MARGIN)
            raise BotEnded(f"the bot did not stop within {grace + _STOP_MARGIN:g} s")
        failure = None if self._run.cancelled() else self._run.exception()
        if failure is not None:
            raise BotEnded(f"the bot failed while stopping: {failure}") from failure
