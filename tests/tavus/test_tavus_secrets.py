"""The API key never shows: not in logs, errors, reprs or rendered tracebacks."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import pytest
import structlog
from tavus_helpers import FAST, KEY, closed_port

from cvibot.tavus import (
    BadRequest,
    NotFound,
    ServerError,
    TavusAPIError,
    TavusClient,
    TavusUnreachable,
    Unauthorized,
)
from doubles.fake_tavus import FakeTavusAPI


async def _exercise(api: TavusClient, fake: FakeTavusAPI) -> list[TavusAPIError]:
    """Successes, retries and every kind of failure; the errors raised."""
    errors: list[TavusAPIError] = []
    conv = await api.create_conversation(persona_id="p_default")
    fake.fail_next(503, times=2)
    await api.get_conversation(conv.conversation_id, verbose=True)
    await api.end_conversation(conv.conversation_id)
    fake.fail_next(400, body={"message": f"key {KEY} is malformed"})
    fake.fail_next(401, body={"error": f"Invalid access token {KEY}"})
    fake.fail_next(500, times=3, body="Traceback: api_key=" + "x" * 270 + KEY)
    fake.drop_next(times=3)
    for call, kind in [
        (api.get_persona("p_default"), BadRequest),
        (api.get_persona("p_default"), Unauthorized),
        (api.get_persona("p_default"), ServerError),
        (api.get_persona("p_default"), TavusUnreachable),
        (api.get_persona("p_missing"), NotFound),
    ]:
        with pytest.raises(kind) as info:
            await call
        errors.append(info.value)
    return errors


def _no_key(*texts: object) -> None:
    for text in texts:
        assert KEY[:10] not in str(text)  # not even a cut-off part of it


async def test_key_absent_from_structlog_entries_and_errors(
    api: TavusClient, fake: FakeTavusAPI, logs: list[dict[str, Any]]
) -> None:
    errors = await _exercise(api, fake)
    assert {e["event"] for e in logs} >= {"tavus.request", "tavus.retry"}
    _no_key(repr(logs))
    for err in errors:
        _no_key(str(err), repr(err), err.server_message, err.args)
    # The server's echo of the key is redacted, the rest of its text kept.
    assert errors[0].server_message == "key *** is malformed"


async def test_key_absent_from_stdlib_logs_over_real_http(
    fake: FakeTavusAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log every request at debug
    with fake.serve() as base_url:
        async with TavusClient(KEY, base_url=base_url, retry=FAST) as api:
            await _exercise(api, fake)
    assert any(r.name.startswith("httpx") for r in caplog.records)
    _no_key(caplog.text)


async def test_key_absent_from_client_repr_and_attributes(fake: FakeTavusAPI) -> None:
    async with TavusClient(KEY, transport=fake.transport()) as api:
        _no_key(repr(api), str(api), repr(vars(api)))
        assert repr(api) == (
            "TavusClient(base_url='https://tavusapi.com/v2', timeout=10.0, retry=RetryPolicy("
            "attempts=3, initial_backoff=0.5, max_backoff=8.0, max_retry_after=30.0))"
        )


async def _raised(api: TavusClient) -> BaseException:
    try:
        await api.get_persona("p_missing")
    except TavusAPIError as exc:
        return exc
    raise AssertionError("no error")


@pytest.mark.parametrize("where", ["fake", "closed port"])
async def test_key_absent_from_tracebacks_with_locals(fake: FakeTavusAPI, where: str) -> None:
    if where == "fake":
        api = TavusClient(KEY, transport=fake.transport(), retry=FAST)
    else:
        api = TavusClient(KEY, base_url=f"http://127.0.0.1:{closed_port()}/v2", retry=FAST)
    async with api:
        err = await _raised(api)
    stdlib = "".join(traceback.TracebackException.from_exception(err, capture_locals=True).format())
    rich = structlog.tracebacks.extract(type(err), err, err.__traceback__, show_locals=True)
    assert "_request" in stdlib
    assert "self = TavusClient(base_url=" in stdlib  # locals are rendered
    _no_key(stdlib, repr(rich))
