"""The fake ``daily.CallClient``: its options, and the requests it serves.

Arguments are checked at once in the caller's thread (:mod:`.rejections`); the work of a
request runs later, as a job on the client's emitter thread (:mod:`.emitter`), in the
order the requests were made. The test helpers come from :class:`.ScriptedEvents`.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from doubles.fake_daily.emitter import Emitter, Job
from doubles.fake_daily.rejections import (
    CHANNEL_NOT_OPEN,
    FETCH_FAILED,
    ROOM_LOOKUP_FAILED,
    app_message_payload,
    check_event_handler,
    check_join_args,
    check_not_released,
    join_argument_error,
)
from doubles.fake_daily.room_view import Room
from doubles.fake_daily.scripted import ScriptedEvents

if TYPE_CHECKING:
    from doubles.fake_daily.daily_module import FakeDaily

__all__ = ["FakeCallClient"]

_FAKE_GIL = threading.Lock()  # what participants() holds while it blocks


class FakeCallClient(ScriptedEvents):
    """A ``daily.CallClient`` stand-in (see :mod:`doubles.fake_daily`).

    Options (keyword-only): ``join_outcome`` for every join, or ``join_outcomes`` for
    successive joins (then ``join_outcome`` after the script runs out); ``join_delay``
    seconds per join; ``remote_participants`` present at the join (in the join data);
    ``shuffle_completions``; ``seed`` for every random choice; ``participants_block``
    seconds; ``release_delay`` seconds that ``release()`` blocks while a join is
    pending (the real SDK: the rest of the join, ~19 s); ``send_error`` maps a sent
    message to an error string for its completion (``None``: success); ``linger``
    seconds the emitter waits for more jobs before shuffled completions run; ``sdk``
    the :class:`FakeDaily` that made the client (for its ``release()`` guard).
    """

    def __init__(
        self,
        event_handler: Any = None,
        *,
        join_outcome: str = "unreachable",
        join_outcomes: Sequence[str] = (),
        join_delay: float = 0.05,
        remote_participants: Iterable[Mapping[str, Any]] = (),
        shuffle_completions: bool = False,
        seed: int = 0,
        participants_block: float = 0.5,
        release_delay: float = 0.0,
        send_error: Callable[[Any], str | None] | None = None,
        linger: float = 0.005,
        sdk: FakeDaily | None = None,
    ) -> None:
        check_event_handler(event_handler)
        self._sdk = sdk
        self._released = False
        self._rng = random.Random(seed)
        self._room = Room(remote_participants)
        self._unhang = threading.Event()
        self._lock = threading.Lock()  # guards _pending_joins and participants_calls
        self._pending_joins = 0
        self.join_outcome = join_outcome
        self.join_outcomes = list(join_outcomes)
        self.join_delay = join_delay
        self.shuffle_completions = shuffle_completions
        self.participants_block = participants_block
        self.release_delay = release_delay
        self.send_error = send_error
        self.sent: list[tuple[Any, str | None]] = []
        """Every app-message delivered to the room: ``(message, participant_id)``."""
        self.joins: list[tuple[str, str | None, Any]] = []
        """Every join call: ``(meeting_url, meeting_token, client_settings)``."""
        self.leave_calls = 0
        self.participants_calls = 0
        self.subscription_profiles: list[Any] = []
        self.completion_order: list[int] = []
        """The ``sent`` index of each successful send completion, in completion order."""
        self._emitter = Emitter(event_handler, self._rng, linger)

    # -- state, for tests -----------------------------------------------------------------

    @property
    def local_id(self) -> str:
        return self._room.local_id

    @property
    def joined(self) -> bool:
        return self._room.joined

    @property
    def released(self) -> bool:
        return self._released

    @property
    def remote_participants(self) -> list[dict[str, Any]]:
        """The remote participants in the room (the join data lists them)."""
        return self._room.remote

    @remote_participants.setter
    def remote_participants(self, value: list[dict[str, Any]]) -> None:
        self._room.remote = value

    @property
    def linger(self) -> float:
        """Seconds without a new job after which shuffled completions run."""
        return self._emitter.linger

    @linger.setter
    def linger(self, value: float) -> None:
        self._emitter.linger = value

    @property
    def callbacks(self) -> list[tuple[str, str]]:
        """Every callback run: ``(name, thread name)``."""
        return self._emitter.callbacks

    @property
    def off_emitter(self) -> list[str]:
        """Callbacks that ran on another thread than the emitter (should stay empty)."""
        return self._emitter.off_emitter

    @property
    def callback_errors(self) -> list[str]:
        """The traceback of every callback that raised."""
        return self._emitter.callback_errors

    # -- the CallClient API ---------------------------------------------------------------

    def join(
        self,
        meeting_url: str,
        meeting_token: str | None = None,
        client_settings: Any = None,
        completion: Callable[[Any, str | None], None] | None = None,
    ) -> None:
        check_not_released(self._released)
        check_join_args(meeting_url, meeting_token)
        outcome = self.join_outcomes.pop(0) if self.join_outcomes else self.join_outcome
        self.joins.append((meeting_url, meeting_token, client_settings))
        with self._lock:
            self._pending_joins += 1

        def job() -> None:
            try:
                self._run_join(meeting_url, client_settings, outcome, completion)
            finally:
                with self._lock:
                    self._pending_joins -= 1

        self._emitter.put(job)

    def leave(self, completion: Callable[[str | None], None] | None = None) -> None:
        check_not_released(self._released)
        self.leave_calls += 1

        def job() -> None:
            self._emitter.emit("on_call_state_updated", "leaving")
            self._room.joined = False
            self._left_and(
                lambda: self._emitter.complete("leave", completion, None),
                left_first=self._rng.random() >= 0.5,
            )

        self._emitter.put(job)

    def send_app_message(
        self,
        message: Any,
        participant_id: str | None = None,
        completion: Callable[[str | None], None] | None = None,
    ) -> None:
        check_not_released(self._released)
        payload = app_message_payload(message, participant_id)

        def job() -> None:
            if not self._room.joined:
                self._emitter.complete("send_app_message", completion, CHANNEL_NOT_OPEN)
                self._emitter.emit("on_error", f"Error handling sendAppMessage: {CHANNEL_NOT_OPEN}")
                return
            error = self.send_error(payload) if self.send_error is not None else None
            index = -1
            if error is None:
                index = len(self.sent)
                self.sent.append((payload, participant_id))

            def finish() -> None:
                if index >= 0:
                    self.completion_order.append(index)
                self._emitter.complete("send_app_message", completion, error)

            if self.shuffle_completions:
                self._emitter.defer(finish)
            else:
                finish()

        self._emitter.put(job)

    def set_user_name(self, user_name: str) -> None:
        check_not_released(self._released)
        self._room.user_name = user_name
        self._emitter.put(lambda: self._emitter.emit("on_participant_updated", self._room.local()))

    def update_subscription_profiles(
        self,
        profile_settings: Mapping[str, Any],
        completion: Callable[[str | None], None] | None = None,
    ) -> None:
        check_not_released(self._released)
        self.subscription_profiles.append(profile_settings)
        self._emitter.put(
            lambda: self._emitter.complete("update_subscription_profiles", completion, None)
        )

    def participants(self) -> dict[str, Any]:
        """Counts the call; blocks ``participants_block`` s while a join is pending."""
        check_not_released(self._released)
        with self._lock:
            self.participants_calls += 1
            pending = self._pending_joins > 0
        if pending:
            with _FAKE_GIL:
                time.sleep(self.participants_block)
        return {"local": self._room.local()}

    def participant_counts(self) -> dict[str, int]:
        check_not_released(self._released)
        return self._room.counts()

    def release(self) -> None:
        """Drain the queue and end the emitter; every later call raises."""
        check_not_released(self._released)
        if self._sdk is not None:
            self._sdk.Daily.check_release()
        with self._lock:
            pending = self._pending_joins > 0
        if pending:
            time.sleep(self.release_delay)  # the real release waits for the join (~19 s)
        self._unhang.set()
        self._emitter.stop()
        self._released = True

    # -- on the emitter thread ------------------------------------------------------------

    def _run_join(
        self,
        meeting_url: str,
        client_settings: Any,
        outcome: str,
        completion: Callable[[Any, str | None], None] | None,
    ) -> None:
        """Bad arguments fail at once; otherwise, after ``join_delay``, ``outcome``."""

        def fail(err: str, *, state_events: bool = True) -> None:
            if state_events:
                self._emitter.emit("on_call_state_updated", "leaving")
                self._left_and(
                    lambda: self._emitter.complete("join", completion, None, err),
                    left_first=self._rng.random() < 0.5,
                )
            else:
                self._emitter.complete("join", completion, None, err)
            self._emitter.emit("on_error", f"Error handling join: {err}")

        bad = join_argument_error(meeting_url, client_settings)
        if bad is not None:
            fail(bad, state_events=False)
        elif outcome == "hang":
            self._unhang.wait()  # until release(): the join never completes
        else:
            time.sleep(self.join_delay)  # real offline failure: ~19 s
            if self._room.ended is not None:
                fail(self._room.ended)
            elif outcome == "ok":
                self._emitter.emit("on_call_state_updated", "joining")
                self._room.joined = True
                self._emitter.emit("on_call_state_updated", "joined")
                data = {
                    "meetingSession": {"id": str(uuid.uuid4())},
                    "participants": self._room.everyone(),
                }
                self._emitter.complete("join", completion, data, None)
            elif outcome.startswith("error:"):
                fail(outcome.removeprefix("error:"))
            else:
                self._emitter.emit("on_error", FETCH_FAILED)
                fail(ROOM_LOOKUP_FAILED)

    def _left_and(self, finish: Job, *, left_first: bool) -> None:
        """``left`` and ``finish`` (a completion) in the order given: it is racy (§0.8)."""
        if left_first:
            self._emitter.emit("on_call_state_updated", "left")
            finish()
        else:
            finish()
            self._emitter.emit("on_call_state_updated", "left")
