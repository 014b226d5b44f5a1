"""POST /v1/webhooks/tavus/{secret}: Tavus's conversation callbacks (protocol reference
§9) join, stop and reach the cvibot_webhook hook; nothing is trusted on the callback's
word alone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ingress_helpers import FakeBackend, client_for, sample
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from cvibot.serve._backend import AlreadyEnded, BackendError, ConversationRecord, HostFull
from cvibot.serve._webhooks import (
    TavusCallback,
    WebhookOptions,
    WebhookReceiver,
    webhook_routes,
)
from cvibot.tavus import RetryPolicy, TavusClient
from doubles.fake_tavus import FakeTavusAPI

SECRET = "hook-secret-0123456789"
KEY = "tavus-key"
URL = f"/v1/webhooks/tavus/{SECRET}"
FAST = RetryPolicy(attempts=2, initial_backoff=0.001, max_backoff=0.002)


class Notified:
    def __init__(self) -> None:
        self.callbacks: list[TavusCallback] = []

    async def __call__(self, callback: TavusCallback) -> None:
        self.callbacks.append(callback)


class Setup:
    def __init__(
        self,
        client: httpx.AsyncClient,
        receiver: WebhookReceiver,
        backend: FakeBackend,
        fake: FakeTavusAPI,
        api: TavusClient,
        notified: Notified,
        registry: CollectorRegistry,
    ) -> None:
        self.client, self.receiver, self.backend = client, receiver, backend
        self.fake, self.api, self.notified, self.registry = fake, api, notified, registry

    async def post(self, body: Any, url: str = URL) -> httpx.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = await self.client.post(url, content=raw)
        async with asyncio.timeout(5):
            await self.receiver.settled()
        return response

    async def conversation(self, persona: str = "p_ok", *, ended: bool = False) -> str:
        created = await self.api.create_conversation(persona_id=persona)
        if ended:
            await self.api.end_conversation(created.conversation_id)
        return created.conversation_id

    def count(self, event_type: str, result: str) -> float:
        return sample(self.registry, "cvibot_webhooks_total", event_type=event_type, result=result)


def joined(cid: str, event: str = "system.replica_joined") -> dict[str, Any]:
    return {
        "properties": {"replica_id": "r1"},
        "conversation_id": cid,
        "webhook_url": "https://example.com/hook",
        "event_type": event,
        "message_type": "system",
        "timestamp": "2025-07-11T06:45:47.472000Z",
    }


def make_options(**changes: Any) -> WebhookOptions:
    return WebhookOptions.model_validate(
        {"secret": SECRET, "auto_join": True, "allow_personas": ["p_ok"], **changes}
    )


@pytest.fixture
async def setup(request: pytest.FixtureRequest) -> AsyncIterator[Setup]:
    changes = getattr(request, "param", {})
    fake = FakeTavusAPI(api_key=KEY)
    for pid in ("p_ok", "p_other"):
        fake.add_persona(pid, default_replica_id="r1")
    backend = FakeBackend(delay=0.01)
    notified = Notified()
    registry = CollectorRegistry()
    async with TavusClient(KEY, transport=fake.transport(), retry=FAST) as api:
        receiver = WebhookReceiver(
            make_options(**changes),
            backend=backend,
            tavus=api,
            notify=notified,
            registry=registry,
        )
        async with client_for(receiver.routes()) as client:
            yield Setup(client, receiver, backend, fake, api, notified, registry)


def gets(fake: FakeTavusAPI) -> list[str]:
    return [r.path for r in fake.requests if r.method == "GET"]


# -- joining -----------------------------------------------------------------------------


@pytest.mark.parametrize("event", ["system.replica_joined", "system.pal_joined"])
async def test_an_unknown_active_conversation_is_confirmed_then_enqueued(
    setup: Setup, event: str
) -> None:
    cid = await setup.conversation()
    response = await setup.post(joined(cid, event))
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    [job] = setup.backend.jobs
    assert job.conversation_id == cid
    assert job.conversation_url == f"https://tavus.daily.co/{cid}"  # from the GET
    assert job.source == "webhook"
    assert dict(job.metadata) == {"replica_id": "r1"}
    assert f"/conversations/{cid}" in gets(setup.fake)
    assert setup.count(event, "enqueued") == 1
    [callback] = setup.notified.callbacks
    assert (callback.event_type, callback.conversation_id, callback.replica_id) == (
        event,
        cid,
        "r1",
    )


async def test_three_deliveries_enqueue_once(setup: Setup) -> None:
    cid = await setup.conversation()
    await setup.post(joined(cid))
    await setup.post(joined(cid))
    await setup.post(joined(cid, "system.pal_joined"))
    assert len(setup.backend.jobs) == 1
    assert len(setup.notified.callbacks) == 3  # every callback is passed on
    assert setup.count("system.replica_joined", "duplicate") == 1


async def test_concurrent_deliveries_enqueue_once_and_look_up_once(setup: Setup) -> None:
    cid = await setup.conversation()
    setup.fake.clear_requests()
    raw = json.dumps(joined(cid)).encode()
    responses = await asyncio.gather(*(setup.client.post(URL, content=raw) for _ in range(5)))
    async with asyncio.timeout(5):
        await setup.receiver.settled()
    assert {r.status_code for r in responses} == {200}
    assert len(setup.backend.jobs) == 1
    assert len(gets(setup.fake)) == 1


async def test_a_known_conversation_is_not_looked_up(setup: Setup) -> None:
    setup.backend.records["c_known"] = ConversationRecord("c_known", "active")
    await setup.post(joined("c_known"))
    assert setup.backend.jobs == []
    assert gets(setup.fake) == []
    assert setup.count("system.replica_joined", "known") == 1


async def test_an_ended_conversation_is_refused(setup: Setup) -> None:
    cid = await setup.conversation(ended=True)
    await setup.post(joined(cid))
    assert setup.backend.jobs == []
    assert setup.count("system.replica_joined", "refused") == 1


async def test_a_persona_outside_the_allow_list_is_refused(setup: Setup) -> None:
    cid = await setup.conversation("p_other")
    await setup.post(joined(cid))
    assert setup.backend.jobs == []
    assert setup.count("system.replica_joined", "refused") == 1


@pytest.mark.parametrize("setup", [{"allow_personas": None}], indirect=True)
async def test_without_an_allow_list_any_persona_joins(setup: Setup) -> None:
    cid = await setup.conversation("p_other")
    await setup.post(joined(cid))
    assert len(setup.backend.jobs) == 1


@pytest.mark.parametrize("setup", [{"auto_join": False}], indirect=True)
async def test_without_auto_join_nothing_is_joined(setup: Setup) -> None:
    cid = await setup.conversation()
    await setup.post(joined(cid))
    assert setup.backend.jobs == []
    assert gets(setup.fake) == []
    assert setup.count("system.replica_joined", "ignored") == 1
    assert len(setup.notified.callbacks) == 1


async def test_an_unknown_conversation_id_is_refused_after_one_lookup(setup: Setup) -> None:
    await setup.post(joined("c_forged"))
    await setup.post(joined("c_forged"))
    assert setup.backend.jobs == []
    assert setup.count("system.replica_joined", "refused") == 1
    assert setup.count("system.replica_joined", "duplicate") == 1
    assert gets(setup.fake) == ["/conversations/c_forged"]


async def test_a_failed_lookup_is_retried_by_the_next_delivery(setup: Setup) -> None:
    cid = await setup.conversation()
    setup.fake.fail_next(500, times=2, method="GET", path=f"/conversations/{cid}")
    await setup.post(joined(cid))
    assert setup.backend.jobs == []
    assert setup.count("system.replica_joined", "failed") == 1
    await setup.post(joined(cid))
    assert len(setup.backend.jobs) == 1


@pytest.mark.parametrize(
    ("error", "result"),
    [
        (HostFull(), "refused"),
        (BackendError("redis down"), "failed"),
        (AlreadyEnded(ConversationRecord("c", "ended")), "known"),
    ],
)
async def test_backend_refusals_are_counted(setup: Setup, error: Exception, result: str) -> None:
    cid = await setup.conversation()
    setup.backend.fail_enqueue = error
    await setup.post(joined(cid))
    assert setup.count("system.replica_joined", result) == 1


async def test_without_a_tavus_client_auto_join_is_refused() -> None:
    backend, notified, registry = FakeBackend(), Notified(), CollectorRegistry()
    routes = webhook_routes(
        make_options(), backend=backend, tavus=None, notify=notified, registry=registry
    )
    async with client_for(routes) as client:
        response = await client.post(URL, json=joined("c1"))
        for _ in range(100):
            if notified.callbacks:
                break
            await asyncio.sleep(0.01)
    assert response.status_code == 200
    assert backend.jobs == []
    assert notified.callbacks[0].conversation_id == "c1"
    result = sample(
        registry, "cvibot_webhooks_total", event_type="system.replica_joined", result="refused"
    )
    assert result == 1


# -- shutdown and other events -----------------------------------------------------------


async def test_shutdown_stops_the_conversation_with_its_reason(setup: Setup) -> None:
    setup.backend.records["c9"] = ConversationRecord("c9", "queued")
    body = {
        "properties": {"replica_id": "r1", "shutdown_reason": "participant_left_timeout"},
        "conversation_id": "c9",
        "event_type": "system.shutdown",
        "message_type": "system",
        "timestamp": "2025-07-11T06:50:00.000000Z",
    }
    response = await setup.post(body)
    assert response.status_code == 200
    assert setup.backend.stops == [("c9", "participant_left_timeout")]
    assert setup.count("system.shutdown", "stopped") == 1
    assert gets(setup.fake) == []  # stopping needs no confirmation


async def test_shutdown_of_an_unknown_conversation_is_counted(setup: Setup) -> None:
    await setup.post({"conversation_id": "c0", "event_type": "system.shutdown"})
    assert setup.backend.stops == [("c0", "system.shutdown")]
    assert setup.count("system.shutdown", "unknown_conversation") == 1


@pytest.mark.parametrize(
    "body",
    [
        {
            "conversation_id": "c1",
            "event_type": "application.transcription_ready",
            "properties": {"transcript": [{"role": "user", "content": "hi"}]},
        },
        {"conversation_id": "c1", "event_type": "application.brand_new_thing", "extra": 1},
        {"conversation_id": "c1", "properties": {"guardrail": "no_medical_advice"}},
        {"conversation_id": "c1", "objective_name": "x", "output_variables": {"a": 1}},
    ],
)
async def test_other_callbacks_only_reach_notify(setup: Setup, body: dict[str, Any]) -> None:
    response = await setup.post(body)
    assert response.status_code == 200
    assert setup.backend.jobs == [] and setup.backend.stops == []
    assert gets(setup.fake) == []
    [callback] = setup.notified.callbacks
    assert callback.event_type == body.get("event_type")
    if "extra" in body:
        assert callback.model_extra == {"extra": 1}


async def test_a_failing_notify_is_logged_and_the_action_still_happens(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(callback: TavusCallback) -> None:
        raise RuntimeError("plugin bug")

    monkeypatch.setattr(setup.receiver, "_notify", broken)
    setup.backend.records["c9"] = ConversationRecord("c9", "active")
    response = await setup.post({"conversation_id": "c9", "event_type": "system.shutdown"})
    assert response.status_code == 200
    assert setup.backend.stops == [("c9", "system.shutdown")]


# -- the door ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/webhooks/tavus/wrong-secret-0123456789",
        f"/v1/webhooks/tavus/{SECRET[:-1]}",
        f"/v1/webhooks/tavus/{SECRET}x",
        "/v1/webhooks/tavus/%F0%9F%98%80",
    ],
)
async def test_a_forged_secret_is_404_like_a_missing_path(setup: Setup, path: str) -> None:
    cid = await setup.conversation()
    response = await setup.post(joined(cid), url=path)
    missing = await setup.client.post("/no/such/path", json={})
    assert (response.status_code, response.text) == (missing.status_code, missing.text)
    assert setup.backend.jobs == [] and setup.notified.callbacks == []
    assert setup.count("other", "forged") == 1


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        b"\xff",
        b'{"event_type": 5}',
        b'{"event_type": "system.shutdown", "conversation_id": ["c1"]}',
        b'{"event_type": "system.shutdown", "conversation_id": "has space"}',
        b'{"event_type": "x", "conversation_id": "' + b"c" * 300 + b'"}',
        b'{"event_type": "x", "properties": "nope"}',
        b'{"event_type": "x", "timestamp": {"a": 1}}',
        b'{"event_type": "x", "conversation_id": "\\ud800"}',
        b'{"event_type": "system.\\ud800", "conversation_id": "c1"}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
async def test_a_malformed_body_is_400_and_nothing_happens(setup: Setup, raw: bytes) -> None:
    response = await setup.post(raw)
    assert response.status_code == 400
    assert response.json()["error"].startswith("malformed callback: ")
    assert setup.backend.stops == [] and setup.notified.callbacks == []
    assert setup.count("other", "malformed") == 1


async def test_lone_surrogates_in_properties_are_passed_on(setup: Setup) -> None:
    raw = (
        b'{"event_type": "application.x", "conversation_id": "c1", "properties": {"a": "\\ud800"}}'
    )
    response = await setup.post(raw)
    assert response.status_code == 200
    assert setup.notified.callbacks[0].properties == {"a": "\ud800"}


@pytest.mark.parametrize("setup", [{"max_body_bytes": 2048}], indirect=True)
async def test_a_huge_body_is_413(setup: Setup) -> None:
    body = joined("c1")
    body["properties"]["transcript"] = "x" * 5000
    response = await setup.post(body)
    assert response.status_code == 413
    assert setup.notified.callbacks == []


@pytest.mark.parametrize("setup", [{"max_pending": 1}], indirect=True)
async def test_past_max_pending_callbacks_are_503(setup: Setup) -> None:
    setup.backend.delay = 0.3
    first = await setup.client.post(
        URL, json={"conversation_id": "a", "event_type": "system.shutdown"}
    )
    second = await setup.client.post(
        URL, json={"conversation_id": "b", "event_type": "system.shutdown"}
    )
    async with asyncio.timeout(5):
        await setup.receiver.settled()
    assert (first.status_code, second.status_code) == (200, 503)
    assert setup.backend.stops == [("a", "system.shutdown")]


async def test_the_answer_does_not_wait_for_the_work(setup: Setup) -> None:
    setup.backend.delay = 0.5
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await setup.client.post(
        URL, json={"conversation_id": "a", "event_type": "system.shutdown"}
    )
    took = loop.time() - started
    assert response.status_code == 200 and took < 0.4
    assert setup.receiver.pending == 1
    async with asyncio.timeout(5):
        await setup.receiver.settled()
    assert setup.backend.stops == [("a", "system.shutdown")]


def test_options_are_checked() -> None:
    with pytest.raises(ValidationError, match="secret"):
        WebhookOptions.model_validate({"secret": "short"})
    with pytest.raises(ValidationError, match="URL path part"):
        WebhookOptions.model_validate({"secret": "has/slash/in/it/0123456789"})
    with pytest.raises(ValidationError, match="extra"):
        WebhookOptions.model_validate({"secret": SECRET, "path_secret": "x"})
    options = make_options()
    assert options.allow_personas == ("p_ok",)
    assert "hook-secret" not in repr(options)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    secret=st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#%"),
        min_size=1,
        max_size=40,
    ),
    body=st.binary(max_size=500) | st.just(json.dumps(joined("c1")).encode()),
)
def test_any_other_secret_is_404_and_nothing_happens(secret: str, body: bytes) -> None:
    assume(secret != SECRET)
    backend, notified, registry = FakeBackend(), Notified(), CollectorRegistry()

    async def attempt() -> int:
        receiver = WebhookReceiver(
            make_options(), backend=backend, tavus=None, notify=notified, registry=registry
        )
        async with client_for(receiver.routes()) as client:
            response = await client.post(f"/v1/webhooks/tavus/{secret}", content=body)
        assert receiver.pending == 0
        return response.status_code

    assert asyncio.run(attempt()) == 404
    assert backend.stops == [] and backend.jobs == [] and notified.callbacks == []
