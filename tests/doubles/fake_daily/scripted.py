"""The test-helper side of :class:`FakeCallClient`: events and faults a test scripts.

Each helper queues a job, so its events run on the emitter thread, in order, after
everything queued before them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from doubles.fake_daily.emitter import Emitter
from doubles.fake_daily.room_view import Room

__all__ = ["ScriptedEvents"]


class ScriptedEvents:
    """Mixed into :class:`FakeCallClient`, which provides the emitter and the room."""

    _emitter: Emitter
    _room: Room

    def inject_app_message(self, message: Any, sender: str) -> None:
        """An app-message from participant ``sender`` arrives."""
        self._emitter.put(lambda: self._emitter.emit("on_app_message", message, sender))

    def inject_participant_joined(self, p: Mapping[str, Any]) -> None:
        def job() -> None:
            self._room.add(p)
            self._emitter.emit("on_participant_joined", p)

        self._emitter.put(job)

    def inject_participant_updated(self, p: Mapping[str, Any]) -> None:
        self._emitter.put(lambda: self._emitter.emit("on_participant_updated", p))

    def inject_participant_left(self, p: Mapping[str, Any], reason: str = "leftCall") -> None:
        def job() -> None:
            self._room.remove(p)
            self._emitter.emit("on_participant_left", p, reason)

        self._emitter.put(job)

    def inject_error(self, message: str) -> None:
        """``on_error(message)`` fires."""
        self._emitter.put(lambda: self._emitter.emit("on_error", message))

    def drop_network(self, *, left: bool = True) -> None:
        """What a network drop looks like: the signalling connection reports
        ``disconnected``, then (``left``) the call state becomes ``left`` without any
        leave. With ``left=False`` the client stays in the call (only the status)."""

        def job() -> None:
            self._emitter.emit(
                "on_network_connection_status_updated",
                {"type": "signaling", "event": "disconnected"},
            )
            if left:
                self._room.joined = False
                self._emitter.emit("on_call_state_updated", "leaving")
                self._emitter.emit("on_call_state_updated", "left")

        self._emitter.put(job)

    def end_room(self, error_text: str = "Meeting has ended") -> None:
        """The room ends under the bot: ``on_error(error_text)``, then ``left``; later
        joins fail with ``error_text``."""

        def job() -> None:
            self._room.ended = error_text
            self._emitter.emit("on_error", error_text)
            self._room.joined = False
            self._emitter.emit("on_call_state_updated", "leaving")
            self._emitter.emit("on_call_state_updated", "left")

        self._emitter.put(job)

    def hold(self) -> threading.Event:
        """Stall the emitter until the returned event is set (to order events in tests)."""
        gate = threading.Event()

        def job() -> None:
            gate.wait(5)

        self._emitter.put(job)
        return gate

    def wait_idle(self, timeout: float = 2.0) -> None:
        """Block until every job queued so far has run (for tests; not on the loop)."""
        done = threading.Event()
        self._emitter.put(done.set)
        if not done.wait(timeout):
            raise TimeoutError("the fake emitter is still busy")

    def assert_callbacks_on_emitter(self) -> None:
        """Raise ``AssertionError`` if any callback ran outside the emitter thread (or
        raised)."""
        off, errors = self._emitter.off_emitter, self._emitter.callback_errors
        assert not off, f"callbacks off the emitter thread: {off}"
        assert not errors, "a callback raised:\n" + "\n".join(errors)
