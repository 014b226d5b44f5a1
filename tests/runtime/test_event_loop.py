"""CVIBOT_LOOP: the standard loop by default, uvloop on request, a clear error otherwise."""

from __future__ import annotations

import sys

import pytest

from cvibot._errors import ConfigError
from cvibot._event_loop import loop_factory


@pytest.mark.parametrize("value", [None, "", "asyncio", " AsyncIO "])
def test_the_standard_loop_by_default(value: str | None) -> None:
    assert loop_factory({} if value is None else {"CVIBOT_LOOP": value}) is None


def test_uvloop_on_request() -> None:
    uvloop = pytest.importorskip("uvloop")
    assert loop_factory({"CVIBOT_LOOP": "uvloop"}) is uvloop.new_event_loop


def test_uvloop_missing_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import fails
    with pytest.raises(ConfigError, match=r"cvibot\[uvloop\]"):
        loop_factory({"CVIBOT_LOOP": "uvloop"})


def test_an_unknown_loop_is_refused() -> None:
    with pytest.raises(ConfigError, match="'asyncio' or 'uvloop', not 'trio'"):
        loop_factory({"CVIBOT_LOOP": "trio"})
