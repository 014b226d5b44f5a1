"""``FleetOptions`` (``serve.fleet``): defaults, ranges, and errors that name their key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from cvibot._fleet import FleetOptions, make_backend
from cvibot._fleet.redis_backend import RedisBackend
from cvibot.config._validation import _validation_error


def _error(**values: Any) -> tuple[str | None, str]:
    """(key, message) of the config error the loader would report for ``values``."""
    with pytest.raises(ValidationError) as info:
        FleetOptions(**values)
    error = _validation_error(info.value, Path("bot.yaml"), {})
    return error.key, str(error)


def test_the_defaults_are_the_documented_production_timings() -> None:
    options = FleetOptions()
    assert options.backend == "local"
    assert (options.lease, options.renew_every, options.reclaim_every) == (15, 5, 2)
    assert (options.claim_batch, options.max_attempts, options.call_fencing) == (8, 5, True)
    assert options.key_prefix == "{cvibot:conversations}"
    assert options.lease_ms == 15_000


@pytest.mark.parametrize(
    ("values", "key", "says"),
    [
        ({"renew_every": 8}, "renew_every", "at most half of lease"),
        ({"lease": 4, "renew_every": 1, "reclaim_every": 5}, "reclaim_every", "at most lease"),
        ({"url": "http://redis"}, "url", "redis://"),
        ({"stream": "a b"}, "stream", "no spaces or braces"),
        ({"group": "{g}"}, "group", "no spaces or braces"),
        ({"lease": 0}, "lease", "greater than 0"),
        ({"claim_batch": 0}, "claim_batch", "at least 1"),
        ({"backend": "kafka"}, "backend", "'local' or 'redis'"),
        ({"leases": 3}, "leases", "unknown key"),
    ],
)
def test_a_bad_value_is_reported_at_its_key(values: dict[str, Any], key: str, says: str) -> None:
    found_key, message = _error(**values)
    assert found_key == key
    assert says in message


def test_options_are_frozen() -> None:
    with pytest.raises(ValidationError):
        FleetOptions().lease = 3  # type: ignore[misc]


def test_make_backend_picks_the_named_backend() -> None:
    sentinel: Any = object()
    assert make_backend(FleetOptions(), local=lambda: sentinel) is sentinel
    backend = make_backend(
        FleetOptions(backend="redis"), local=lambda: sentinel, worker_id="h:1:ab"
    )
    assert isinstance(backend, RedisBackend) and backend.worker_id == "h:1:ab"
    other = make_backend(FleetOptions(backend="redis"), local=lambda: sentinel)
    host, pid, tag = other.worker_id.split(":")  # type: ignore[attr-defined]
    assert host and pid.isdigit() and len(tag) == 4
