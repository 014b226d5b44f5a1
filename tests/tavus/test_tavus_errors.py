"""Every failure maps to one error class with a one-line, human message."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from tavus_helpers import FAST, KEY, closed_port

from cvibot._errors import CvibotError
from cvibot.tavus import (
    BadRequest,
    Conflict,
    NotFound,
    RateLimited,
    RetryPolicy,
    ServerError,
    TavusAPIError,
    TavusClient,
    TavusUnreachable,
    Unauthorized,
    UnexpectedResponse,
)
from doubles.fake_tavus import FakeTavusAPI

ONCE = RetryPolicy(attempts=1)


def _one_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text
    assert text.startswith("Tavus API ")
    return text


async def test_400_carries_the_server_message(api: TavusClient, fake: FakeTavusAPI) -> None:
    with pytest.raises(BadRequest) as info:
        await api.create_conversation(persona_id="p_nobody")
    err = info.value
    assert isinstance(err, TavusAPIError)
    assert isinstance(err, CvibotError)
    assert (err.status, err.method, err.path) == (400, "POST", "/conversations")
    assert err.server_message == "Invalid persona_id: p_nobody does not exist"
    assert not err.concurrency_limit
    assert _one_line(err) == (
        "Tavus API POST /conversations: 400 Bad Request: "
        "Invalid persona_id: p_nobody does not exist"
    )
    assert len(fake.requests) == 1


async def test_concurrency_refusal_says_so_and_is_not_retried() -> None:
    fake = FakeTavusAPI(api_key=KEY, max_concurrent=1)
    async with TavusClient(KEY, transport=fake.transport(), retry=FAST) as api:
        await api.create_conversation(replica_id="r1")
        await api.create_conversation(replica_id="r1", test_mode=True)  # not counted
        with pytest.raises(BadRequest) as info:
            await api.create_conversation(replica_id="r1")
    assert info.value.concurrency_limit
    assert "maximum concurrent conversations" in _one_line(info.value)
    assert "end one" in str(info.value)
    assert len(fake.requests) == 3


async def test_concurrency_refusal_as_429_is_not_retried(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    fake.fail_next(429, times=3, body={"message": "maximum concurrent conversations reached"})
    with pytest.raises(RateLimited) as info:
        await api.create_conversation(persona_id="p_default")
    assert info.value.concurrency_limit
    assert "maximum concurrent conversations" in str(info.value)
    assert len(fake.requests) == 1


async def test_wrong_key_is_unauthorized(fake: FakeTavusAPI) -> None:
    async with TavusClient("not-the-key", transport=fake.transport(), retry=FAST) as api:
        with pytest.raises(Unauthorized) as info:
            await api.get_persona("p_default")
    err = info.value
    assert err.status == 401
    assert "the Tavus API key was refused; check TAVUS_API_KEY" in _one_line(err)
    assert err.server_message == "Invalid access token"
    assert len(fake.requests) == 1


async def test_403_is_unauthorized_too(api: TavusClient, fake: FakeTavusAPI) -> None:
    fake.fail_next(403, body={"error": "forbidden for this plan"})
    with pytest.raises(Unauthorized) as info:
        await api.get_persona("p_default")
    assert info.value.status == 403
    assert info.value.server_message == "forbidden for this plan"


async def test_404_names_the_resource(api: TavusClient) -> None:
    with pytest.raises(NotFound) as conv:
        await api.get_conversation("c_missing")
    assert "conversation 'c_missing' was not found" in _one_line(conv.value)
    assert conv.value.path == "/conversations/c_missing"
    with pytest.raises(NotFound) as end:
        await api.end_conversation("c_missing")
    assert end.value.path == "/conversations/c_missing/end"
    with pytest.raises(NotFound) as persona:
        await api.patch_persona("p_missing", [{"op": "remove", "path": "/context"}])
    assert "persona 'p_missing' was not found" in str(persona.value)


async def test_429_carries_retry_after(fake: FakeTavusAPI) -> None:
    fake.fail_next(429, retry_after=7)
    async with TavusClient(KEY, transport=fake.transport(), retry=ONCE) as api:
        with pytest.raises(RateLimited) as info:
            await api.get_persona("p_default")
    assert info.value.retry_after == 7.0
    assert info.value.status == 429
    assert "too many requests; Tavus asks to retry after 7 s" in _one_line(info.value)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 507])
async def test_5xx_is_a_server_error(fake: FakeTavusAPI, status: int) -> None:
    fake.fail_next(status, body="<html><body>\n  <h1>Bad   gateway</h1>\n</body></html>")
    async with TavusClient(KEY, transport=fake.transport(), retry=ONCE) as api:
        with pytest.raises(ServerError) as info:
            await api.get_persona("p_default")
    assert info.value.status == status
    assert info.value.server_message == "<html><body> <h1>Bad gateway</h1> </body></html>"
    assert "Tavus failed to handle the request" in _one_line(info.value)


async def test_long_error_text_is_trimmed(api: TavusClient, fake: FakeTavusAPI) -> None:
    fake.fail_next(400, body="x" * 5000)
    with pytest.raises(BadRequest) as info:
        await api.get_persona("p_default")
    assert info.value.server_message is not None
    assert len(info.value.server_message) <= 300
    assert info.value.server_message.endswith("…")


async def test_a_multi_line_message_becomes_one_line(api: TavusClient, fake: FakeTavusAPI) -> None:
    fake.fail_next(400, body={"message": "first line\n  second line\r\n"})
    with pytest.raises(BadRequest) as info:
        await api.get_persona("p_default")
    assert _one_line(info.value).endswith(": first line second line")


async def test_structured_error_is_rendered_as_compact_json(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    fake.fail_next(400, body={"error": {"replica_id": ["Missing data for required field."]}})
    with pytest.raises(BadRequest) as info:
        await api.get_persona("p_default")
    assert info.value.server_message == '{"replica_id":["Missing data for required field."]}'


async def test_other_statuses_are_the_base_class(api: TavusClient, fake: FakeTavusAPI) -> None:
    fake.fail_next(418, body={"message": "a teapot"})
    with pytest.raises(TavusAPIError) as info:
        await api.get_persona("p_default")
    assert type(info.value) is TavusAPIError
    assert _one_line(info.value) == "Tavus API GET /personas/p_default: 418 I'm a Teapot: a teapot"


async def test_409_is_a_conflict(api: TavusClient, fake: FakeTavusAPI) -> None:
    fake.fail_next(409, body={"message": "conflict"})
    with pytest.raises(Conflict) as info:
        await api.get_persona("p_default")
    assert _one_line(info.value) == "Tavus API GET /personas/p_default: 409 Conflict: conflict"


async def test_closed_port_is_unreachable(logs: list[dict[str, Any]]) -> None:
    base_url = f"http://127.0.0.1:{closed_port()}/v2"
    async with TavusClient(KEY, base_url=base_url, retry=FAST) as api:
        with pytest.raises(TavusUnreachable) as info:
            await api.get_conversation("c1")
    err = info.value
    assert err.status is None
    assert not err.sent
    assert (err.method, err.path) == ("GET", "/conversations/c1")
    assert _one_line(err).startswith(
        "Tavus API GET /conversations/c1: could not connect to Tavus at http://127.0.0.1:"
    )
    attempts = [e for e in logs if e["event"] == "tavus.request"]
    assert [e["attempt"] for e in attempts] == [1, 2, 3]
    assert all(e["status"] is None and e["error"] == "ConnectError" for e in attempts)


async def test_a_slow_answer_times_out() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1)
        return httpx.Response(200, json={"persona_id": "p"})

    async with TavusClient(
        KEY, timeout=0.05, retry=ONCE, transport=httpx.MockTransport(slow)
    ) as api:
        with pytest.raises(TavusUnreachable) as info:
            await api.get_persona("p")
    assert info.value.sent
    assert "no answer from Tavus at https://tavusapi.com/ within 0.05 s" in str(info.value)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (httpx.Response(200, text="<html>ok</html>"), "the answer is not JSON"),
        (
            httpx.Response(200, json={"status": "active"}),
            "the answer is not a Conversation: conversation_id: Field required",
        ),
        (httpx.Response(200, json=["c1"]), "the answer is not a Conversation"),
    ],
)
async def test_a_malformed_success_is_an_unexpected_response(
    answer: httpx.Response, message: str
) -> None:
    async with TavusClient(KEY, transport=httpx.MockTransport(lambda r: answer)) as api:
        with pytest.raises(UnexpectedResponse, match=message) as info:
            await api.get_conversation("c1")
    _one_line(info.value)
