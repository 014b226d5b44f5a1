"""The tools endpoints of the client (protocol reference §7.2) against the fake, which
checks bodies as Tavus does."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from tavus_helpers import KEY

from cvibot.tavus import (
    BadRequest,
    Conflict,
    NotFound,
    RegistryTool,
    ServerError,
    TavusAPIError,
    TavusClient,
    UnexpectedResponse,
)
from doubles.fake_tavus import FakeTavusAPI

PAL = "p_default"


def _body(name: str = "lookup_order", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "description": "Look up an order.",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
        },
        "origin": "llm",
        "on_call": "generate_filler",
        "on_resolve": "generate_response",
        "delivery": {"app_message": True},
        **fields,
    }


async def test_create_sends_the_body_and_returns_the_tool_tavus_filled_in(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    tool = await api.create_tool(_body())

    (request,) = fake.requests
    assert (request.method, request.path, request.json) == ("POST", "/tools", _body())
    assert isinstance(tool, RegistryTool)
    assert tool.tool_id.startswith("t") and tool.name == "lookup_order"
    assert (tool.is_system_tool, tool.owner_id) == (False, "u-fake-owner")
    assert (tool.trigger_type, tool.tags, tool.static_filler) == ("in_call", [], None)
    assert tool.document() == fake.tools[tool.tool_id]


async def test_a_perception_tool_is_sent_with_its_null_on_call(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    body = _body("product_shown", origin="vision", on_call=None, on_resolve="fire_and_forget")
    tool = await api.create_tool(body)

    assert fake.requests[0].json["on_call"] is None
    assert (tool.origin, tool.on_call) == ("vision", None)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_body("9lives"), "Invalid tool name '9lives'"),
        (_body(description="x" * 10_000), "exceed 10000 characters"),
        (
            _body(parameters={"type": "object", "properties": {"tavus_id": {}}}),
            "Parameter names starting with 'tavus_' are reserved: ['tavus_id']",
        ),
        (_body(origin="audio", on_resolve="fire_and_forget"), "on_call must be null"),
        (_body(origin="vision", on_call=None), "only allow on_resolve fire_and_forget"),
        (_body(on_call="static_filler"), "static_filler is required"),
        (_body(delivery={"app_message": True, "api": {"url": "https://x"}}), "exactly one"),
        (_body(delivery={"app_message": False}), "exactly one"),
        (_body(origin="screen"), "Invalid value for origin"),
    ],
)
async def test_bodies_tavus_refuses_are_bad_requests_with_its_message(
    api: TavusClient, fake: FakeTavusAPI, body: dict[str, Any], message: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        await api.create_tool(body)

    assert message in (caught.value.server_message or "")
    assert [t["name"] for t in fake.tools.values()] == ["end_call"]


@pytest.mark.parametrize("name", ["lookup_order", "end_call"])
async def test_a_name_taken_in_the_account_is_a_409(
    api: TavusClient, fake: FakeTavusAPI, name: str
) -> None:
    fake.add_tool(**_body())

    with pytest.raises(Conflict) as caught:
        await api.create_tool(_body(name))

    assert caught.value.status == 409
    assert f"A tool named {name} already exists" in str(caught.value)


async def test_an_unknown_field_is_refused_before_sending(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    with pytest.raises(ValidationError):
        await api.create_tool(_body(colour="red"))
    assert fake.requests == []


async def test_a_create_is_not_retried_after_tavus_may_have_acted(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    fake.fail_next(500, method="POST", path="/tools", processed=True)

    with pytest.raises(ServerError):
        await api.create_tool(_body())

    assert [r.method for r in fake.requests] == ["POST"]
    assert sorted(t["name"] for t in fake.tools.values()) == ["end_call", "lookup_order"]


async def test_list_reads_every_page(api: TavusClient, fake: FakeTavusAPI) -> None:
    for n in range(23):
        fake.add_tool(**_body(f"tool_{n:02d}"))

    tools = await api.list_tools(page_size=10)

    assert [t.name for t in tools] == [f"tool_{n:02d}" for n in range(23)]
    assert [r.query for r in fake.requests] == [
        {"limit": "10", "page": str(page), "type": "user"} for page in (1, 2, 3)
    ]
    assert [t.name for t in await api.list_tools(tool_type="system")] == ["end_call"]
    assert len(await api.list_tools(tool_type=None)) == 24


async def test_a_list_without_total_count_ends_at_a_short_page(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    page = {"data": [{"tool_id": "t1", "name": "a"}, {"tool_id": "t2", "name": "b"}]}
    fake.fail_next(200, body=page, path="/tools")
    fake.fail_next(200, body={"data": [{"tool_id": "t3", "name": "c"}]}, path="/tools")

    tools = await api.list_tools(page_size=2)

    assert [t.tool_id for t in tools] == ["t1", "t2", "t3"]
    assert len(fake.requests) == 2


@pytest.mark.parametrize("body", [[], {"data": {}}, {"data": [{"name": "no id"}]}])
async def test_a_list_of_another_shape_is_unexpected(
    api: TavusClient, fake: FakeTavusAPI, body: Any
) -> None:
    fake.fail_next(200, body=body, path="/tools")

    with pytest.raises(UnexpectedResponse):
        await api.list_tools()


async def test_update_sends_only_the_fields_given_nulls_included(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    created = fake.add_tool(**_body(on_call="static_filler", static_filler="One moment."))

    tool = await api.update_tool(
        created["tool_id"], {"on_call": "generate_filler", "static_filler": None}
    )

    (request,) = fake.requests
    assert (request.method, request.path) == ("PATCH", f"/tools/{created['tool_id']}")
    assert request.json == {"on_call": "generate_filler", "static_filler": None}
    assert (tool.on_call, tool.static_filler, tool.description) == (
        "generate_filler",
        None,
        "Look up an order.",
    )


async def test_update_refusals(api: TavusClient, fake: FakeTavusAPI) -> None:
    with pytest.raises(ValueError, match="at least one field"):
        await api.update_tool("t1", {})
    with pytest.raises(NotFound, match="tool 't-none' was not found"):
        await api.update_tool("t-none", {"description": "x"})
    (system,) = await api.list_tools(tool_type="system")
    with pytest.raises(BadRequest, match="system tool"):
        await api.update_tool(system.tool_id, {"description": "x"})
    taken = fake.add_tool(**_body("taken"))
    mine = fake.add_tool(**_body("mine"))
    with pytest.raises(TavusAPIError) as caught:
        await api.update_tool(mine["tool_id"], {"name": "taken"})
    assert caught.value.status == 409
    assert fake.tools[taken["tool_id"]]["name"] == "taken"


async def test_attach_list_and_detach(api: TavusClient, fake: FakeTavusAPI) -> None:
    a, b = fake.add_tool(**_body("a")), fake.add_tool(**_body("b"))

    attached = await api.attach_tools(PAL, [a["tool_id"], b["tool_id"], a["tool_id"]])
    assert [t.name for t in attached] == ["a", "b"]
    assert fake.requests[-1].json == {"tool_ids": [a["tool_id"], b["tool_id"], a["tool_id"]]}
    await api.attach_tools(PAL, [a["tool_id"]])  # again: a no-op
    assert [t.name for t in await api.list_pal_tools(PAL)] == ["a", "b"]

    await api.detach_tool(PAL, a["tool_id"])
    assert [t.name for t in await api.list_pal_tools(PAL)] == ["b"]
    assert a["tool_id"] in fake.tools  # detached, not deleted
    with pytest.raises(NotFound, match="is not attached"):
        await api.detach_tool(PAL, a["tool_id"])


async def test_attach_refusals(api: TavusClient, fake: FakeTavusAPI) -> None:
    with pytest.raises(ValueError, match="at least one"):
        await api.attach_tools(PAL, [])
    with pytest.raises(ValueError, match="not one string"):
        await api.attach_tools(PAL, "t1")
    with pytest.raises(ValueError, match="at most 50"):
        await api.attach_tools(PAL, [f"t{n}" for n in range(51)])
    assert fake.requests == []

    with pytest.raises(NotFound, match="persona 'p_none' was not found"):
        await api.attach_tools("p_none", ["t1"])
    with pytest.raises(BadRequest, match="t-none does not exist"):
        await api.attach_tools(PAL, ["t-none"])
    (system,) = await api.list_tools(tool_type="system")
    with pytest.raises(BadRequest, match="system tool"):
        await api.attach_tools(PAL, [system.tool_id])
    ids = [fake.add_tool(**_body(f"t_{n}"))["tool_id"] for n in range(51)]
    fake.attach(PAL, *ids[:50])
    with pytest.raises(BadRequest, match="at most 50 tools"):
        await api.attach_tools(PAL, [ids[50]])
    assert len(fake.attached_tools(PAL)) == 50


async def test_system_tools_are_never_on_a_pals_list(api: TavusClient) -> None:
    assert await api.list_pal_tools(PAL) == []
    with pytest.raises(NotFound, match="persona 'p_none' was not found"):
        await api.list_pal_tools("p_none")


async def test_delete_removes_the_tool_everywhere(api: TavusClient, fake: FakeTavusAPI) -> None:
    tool = fake.add_tool(**_body())
    fake.attach(PAL, tool["tool_id"])

    await api.delete_tool(tool["tool_id"])

    assert tool["tool_id"] not in fake.tools
    assert fake.attached_tools(PAL) == []
    with pytest.raises(NotFound):
        await api.get_tool(tool["tool_id"])


async def test_pals_are_personas(fake: FakeTavusAPI) -> None:
    async with httpx.AsyncClient(
        base_url="https://tavusapi.com/v2", transport=fake.transport()
    ) as raw:
        response = await raw.get(f"/pals/{PAL}", headers={"x-api-key": KEY})
    assert response.status_code == 200
    assert response.json() == fake.personas[PAL]
