"""POST /v1/tools/tavus: Tavus's delivery.api tool calls, signed with HMAC, answered by
the bot's handlers through the same dispatcher as a room's calls."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ingress_helpers import client_for, sample, signed
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from cvibot import ToolError
from cvibot._context import ToolContext
from cvibot._runtime import Bot
from cvibot.plugins import hookimpl
from cvibot.serve._api_calls import NoRoom
from cvibot.serve._signature import sign, signature_matches
from cvibot.serve._tools_api import DeliveryApiOptions, tools_api_routes
from cvibot.testing._assembly import build_bot, load_test_config
from cvibot.tools import tool

SECRET = "s3cret-s3cret-s3cret"
URL = "/v1/tools/tavus"
RUNS: Counter[str] = Counter()
RUNS_LOCK = threading.Lock()


def _ran(name: str) -> None:
    with RUNS_LOCK:
        RUNS[name] += 1


@tool(delivery="api")
def lookup_order(order_id: int) -> dict[str, Any]:
    """Look an order up."""
    _ran("lookup_order")
    return {"order_id": order_id, "status": "shipped"}


@tool
async def greet(name: str) -> str:
    """Say hello."""
    _ran("greet")
    return f"Hello, {name}!"


@tool
def refuse(reason: str) -> str:
    """Always refuse."""
    _ran("refuse")
    raise ToolError(f"cannot do that: {reason}")


@tool(timeout=30)
async def slow(seconds: float) -> str:
    """Sleep."""
    _ran("slow")
    await asyncio.sleep(seconds)
    return "woke up"


@tool
async def speak(ctx: ToolContext) -> str:
    """Try to speak in the room."""
    _ran("speak")
    try:
        await ctx.echo("hello")
    except NoRoom as exc:
        return f"no room: {exc}"
    return "spoke"


@tool
async def speak_unguarded(ctx: ToolContext) -> str:
    """Speak without catching."""
    await ctx.respond("hello")
    return "spoke"


class Outcomes:
    def __init__(self) -> None:
        self.seen: list[Any] = []

    @hookimpl
    def cvibot_tool_outcome(self, outcome: Any, session: Any) -> None:
        self.seen.append(outcome)


@pytest.fixture(autouse=True)
def _reset_runs() -> None:
    RUNS.clear()


@pytest.fixture
def outcomes() -> Outcomes:
    return Outcomes()


@pytest.fixture
async def bot(outcomes: Outcomes) -> AsyncIterator[Bot]:
    bot, _ = build_bot(
        load_test_config({}),
        builtins=[outcomes],
        tools=[lookup_order, greet, refuse, slow, speak, speak_unguarded],
    )
    async with bot.active():
        yield bot


def options(**changes: Any) -> DeliveryApiOptions:
    return DeliveryApiOptions.model_validate({"secret": SECRET, **changes})


async def post(client: httpx.AsyncClient, body: Any, **kw: str) -> httpx.Response:
    raw, headers = signed(SECRET, body, **kw)
    return await client.post(URL, content=raw, headers=headers)


def call(
    name: str, arguments: Any, tool_call_id: str | None = "tc1", **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "arguments": arguments, **extra}
    if tool_call_id is not None:
        body["tool_call_id"] = tool_call_id
    return body


def requests(registry: CollectorRegistry, tool: str, status: str) -> float:
    return sample(registry, "cvibot_tools_api_requests_total", tool=tool, status=status)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
async def client(bot: Bot, registry: CollectorRegistry) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(tools_api_routes(options(), bot=bot, registry=registry)) as c:
        yield c


# -- signature ---------------------------------------------------------------------------


async def test_a_signed_flat_call_runs_and_answers_with_the_json_result(
    client: httpx.AsyncClient, registry: CollectorRegistry, outcomes: Outcomes, bot: Bot
) -> None:
    response = await post(client, call("lookup_order", json.dumps({"order_id": 7})))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"order_id": 7, "status": "shipped"}
    assert RUNS["lookup_order"] == 1
    assert (
        sample(registry, "cvibot_tools_api_requests_total", tool="lookup_order", status="success")
        == 1
    )
    await bot.hook_workers.flush(2.0)  # sync observers run in their plugin's thread
    [outcome] = outcomes.seen
    assert (outcome.tool, outcome.kind.value, outcome.tool_call_id) == (
        "lookup_order",
        "success",
        "tc1",
    )


@pytest.mark.parametrize("prefix", ["sha256=", "SHA256="])
async def test_the_signature_may_carry_a_sha256_prefix(
    client: httpx.AsyncClient, prefix: str
) -> None:
    response = await post(client, call("greet", {"name": "Ada"}), prefix=prefix)
    assert (response.status_code, response.text) == (200, "Hello, Ada!")
    assert response.headers["content-type"].startswith("text/plain")


async def test_upper_case_hex_is_the_same_signature(client: httpx.AsyncClient) -> None:
    raw = json.dumps(call("greet", {"name": "Ada"})).encode()
    header = sign(SECRET.encode(), raw).upper()
    response = await client.post(URL, content=raw, headers={"x-tavus-signature": header})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "deadbeef",
        "sha256=",
        sign(b"another secret entirely", b"{}"),
        "x" * 10_000,
    ],
)
async def test_a_missing_or_wrong_signature_is_401_and_the_handler_never_runs(
    client: httpx.AsyncClient, registry: CollectorRegistry, header: str | None
) -> None:
    raw = json.dumps(call("greet", {"name": "Ada"})).encode()
    headers = {} if header is None else {"x-tavus-signature": header}
    response = await client.post(URL, content=raw, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid signature"}
    assert RUNS["greet"] == 0
    assert (
        sample(registry, "cvibot_tools_api_requests_total", tool="unknown", status="unauthorized")
        == 1
    )


async def test_a_signature_of_another_body_is_refused(client: httpx.AsyncClient) -> None:
    raw = json.dumps(call("greet", {"name": "Ada"})).encode()
    other = json.dumps(call("greet", {"name": "Eve"})).encode()
    response = await client.post(
        URL, content=other, headers={"x-tavus-signature": sign(SECRET.encode(), raw)}
    )
    assert response.status_code == 401
    assert RUNS["greet"] == 0


def test_the_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # The check goes through hmac.compare_digest, whatever the header looks like.
    import cvibot.serve._signature as signature

    compared: list[tuple[bytes, bytes]] = []
    real = signature.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signature.hmac, "compare_digest", spy)
    good = sign(b"k", b"body")
    assert signature_matches(b"k", b"body", good)
    assert not signature_matches(b"k", b"body", "0" * 64)
    assert not signature_matches(b"k", b"body", good[:-1])  # a shorter one too
    assert len(compared) == 3


def test_lone_surrogates_in_a_header_are_just_wrong() -> None:
    assert not signature_matches(b"k", b"body", "\ud800" * 64)


# -- body shapes -------------------------------------------------------------------------


async def test_the_envelope_shape_is_read_like_a_room_message(client: httpx.AsyncClient) -> None:
    body = {
        "event_type": "conversation.tool_call",
        "conversation_id": "c123",
        "message_type": "conversation",
        "properties": {
            "name": "lookup_order",
            "arguments": '{"order_id": "42"}',
            "tool_call_id": "call_9",
        },
    }
    response = await post(client, body)
    assert response.status_code == 200
    assert response.json() == {"order_id": 42, "status": "shipped"}


async def test_an_envelope_without_event_type_is_a_tool_call(client: httpx.AsyncClient) -> None:
    body = {"conversation_id": "c1", "properties": {"name": "greet", "arguments": {"name": "Bo"}}}
    response = await post(client, body)
    assert (response.status_code, response.text) == (200, "Hello, Bo!")


async def test_arguments_may_be_an_object(client: httpx.AsyncClient) -> None:
    response = await post(client, call("lookup_order", {"order_id": 1}))
    assert response.json()["order_id"] == 1


@pytest.mark.parametrize(
    "body",
    [
        [],
        "just text",
        42,
        {"event_type": "conversation.utterance", "properties": {"speech": "hi"}},
        {"event_type": "conversation.perception_tool_call", "properties": {"name": "x"}},
        {"hello": "world"},
        {"name": 42, "arguments": {}},
    ],
)
async def test_a_body_that_is_not_a_tool_call_is_400(
    client: httpx.AsyncClient, registry: CollectorRegistry, body: Any
) -> None:
    response = await post(client, body)
    assert response.status_code == 400
    assert isinstance(response.json()["error"], str)
    assert (
        sample(registry, "cvibot_tools_api_requests_total", tool="unknown", status="bad_request")
        == 1
    )


async def test_a_body_that_is_not_json_is_400(client: httpx.AsyncClient) -> None:
    for raw in (b"{not json", b"\xff\xfe", b""):
        response = await post(client, raw)
        assert response.status_code == 400, raw
        assert "body" in response.json()["error"]


# -- answers -----------------------------------------------------------------------------


async def test_a_tool_error_message_goes_back_for_the_llm(client: httpx.AsyncClient) -> None:
    response = await post(client, call("refuse", {"reason": "closed"}))
    assert (response.status_code, response.text) == (200, "cannot do that: closed")


async def test_the_error_status_is_configurable(bot: Bot) -> None:
    routes = tools_api_routes(options(error_status=502), bot=bot, registry=CollectorRegistry())
    async with client_for(routes) as client:
        failed = await post(client, call("refuse", {"reason": "closed"}))
        ok = await post(client, call("greet", {"name": "Al"}, tool_call_id="tc2"))
    assert (failed.status_code, failed.text) == (502, "cannot do that: closed")
    assert ok.status_code == 200


def test_error_status_must_be_200_or_an_error() -> None:
    for bad in (201, 302, 399, 600):
        with pytest.raises(ValidationError, match="error_status"):
            options(error_status=bad)
    with pytest.raises(ValidationError, match="secret"):
        DeliveryApiOptions.model_validate({"secret": "short"})
    with pytest.raises(ValidationError, match="timeout"):
        options(timeout=61)
    with pytest.raises(ValidationError, match="extra"):
        options(hmac_secret="x")


async def test_an_unknown_tool_gets_an_error_answer(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    response = await post(client, call("launch_rocket", {}))
    assert response.status_code == 200
    assert response.text == "unknown tool 'launch_rocket'"
    assert sample(registry, "cvibot_tools_api_requests_total", tool="unknown", status="error") == 1


async def test_invalid_arguments_are_named(client: httpx.AsyncClient) -> None:
    response = await post(client, call("lookup_order", {"order_id": "abc", "x": 1}))
    assert response.text.startswith("invalid arguments for lookup_order: ")
    assert "order_id" in response.text and "x:" in response.text
    assert RUNS["lookup_order"] == 0


async def test_arguments_that_are_not_json_get_an_error_answer(client: httpx.AsyncClient) -> None:
    response = await post(client, call("greet", "{broken"))
    assert response.status_code == 200
    assert response.text.startswith("invalid tool call: properties.arguments is not valid JSON")
    assert RUNS["greet"] == 0


async def test_the_handler_timeout_stays_under_tavuss(bot: Bot) -> None:
    # delivery timeout 1.2 s → handlers get 0.6 s (half of it: timeout - 1 is less).
    routes = tools_api_routes(options(timeout=1.2), bot=bot, registry=CollectorRegistry())
    async with client_for(routes) as client:
        started = asyncio.get_running_loop().time()
        response = await post(client, call("slow", {"seconds": 5}))
        took = asyncio.get_running_loop().time() - started
    assert response.text == "slow timed out after 0.6 s"
    assert took < 1.2


def test_the_cap_is_the_delivery_timeout_minus_one_second() -> None:
    assert options(timeout=10).handler_timeout_cap == 9
    assert options(timeout=1.5).handler_timeout_cap == 0.75


async def test_room_only_actions_raise_a_clear_error(client: httpx.AsyncClient) -> None:
    response = await post(client, call("speak", {}))
    assert response.status_code == 200
    assert response.text.startswith("no room: conversation.echo needs the Daily room")
    assert "delivery.api" in response.text
    unguarded = await post(client, call("speak_unguarded", {}, tool_call_id="tc2"))
    assert unguarded.text == "speak_unguarded failed with an internal error"


# -- redelivery --------------------------------------------------------------------------


async def test_a_redelivered_call_gets_the_first_answer_without_running_again(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    first = await post(client, call("lookup_order", {"order_id": 7}, tool_call_id="dup"))
    # Same id, other arguments: still the first answer.
    again = await post(client, call("lookup_order", {"order_id": 8}, tool_call_id="dup"))
    assert first.json() == again.json() == {"order_id": 7, "status": "shipped"}
    assert RUNS["lookup_order"] == 1
    labels = {"tool": "lookup_order"}
    assert sample(registry, "cvibot_tools_api_requests_total", **labels, status="redelivered") == 1


async def test_concurrent_duplicates_wait_for_the_first(client: httpx.AsyncClient) -> None:
    body = call("slow", {"seconds": 0.2}, tool_call_id="same")
    responses = await asyncio.gather(*(post(client, body) for _ in range(5)))
    assert {r.text for r in responses} == {"woke up"}
    assert RUNS["slow"] == 1


async def test_the_same_id_in_two_conversations_is_two_calls(client: httpx.AsyncClient) -> None:
    for cid in ("c1", "c2"):
        await post(client, call("greet", {"name": "A"}, tool_call_id="t", conversation_id=cid))
    assert RUNS["greet"] == 2


async def test_calls_without_an_id_are_never_taken_for_redeliveries(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(2):
        response = await post(client, call("lookup_order", {"order_id": 3}, tool_call_id=None))
        assert response.json()["order_id"] == 3
    assert RUNS["lookup_order"] == 2


async def test_past_max_concurrent_calls_are_busy(bot: Bot) -> None:
    registry = CollectorRegistry()
    routes = tools_api_routes(options(max_concurrent=1), bot=bot, registry=registry)
    async with client_for(routes) as client:
        slow_call = asyncio.ensure_future(
            post(client, call("slow", {"seconds": 0.3}, tool_call_id="a"))
        )
        await asyncio.sleep(0.05)
        busy = await post(client, call("greet", {"name": "B"}, tool_call_id="b"))
        assert (await slow_call).text == "woke up"
        # Not cached: the redelivery runs.
        retried = await post(client, call("greet", {"name": "B"}, tool_call_id="b"))
    assert busy.text.startswith("greet is busy")
    assert retried.text == "Hello, B!"
    assert sample(registry, "cvibot_tools_api_requests_total", tool="greet", status="busy") == 1


# -- hostile bodies ----------------------------------------------------------------------


async def test_a_huge_body_is_413_before_it_is_read_whole(bot: Bot) -> None:
    routes = tools_api_routes(options(max_body_bytes=2048), bot=bot, registry=CollectorRegistry())
    async with client_for(routes) as client:
        big = call("greet", {"name": "x" * 5000})
        response = await post(client, big)
        assert response.status_code == 413

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: streamed
            for _ in range(10):
                yield b"x" * 1024

        streamed = await client.post(URL, content=chunks(), headers={"x-tavus-signature": "0"})
    assert streamed.status_code == 413
    assert RUNS["greet"] == 0


async def test_a_deeply_nested_body_is_refused_not_crashed(client: httpx.AsyncClient) -> None:
    deep = b'{"name": "greet", "arguments": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = await post(client, deep)
    assert response.status_code == 400
    nested: Any = {}
    for _ in range(200):
        nested = {"a": nested}
    # Past the parser's depth bound, like a room message: an error answer, not a run.
    answered = await post(client, call("greet", {"name": nested}))
    assert answered.status_code == 200
    assert answered.text.startswith("invalid tool call: ") and "deep" in answered.text
    assert RUNS["greet"] == 0


async def test_lone_surrogates_are_answered_as_valid_utf8(client: httpx.AsyncClient) -> None:
    raw = b'{"name": "greet", "arguments": {"name": "\\ud800x"}, "tool_call_id": "s1"}'
    response = await post(client, raw)
    assert response.status_code == 200
    response.content.decode("utf-8")  # strict: no surrogate escaped through
    assert response.text.startswith("Hello, ")


async def test_wrong_types_in_known_fields_are_400(client: httpx.AsyncClient) -> None:
    for body in (
        {"name": "greet", "arguments": {}, "conversation_id": 5},
        {"properties": "nope"},
        {"properties": {"name": "greet"}, "seq": "x"},
    ):
        response = await post(client, body)
        assert response.status_code == 400, body
    assert RUNS["greet"] == 0


# -- property: nothing runs without the signature ----------------------------------------

_PROPERTY_BOT, _ = build_bot(load_test_config({}), tools=[lookup_order, greet, refuse])
_HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300)
_CALLS = st.builds(
    lambda name, args, tcid: json.dumps(
        {"name": name, "arguments": args, "tool_call_id": tcid}
    ).encode(),
    st.sampled_from(["greet", "lookup_order", "refuse"]),
    st.dictionaries(st.sampled_from(["name", "order_id", "reason"]), st.integers() | st.text()),
    st.text(min_size=1, max_size=20),
)


def _near_miss(body: bytes, position: int) -> str:
    good = sign(SECRET.encode(), body)
    i = position % len(good)
    flipped = "0" if good[i] != "0" else "1"
    return good[:i] + flipped + good[i + 1 :]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.one_of(_CALLS, st.binary(max_size=3000)),
    header=st.one_of(st.none(), _HEADER_TEXT, st.integers(0, 63)),
    prefix=st.sampled_from(["", "sha256="]),
)
def test_any_body_without_a_valid_signature_is_401_and_runs_nothing(
    body: bytes, header: str | int | None, prefix: str
) -> None:
    if isinstance(header, int):
        header = prefix + _near_miss(body, header)
    assume(header is None or not signature_matches(SECRET.encode(), body, header))
    RUNS.clear()

    async def attempt() -> int:
        routes = tools_api_routes(options(), bot=_PROPERTY_BOT, registry=CollectorRegistry())
        headers = {} if header is None else {"x-tavus-signature": header}
        async with client_for(routes) as client:
            response = await client.post(URL, content=body, headers=headers)
        return response.status_code

    assert asyncio.run(attempt()) == 401
    assert sum(RUNS.values()) == 0


# -- the bot's life around calls ---------------------------------------------------------


class Lifecycle:
    def __init__(self) -> None:
        self.events: list[str] = []

    @hookimpl
    def cvibot_startup(self) -> None:
        self.events.append("startup")

    @hookimpl
    def cvibot_shutdown(self) -> None:
        self.events.append("shutdown")


async def test_plugins_are_started_for_a_call_when_nothing_holds_the_bot() -> None:
    life = Lifecycle()
    bot, _ = build_bot(load_test_config({}), builtins=[life], tools=[greet])
    routes = tools_api_routes(options(), bot=bot, registry=CollectorRegistry())
    async with client_for(routes) as client:
        response = await post(client, call("greet", {"name": "A"}))
        assert response.text == "Hello, A!"
        for _ in range(100):  # the call's session drains after the answer went out
            if life.events == ["startup", "shutdown"]:
                break
            await asyncio.sleep(0.01)
        assert life.events == ["startup", "shutdown"]
        # Held for its life by a host: started once for many calls.
        async with bot.active():
            for n in range(3):
                await post(client, call("greet", {"name": "B"}, tool_call_id=f"h{n}"))
        assert life.events == ["startup", "shutdown", "startup", "shutdown"]
    assert bot.pool is None  # the sync pool is closed with the last holder
