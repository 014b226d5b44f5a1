"""Tools with ``delivery: api``: sync writes their ``delivery.api`` block (cvibot serve's
receiver, HMAC auth), compares it despite Tavus scrubbing the secret, and never prints
the secret."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import SecretStr
from sync_helpers import KEY, PERSONA, invoke, spec, stored, write_bot, writes

import cvibot._cli.tools_cmd as tools_cmd
from cvibot._errors import ConfigError, ToolDefinitionError
from cvibot._sync import LimitsExceeded, plan_persona, plan_registry
from cvibot._sync.report import render_plan
from cvibot.config import ToolOverride
from cvibot.tools import to_registry_tool, tool_definitions
from cvibot.tools._export import ApiDelivery
from doubles.fake_tavus import FakeTavusAPI

SECRET = "hmac-secret-that-must-not-leak"
API = ApiDelivery("https://bots.example.com", SECRET, timeout=15)


def lookup_order(order_id: str) -> str:
    """Look up an order."""
    return order_id


def view_cart() -> str:
    """Show the cart."""
    return ""


def test_an_api_tool_is_delivered_to_cvibot_serve_with_hmac() -> None:
    body = to_registry_tool(spec(lookup_order, delivery="api"), api=API)
    assert body["delivery"] == {
        "api": {
            "url": "https://bots.example.com/v1/tools/tavus",
            "method": "POST",
            "timeout": 15,
            "auth": {"type": "hmac", "secret": SECRET},
        }
    }
    # Tavus's own default (fire_and_forget) would throw the result away.
    assert body["on_resolve"] == "generate_response"
    assert to_registry_tool(spec(view_cart), api=API)["delivery"] == {"app_message": True}


def test_a_trailing_slash_in_the_public_url_is_not_doubled() -> None:
    assert (
        ApiDelivery("https://h.example/base/", SECRET).url
        == "https://h.example/base/v1/tools/tavus"
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"public_url": "http://bots.example.com"}, "https://"),
        ({"public_url": "bots.example.com"}, "https://"),
        ({"public_url": "https://bots.example.com/?a=1"}, "query"),
        ({"secret": ""}, "secret"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": 61}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"timeout": True}, "timeout"),
    ],
)
def test_values_tavus_would_refuse_are_refused(kwargs: dict[str, Any], match: str) -> None:
    given: dict[str, Any] = {"public_url": "https://bots.example.com", "secret": SECRET, **kwargs}
    with pytest.raises(ValueError, match=match):
        ApiDelivery(**given)


def test_an_api_tool_without_the_receiver_cannot_be_exported() -> None:
    with pytest.raises(ValueError, match=r"serve.public_url, serve.delivery_api.secret"):
        to_registry_tool(spec(lookup_order, delivery="api"))
    with pytest.raises(ValueError, match="lookup_order"):
        plan_registry([spec(lookup_order, delivery="api")], [], [], PERSONA)


def test_delivery_is_an_option_of_the_config_and_checked() -> None:
    assert ToolOverride.model_validate({"delivery": "api"}).delivery == "api"  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        ToolOverride.model_validate({"delivery": "webhook"})
    assert spec(lookup_order).with_options(delivery="api").delivery == "api"
    with pytest.raises(ToolDefinitionError, match="perception tools"):
        spec(lookup_order, origin="vision", delivery="api")
    with pytest.raises(ToolDefinitionError, match="delivery must be one of"):
        spec(lookup_order, delivery="sms")


def test_a_scrubbed_secret_counts_as_the_same() -> None:
    s = spec(lookup_order, delivery="api")
    scrubbed = API.block(secret="********")
    have = stored(spec(lookup_order), delivery=scrubbed)
    plan = plan_registry([s], [have], [have], PERSONA, api=API)
    assert plan.empty and plan.unchanged == ("lookup_order",)


def test_tavus_defaults_in_the_api_block_are_not_changes() -> None:
    s = spec(lookup_order, delivery="api")
    block = API.block(secret="********")["api"]
    filled = {"api": {**block, "method": "post", "headers": {}, "query_params": None}}
    del filled["api"]["timeout"]
    have = stored(spec(lookup_order), delivery=filled)
    api10 = ApiDelivery(API.public_url, SECRET)  # timeout 10: Tavus's default
    assert plan_registry([s], [have], [have], PERSONA, api=api10).empty


def test_a_moved_receiver_is_an_update_and_the_plan_hides_the_secret() -> None:
    s = spec(lookup_order, delivery="api")
    have = stored(spec(lookup_order), delivery=API.block(secret="********"))
    moved = ApiDelivery("https://new.example.com", SECRET, timeout=15)
    plan = plan_registry([s], [have], [have], PERSONA, api=moved)
    [update] = plan.updates
    assert update.body()["delivery"]["api"]["auth"]["secret"] == SECRET  # sent for real
    text = "\n".join(render_plan(plan))
    assert "new.example.com" in text
    assert SECRET not in text


def test_app_message_to_api_is_an_update() -> None:
    have = stored(spec(lookup_order))
    plan = plan_registry([spec(lookup_order, delivery="api")], [have], [have], PERSONA, api=API)
    [update] = plan.updates
    assert [c.field for c in update.changes] == ["delivery"]
    text = "\n".join(render_plan(plan))
    assert SECRET not in text and '"secret": "********"' in text


def test_the_persona_target_cannot_deliver_over_https() -> None:
    with pytest.raises(LimitsExceeded, match="needs the registry target"):
        plan_persona([spec(lookup_order, delivery="api")], {}, PERSONA)


def test_tool_definitions_pass_the_receiver_on() -> None:
    defs = tool_definitions([spec(lookup_order, delivery="api"), spec(view_cart)], api=API)
    assert [t["delivery"].get("api", {}).get("url") for t in defs["tools"]] == [
        "https://bots.example.com/v1/tools/tavus",
        None,
    ]


# -- reading the receiver from the config ---------------------------------------------------


class _Loaded:
    def error(self, message: str, *keys: str | int) -> ConfigError:
        return ConfigError(message, key=".".join(map(str, keys)))


def _bot(serve: Any) -> Any:
    config = SimpleNamespace() if serve is None else SimpleNamespace(serve=serve)
    return SimpleNamespace(config=config, loaded=_Loaded())


@pytest.mark.parametrize(
    "serve",
    [
        {"public_url": "https://h.example", "delivery_api": {"secret": SECRET, "timeout": 20}},
        SimpleNamespace(
            public_url="https://h.example",
            delivery_api=SimpleNamespace(secret=SecretStr(SECRET), timeout=20.0),
        ),
    ],
)
def test_the_receiver_comes_from_the_serve_section(serve: Any) -> None:
    api = tools_cmd.api_delivery(_bot(serve), [spec(lookup_order, delivery="api")])
    assert api == ApiDelivery("https://h.example", SECRET, 20.0)


def test_no_api_tool_needs_no_serve_section() -> None:
    assert tools_cmd.api_delivery(_bot(None), [spec(lookup_order)]) is None


@pytest.mark.parametrize(
    ("serve", "key"),
    [
        (None, "serve.public_url"),
        ({"delivery_api": {"secret": SECRET}}, "serve.public_url"),
        ({"public_url": "https://h.example"}, "serve.delivery_api.secret"),
        ({"public_url": "https://h.example", "delivery_api": {}}, "serve.delivery_api.secret"),
        (
            {"public_url": "http://h.example", "delivery_api": {"secret": SECRET}},
            "serve.public_url",
        ),
    ],
)
def test_a_missing_receiver_is_a_config_error_at_its_key(serve: Any, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        tools_cmd.api_delivery(_bot(serve), [spec(lookup_order, delivery="api")])
    assert caught.value.key == key
    assert "lookup_order" in str(caught.value)
    assert SECRET not in str(caught.value)


# -- the command line, against the fake Tavus ------------------------------------------------

TOOLS = '''
from cvibot import tool

@tool(delivery="api")
def lookup_order(order_id: str) -> str:
    """Look up an order."""
    return order_id

@tool
def view_cart() -> str:
    """Show the cart."""
    return ""
'''


@pytest.fixture
def base_url(fake: FakeTavusAPI) -> Iterator[str]:
    with fake.serve() as url:
        yield url


def _config(folder: Path, base_url: str) -> Path:
    return write_bot(
        folder, TOOLS, f'tavus: {{base_url: "{base_url}", sync: {{persona_id: {PERSONA}}}}}\n'
    )


def test_without_a_serve_section_sync_is_a_config_error(
    fake: FakeTavusAPI, base_url: str, tmp_path: Path
) -> None:
    result = invoke("tools", "sync", _config(tmp_path, base_url), env={"TAVUS_API_KEY": KEY})
    assert result.exit_code == 2
    assert "serve.public_url" in result.stderr and "lookup_order" in result.stderr
    assert writes(fake) == []


def test_sync_writes_the_block_and_the_next_run_has_nothing_to_change(
    fake: FakeTavusAPI, base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The serve: section's model belongs to cvibot serve; here the seam gives the receiver.
    monkeypatch.setattr(tools_cmd, "api_delivery", lambda bot, specs: API)
    config = _config(tmp_path, base_url)
    env = {"TAVUS_API_KEY": KEY}
    first = invoke("tools", "sync", config, "--yes", env=env)
    assert first.exit_code == 0, first.stderr
    assert SECRET not in first.stdout + first.stderr
    [created] = [t for t in fake.tools.values() if t["name"] == "lookup_order"]
    assert created["delivery"]["api"]["auth"] == {"type": "hmac", "secret": SECRET}
    assert created["on_resolve"] == "generate_response"
    fake.clear_requests()
    second = invoke("tools", "sync", config, "--yes", env=env)
    assert second.exit_code == 0, second.stderr
    assert "nothing to change" in second.stdout
    assert writes(fake) == []


def test_show_prints_the_block_without_the_secret(
    base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tools_cmd, "api_delivery", lambda bot, specs: API)
    result = invoke("tools", "show", _config(tmp_path, base_url), "--format", "registry")
    assert result.exit_code == 0, result.stderr
    assert SECRET not in result.stdout
    [api_tool] = [t for t in json.loads(result.stdout) if t["name"] == "lookup_order"]
    assert api_tool["delivery"]["api"]["auth"] == {"type": "hmac", "secret": "********"}


def test_the_persona_target_refuses_api_tools(
    fake: FakeTavusAPI, base_url: str, tmp_path: Path
) -> None:
    env = {"TAVUS_API_KEY": KEY}
    result = invoke("tools", "sync", _config(tmp_path, base_url), "--target", "persona", env=env)
    assert result.exit_code == 2
    assert "needs the registry target" in result.stderr
    assert writes(fake) == []
