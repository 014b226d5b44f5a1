"""Which event loop ``cvibot run`` uses: the standard one, or uvloop on request.

``CVIBOT_LOOP=uvloop`` (with the ``cvibot[uvloop]`` extra installed) runs the bot on
uvloop; unset or ``asyncio`` keeps the standard loop. uvloop makes every loop step
cheaper (about a fifth less per tool call on the fake Daily SDK, see
``bench/bench_dispatch.py``); the standard loop stays the default, so nothing changes
for a bot that did not ask.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping

from cvibot._errors import ConfigError

__all__ = ["ENV_VAR", "loop_factory"]

ENV_VAR = "CVIBOT_LOOP"
"""The environment variable that chooses the loop: ``asyncio`` (default) or ``uvloop``."""


def loop_factory(
    environ: Mapping[str, str] | None = None,
) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The ``loop_factory`` for :class:`asyncio.Runner` that ``CVIBOT_LOOP`` asks for;
    ``None`` for the standard loop.

    Raises :class:`~cvibot._errors.ConfigError` for another value, or for ``uvloop``
    when it is not installed (``pip install 'cvibot[uvloop]'``).
    """
    choice = (environ if environ is not None else os.environ).get(ENV_VAR, "").strip().lower()
    if choice in ("", "asyncio"):
        return None
    if choice != "uvloop":
        raise ConfigError(f"{ENV_VAR} must be 'asyncio' or 'uvloop', not {choice!r}")
    try:
        import uvloop
    except ImportError:
        raise ConfigError(f"{ENV_VAR}=uvloop needs uvloop: pip install 'cvibot[uvloop]'") from None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory
