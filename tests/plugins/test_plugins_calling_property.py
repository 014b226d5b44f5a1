"""Property: pluggy orders the calls, the host binds each plugin's settings and runs them.

For any mix of plugins (named or installed-and-unnamed, ``tryfirst`` / ``trylast`` /
neither, sync or ``async def``, some raising), :meth:`PluginHost.notify` runs every
implementation exactly once, in pluggy's order with unnamed plugins last, each with its
own settings, and returns exactly the exceptions raised, in call order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from cvibot.plugins import PluginHost, hookimpl
from cvibot.plugins._binding import PluginImpls


@dataclass(frozen=True)
class Spec:
    rank: str  # "first", "normal" or "last"
    unnamed: bool
    is_async: bool
    raises: bool


def make_plugin(index: int, spec: Spec, calls: list[tuple[int, Any]]) -> object:
    marker = hookimpl(tryfirst=spec.rank == "first", trylast=spec.rank == "last")

    def record(settings: Mapping[str, Any]) -> None:
        calls.append((index, settings.get("index")))
        if spec.raises:
            raise RuntimeError(f"plugin {index} failed")

    if spec.is_async:

        async def cvibot_session_ended(session: Any, settings: Mapping[str, Any]) -> None:
            await asyncio.sleep(0)
            record(settings)

        impl: Any = cvibot_session_ended
    else:

        def cvibot_session_ended(session: Any, settings: Mapping[str, Any]) -> None:  # type: ignore[misc]
            record(settings)

        impl = cvibot_session_ended

    class Plugin:
        pass

    plugin = Plugin()
    plugin.cvibot_session_ended = marker(impl)  # type: ignore[attr-defined]
    return plugin


def expected_order(specs: list[Spec]) -> list[int]:
    """pluggy's order: tryfirst ones, then the others, each last registered first; then
    the trylast ones, first registered first. Unnamed plugins are registered (after the
    named ones) as trylast."""
    named = [(i, s) for i, s in enumerate(specs) if not s.unnamed]
    unnamed = [i for i, s in enumerate(specs) if s.unnamed]
    first = [i for i, s in reversed(named) if s.rank == "first"]
    normal = [i for i, s in reversed(named) if s.rank == "normal"]
    last = [i for i, s in named if s.rank == "last"]
    return first + normal + last + unnamed


specs_strategy = st.lists(
    st.builds(
        Spec,
        rank=st.sampled_from(["first", "normal", "last"]),
        unnamed=st.booleans(),
        is_async=st.booleans(),
        raises=st.booleans(),
    ),
    max_size=8,
)


@settings(deadline=None)
@given(specs_strategy)
def test_notify_runs_each_once_in_pluggy_order_with_its_own_settings(specs: list[Spec]) -> None:
    # Named plugins are registered before unnamed ones, as the host loads them.
    specs = sorted(specs, key=lambda s: s.unnamed)
    calls: list[tuple[int, Any]] = []
    host = PluginHost()
    for index, spec in enumerate(specs):
        name = f"p{index}"
        impls = PluginImpls(
            make_plugin(index, spec, calls),
            name,
            {"index": index},
            host.pm,
            last=spec.unnamed,
        )
        host.pm.register(impls, name=name)

    with capture_logs() as logs:
        errors = asyncio.run(host.notify("cvibot_session_ended", session="s"))

    order = expected_order(specs)
    failed = [i for i in order if specs[i].raises]
    assert calls == [(index, index) for index in order]
    assert [str(e) for e in errors] == [f"plugin {i} failed" for i in failed]
    assert [log["plugin"] for log in logs] == [f"p{i}" for i in failed]
