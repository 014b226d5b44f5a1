"""A daily-python stand-in that behaves like the real SDK, without a network.

Built from the FakeCallClient validated against the real SDK (daily-python.md §8 and
its appendix), keeping what was validated:

- one daemon emitter thread per client, running a FIFO of jobs; every event and
  completion of that client runs there (§0.3), and a callback that raises prints its
  traceback and the client carries on;
- synchronous argument errors with the real exception types and messages;
- ``send_app_message`` before the join completes with ``ChannelNotOpen`` (plus
  ``on_error``); the exact join-failure strings and event sequence (with ``join_delay``
  seconds instead of ~19 s); a malformed URL fails at once;
- ``release()`` drains the queue, and every later call raises ``RuntimeError``.

And what §8 asks a faithful fake to add:

- ``shuffle_completions``: send completions of a burst come back in random order;
- the order of ``'left'`` and the leave/join-failure completion is random (seeded);
- ``participants()`` sleeps ``participants_block`` s holding a lock while a join is
  pending (the real one freezes the process), and counts its calls
  (``participants_calls``) so tests can assert it is never called;
- join outcomes ``"ok"``, ``"unreachable"``, ``"hang"`` (never completes) and
  ``"error:<raw string>"``, scripted per attempt with ``join_outcomes``;
- :class:`FakeDaily`, a fake ``daily`` module whose ``Daily.init()`` / ``CallClient()``
  raise :class:`FakeSdkMisuse` where the real SDK aborts the process;
- test helpers: :meth:`FakeCallClient.inject_app_message`,
  ``inject_participant_joined/updated/left``, :meth:`FakeCallClient.drop_network`,
  :meth:`FakeCallClient.end_room`; ``sent`` (``(message, participant_id)`` pairs);
  :meth:`FakeCallClient.assert_callbacks_on_emitter`.

Modules: :mod:`.daily_module` (the fake module and its abort guards), :mod:`.call_client` (the
requests a client serves), :mod:`.scripted` (the test helpers), :mod:`.rejections` (the
argument checks and error strings, byte for byte), :mod:`.emitter` (the emitter
thread), :mod:`.room_view` (the call state, and :func:`participant`).
"""

from doubles.fake_daily.call_client import FakeCallClient
from doubles.fake_daily.daily_module import FakeDaily, FakeSdkMisuse
from doubles.fake_daily.rejections import CHANNEL_NOT_OPEN, ROOM_LOOKUP_FAILED, EventHandler
from doubles.fake_daily.room_view import participant

__all__ = [
    "CHANNEL_NOT_OPEN",
    "ROOM_LOOKUP_FAILED",
    "EventHandler",
    "FakeCallClient",
    "FakeDaily",
    "FakeSdkMisuse",
    "participant",
]
