"""A fleet of ``cvibot serve`` hosts sharing conversations through Redis Streams.

``FleetOptions`` is the ``serve.fleet`` config section; :func:`make_backend` turns it into
the :class:`~cvibot.serve._backend.Backend` the host iterates. The Redis parts need the
``serve`` extra (``pip install 'cvibot[serve]'``); importing this package does not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from cvibot._fleet.options import FleetOptions

if TYPE_CHECKING:
    from cvibot.serve._backend import Backend

__all__ = ["FleetOptions", "make_backend"]


def make_backend(
    options: FleetOptions,
    *,
    local: Callable[[], Backend],
    worker_id: str | None = None,
) -> Backend:
    """The backend ``options.backend`` names: ``local()`` for ``local`` (the host's own
    in-process queue), a :class:`~cvibot._fleet.redis_backend.RedisBackend` for ``redis``
    (not connected yet: the host awaits ``start()``). ``worker_id`` defaults to
    :func:`cvibot.serve._backend.host_id` (``<hostname>:<pid>:<4 hex>``)."""
    if options.backend == "local":
        return local()
    from cvibot._fleet.redis_backend import RedisBackend  # the serve extra

    return RedisBackend(options, worker_id=worker_id)
