"""The fake behaves like the documented endpoints, in process and over real HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import httpx
import pytest
from tavus_helpers import FAST, KEY

from cvibot.tavus import BadRequest, NotFound, ServerError, TavusClient, TavusUnreachable
from doubles.fake_tavus import FakeTavusAPI, apply_json_patch

AUTH = {"x-api-key": KEY}


@pytest.fixture
async def raw(fake: FakeTavusAPI) -> Any:
    """A bare httpx client on the fake: send exactly the bodies the client would refuse."""
    async with httpx.AsyncClient(
        base_url="https://tavusapi.com/v2", transport=fake.transport()
    ) as client:
        yield client


async def test_missing_or_wrong_key_is_401_with_a_json_message(
    raw: httpx.AsyncClient, fake: FakeTavusAPI
) -> None:
    for headers in ({}, {"x-api-key": "nope"}):
        response = await raw.get("/personas/p_default", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"message": "Invalid access token"}
    assert [r.authorized for r in fake.requests] == [False, False]
    assert all("x-api-key" not in r.headers for r in fake.requests)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/conversations/c_none"),
        ("POST", "/conversations/c_none/end"),
        ("GET", "/personas/p_none"),
        ("PATCH", "/personas/p_none"),
        ("GET", "/replicas"),
    ],
)
async def test_unknown_ids_and_paths_are_404(
    raw: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await raw.request(method, path, headers=AUTH, json=[])
    assert response.status_code == 404
    assert "message" in response.json()


async def test_a_known_path_with_another_method_is_405(raw: httpx.AsyncClient) -> None:
    response = await raw.delete("/personas/p_default", headers=AUTH)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, PATCH"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"replica_id": "r1", "persona": "p"}', "Unknown field: persona"),
        (b'{"replica_id": 5}', "Invalid value for replica_id: expected a string"),
        (b'{"replica_id": "r1", "test_mode": "yes"}', "test_mode: expected a boolean"),
        (b'{"replica_id": "r1", "max_participants": 0}', "a positive integer"),
        (b'{"replica_id": "r1", "properties": {"max_call_duration": true}}', "properties."),
        (b'{"replica_id": "r1", "document_retrieval_strategy": "fast"}', "documented values"),
        (b'{"persona_id": "p_none"}', "Invalid persona_id"),
        (b'{"conversation_name": "x"}', "replica_id is required"),
    ],
)
async def test_bad_conversation_bodies_are_400(
    raw: httpx.AsyncClient, fake: FakeTavusAPI, body: bytes, message: str
) -> None:
    response = await raw.post(
        "/conversations", headers={**AUTH, "content-type": "application/json"}, content=body
    )
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert fake.conversations == {}


async def test_pal_era_aliases_and_extra_properties_are_accepted(
    raw: httpx.AsyncClient, fake: FakeTavusAPI
) -> None:
    response = await raw.post(
        "/conversations",
        headers=AUTH,
        json={"pal_id": "p_default", "face_id": "r9", "properties": {"future": 1}},
    )
    assert response.status_code == 200
    (conv,) = fake.conversations.values()
    assert (conv["persona_id"], conv["replica_id"]) == ("p_default", "r9")


async def test_persona_rules(raw: httpx.AsyncClient) -> None:
    full = await raw.post("/personas", headers=AUTH, json={"persona_name": "x"})
    assert full.status_code == 400
    assert "system_prompt is required" in full.json()["message"]
    echo = await raw.post("/personas", headers=AUTH, json={"pipeline_mode": "echo"})
    assert echo.status_code == 200
    assert set(echo.json()) == {"persona_id", "persona_name", "created_at"}


async def test_json_patch_failures_are_400_and_change_nothing(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    before = fake.personas["p_default"]
    bad: list[list[dict[str, Any]]] = [
        [{"op": "test", "path": "/persona_name", "value": "Other"}],
        [{"op": "replace", "path": "/no_such_field", "value": 1}],
        [{"op": "add", "path": "/layers/llm/model", "value": "m"}],  # /layers/llm is absent
        [{"op": "remove", "path": "/layers/0"}],
        [{"op": "replace", "path": "/persona_id", "value": "p_new"}],
        [{"op": "replace", "path": "/persona_name", "value": 7}],
        [
            {"op": "replace", "path": "/context", "value": "changed"},
            {"op": "test", "path": "/context", "value": "not it"},
        ],
    ]
    for ops in bad:
        with pytest.raises(BadRequest):
            await api.patch_persona("p_default", ops)
    assert fake.personas["p_default"] == before


def test_json_patch_follows_rfc_6902() -> None:
    doc = {"a": {"b~c": 1, "d/e": [1, 2]}, "x": [1, 2, 3]}
    ops = [
        {"op": "add", "path": "/a/d~1e/1", "value": 9},
        {"op": "remove", "path": "/x/0"},
        {"op": "move", "from": "/a/b~0c", "path": "/moved"},
        {"op": "copy", "from": "/x", "path": "/y"},
        {"op": "add", "path": "/x/-", "value": 4},
        {"op": "test", "path": "/y", "value": [2, 3]},
        {"op": "test", "path": "/moved", "value": 1.0},
    ]
    assert apply_json_patch(doc, ops) == {
        "a": {"d/e": [1, 9, 2]},
        "x": [2, 3, 4],
        "moved": 1,
        "y": [2, 3],
    }
    assert doc["x"] == [1, 2, 3]  # the input is not modified
    with pytest.raises(ValueError, match="test failed"):
        apply_json_patch({"flag": 1}, [{"op": "test", "path": "/flag", "value": True}])
    with pytest.raises(ValueError, match="into itself"):
        apply_json_patch({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/b/c"}])
    with pytest.raises(ValueError, match="out of range"):
        apply_json_patch({"x": [1]}, [{"op": "add", "path": "/x/5", "value": 0}])


async def test_patch_answers_304_when_nothing_changes(raw: httpx.AsyncClient) -> None:
    same = [{"op": "replace", "path": "/persona_name", "value": "Shop"}]
    response = await raw.patch("/personas/p_default", headers=AUTH, json=same)
    assert (response.status_code, response.content) == (304, b"")
    changed = [{"op": "replace", "path": "/persona_name", "value": "Shop 2"}]
    response = await raw.patch("/personas/p_default", headers=AUTH, json=changed)
    assert response.status_code == 200
    assert response.json()["persona_name"] == "Shop 2"


async def test_faults_match_by_method_and_path_and_count_down(
    raw: httpx.AsyncClient, fake: FakeTavusAPI
) -> None:
    fake.fail_next(502, times=2, method="GET", path="/personas/*", body="bad gateway")
    posted = await raw.post("/personas", headers=AUTH, json={"pipeline_mode": "echo"})
    assert posted.status_code == 200  # the POST does not match
    statuses = [(await raw.get("/personas/p_default", headers=AUTH)).status_code for _ in range(3)]
    assert statuses == [502, 502, 200]
    fake.fail_next(418, body={"custom": True})
    teapot = await raw.get("/personas/p_default")  # faults come before the key check
    assert (teapot.status_code, teapot.json()) == (418, {"custom": True})
    with pytest.raises(ValueError):
        fake.fail_next(500, times=0)


async def test_requests_are_recorded(raw: httpx.AsyncClient, fake: FakeTavusAPI) -> None:
    await raw.get("/conversations/c1", params={"verbose": "true"}, headers=AUTH)
    (request,) = fake.requests
    assert (request.method, request.path, request.query) == (
        "GET",
        "/conversations/c1",
        {"verbose": "true"},
    )
    assert request.headers["host"] == "tavusapi.com"
    assert (request.json, request.body, request.authorized) == (None, b"", True)


async def test_served_over_real_http(fake: FakeTavusAPI) -> None:
    with fake.serve() as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        assert base_url.endswith("/v2")
        async with TavusClient(KEY, base_url=base_url, retry=FAST) as api:
            conv = await api.create_conversation(persona_id="p_default", test_mode=True)
            fake.fail_next(503, times=2)
            got = await api.get_conversation(conv.conversation_id, verbose=True)
            await api.end_conversation(conv.conversation_id)
            await api.patch_persona(
                "p_default", [{"op": "replace", "path": "/persona_name", "value": "Shop"}]
            )  # 304 over HTTP
            with pytest.raises(NotFound):
                await api.get_persona("p_none")
            fake.drop_next(processed=True)
            with pytest.raises(TavusUnreachable) as dropped:
                await api.create_conversation(persona_id="p_default")
            assert dropped.value.sent
            fake.fail_next(500, processed=True)
            with pytest.raises(ServerError):
                await api.create_conversation(persona_id="p_default")
    assert got.status == "ended"
    assert len(fake.conversations) == 3  # one asked for, two created by failed answers
    assert [r.path for r in fake.requests].count("/conversations") == 3
    assert fake.requests[0].headers["content-type"] == "application/json"

    async with TavusClient(KEY, base_url=base_url, retry=FAST) as api:
        with pytest.raises(TavusUnreachable):  # the server is gone with the block
            await api.get_persona("p_default")


def test_served_fake_is_reachable_from_another_process(fake: FakeTavusAPI) -> None:
    script = textwrap.dedent(
        """
        import json, sys, urllib.request
        base, key = sys.argv[1], sys.argv[2]
        body = json.dumps({"persona_id": "p_default", "test_mode": True}).encode()
        req = urllib.request.Request(
            base + "/conversations", data=body, method="POST",
            headers={"x-api-key": key, "content-type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5) as answer:
            print(answer.read().decode())
        """
    )
    with fake.serve() as base_url:
        done = subprocess.run(
            [sys.executable, "-c", script, base_url, KEY],
            capture_output=True,
            text=True,
            timeout=20,
        )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["status"] == "ended"
    assert answer["conversation_id"] in fake.conversations
