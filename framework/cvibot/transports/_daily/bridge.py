"""From the SDK's emitter thread to the event loop.

daily-python runs every event and completion of one client on that client's native
``daily-emitter`` thread, where no loop runs (daily-python.md §0.3, §3). A callback that
blocks there stalls the client, and one that waits for another completion or for the
loop deadlocks (§0.9). So everything here does exactly one thing on that thread: take
``time.time()`` and hand the call to the loop with ``loop.call_soon_threadsafe``. It
never blocks, never waits on the loop and never calls back into the SDK.

A loop that is already closed (the transport is gone; a late completion of a join
that timed out) makes the hand-off a silent no-op.

The hand-offs of one loop share a :class:`_Mailbox`: a burst of events and completions
wakes the loop once (one ``call_soon_threadsafe``, one self-pipe write) and runs in
arrival order, instead of one wake-up each.
"""

from __future__ import annotations

import asyncio
import functools
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar, cast

__all__ = ["AppMessageHandoff", "Handoff", "handler_class", "poster", "settle", "to_loop"]

T = TypeVar("T")

Handoff = Callable[[str, tuple[Any, ...], float], None]
"""``(kind, args, received_at)``: an SDK event; ``received_at`` is ``time.time()`` (s)
taken on the emitter thread when the event arrived."""

AppMessageHandoff = Callable[[Any, Any, float], None]
"""``(message, sender, received_at)``: an app-message, the SDK's arguments as given (the
receiver checks them), handed straight to its receiver: the one event of every tool call
skips the ``kind`` dispatch of :data:`Handoff`."""


class _Mailbox:
    """Calls posted from any thread, run on ``loop`` in order, one wake-up per batch.

    ``post`` appends, then schedules a drain unless one is pending; the drain clears the
    flag before it takes the first call, so a call posted at any moment is either taken
    by a running drain or schedules the next one. A call that raises is reported to the
    loop's exception handler, as ``call_soon_threadsafe`` would, and the rest still run.
    """

    __slots__ = ("_calls", "_loop", "_pending")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._calls: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self._pending = False

    def post(self, fn: Callable[..., None], *args: Any) -> None:
        self._calls.append((fn, args))  # deque.append is atomic under the GIL
        if not self._pending:
            self._pending = True
            try:
                self._loop.call_soon_threadsafe(self._drain)
            except RuntimeError:  # the loop is closed: nobody is left to tell
                self._pending = False
                self._calls.clear()

    def _drain(self) -> None:
        self._pending = False
        calls = self._calls
        while calls:
            fn, args = calls.popleft()
            try:
                fn(*args)
            except Exception as exc:
                self._loop.call_exception_handler(
                    {"message": f"Exception in callback {fn!r}", "exception": exc}
                )


_mailboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Mailbox] = (
    weakref.WeakKeyDictionary()
)


def _mailbox(loop: asyncio.AbstractEventLoop) -> _Mailbox:
    """The loop's mailbox (made on the loop's thread, where the bridge is set up)."""
    box = _mailboxes.get(loop)
    if box is None:
        box = _mailboxes[loop] = _Mailbox(loop)
    return box


def poster(loop: asyncio.AbstractEventLoop) -> Callable[..., None]:
    """``post(fn, *args)``: run ``fn(*args)`` on ``loop``, from any thread, in order with
    the loop's other hand-offs. For a caller that makes many completions (one per send)
    and builds each as a plain closure over it, rather than through :func:`to_loop`."""
    return _mailbox(loop).post


def to_loop(loop: asyncio.AbstractEventLoop, fn: Callable[..., None]) -> Callable[..., None]:
    """A completion callable for the SDK: ``fn(received_at, *args)`` runs on ``loop``.

    ``received_at`` is ``time.time()`` when the completion fired. Each SDK call gets
    its own callable, so completions are matched to their requests whatever order they
    come back in (daily-python.md §0.8).
    """

    post = _mailbox(loop).post

    def completion(*args: Any) -> None:
        post(fn, time.time(), *args)

    return completion


def settle(future: asyncio.Future[T], value: T) -> None:
    """Set ``future``'s result unless it is already done (a timed-out wait cancels it)."""
    if not future.done():
        future.set_result(value)


class _Handlers:
    """The ``daily.EventHandler`` methods the transport uses: stamp, hand off, return."""

    _cvibot_post: Callable[[str, tuple[Any, ...]], None]
    _cvibot_mail: Callable[..., None]
    _cvibot_app_message: AppMessageHandoff

    def __init__(
        self,
        *,
        loop: asyncio.AbstractEventLoop,
        target: Handoff,
        app_message: AppMessageHandoff,
    ) -> None:
        mail = _mailbox(loop).post

        def post(kind: str, args: tuple[Any, ...]) -> None:
            mail(target, kind, args, time.time())

        self._cvibot_post = post
        self._cvibot_mail = mail
        self._cvibot_app_message = app_message

    def on_app_message(self, message: Any, sender: str) -> None:
        self._cvibot_mail(self._cvibot_app_message, message, sender, time.time())

    def on_participant_joined(self, participant: Any) -> None:
        self._cvibot_post("participant_joined", (participant,))

    def on_participant_updated(self, participant: Any) -> None:
        self._cvibot_post("participant_updated", (participant,))

    def on_participant_left(self, participant: Any, reason: str) -> None:
        self._cvibot_post("participant_left", (participant, reason))

    def on_call_state_updated(self, state: str) -> None:
        self._cvibot_post("call_state", (state,))

    def on_network_connection_status_updated(self, status: Any) -> None:
        self._cvibot_post("network", (status,))

    def on_error(self, message: str) -> None:
        self._cvibot_post("error", (message,))


@functools.cache
def handler_class(base: type) -> type[_Handlers]:
    """The handler class for an SDK: :class:`_Handlers` on top of ``base``
    (``daily.EventHandler``; the client rejects anything else, daily-python.md §2).

    ``EventHandler.__new__`` refuses keyword arguments, hence the ``__new__`` override
    (pipecat does the same). Instances: ``cls(loop=loop, target=handoff,
    app_message=app_message_handoff)``.
    """

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        new: Callable[[type], Any] = getattr(base, "__new__")  # noqa: B009 - typed as a plain callable
        return new(cls)

    return cast(
        "type[_Handlers]",
        type("CvibotEventHandler", (_Handlers, base), {"__new__": __new__, "__module__": __name__}),
    )
