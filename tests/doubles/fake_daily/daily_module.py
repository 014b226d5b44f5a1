"""The fake ``daily`` module, and the guards where the real SDK aborts the process.

The real SDK aborts (SIGABRT, §0.1) on ``CallClient()`` before ``Daily.init()``, on a
second ``Daily.init()``, and on ``release()`` after ``Daily.deinit()``; the fake raises
:class:`FakeSdkMisuse` instead.
"""

from __future__ import annotations

from typing import Any

from doubles.fake_daily.call_client import FakeCallClient
from doubles.fake_daily.rejections import EventHandler

__all__ = ["FakeDaily", "FakeSdkMisuse"]


class FakeSdkMisuse(RuntimeError):
    """A call that makes the real SDK abort the process (SIGABRT, §0.1)."""


class _FakeDailyContext:
    """``daily.Daily``: ``init`` / ``deinit``, and the checks of the three misuses."""

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

    def check_call_client(self) -> None:
        """What ``CallClient()`` checks first."""
        if not self.initialised:
            raise FakeSdkMisuse(
                "CallClient() before Daily.init(): the real SDK aborts the process (SIGABRT)"
            )

    def check_release(self) -> None:
        """What a client's ``release()`` checks (after its own released check)."""
        if not self.initialised:
            raise FakeSdkMisuse("release() after Daily.deinit(): the real SDK aborts here")


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

    def configure_next(self, **options: Any) -> None:
        """Options for the next client only (on top of ``client_options``)."""
        self._next.append(options)

    def CallClient(self, event_handler: Any = None) -> FakeCallClient:
        self.Daily.check_call_client()
        options = {**self.client_options, **(self._next.pop(0) if self._next else {})}
        client = FakeCallClient(event_handler, sdk=self, **options)
        self.clients.append(client)
        return client

    @property
    def client(self) -> FakeCallClient:
        """The client created last; ``AssertionError`` if none was."""
        assert self.clients, "no CallClient was created"
        return self.clients[-1]
