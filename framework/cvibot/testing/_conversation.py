"""A fake Tavus conversation that drives a real bot, in process: no network, no Daily.

A plugin's tests build the bot the CLI would build (config, plugins, tools) and talk to
it as the replica would::

    from cvibot.testing import FakeConversation

    async with FakeConversation(plugins=["my_plugin"]) as conv:
        reply = await conv.tool_call("lookup_order", {"order_id": "A1"})
        assert reply.status == "success"
        assert reply.json()["status"] == "shipped"

The bot runs on a :class:`~cvibot.transports._memory.MemoryTransport` through
:meth:`Bot.run <cvibot._runtime.Bot.run>`, so every message goes through the same parser,
filters, dispatcher and reply rules as in a live room. Each message the conversation
sends gets a ``seq`` of its own (and a ``tool_call_id`` unless told otherwise); an
answer is matched to its call by that ``seq``, through the dispatcher's outcome.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from cvibot.testing._assembly import ConfigSource, build_bot, load_test_config
from cvibot.testing._messages import (
    CallShape,
    Envelope,
    perception_tool_call_message,
    tool_call_message,
    utterance_message,
)
from cvibot.testing._replies import ReplyTimeout, ToolReply, describe_sent
from cvibot.testing._watch import MessageMatch, Watcher

if TYPE_CHECKING:
    from cvibot._dispatch import ToolOutcome
    from cvibot._runtime import Bot
    from cvibot._session import Session
    from cvibot.transports._memory import MemoryTransport

__all__ = ["AUTO", "FakeConversation"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Deadline:
    """A wait of ``seconds``, ending at loop time ``at``."""

    seconds: float
    at: float

    @classmethod
    def after(cls, seconds: float) -> _Deadline:
        return cls(seconds, asyncio.get_running_loop().time() + seconds)

    def remaining(self) -> float:
        return max(0.0, self.at - asyncio.get_running_loop().time())


class _Auto:
    def __repr__(self) -> str:
        return "AUTO"


AUTO: Any = _Auto()
"""The default ``tool_call_id`` of a call: a fresh id (``"call-<n>"``)."""

_ANSWER_MARGIN = 1.0  # seconds a call's wait adds to the tool's own timeout
_UNKNOWN_TOOL_WAIT = 2.0  # seconds to wait for the answer to a tool the bot does not have
_SAY_WAIT = 5.0
_STOP_MARGIN = 5.0  # seconds beyond the grace that closing waits for the bot


class FakeConversation:
    """One conversation between a fake replica and a real bot; an async context manager.

    Arguments (all keyword-only):

    - ``config``: a mapping as the YAML gives it (keys of
      :class:`~cvibot.config.BotConfig`), YAML text, a path to a config file, or ``None``;
      ``transport`` may be left out (it is not used).
    - ``plugins``: more plugins. Strings and mappings are ``plugins:`` entries
      (``"name"``, ``{"name": "cvibot-faq", "settings": {...}}``, ``{"module": "x.py"}``),
      appended to the config's; modules and other objects are registered as built-in
      plugins, a module's ``@tool`` functions included (built-ins get no settings).
    - ``tools``: more tools: ``@tool`` functions, plain functions or ``ToolSpec`` objects.
    - ``pipeline_mode``: ``"full"`` or ``"echo"``, replacing the config's.
    - ``base_dir``: the folder relative module paths resolve from (mapping or text
      configs; default the current directory).
    - ``conversation_id``: the id the messages carry and the bot serves (``None``: the
      messages carry none).
    - ``autoload``: also load the installed plugins nobody names (off, so tests only
      see the plugins they ask for).
    - ``grace``: seconds running calls get when the conversation closes (default the
      config's ``dispatch.shutdown_grace``).

    The bot is built at once (:attr:`bot`); a bad config or plugin raises
    :class:`~cvibot._errors.ConfigError` here. The conversation starts with ``async
    with`` (or ``await conv``, then :meth:`close`), which raises what the bot's start
    raised (for example :class:`~cvibot._runtime.PluginStartupError`).

    Waits are in seconds. One that sees no answer raises :class:`ReplyTimeout` (an
    ``AssertionError`` and a ``TimeoutError``) listing what the bot did send; one for a
    message the bot dropped or rejected without answering, or that the bot stopped
    before answering, raises ``AssertionError`` at once.
    """

    def __init__(
        self,
        *,
        config: ConfigSource = None,
        plugins: Sequence[object] = (),
        tools: Sequence[object] = (),
        pipeline_mode: str | None = None,
        base_dir: str | os.PathLike[str] | None = None,
        conversation_id: str | None = "fake-conversation",
        autoload: bool = False,
        grace: float | None = None,
    ) -> None:
        if isinstance(plugins, str | Mapping):
            raise TypeError("plugins must be a sequence of plugins, e.g. plugins=['my_plugin']")
        entries = [p for p in plugins if isinstance(p, str | Mapping)]
        objects = [p for p in plugins if not isinstance(p, str | Mapping)]
        loaded = load_test_config(
            config, plugins=entries, pipeline_mode=pipeline_mode, base_dir=base_dir
        )
        self.bot: Bot
        self.bot, self._plugin = build_bot(loaded, builtins=objects, tools=tools, autoload=autoload)
        self.conversation_id = conversation_id
        self._grace = grace if grace is not None else self.bot.config.dispatch.shutdown_grace
        self._watch = Watcher()
        self._seq = 0
        self._calls = itertools.count(1)
        self._turn = 0
        self._transport: MemoryTransport | None = None
        self._session: Session | None = None
        self._run: asyncio.Task[Session] | None = None
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def session(self) -> Session:
        """The running session. Raises ``RuntimeError`` before the conversation started."""
        if self._session is None:
            raise RuntimeError("the conversation has not started: use 'async with' or await it")
        return self._session

    @property
    def sent(self) -> list[Mapping[str, Any]]:
        """Every message the bot sent so far, in order (a copy)."""
        return list(self._watch.sent)

    async def start(self) -> Self:
        """Start the bot on a memory transport; return once its session has started.

        Raises what the bot raised while starting, and ``RuntimeError`` when started twice.
        """
        from cvibot.transports._memory import MemoryTransport

        if self._run is not None:
            raise RuntimeError("the conversation was started already")
        loop = asyncio.get_running_loop()
        started: asyncio.Future[Session] = loop.create_future()

        def on_session(session: Session) -> None:
            if not started.done():
                started.set_result(session)

        self._plugin.on_session = on_session
        self._transport = MemoryTransport(on_send=self._watch.record_sent)
        self._run = loop.create_task(
            self.bot.run(
                self._transport,
                listeners=(self._watch,),
                grace=self._grace,
                conversation_id=self.conversation_id,
            ),
            name=f"cvibot fake conversation {self.conversation_id}",
        )
        await asyncio.wait({started, self._run}, return_when=asyncio.FIRST_COMPLETED)
        if not started.done():
            started.cancel()
            self._closed = True
            self._run.result()  # raises the start-up failure
            raise AssertionError("the bot ended the conversation before it started")
        self._session = started.result()
        return self

    async def close(self) -> None:
        """End the conversation: the transport's stream ends, running calls get the grace
        period, the bot stops. Raises what the bot raised, and ``TimeoutError`` when it
        has not stopped ``grace`` + 5 s later. Idempotent."""
        if self._closed or self._run is None:
            self._closed = True
            return
        self._closed = True
        assert self._transport is not None
        self._transport.end()
        done, _ = await asyncio.wait({self._run}, timeout=self._grace + _STOP_MARGIN)
        if not done:
            self._run.cancel()
            await asyncio.wait({self._run}, timeout=_STOP_MARGIN)  # let it unwind
            raise TimeoutError(
                f"the bot did not stop within {self._grace + _STOP_MARGIN:g} s of the "
                "conversation's end"
            )
        self._run.result()

    def __await__(self) -> Generator[Any, None, Self]:
        return self.start().__await__()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            await self.close()
            return
        try:
            await self.close()
        except Exception as failure:
            # The body's exception is what the test reports; the bot's goes with it.
            exc.add_note(f"the bot failed too: {type(failure).__name__}: {failure}")

    # -- sending ---------------------------------------------------------------------------

    def send(self, message: Any, *, sender: str | None = None) -> None:
        """Push any inbound app-message (a dict, or a JSON string) as is.

        ``sender`` is the participant id it comes from (``None``: a message without
        sender, which the bot trusts). The conversation's own messages are numbered
        after any integer ``seq`` given here.
        """
        seq = message.get("seq") if isinstance(message, Mapping) else None
        if isinstance(seq, int) and not isinstance(seq, bool):
            self._seq = max(self._seq, seq)
        self._transport_or_fail().push(message, sender)

    async def tool_call(
        self,
        name: str,
        arguments: Mapping[str, Any] | str | None = None,
        *,
        shape: CallShape = "official",
        tool_call_id: str | None = AUTO,
        inference_id: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the wait is the API's own
    ) -> ToolReply:
        """Send a ``conversation.tool_call`` and return the bot's answer to it.

        ``arguments``: a mapping (``{}`` when ``None``), or a string sent as is.
        ``shape``: ``"official"`` (``properties.name``, JSON-text arguments,
        ``properties.tool_call_id``), ``"legacy"`` (``properties.tool_name``, object
        arguments, ``inference_id`` in properties, a ``tool_call_id`` at the top level)
        or ``"function"`` (``properties.function``); protocol reference §4.4.
        ``tool_call_id``: a fresh id by default; ``None`` sends none, and the default
        reply is then an echo (D17). ``timeout``: seconds to wait, by default the tool's
        timeout plus 1 s (2 s for a tool the bot does not have).

        The reply's ``message`` is ``None`` when the reply mode sends nothing; its
        ``outcome`` says how the call ended either way.
        """
        envelope = self._envelope(inference_id or self._inference_id())
        call_id = f"call-{next(self._calls)}" if tool_call_id is AUTO else tool_call_id
        message = tool_call_message(
            envelope, name, {} if arguments is None else arguments,
            tool_call_id=call_id, shape=shape,
        )  # fmt: skip
        what = f"tool call {name!r} (seq {envelope.seq}, tool_call_id {call_id!r})"
        outcome = await self._call(message, envelope.seq, what, self._deadline(name, timeout))
        return ToolReply(outcome.answer, outcome)

    async def perception_tool_call(
        self,
        name: str,
        arguments: Mapping[str, Any] | str | None = None,
        *,
        modality: str = "vision",
        frames: Sequence[Mapping[str, Any] | str] | None = None,
        tool_call_id: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the wait is the API's own
    ) -> ToolReply:
        """Send a ``conversation.perception_tool_call`` (§4.5) and return the answer.

        ``modality`` ``"vision"`` (object arguments, optional ``frames``) or ``"audio"``
        (JSON-text arguments). Perception calls carry no ``tool_call_id`` by default and
        are answered with nothing unless the tool's reply says otherwise
        (``defaults.perception_reply: none``): the reply's ``message`` is then ``None``
        and its ``outcome`` tells how the call ended. ``timeout`` as for :meth:`tool_call`.
        """
        envelope = self._envelope(None)
        message = perception_tool_call_message(
            envelope, name, {} if arguments is None else arguments,
            modality=modality, frames=frames, tool_call_id=tool_call_id,
        )  # fmt: skip
        what = f"perception tool call {name!r} (seq {envelope.seq}, modality {modality!r})"
        outcome = await self._call(message, envelope.seq, what, self._deadline(name, timeout))
        return ToolReply(outcome.answer, outcome)

    async def say(
        self,
        text: str,
        *,
        timeout: float = _SAY_WAIT,  # noqa: ASYNC109 - the wait is the API's own
    ) -> ToolReply | None:
        """Send a final user ``conversation.utterance`` saying ``text``; return the answer.

        Waits until the bot has settled (every call and background task it started has
        ended, at most ``timeout`` seconds) and returns the first message it sent since
        the utterance arrived that is not a tool call's answer, usually the ``echo`` of
        the ``cvibot_respond_to_utterance`` responder under ``pipeline_mode: echo``;
        ``None`` when it sent none. Raises ``AssertionError`` when the bot dropped or
        rejected the utterance, :class:`ReplyTimeout` when it did not settle in time.
        """
        self._turn += 1
        envelope = self._envelope(self._inference_id())
        arrived = self._watch.expect_delivery(envelope.seq)
        self._transport_or_fail().push(utterance_message(envelope, text))
        what = f"utterance {text!r} (seq {envelope.seq})"
        deadline = _Deadline.after(timeout)
        delivery = await self._wait(arrived, deadline, what)
        problem = delivery.problem()
        if problem is not None:
            raise AssertionError(f"{what}: {problem}\n{describe_sent(self.sent)}")
        settled = asyncio.ensure_future(self.session.settled())
        try:
            await self._wait(settled, deadline, f"the bot to settle after {what}")
        finally:
            settled.cancel()
        for message in self._watch.sent[delivery.sent_before :]:
            if not self._watch.is_call_answer(message):
                return ToolReply(message)
        return None

    async def wait_for(
        self,
        match: str | Callable[[Mapping[str, Any]], bool],
        *,
        timeout: float = 2.0,  # noqa: ASYNC109 - the wait is the API's own
    ) -> Mapping[str, Any]:
        """The first message the bot sent, or sends within ``timeout`` seconds, that
        ``match`` accepts and that no earlier :meth:`wait_for` returned.

        ``match`` is an ``event_type`` (``"conversation.echo"``) or a predicate on the
        message dict. Raises :class:`ReplyTimeout` listing what was sent, and what the
        predicate raises.
        """
        predicate: MessageMatch
        if isinstance(match, str):
            event_type = match

            def predicate(message: Mapping[str, Any]) -> bool:
                return message.get("event_type") == event_type

            what = f"a {event_type} message"
        else:
            predicate = match
            what = f"a message matching {getattr(match, '__qualname__', match)!r}"
        future = self._watch.claim(predicate)
        try:
            return await self._wait(future, _Deadline.after(timeout), what)
        finally:
            future.cancel()

    # -- helpers ---------------------------------------------------------------------------

    async def _call(
        self, message: dict[str, Any], seq: int, what: str, deadline: _Deadline
    ) -> ToolOutcome:
        arrived = self._watch.expect_delivery(seq)
        answered = self._watch.expect_outcome(seq)
        self._transport_or_fail().push(message)
        delivery = await self._wait(arrived, deadline, what)
        problem = delivery.problem()
        # A call rejected with a tool_call_id still gets an error answer (§6 rule 9).
        if problem is not None and not (
            delivery.rejection is not None and delivery.rejection.tool_call_id is not None
        ):
            raise AssertionError(
                f"{what}: {problem}; it gets no answer\n{describe_sent(self.sent)}"
            )
        return await self._wait(answered, deadline, what)

    async def _wait(self, future: asyncio.Future[T], deadline: _Deadline, what: str) -> T:
        """``future``'s result; fails when the bot stops first or ``deadline`` passes."""
        assert self._run is not None
        waiting: set[asyncio.Future[Any]] = {future, self._run}
        await asyncio.wait(
            waiting, timeout=deadline.remaining(), return_when=asyncio.FIRST_COMPLETED
        )
        if future.done():
            return future.result()
        if self._run.done():
            failure = None if self._run.cancelled() else self._run.exception()
            why = f"failed: {type(failure).__name__}: {failure}" if failure else "ended"
            raise AssertionError(
                f"the conversation {why} before {what} was answered\n{describe_sent(self.sent)}"
            ) from failure
        raise ReplyTimeout(
            f"no answer to {what} within {deadline.seconds:g} s; {describe_sent(self.sent)}"
        )

    def _deadline(self, name: str, timeout: float | None) -> _Deadline:
        """``timeout`` from now, or the tool's timeout plus a margin."""
        if timeout is not None:
            return _Deadline.after(timeout)
        spec = self.bot.tools.get(name)
        if spec is None:
            return _Deadline.after(_UNKNOWN_TOOL_WAIT)
        limit = spec.timeout if spec.timeout is not None else self.bot.policy.default_timeout
        return _Deadline.after(limit + _ANSWER_MARGIN)

    def _envelope(self, inference_id: str | None) -> Envelope:
        self._seq += 1
        return Envelope(
            conversation_id=self.conversation_id,
            seq=self._seq,
            turn_idx=self._turn,
            inference_id=inference_id,
        )

    def _inference_id(self) -> str:
        return f"inference-{self._seq + 1}"

    def _transport_or_fail(self) -> MemoryTransport:
        if self._transport is None or self._run is None:
            raise RuntimeError("the conversation has not started: use 'async with' or await it")
        if self._closed:
            raise RuntimeError("the conversation is closed")
        return self._transport
