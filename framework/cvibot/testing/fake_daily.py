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
"""

from __future__ import annotations

import json
import queue
import random
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

__all__ = [
    "CHANNEL_NOT_OPEN",
    "ROOM_LOOKUP_FAILED",
    "EventHandler",
    "FakeCallClient",
    "FakeDaily",
    "FakeSdkMisuse",
    "participant",
]

CHANNEL_NOT_OPEN = "AppMessage(Signalling(ChannelNotOpen))"
ROOM_LOOKUP_FAILED = (
    "Connection(Api(RoomLookup(RoomInfoFetchFailed(Get(hyper_util::client::legacy::Error("
    'Connect, Custom { kind: Uncategorized, error: "failed to lookup address information: '
    'Name or service not known" }))))))'
)
_FETCH_FAILED = "Failed to fetch room information: GET failed: client error (Connect)"


class _StandInEventHandler:
    """Used only when daily-python is not installed."""


def _event_handler_base() -> type:
    try:
        import daily
    except ImportError:
        return _StandInEventHandler
    base: type = daily.EventHandler
    return base


EventHandler: type = _event_handler_base()
"""The real ``daily.EventHandler`` (a stand-in class when daily-python is absent)."""

Job = Callable[[], None]
_FAKE_GIL = threading.Lock()  # what participants() holds while it blocks


def _has_huge_int(value: Any) -> bool:
    """An int serde_json cannot hold (outside i64 and u64): the SDK raises at once."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not -(2**63) <= value < 2**64
    if isinstance(value, dict):
        return any(_has_huge_int(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_huge_int(v) for v in value)
    return False


class FakeSdkMisuse(RuntimeError):
    """A call that makes the real SDK abort the process (SIGABRT, §0.1)."""


def participant(
    user_name: str | None = None,
    user_id: str | None = None,
    *,
    participant_id: str | None = None,
    local: bool = False,
) -> dict[str, Any]:
    """A participant dict shaped as daily-python gives it (``id``, ``info``, ``media``)."""
    info: dict[str, Any] = {"isLocal": local, "isOwner": False}
    if user_name is not None:
        info["userName"] = user_name
    if user_id is not None:
        info["userId"] = user_id
    return {"id": participant_id or str(uuid.uuid4()), "info": info, "media": {}}


class FakeCallClient:
    """A ``daily.CallClient`` stand-in (see the module docstring).

    Options (keyword-only): ``join_outcome`` for every join, or ``join_outcomes`` for
    successive joins (then ``join_outcome`` after the script runs out); ``join_delay``
    seconds per join; ``remote_participants`` present at the join (in the join data);
    ``shuffle_completions``; ``seed`` for every random choice; ``participants_block``
    seconds; ``release_delay`` seconds that ``release()`` blocks while a join is
    pending (the real SDK: the rest of the join, ~19 s); ``send_error`` maps a sent
    message to an error string for its completion (``None``: success).
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
        if event_handler is not None and not isinstance(event_handler, EventHandler):
            raise TypeError("event_handler should be a subclass of `EventHandler`")
        self._h = event_handler
        self._q: queue.Queue[Job | None] = queue.Queue()
        self._released = False
        self._joined = False
        self._room_ended: str | None = None
        self._local_id = str(uuid.uuid4())
        self._user_name: str | None = None
        self._sdk = sdk
        self._rng = random.Random(seed)
        self._deferred: list[Job] = []
        self._unhang = threading.Event()
        self._lock = threading.Lock()
        self._pending_joins = 0
        self.join_outcome = join_outcome
        self.join_outcomes = list(join_outcomes)
        self.join_delay = join_delay
        self.remote_participants = [dict(p) for p in remote_participants]
        self.shuffle_completions = shuffle_completions
        self.participants_block = participants_block
        self.release_delay = release_delay
        self.send_error = send_error
        self.linger = linger
        self.sent: list[tuple[Any, str | None]] = []
        """Every app-message delivered to the room: ``(message, participant_id)``."""
        self.joins: list[tuple[str, str | None, Any]] = []
        """Every join call: ``(meeting_url, meeting_token, client_settings)``."""
        self.leave_calls = 0
        self.participants_calls = 0
        self.subscription_profiles: list[Any] = []
        self.completion_order: list[int] = []
        """The ``sent`` index of each successful send completion, in completion order."""
        self.callbacks: list[tuple[str, str]] = []
        """Every callback run: ``(name, thread name)``."""
        self.off_emitter: list[str] = []
        """Callbacks that ran on another thread than the emitter (should stay empty)."""
        self.callback_errors: list[str] = []
        self._worker = threading.Thread(target=self._run, name="fake-daily-emitter", daemon=True)
        self._worker.start()

    # -- the emitter thread ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                job = self._q.get(timeout=self.linger) if self._deferred else self._q.get()
            except queue.Empty:
                self._flush_deferred()
                continue
            if job is None:
                self._flush_deferred()
                return
            self._do(job)

    def _do(self, job: Job) -> None:
        try:
            job()
        except Exception:  # the SDK prints and carries on
            self.callback_errors.append(traceback.format_exc())
            traceback.print_exc()

    def _flush_deferred(self) -> None:
        jobs, self._deferred = self._deferred, []
        self._rng.shuffle(jobs)
        for job in jobs:
            self._do(job)

    def _record(self, name: str) -> None:
        current = threading.current_thread()
        self.callbacks.append((name, current.name))
        if current is not self._worker:
            self.off_emitter.append(name)

    def _emit(self, name: str, *args: Any) -> None:
        self._record(name)
        fn = getattr(self._h, name, None) if self._h is not None else None
        if fn is not None:
            fn(*args)

    def _complete(self, name: str, cb: Callable[..., Any] | None, *args: Any) -> None:
        self._record(f"completion:{name}")
        if cb is not None:
            cb(*args)

    def _check(self) -> None:
        if self._released:
            raise RuntimeError("this object has already been released")

    def _local(self) -> dict[str, Any]:
        info: dict[str, Any] = {"isLocal": True, "isOwner": False}
        if self._user_name:
            info["userName"] = self._user_name
        return {"id": self._local_id, "info": info, "media": {}}

    # -- the CallClient API ---------------------------------------------------------------

    def join(
        self,
        meeting_url: str,
        meeting_token: str | None = None,
        client_settings: Any = None,
        completion: Callable[[Any, str | None], None] | None = None,
    ) -> None:
        self._check()
        for v in (meeting_url, meeting_token):
            if v is not None and not isinstance(v, str):
                raise TypeError(f"'{type(v).__name__}' object is not an instance of 'str'")
        outcome = self.join_outcomes.pop(0) if self.join_outcomes else self.join_outcome
        self.joins.append((meeting_url, meeting_token, client_settings))
        with self._lock:
            self._pending_joins += 1

        def fail(err: str, *, state_events: bool) -> None:
            if state_events:
                self._emit("on_call_state_updated", "leaving")
                if self._rng.random() < 0.5:
                    self._emit("on_call_state_updated", "left")
                    self._complete("join", completion, None, err)
                else:
                    self._complete("join", completion, None, err)
                    self._emit("on_call_state_updated", "left")
            else:
                self._complete("join", completion, None, err)
            self._emit("on_error", f"Error handling join: {err}")

        def job() -> None:
            try:
                u = urlparse(meeting_url)
                if not (u.scheme and u.netloc):
                    err = (
                        f'Failed to parse url: InvalidUrl("{meeting_url}", RelativeUrlWithoutBase)'
                    )
                    fail(err, state_events=False)
                    return
                if client_settings is not None and not isinstance(client_settings, dict):
                    err = (
                        'Invalid client settings: JsonApiError { message: "ClientSettings '
                        'is not an object" }'
                    )
                    fail(err, state_events=False)
                    return
                if outcome == "hang":
                    self._unhang.wait()  # until release(): the join never completes
                    return
                time.sleep(self.join_delay)  # real offline failure: ~19 s
                if self._room_ended is not None:
                    fail(self._room_ended, state_events=True)
                elif outcome == "ok":
                    self._emit("on_call_state_updated", "joining")
                    self._joined = True
                    self._emit("on_call_state_updated", "joined")
                    everyone = {"local": self._local()}
                    everyone.update({str(p["id"]): p for p in self.remote_participants})
                    data = {"meetingSession": {"id": str(uuid.uuid4())}, "participants": everyone}
                    self._complete("join", completion, data, None)
                elif outcome.startswith("error:"):
                    fail(outcome.removeprefix("error:"), state_events=True)
                else:
                    self._emit("on_error", _FETCH_FAILED)
                    fail(ROOM_LOOKUP_FAILED, state_events=True)
            finally:
                with self._lock:
                    self._pending_joins -= 1

        self._q.put(job)

    def leave(self, completion: Callable[[str | None], None] | None = None) -> None:
        self._check()
        self.leave_calls += 1

        def job() -> None:
            self._emit("on_call_state_updated", "leaving")
            self._joined = False
            if self._rng.random() < 0.5:
                self._complete("leave", completion, None)
                self._emit("on_call_state_updated", "left")
            else:
                self._emit("on_call_state_updated", "left")
                self._complete("leave", completion, None)

        self._q.put(job)

    def send_app_message(
        self,
        message: Any,
        participant_id: str | None = None,
        completion: Callable[[str | None], None] | None = None,
    ) -> None:
        self._check()
        if message is None:
            raise ValueError(f"invalid app message '{message}'")
        if participant_id is not None:
            if not isinstance(participant_id, str):
                raise TypeError(
                    f"'{type(participant_id).__name__}' object is not an instance of 'str'"
                )
            try:
                uuid.UUID(participant_id)
            except ValueError:
                raise ValueError(f"invalid participant ID '{participant_id}'") from None
        if isinstance(message, bytes | bytearray):
            raise Exception("invalid type: byte array, expected any valid JSON value")

        def default(o: Any) -> Any:
            if isinstance(o, set | frozenset):
                return list(o)
            raise TypeError(f"unsupported type {type(o).__name__}")

        payload = json.loads(json.dumps(message, default=default))
        if _has_huge_int(payload):
            raise Exception("JSON number out of range")

        def job() -> None:
            if not self._joined:
                self._complete("send_app_message", completion, CHANNEL_NOT_OPEN)
                self._emit("on_error", f"Error handling sendAppMessage: {CHANNEL_NOT_OPEN}")
                return
            error = self.send_error(payload) if self.send_error is not None else None
            index = -1
            if error is None:
                index = len(self.sent)
                self.sent.append((payload, participant_id))

            def finish() -> None:
                if index >= 0:
                    self.completion_order.append(index)
                self._complete("send_app_message", completion, error)

            if self.shuffle_completions:
                self._deferred.append(finish)
            else:
                finish()

        self._q.put(job)

    def set_user_name(self, user_name: str) -> None:
        self._check()
        self._user_name = user_name
        self._q.put(lambda: self._emit("on_participant_updated", self._local()))

    def update_subscription_profiles(
        self,
        profile_settings: Mapping[str, Any],
        completion: Callable[[str | None], None] | None = None,
    ) -> None:
        self._check()
        self.subscription_profiles.append(profile_settings)
        self._q.put(lambda: self._complete("update_subscription_profiles", completion, None))

    def participants(self) -> dict[str, Any]:
        """Counts the call; blocks ``participants_block`` s while a join is pending."""
        self._check()
        with self._lock:
            self.participants_calls += 1
            pending = self._pending_joins > 0
        if pending:
            with _FAKE_GIL:
                time.sleep(self.participants_block)
        return {"local": self._local()}

    def participant_counts(self) -> dict[str, int]:
        self._check()
        present = (1 + len(self.remote_participants)) if self._joined else 0
        return {"hidden": 0, "present": present}

    def release(self) -> None:
        self._check()
        if self._sdk is not None and not self._sdk.Daily.initialised:
            raise FakeSdkMisuse("release() after Daily.deinit(): the real SDK aborts here")
        with self._lock:
            pending = self._pending_joins > 0
        if pending:
            time.sleep(self.release_delay)  # the real release waits for the join (~19 s)
        self._unhang.set()
        self._q.put(None)
        self._worker.join()
        self._released = True

    # -- test helpers (each event runs on the emitter thread, in order) ------------------

    @property
    def local_id(self) -> str:
        return self._local_id

    @property
    def joined(self) -> bool:
        return self._joined

    @property
    def released(self) -> bool:
        return self._released

    def inject_app_message(self, message: Any, sender: str) -> None:
        """An app-message from participant ``sender`` arrives."""
        self._q.put(lambda: self._emit("on_app_message", message, sender))

    def inject_participant_joined(self, p: Mapping[str, Any]) -> None:
        def job() -> None:
            self.remote_participants.append(dict(p))
            self._emit("on_participant_joined", p)

        self._q.put(job)

    def inject_participant_updated(self, p: Mapping[str, Any]) -> None:
        self._q.put(lambda: self._emit("on_participant_updated", p))

    def inject_participant_left(self, p: Mapping[str, Any], reason: str = "leftCall") -> None:
        def job() -> None:
            self.remote_participants = [r for r in self.remote_participants if r["id"] != p["id"]]
            self._emit("on_participant_left", p, reason)

        self._q.put(job)

    def drop_network(self, *, left: bool = True) -> None:
        """What a network drop looks like: the signalling connection reports
        ``disconnected``, then (``left``) the call state becomes ``left`` without any
        leave. With ``left=False`` the client stays in the call (only the status)."""

        def job() -> None:
            self._emit(
                "on_network_connection_status_updated",
                {"type": "signaling", "event": "disconnected"},
            )
            if left:
                self._joined = False
                self._emit("on_call_state_updated", "leaving")
                self._emit("on_call_state_updated", "left")

        self._q.put(job)

    def inject_error(self, message: str) -> None:
        """``on_error(message)`` fires."""
        self._q.put(lambda: self._emit("on_error", message))

    def hold(self) -> threading.Event:
        """Stall the emitter until the returned event is set (to order events in tests)."""
        gate = threading.Event()

        def job() -> None:
            gate.wait(5)

        self._q.put(job)
        return gate

    def end_room(self, error_text: str = "Meeting has ended") -> None:
        """The room ends under the bot: ``on_error(error_text)``, then ``left``; later
        joins fail with ``error_text``."""

        def job() -> None:
            self._room_ended = error_text
            self._emit("on_error", error_text)
            self._joined = False
            self._emit("on_call_state_updated", "leaving")
            self._emit("on_call_state_updated", "left")

        self._q.put(job)

    def wait_idle(self, timeout: float = 2.0) -> None:
        """Block until every job queued so far has run (for tests; not on the loop)."""
        done = threading.Event()
        self._q.put(done.set)
        if not done.wait(timeout):
            raise TimeoutError("the fake emitter is still busy")

    def assert_callbacks_on_emitter(self) -> None:
        """Raise ``AssertionError`` if any callback ran outside the emitter thread."""
        assert not self.off_emitter, f"callbacks off the emitter thread: {self.off_emitter}"
        assert not self.callback_errors, "a callback raised:\n" + "\n".join(self.callback_errors)


class _FakeDailyContext:
    """``daily.Daily``: ``init`` / ``deinit`` that raise where the real SDK aborts."""

    def __init__(self) -> None:
        self.initialised = False
        self.init_calls = 0
        self.deinit_calls = 0

    def init(self, worker_threads: int = 2, log_level: Any = None) -> None:
        self.init_calls += 1
        if self.initialised:
            raise FakeSdkMisuse(
                "Daily.init() called twice: the real SDK aborts the process "
                "('Execution context already exists!')"
            )
        self.initialised = True

    def deinit(self) -> None:
        self.deinit_calls += 1
        self.initialised = False


class FakeDaily:
    """A fake ``daily`` module: ``Daily``, ``CallClient``, ``EventHandler`` (the real one).

    ``client_options`` are the :class:`FakeCallClient` options of every client;
    :meth:`configure_next` overrides them for the next client created. ``clients``
    lists the clients in creation order; :attr:`client` is the last one.
    """

    EventHandler: type = EventHandler

    def __init__(self, **client_options: Any) -> None:
        self.Daily = _FakeDailyContext()
        self.client_options = client_options
        self.clients: list[FakeCallClient] = []
        self._next: list[dict[str, Any]] = []

    def init(self, worker_threads: int = 2, log_level: Any = None) -> None:
        """Same as ``Daily.init()``."""
        self.Daily.init(worker_threads, log_level)

    def deinit(self) -> None:
        """Same as ``Daily.deinit()``."""
        self.Daily.deinit()

    def configure_next(self, **options: Any) -> None:
        """Options for the next client only (on top of ``client_options``)."""
        self._next.append(options)

    def CallClient(self, event_handler: Any = None) -> FakeCallClient:
        if not self.Daily.initialised:
            raise FakeSdkMisuse(
                "CallClient() before Daily.init(): the real SDK aborts the process (SIGABRT)"
            )
        options = {**self.client_options, **(self._next.pop(0) if self._next else {})}
        client = FakeCallClient(event_handler, sdk=self, **options)
        self.clients.append(client)
        return client

    @property
    def client(self) -> FakeCallClient:
        """The client created last; ``AssertionError`` if none was."""
        assert self.clients, "no CallClient was created"
        return self.clients[-1]
