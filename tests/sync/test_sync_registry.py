"""The registry target against the fake (in process): what a sync sends, in which order,
what Tavus holds after it, and that a second sync sends nothing (protocol reference §7.2)."""

from __future__ import annotations

import pytest
from sync_helpers import PERSONA, calls, spec, writes

from cvibot._sync import ApplyFailed, apply_plan, read_plan
from cvibot.tavus import BadRequest, TavusClient
from cvibot.tools import ToolSpec, to_registry_tool
from doubles.fake_tavus import FakeTavusAPI


def lookup_order(order_id: str) -> str:
    """Look up an order."""
    return order_id


def add_to_cart(sku: str, quantity: int = 1) -> str:
    """Put a product in the cart."""
    return sku


def product_shown(product: str) -> None:
    """A product is held up to the camera."""


LOOKUP, CART = spec(lookup_order), spec(add_to_cart)
SHOWN = spec(product_shown, origin="vision")
CODE = [LOOKUP, CART, SHOWN]


def _attached_names(fake: FakeTavusAPI) -> list[str]:
    return sorted(t["name"] for t in fake.attached_tools(PERSONA))


async def _sync(api: TavusClient, specs: list[ToolSpec]) -> None:
    await apply_plan(api, await read_plan(api, specs, target="registry", persona_id=PERSONA))


async def test_a_first_sync_creates_and_attaches_every_tool(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    plan = await read_plan(api, CODE, target="registry", persona_id=PERSONA)
    applied = await apply_plan(api, plan)

    assert calls(fake)[:2] == [("GET", f"/pals/{PERSONA}/tools"), ("GET", "/tools")]
    assert fake.requests[1].query == {"limit": "100", "page": "1", "type": "user"}
    creates = [r for r in writes(fake) if r.path == "/tools"]
    assert [r.json for r in creates] == [to_registry_tool(s) for s in (CART, LOOKUP, SHOWN)]
    (attach,) = [r for r in writes(fake) if r.path == f"/pals/{PERSONA}/tools"]
    ids = {t["name"]: t["tool_id"] for t in fake.tools.values()}
    assert attach.json == {
        "tool_ids": [ids["add_to_cart"], ids["lookup_order"], ids["product_shown"]]
    }
    assert [d.action for d in applied.done] == ["create"] * 3 + ["attach"] * 3
    assert _attached_names(fake) == ["add_to_cart", "lookup_order", "product_shown"]


async def test_a_second_sync_sends_no_write(api: TavusClient, fake: FakeTavusAPI) -> None:
    await _sync(api, CODE)
    fake.clear_requests()

    plan = await read_plan(api, CODE, target="registry", persona_id=PERSONA)
    assert plan.empty
    assert plan.unchanged == ("add_to_cart", "lookup_order", "product_shown")
    assert (await apply_plan(api, plan)).done == ()
    assert writes(fake) == []


async def test_changes_update_only_their_fields_and_stale_tools_are_detached(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    stale = fake.add_tool(**{**to_registry_tool(LOOKUP), "description": "Find an order."})
    gone = fake.add_tool(**to_registry_tool(spec(lookup_order, name="old_lookup")))
    unrelated = fake.add_tool(**to_registry_tool(spec(add_to_cart, name="other_bots_tool")))
    fake.attach(PERSONA, stale["tool_id"], gone["tool_id"])

    plan = await read_plan(api, [LOOKUP, CART], target="registry", persona_id=PERSONA)
    applied = await apply_plan(api, plan)

    cart_id = next(t["tool_id"] for t in fake.tools.values() if t["name"] == "add_to_cart")
    assert [(r.method, r.path, r.json) for r in writes(fake)] == [
        ("POST", "/tools", to_registry_tool(CART)),
        ("PATCH", f"/tools/{stale['tool_id']}", {"description": "Look up an order."}),
        ("POST", f"/pals/{PERSONA}/tools", {"tool_ids": [cart_id]}),
        ("DELETE", f"/pals/{PERSONA}/tools/{gone['tool_id']}", None),
    ]
    assert [(d.action, d.name, d.detail) for d in applied.done] == [
        ("create", "add_to_cart", ""),
        ("update", "lookup_order", "description"),
        ("attach", "add_to_cart", ""),
        ("detach", "old_lookup", ""),
    ]
    assert _attached_names(fake) == ["add_to_cart", "lookup_order"]
    # Detached and unrelated tools stay in the account; the system tool is untouched.
    names = sorted(t["name"] for t in fake.tools.values())
    assert names == ["add_to_cart", "end_call", "lookup_order", "old_lookup", "other_bots_tool"]
    assert fake.tools[unrelated["tool_id"]] == unrelated


async def test_detaching_first_keeps_the_persona_within_fifty_tools(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    old = [LOOKUP.with_options(name=f"tool_{n:02d}") for n in range(50)]
    ids = [fake.add_tool(**to_registry_tool(s))["tool_id"] for s in old]
    fake.attach(PERSONA, *ids)
    new = [LOOKUP.with_options(name=f"tool_{n:02d}") for n in range(5, 55)]

    await _sync(api, new)

    methods = [r.method for r in writes(fake)]
    assert methods == ["POST"] * 5 + ["DELETE"] * 5 + ["POST"]
    assert _attached_names(fake) == [f"tool_{n:02d}" for n in range(5, 55)]


async def test_a_failure_says_what_was_applied_before_it(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    fake.fail_next(
        400, body={"message": "A PAL can have at most 50 tools"}, method="POST", path="/pals/*"
    )
    plan = await read_plan(api, [LOOKUP, CART], target="registry", persona_id=PERSONA)

    with pytest.raises(ApplyFailed) as caught:
        await apply_plan(api, plan)

    failure = caught.value
    assert isinstance(failure.error, BadRequest)
    assert "A PAL can have at most 50 tools" in str(failure)
    assert [(d.action, d.name) for d in failure.applied.done] == [
        ("create", "add_to_cart"),
        ("create", "lookup_order"),
    ]
    assert _attached_names(fake) == []
    # Run again, the sync picks up where it stopped.
    await _sync(api, [LOOKUP, CART])
    assert _attached_names(fake) == ["add_to_cart", "lookup_order"]
