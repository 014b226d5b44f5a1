"""Which backend feeds a host: :func:`make_backend` reads ``serve.fleet``."""

from __future__ import annotations

from cvibot import _fleet as fleet
from cvibot.serve._backend import Backend, host_id
from cvibot.serve._local import LocalBackend
from cvibot.serve._options import ServeOptions

__all__ = ["host_id", "make_backend"]


def make_backend(options: ServeOptions, *, host: str | None = None) -> Backend:
    """The backend ``options.fleet`` selects, for the host of id ``host`` (default
    :func:`~cvibot.serve._backend.host_id`): a :class:`~cvibot.serve._local.LocalBackend`
    for ``local``, a :class:`~cvibot._fleet.redis_backend.RedisBackend` for ``redis``
    (not connected yet: the host awaits ``start()``, which raises
    :class:`~cvibot.serve._backend.BackendError` when Redis cannot be used). See
    :func:`cvibot._fleet.make_backend`.
    """
    ident = host or host_id()
    return fleet.make_backend(
        options.fleet, local=lambda: LocalBackend(host_id=ident), worker_id=ident
    )
