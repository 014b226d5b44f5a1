"""The HTTP app through httpx.ASGITransport: probes, auth, every endpoint of the control
API, idempotency, 409/422/503, and hostile bodies."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_helpers import TOKEN, eventually, hosting, room, shutdown

from cvibot._runtime import Bot
from cvibot.serve._app import ServeState, create_app
from cvibot.serve._host import SessionHost
from cvibot.serve._local import LocalBackend
from cvibot.serve._metrics import HostMetrics
from cvibot.serve._options import ServeOptions


async def test_probes_need_no_token_and_say_ready_until_the_drain(bot: Bot) -> None:
    async with hosting(bot, capacity=1) as running, running.http(token=None) as http:
        assert (await http.get("/livez")).status_code == 200
        ready = await http.get("/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
        capacity = await http.get("/capacity")
        assert capacity.status_code == 200
        assert capacity.json() == {
            "capacity": 1,
            "limit": 1,
            "active": 0,
            "free": 1,
            "draining": False,
        }
        metrics = await http.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        for name in (
            "cvibot_sessions_capacity 1.0",
            "cvibot_sessions_limit 1.0",
            "cvibot_worker_draining 0.0",
            'cvibot_conversations{state="active"} 0.0',
            "cvibot_loop_lag_seconds",
            "cvibot_process_threads",
            "process_resident_memory_bytes",
        ):
            assert name in metrics.text, name
        running.host.drain()
        ready = await http.get("/readyz")
        assert (ready.status_code, ready.json()) == (503, {"status": "draining"})
        assert (await http.get("/capacity")).status_code == 503
        assert "cvibot_worker_draining 1.0" in (await http.get("/metrics")).text


class _Unreachable(LocalBackend):
    """A backend that says it cannot be used (a fleet host whose Redis is down)."""

    why: str | None = None

    def unreachable(self) -> str | None:
        return self.why


async def test_readiness_is_503_while_the_backend_is_unreachable_and_liveness_is_not(
    bot: Bot,
) -> None:
    backend = _Unreachable(host_id="h")
    async with hosting(bot, backend=backend) as running, running.http(token=None) as http:
        assert (await http.get("/readyz")).status_code == 200
        backend.why = "redis has not answered for 10.0 s"
        ready = await http.get("/readyz")
        assert (ready.status_code, ready.json()) == (
            503,
            {"status": "backend unreachable", "error": "redis has not answered for 10.0 s"},
        )
        assert (await http.get("/livez")).status_code == 200
        backend.why = None
        assert (await http.get("/readyz")).status_code == 200
        backend.why = "down"
        running.host.drain()
        assert (await http.get("/readyz")).json() == {"status": "draining"}


async def test_capacity_flips_to_503_when_full_but_readiness_does_not(bot: Bot) -> None:
    async with hosting(bot, capacity=1) as running, running.http() as http:
        accepted = await http.post("/v1/conversations", json={"conversation_url": room("c1")})
        assert accepted.status_code == 202
        await eventually(lambda: running.rooms.joined("c1"))
        assert (await http.get("/capacity")).status_code == 503
        assert (await http.get("/readyz")).status_code == 200
        full = await http.post("/v1/conversations", json={"conversation_url": room("c2")})
        assert full.status_code == 503
        assert full.headers["retry-after"] == "5"
        assert full.json() == {"error": "no free capacity"}
        assert (
            'cvibot_conversations_refused_total{reason="full"} 1.0'
            in (await http.get("/metrics")).text
        )


@pytest.mark.parametrize(
    "request_",
    [
        ("POST", "/v1/conversations"),
        ("GET", "/v1/conversations"),
        ("GET", "/v1/conversations/c1"),
        ("POST", "/v1/conversations/c1/stop"),
    ],
)
@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", ""])
async def test_the_control_api_needs_the_bearer_token(
    bot: Bot, request_: tuple[str, str], token: str | None
) -> None:
    async with hosting(bot) as running, running.http(token=token) as http:
        method, path = request_
        body = {"conversation_url": room("c1")} if method == "POST" else None
        answer = await http.request(method, path, json=body)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json() == {"error": "missing or wrong bearer token"}
        assert running.rooms.sdk.clients == []


async def test_another_scheme_with_the_right_token_is_refused(bot: Bot) -> None:
    async with hosting(bot) as running, running.http(token=None) as http:
        answer = await http.get("/v1/conversations", headers={"Authorization": f"Basic {TOKEN}"})
        assert answer.status_code == 401


async def test_without_a_token_on_loopback_the_api_is_open(bot: Bot) -> None:
    async with hosting(bot, api_token=None) as running, running.http(token=None) as http:
        assert (await http.get("/v1/conversations")).status_code == 200


async def test_start_is_idempotent_and_an_ended_conversation_is_409(bot: Bot) -> None:
    async with hosting(bot) as running, running.http() as http:
        body = {"conversation_url": room("conv-7"), "metadata": {"tenant": "acme"}}
        first = await http.post("/v1/conversations", json=body)
        assert (first.status_code, first.json()) == (
            202,
            {"conversation_id": "conv-7", "state": "queued"},
        )
        await eventually(lambda: running.host.states().get("conv-7") == "active")
        again = await http.post("/v1/conversations", json=body)
        assert (again.status_code, again.json()["state"]) == (202, "active")
        assert len(running.rooms.sdk.clients) == 1

        running.rooms.say("conv-7", shutdown("conv-7"))
        await eventually(lambda: running.host.active == 0)
        ended = await http.post("/v1/conversations", json=body)
        assert ended.status_code == 409
        assert ended.json()["conversation"]["state"] == "ended"
        assert ended.json()["error"] == "conversation conv-7 is ended"


async def test_get_list_and_stop(bot: Bot) -> None:
    async with hosting(bot, capacity=3) as running, running.http() as http:
        for cid in ("a1", "b2"):
            await http.post("/v1/conversations", json={"conversation_url": room(cid)})
        await eventually(lambda: running.host.states() == {"a1": "active", "b2": "active"})
        one = await http.get("/v1/conversations/a1")
        assert one.status_code == 200
        got = one.json()
        assert (got["conversation_id"], got["state"], got["owner"]) == ("a1", "active", "test-host")
        assert got["joined_at"] is not None and got["tool_calls"] == 0
        assert (await http.get("/v1/conversations/zz")).status_code == 404

        stop = await http.post("/v1/conversations/a1/stop", json={"reason": "done here"})
        assert stop.status_code == 202
        await eventually(lambda: running.host.active == 1)
        assert (await http.get("/v1/conversations/a1")).json()["reason"] == "done here"
        # An empty body is allowed; an unknown conversation is 404.
        assert (await http.post("/v1/conversations/zz/stop")).status_code == 404

        listed = (await http.get("/v1/conversations")).json()["data"]
        assert [r["conversation_id"] for r in listed] == ["a1", "b2"]  # latest update first
        stopped = (await http.get("/v1/conversations", params={"state": "stopped"})).json()
        assert [r["conversation_id"] for r in stopped["data"]] == ["a1"]
        limited = (await http.get("/v1/conversations", params={"limit": "1"})).json()
        assert len(limited["data"]) == 1
        for params in ({"state": "sleeping"}, {"limit": "0"}, {"limit": "x"}, {"limit": "5000"}):
            answer = await http.get("/v1/conversations", params=params)
            assert answer.status_code == 422, params


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"conversation_url": "tavus.daily.co/c1"}, 422, "needs http:// or https://"),
        ({"conversation_url": "https://"}, 422, "not valid"),
        ({"conversation_url": "https://tavus.daily.co/"}, 422, "give conversation_id"),
        ({"conversation_url": "https://tavus.daily.co/a b"}, 422, "give conversation_id"),
        ({"conversation_url": "https://bad host/c1"}, 422, "not valid"),
        ({"conversation_url": 5}, 422, "conversation_url: Input should be a valid string"),
        ({}, 422, "either conversation_url or create"),
        ({"conversation_url": room("c1"), "create": {}}, 422, "not both"),
        ({"create": {"persona": "p1"}}, 422, "create.persona: Extra inputs"),
        ({"conversation_url": room("c1"), "extra": 1}, 422, "extra: Extra inputs"),
        ({"conversation_url": room("c1"), "metadata": {"a": 1}}, 422, "metadata.a"),
        ({"conversation_url": room("c1"), "conversation_id": "a/b"}, 422, "conversation_id"),
        ({"conversation_url": room("c1"), "meeting_token": ""}, 422, "meeting_token"),
    ],
)
async def test_malformed_start_requests_are_422_with_a_clear_message(
    bot: Bot, body: dict[str, Any], status: int, says: str
) -> None:
    async with hosting(bot) as running, running.http() as http:
        answer = await http.post("/v1/conversations", json=body)
        assert answer.status_code == status
        assert says in answer.json()["error"]
        assert running.rooms.sdk.clients == []


@pytest.mark.parametrize(
    ("raw", "status", "says"),
    [
        (b"", 400, "empty"),
        (b"not json", 400, "not JSON"),
        (b"\xff\xfe", 400, "not JSON"),
        (b"[1, 2]", 400, "not list"),
        (b'"text"', 400, "not str"),
        (b"[" * 5000 + b"]" * 5000, 400, None),
        (json.dumps({"metadata": {"a": {"b": 1}}}).encode(), 422, None),
        (b'{"x": ' + b"[" * 40 + b"]" * 40 + b"}", 400, "nests deeper"),
        (b"{" + b'"k": 1,' * 20000 + b'"z": 2}', 413, "larger than 65536 bytes"),
    ],
)
async def test_hostile_bodies_get_a_4xx_json_error(
    bot: Bot, raw: bytes, status: int, says: str | None
) -> None:
    async with hosting(bot) as running, running.http() as http:
        answer = await http.post(
            "/v1/conversations", content=raw, headers={"content-type": "application/json"}
        )
        assert answer.status_code == status
        assert isinstance(answer.json()["error"], str)
        if says is not None:
            assert says in answer.json()["error"]


async def test_a_streamed_body_over_the_limit_is_cut_off(bot: Bot) -> None:
    async def chunks() -> Any:
        for _ in range(100):
            yield b" " * 4096

    async with hosting(bot) as running, running.http() as http:
        answer = await http.post("/v1/conversations", content=chunks())
        assert answer.status_code == 413


async def test_unknown_paths_and_methods_are_json_errors(bot: Bot) -> None:
    async with hosting(bot) as running, running.http() as http:
        missing = await http.get("/v2/nothing")
        assert (missing.status_code, missing.json()) == (404, {"error": "Not Found"})
        wrong = await http.delete("/v1/conversations")
        assert wrong.status_code == 405 and "error" in wrong.json()


async def test_a_create_request_is_queued_under_an_id_of_its_own(bot: Bot) -> None:
    async with hosting(bot) as running, running.http() as http:
        answer = await http.post("/v1/conversations", json={"create": {"persona_id": "p1"}})
        assert answer.status_code == 202
        cid = answer.json()["conversation_id"]
        assert cid.startswith("create-")


def _idle_app(bot: Bot) -> Any:
    """The app of a host that does not take jobs (every valid start is a 503)."""
    options = ServeOptions(api_token=TOKEN)
    backend = LocalBackend()
    metrics = HostMetrics(capacity=1, limit=1, tools=bot.tools, active=int, loop_lag=float)
    host = SessionHost(bot, backend, options, transport_factory=lambda job: None)  # type: ignore[arg-type,return-value]
    return create_app(ServeState(host, backend, options, metrics, bot))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    raw=st.one_of(
        st.binary(max_size=2000),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(
                    st.sampled_from(["conversation_url", "create", "metadata", "x"]) | st.text(),
                    inner,
                    max_size=4,
                )
            ),
            max_leaves=20,
        ).map(lambda value: json.dumps(value).encode()),
    )
)
def test_any_body_gets_an_answer_never_a_500(bot: Bot, raw: bytes) -> None:
    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=_idle_app(bot))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return await http.post(
                "/v1/conversations", content=raw, headers={"Authorization": f"Bearer {TOKEN}"}
            )

    answer = asyncio.run(post())
    assert answer.status_code in (400, 413, 422, 503), answer.text
    assert isinstance(answer.json()["error"], str)
