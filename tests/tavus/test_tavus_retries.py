"""The retry rule: what is retried, how long it waits, and what a create never repeats."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from tavus_helpers import FAST, KEY, events
from tenacity import RetryCallState

from cvibot.tavus import (
    BadRequest,
    NotFound,
    RateLimited,
    RetryPolicy,
    ServerError,
    TavusClient,
    TavusUnreachable,
    Unauthorized,
)
from cvibot.tavus._retry import BackoffWait, parse_retry_after
from doubles.fake_tavus import FakeTavusAPI


async def test_503_twice_then_success(
    api: TavusClient, fake: FakeTavusAPI, logs: list[dict[str, Any]]
) -> None:
    fake.fail_next(503, times=2)
    conv = await api.create_conversation(persona_id="p_default")
    assert conv.status == "active"
    requests = fake.requests
    assert len(requests) == 3
    assert all(r.json == {"persona_id": "p_default"} for r in requests)
    assert len(fake.conversations) == 1

    debug = events(logs, "tavus.request")
    assert [(e["status"], e["attempt"]) for e in debug] == [(503, 1), (503, 2), (200, 3)]
    assert all(e["log_level"] == "debug" and e["method"] == "POST" for e in debug)
    assert all(isinstance(e["latency_ms"], float) for e in debug)
    retries = events(logs, "tavus.retry")
    assert [(e["log_level"], e["attempt"], e["status"]) for e in retries] == [
        ("warning", 1, 503),
        ("warning", 2, 503),
    ]
    assert all(0 <= e["wait_s"] <= FAST.max_backoff for e in retries)


async def test_429_retry_after_is_honoured(
    api: TavusClient, fake: FakeTavusAPI, logs: list[dict[str, Any]]
) -> None:
    fake.fail_next(429, retry_after="0.2")
    started = time.monotonic()
    persona = await api.get_persona("p_default")
    elapsed = time.monotonic() - started
    assert persona.persona_id == "p_default"
    assert len(fake.requests) == 2
    assert elapsed >= 0.2
    (retry,) = events(logs, "tavus.retry")
    assert (retry["status"], retry["wait_s"]) == (429, 0.2)


async def test_429_on_a_create_is_retried(api: TavusClient, fake: FakeTavusAPI) -> None:
    fake.fail_next(429)
    await api.create_conversation(persona_id="p_default")
    assert len(fake.requests) == 2
    assert len(fake.conversations) == 1


async def test_retry_after_beyond_the_cap_is_not_waited_for(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    fake.fail_next(429, retry_after=120)
    started = time.monotonic()
    with pytest.raises(RateLimited) as info:
        await api.get_persona("p_default")
    assert time.monotonic() - started < 0.5
    assert info.value.retry_after == 120.0
    assert len(fake.requests) == 1


@pytest.mark.parametrize(("status", "error"), [(503, ServerError), (429, RateLimited)])
async def test_exhausted_retries_raise_the_mapped_error(
    api: TavusClient, fake: FakeTavusAPI, status: int, error: type[Exception]
) -> None:
    fake.fail_next(status, times=5)
    with pytest.raises(error) as info:
        await api.get_conversation("c1")
    assert getattr(info.value, "status", None) == status
    assert len(fake.requests) == FAST.attempts


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_a_create_is_not_retried_after_an_ambiguous_failure(
    api: TavusClient, fake: FakeTavusAPI, logs: list[dict[str, Any]], status: int
) -> None:
    # The fake creates the conversation, then fails: a retry would create a second one.
    fake.fail_next(status, processed=True, method="POST", path="/conversations")
    with pytest.raises(ServerError) as info:
        await api.create_conversation(persona_id="p_default")
    assert info.value.status == status
    assert len(fake.requests) == 1
    assert len(fake.conversations) == 1
    assert events(logs, "tavus.retry") == []


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_a_read_is_retried_after_the_same_failure(
    api: TavusClient, fake: FakeTavusAPI, status: int
) -> None:
    conv = await api.create_conversation(persona_id="p_default")
    fake.clear_requests()
    fake.fail_next(status, times=2)
    assert (
        await api.get_conversation(conv.conversation_id)
    ).conversation_id == conv.conversation_id
    assert len(fake.requests) == 3


async def test_a_persona_create_and_a_patch_are_not_retried_after_a_500(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    fake.fail_next(500, times=2)
    with pytest.raises(ServerError):
        await api.create_persona(pipeline_mode="echo")
    with pytest.raises(ServerError):
        await api.patch_persona("p_default", [{"op": "add", "path": "/context", "value": "x"}])
    assert len(fake.requests) == 2


async def test_a_dropped_create_is_not_retried(api: TavusClient, fake: FakeTavusAPI) -> None:
    fake.drop_next(processed=True)
    with pytest.raises(TavusUnreachable) as info:
        await api.create_conversation(persona_id="p_default")
    assert info.value.sent
    assert "RemoteProtocolError" in str(info.value)
    assert len(fake.requests) == 1
    assert len(fake.conversations) == 1


async def test_a_dropped_read_is_retried(api: TavusClient, fake: FakeTavusAPI) -> None:
    fake.drop_next(times=2)
    assert (await api.get_persona("p_default")).persona_id == "p_default"
    assert len(fake.requests) == 3


async def test_a_refused_connection_is_retried_even_for_a_create(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    fake.refuse_next(times=2)
    await api.create_conversation(persona_id="p_default")
    assert len(fake.requests) == 1  # the refused attempts never reached the server
    assert len(fake.conversations) == 1


async def test_client_errors_are_never_retried(api: TavusClient, fake: FakeTavusAPI) -> None:
    with pytest.raises(BadRequest):
        await api.create_conversation(persona_id="p_nobody")
    fake.fail_next(401)
    with pytest.raises(Unauthorized):
        await api.get_persona("p_default")
    with pytest.raises(NotFound):
        await api.get_persona("p_nobody")
    assert len(fake.requests) == 3


async def test_one_attempt_means_no_retry(fake: FakeTavusAPI) -> None:
    fake.fail_next(503)
    async with TavusClient(KEY, transport=fake.transport(), retry=RetryPolicy(attempts=1)) as api:
        with pytest.raises(ServerError):
            await api.get_persona("p_default")
    assert len(fake.requests) == 1


def _state(attempt: int, exc: BaseException | None = None) -> RetryCallState:
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    if exc is not None:
        state.set_exception((type(exc), exc, None))
    return state


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    wait = BackoffWait(RetryPolicy(initial_backoff=1.0, max_backoff=3.0, max_retry_after=10))
    for _ in range(50):
        assert 1.0 <= wait(_state(1)) <= 2.0
        assert 2.0 <= wait(_state(2)) <= 3.0
        assert wait(_state(6)) == 3.0
    assert len({wait(_state(1)) for _ in range(20)}) > 1  # jittered
    limited = RateLimited("slow down", retry_after=4.5)
    assert wait(_state(1, limited)) == 4.5


def test_parse_retry_after() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 0.25 ") == 0.25
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    seconds = parse_retry_after(later)
    assert seconds is not None and 25 <= seconds <= 30
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_retry_policy_is_validated() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(initial_backoff=-1)
