"""Each endpoint: the request sent (method, path, exact body, headers) and the answer mapped."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from tavus_helpers import FAST, KEY

from cvibot._errors import ConfigError
from cvibot.tavus import (
    Conversation,
    ConversationProperties,
    MissingAPIKey,
    PatchOperation,
    Persona,
    TavusClient,
)
from doubles.fake_tavus import FakeTavusAPI


def _only(fake: FakeTavusAPI) -> Any:
    (request,) = fake.requests
    return request


async def test_create_conversation_sends_exactly_the_fields_set(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    conv = await api.create_conversation(
        persona_id="p_default",
        replica_id="r_other",
        conversation_name="Order help",
        custom_greeting="Hello!",
        audio_only=False,
        memory_stores=("shopper-42",),
        properties={"max_call_duration": 600, "enable_recording": False, "new_knob": "x"},
    )
    request = _only(fake)
    assert (request.method, request.path) == ("POST", "/conversations")
    assert request.json == {
        "persona_id": "p_default",
        "replica_id": "r_other",
        "conversation_name": "Order help",
        "custom_greeting": "Hello!",
        "audio_only": False,
        "memory_stores": ["shopper-42"],
        "properties": {"max_call_duration": 600, "enable_recording": False, "new_knob": "x"},
    }
    assert request.authorized
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert "x-api-key" not in request.headers

    assert isinstance(conv, Conversation)
    assert conv.conversation_id.startswith("c")
    assert conv.conversation_url == f"https://tavus.daily.co/{conv.conversation_id}"
    assert conv.status == "active"
    assert conv.conversation_name == "Order help"
    assert conv.created_at is not None
    assert conv.meeting_token is None


async def test_create_conversation_minimal_body(api: TavusClient, fake: FakeTavusAPI) -> None:
    await api.create_conversation(persona_id="p_default")
    assert _only(fake).json == {"persona_id": "p_default"}


async def test_create_conversation_accepts_a_properties_model(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    props = ConversationProperties(participant_left_timeout=0, language="multilingual")
    await api.create_conversation(persona_id="p_default", properties=props)
    assert _only(fake).json["properties"] == {
        "participant_left_timeout": 0,
        "language": "multilingual",
    }


async def test_test_mode_conversation_is_ended_and_private_room_has_a_token(
    api: TavusClient,
) -> None:
    test = await api.create_conversation(persona_id="p_default", test_mode=True)
    assert test.status == "ended"
    private = await api.create_conversation(persona_id="p_default", require_auth=True)
    assert private.status == "active"
    assert private.meeting_token


async def test_bad_argument_is_refused_before_any_request(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    with pytest.raises(ValidationError):
        await api.create_conversation(persona_id="p_default", max_participants=0)
    with pytest.raises(ValidationError):
        await api.create_conversation(properties={"max_call_duration": "long"})
    assert fake.requests == []


async def test_get_conversation_plain_and_verbose(api: TavusClient, fake: FakeTavusAPI) -> None:
    created = await api.create_conversation(persona_id="p_default", callback_url="https://h/x")
    await api.end_conversation(created.conversation_id)
    fake.clear_requests()

    plain = await api.get_conversation(created.conversation_id)
    verbose = await api.get_conversation(created.conversation_id, verbose=True)

    first, second = fake.requests
    assert (first.method, first.path, first.query) == (
        "GET",
        f"/conversations/{created.conversation_id}",
        {},
    )
    assert first.body == b""
    assert second.query == {"verbose": "true"}
    assert plain.status == "ended"
    assert plain.callback_url == "https://h/x"
    assert plain.replica_id == "r_default"
    assert plain.events is None
    assert verbose.shutdown_reason == "end_conversation_endpoint_hit"
    assert [e["event_type"] for e in verbose.events or []] == [
        "system.replica_joined",
        "system.shutdown",
    ]


@pytest.mark.parametrize("end_status", [200, 204])
async def test_end_conversation_succeeds_on_200_and_204(end_status: Any) -> None:
    fake = FakeTavusAPI(api_key=KEY, end_status=end_status)
    async with TavusClient(KEY, transport=fake.transport(), retry=FAST) as api:
        conv = await api.create_conversation(replica_id="r1")
        assert await api.end_conversation(conv.conversation_id) is None
    end = fake.requests[-1]
    assert (end.method, end.path, end.body) == (
        "POST",
        f"/conversations/{conv.conversation_id}/end",
        b"",
    )
    assert fake.conversations[conv.conversation_id]["status"] == "ended"


async def test_create_persona_body_and_answer(api: TavusClient, fake: FakeTavusAPI) -> None:
    layers = {"llm": {"tools": [{"type": "function", "function": {"name": "lookup"}}]}}
    persona = await api.create_persona(
        persona_name="Helper", system_prompt="Be kind.", layers=layers
    )
    request = fake.requests[-1]
    assert (request.method, request.path) == ("POST", "/personas")
    assert request.json == {"persona_name": "Helper", "system_prompt": "Be kind.", "layers": layers}
    assert isinstance(persona, Persona)
    assert persona.persona_id.startswith("p")
    assert persona.persona_name == "Helper"
    assert persona.created_at

    doc = await api.get_persona(persona.persona_id)
    assert fake.requests[-1].path == f"/personas/{persona.persona_id}"
    assert doc.layers == layers
    assert doc.pipeline_mode == "full"


async def test_create_persona_passes_unknown_pipeline_modes(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    persona = await api.create_persona(pipeline_mode="speech-to-speech", default_replica_id="r1")
    assert fake.requests[-1].json == {
        "pipeline_mode": "speech-to-speech",
        "default_replica_id": "r1",
    }
    assert (await api.get_persona(persona.persona_id)).pipeline_mode == "speech-to-speech"


async def test_patch_persona_sends_a_json_patch_array(api: TavusClient, fake: FakeTavusAPI) -> None:
    ops: list[Any] = [
        PatchOperation(op="replace", path="/context", value=None),
        {"op": "add", "path": "/layers/llm", "value": {"tools": []}},
        {"op": "add", "path": "/layers/llm/tools/-", "value": {"type": "function"}},
        PatchOperation.model_validate({"op": "copy", "from": "/persona_name", "path": "/context"}),
        {"op": "test", "path": "/context", "value": "Shop"},
    ]
    assert await api.patch_persona("p_default", ops) is None
    request = fake.requests[-1]
    assert (request.method, request.path) == ("PATCH", "/personas/p_default")
    assert request.json == [
        {"op": "replace", "path": "/context", "value": None},
        {"op": "add", "path": "/layers/llm", "value": {"tools": []}},
        {"op": "add", "path": "/layers/llm/tools/-", "value": {"type": "function"}},
        {"op": "copy", "path": "/context", "from": "/persona_name"},
        {"op": "test", "path": "/context", "value": "Shop"},
    ]
    doc = fake.personas["p_default"]
    assert doc["layers"] == {"llm": {"tools": [{"type": "function"}]}}
    assert doc["context"] == "Shop"


async def test_patch_persona_with_no_change_is_a_success(api: TavusClient) -> None:
    await api.patch_persona(
        "p_default", [{"op": "replace", "path": "/persona_name", "value": "Shop"}]
    )


async def test_patch_persona_refuses_an_empty_or_malformed_patch(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    with pytest.raises(ValueError, match="at least one"):
        await api.patch_persona("p_default", [])
    with pytest.raises(ValidationError, match="needs a value"):
        await api.patch_persona("p_default", [{"op": "add", "path": "/context"}])
    with pytest.raises(ValidationError):
        await api.patch_persona("p_default", [{"op": "merge", "path": "/context", "value": 1}])
    assert fake.requests == []


async def test_unknown_answer_keys_are_kept() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={"conversation_id": "c1", "status": "active", "brand_new": {"a": 1}},
        )

    async with TavusClient(KEY, transport=httpx.MockTransport(handler)) as api:
        conv = await api.get_conversation("c1")
    assert conv.status == "active"
    assert conv.model_extra == {"brand_new": {"a": 1}}


async def test_ids_are_percent_encoded_into_one_path_segment() -> None:
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path)
        return httpx.Response(200, json={"persona_id": "x"})

    async with TavusClient(KEY, transport=httpx.MockTransport(handler)) as api:
        await api.get_persona("../conversations/c1?x=1")
        with pytest.raises(ValueError, match="non-empty"):
            await api.get_conversation("")
    assert seen == [b"/v2/personas/..%2Fconversations%2Fc1%3Fx%3D1"]


async def test_client_sends_the_key_header_to_the_base_url() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    async with TavusClient(
        KEY, base_url="https://stg.example.test/v2", transport=httpx.MockTransport(handler)
    ) as api:
        await api.end_conversation("c1")
    (request,) = seen
    assert str(request.url) == "https://stg.example.test/v2/conversations/c1/end"
    assert request.headers["x-api-key"] == KEY


async def test_from_env_reads_the_key_and_explains_when_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TAVUS_API_KEY", raising=False)
    with pytest.raises(MissingAPIKey, match="TAVUS_API_KEY is not set") as info:
        TavusClient.from_env()
    assert isinstance(info.value, ConfigError)
    monkeypatch.setenv("TAVUS_API_KEY", "  ")
    with pytest.raises(MissingAPIKey):
        TavusClient.from_env()
    monkeypatch.setenv("TAVUS_API_KEY", KEY + "\n")
    async with TavusClient.from_env(timeout=3.0) as client:
        assert "timeout=3.0" in repr(client)


@pytest.mark.parametrize(
    "base_url", ["http://tavusapi.com/v2", "ftp://127.0.0.1/v2", "tavusapi.com/v2"]
)
def test_base_url_must_be_https_unless_loopback(base_url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        TavusClient(KEY, base_url=base_url)


@pytest.mark.parametrize("key", ["", "   ", "has space", "ключ"])
def test_bad_keys_are_refused_without_echoing_them(key: str) -> None:
    with pytest.raises(ValueError) as info:
        TavusClient(key)
    if key.strip():
        assert key not in str(info.value)
