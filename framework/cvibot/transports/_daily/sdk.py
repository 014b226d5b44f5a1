"""The daily-python SDK: imported lazily, initialised once per process, never deinit.

``import cvibot`` and ``cvibot --help`` never import ``daily``: :func:`load_sdk` does,
when a Daily transport opens. The real SDK aborts the process (SIGABRT, uncatchable) on
a second ``Daily.init()`` or on ``CallClient()`` before it (daily-python.md §0.1, §4
"Process exit"), so :func:`ensure_initialised` calls ``Daily.init()`` exactly once per
SDK object, under a lock. ``Daily.deinit()`` is never called: a client released after a
deinit also aborts, and the process exits cleanly without it.

Caveat: another library in the same process that calls ``Daily.init()`` itself (pipecat,
for one) cannot be detected; it would abort one of the two.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from cvibot.transports._base import TransportError

__all__ = ["CallClientLike", "ensure_initialised", "load_sdk"]

_init_lock = threading.Lock()
_initialised: dict[int, Any] = {}  # id(sdk) -> sdk (kept alive so the id stays unique)


class CallClientLike(Protocol):
    """The part of ``daily.CallClient`` the transport uses (daily-python.md §2).

    Every method returns at once; completions run later on the client's emitter thread.
    ``participants()`` is deliberately absent: it freezes the process during a join.
    """

    def set_user_name(self, user_name: str) -> None: ...

    def update_subscription_profiles(
        self,
        profile_settings: Mapping[str, Any],
        completion: Callable[[str | None], None] | None = None,
    ) -> None: ...

    def join(
        self,
        meeting_url: str,
        meeting_token: str | None = None,
        client_settings: Mapping[str, Any] | None = None,
        completion: Callable[[Any, str | None], None] | None = None,
    ) -> None: ...

    def leave(self, completion: Callable[[str | None], None] | None = None) -> None: ...

    def send_app_message(
        self,
        message: Any,
        participant_id: str | None = None,
        completion: Callable[[str | None], None] | None = None,
    ) -> None: ...

    def release(self) -> None: ...


def load_sdk() -> Any:
    """Import and return the ``daily`` module (daily-python).

    Raises :class:`TransportError` when it is not installed (no wheel for musl, PyPy or
    macOS < 13: daily-python.md §1).
    """
    try:
        import daily
    except ImportError as exc:
        raise TransportError(
            f"the daily transport needs daily-python, which cannot be imported: {exc}"
        ) from exc
    return daily


def ensure_initialised(sdk: Any) -> None:
    """Call ``sdk.Daily.init()`` unless this process already did for ``sdk``.

    Thread-safe; safe to call before every ``CallClient()``. Exceptions of ``init``
    propagate (the SDK is then not marked initialised).
    """
    key = id(sdk)
    with _init_lock:
        if key in _initialised:
            return
        sdk.Daily.init()
        _initialised[key] = sdk
