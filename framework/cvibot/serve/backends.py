"""Which backend feeds a host: :func:`make_backend` reads ``serve.fleet.backend``."""

from __future__ import annotations

import os
import secrets
import socket

from cvibot.serve.backend import Backend, BackendError
from cvibot.serve.local import LocalBackend
from cvibot.serve.options import ServeOptions

__all__ = ["host_id", "make_backend"]


def host_id() -> str:
    """An id for this process's incarnation: ``<hostname>:<pid>:<4 hex>``, so a restarted
    process never passes for the one before it."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"


def make_backend(options: ServeOptions, *, host: str | None = None) -> Backend:
    """The backend ``options.fleet`` selects, for the host of id ``host``.

    ``local``: :class:`~cvibot.serve.local.LocalBackend`. Raises :class:`BackendError`
    for a backend this build does not have.
    """
    fleet = options.fleet
    if fleet.backend == "local":
        if fleet.settings:
            raise BackendError(
                "serve.fleet: the local backend has no settings besides 'backend' "
                f"(got {', '.join(sorted(fleet.settings))})"
            )
        return LocalBackend(host_id=host or host_id())
    # The redis backend (cvibot.fleet) plugs in here.
    raise BackendError(f"serve.fleet.backend: {fleet.backend!r} is not available in this build")
