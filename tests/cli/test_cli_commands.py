"""``cvibot check``, ``cvibot tools``, ``--help`` and ``--version``."""

from __future__ import annotations

import json
import subprocess
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import EXAMPLE_CONFIG, SHOP_DIR, RunProcess, invoke, write_text

SHOP_PLUGIN = "bots/shop/shop_tools.py"

CLOCK_PLUGIN = "cvibot-clock"

LLM_TOOLS = [
    "add_to_cart",
    "convert_time",
    "local_time",
    "lookup_order",
    "search_products",
    "track_shipment",
    "view_cart",
]


def _rows(stdout: str) -> dict[str, list[str]]:
    """The tool table of ``check``: tool name -> its columns."""
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["tool", "origin"])
    return {line.split()[0]: line.split() for line in lines[header + 1 :]}


# -- check -----------------------------------------------------------------------------------


def test_check_lists_plugins_and_every_tool_with_its_options() -> None:
    result = invoke("check", EXAMPLE_CONFIG)

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{EXAMPLE_CONFIG}: ok · pipeline_mode full · 2 plugins · 8 tools"
    assert lines[1] == f"  plugin {SHOP_PLUGIN} (module: shop_tools)"
    assert lines[2] == f"  plugin {CLOCK_PLUGIN} (entry_point: cvibot-clock 0.1.0)"
    assert lines[3].split() == ["tool", "origin", "reply", "timeout", "cancel", "plugin"]
    rows = _rows(result.stdout)
    # name, origin, reply, timeout ("<n> s"), cancel, plugin
    assert rows == {
        "add_to_cart": ["add_to_cart", "llm", "auto", "10", "s", "no", SHOP_PLUGIN],
        "convert_time": ["convert_time", "llm", "auto", "10", "s", "no", CLOCK_PLUGIN],
        "local_time": ["local_time", "llm", "auto", "10", "s", "no", CLOCK_PLUGIN],
        # @tool(timeout=3)
        "lookup_order": ["lookup_order", "llm", "auto", "3", "s", "no", SHOP_PLUGIN],
        # @tool(origin="vision", reply="append_context")
        "product_shown": [
            "product_shown",
            "vision",
            "append_context",
            "10",
            "s",
            "no",
            SHOP_PLUGIN,
        ],
        # tools.search_products in the config: timeout 5, cancel_on_interrupt true
        "search_products": ["search_products", "llm", "auto", "5", "s", "yes", SHOP_PLUGIN],
        "track_shipment": ["track_shipment", "llm", "auto", "1", "s", "no", SHOP_PLUGIN],
        "view_cart": ["view_cart", "llm", "auto", "10", "s", "no", SHOP_PLUGIN],
    }
    assert result.stderr == ""


def test_check_applies_defaults_and_overrides(tmp_path: Path) -> None:
    plugin = write_text(
        tmp_path / "opts_tools.py",
        '''
        from cvibot import tool

        @tool(reply="echo", timeout=2.5, cancel_on_interrupt=True)
        def declared(text: str) -> str:
            """Declared options."""
            return text

        @tool
        def plain(text: str) -> str:
            """Defaults only."""
            return text

        @tool(origin="audio")
        def heard(sound: str) -> str:
            """A perception tool."""
            return sound
        ''',
    )
    config = write_text(
        tmp_path / "bot.yaml",
        f"""
        transport: {{type: replay, path: rec.jsonl}}
        plugins: [{plugin.name}]
        defaults:
          reply: append_context
          perception_reply: echo
          timeout: 7
          cancel_on_interrupt: true
        tools:
          declared:
            reply: none
        """,
    )

    result = invoke("check", config)

    assert result.exit_code == 0, result.stderr
    rows = _rows(result.stdout)
    assert rows["declared"] == ["declared", "llm", "none", "2.5", "s", "yes", "opts_tools.py"]
    assert rows["plain"] == ["plain", "llm", "append_context", "7", "s", "yes", "opts_tools.py"]
    assert rows["heard"] == ["heard", "audio", "echo", "7", "s", "yes", "opts_tools.py"]


def test_check_of_a_config_without_plugins(tmp_path: Path) -> None:
    config = write_text(tmp_path / "empty.yaml", "transport: {type: replay, path: r.jsonl}\n")

    result = invoke("check", config)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        f"{config}: ok · pipeline_mode full · 0 plugins · 0 tools"
    )


# -- tools -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def all_formats() -> dict[str, Any]:
    result = invoke("tools", EXAMPLE_CONFIG)
    assert result.exit_code == 0, result.stderr
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def test_tools_prints_both_formats(all_formats: dict[str, Any]) -> None:
    assert set(all_formats) == {"persona", "tools"}


def test_tools_persona_layers_hold_openai_functions(all_formats: dict[str, Any]) -> None:
    layers = all_formats["persona"]["layers"]
    llm_tools = layers["llm"]["tools"]

    assert [t["function"]["name"] for t in llm_tools] == LLM_TOOLS
    for t in llm_tools:
        assert set(t) == {"type", "function"}
        assert t["type"] == "function"
        assert set(t["function"]) == {"name", "description", "parameters"}
        assert t["function"]["parameters"]["type"] == "object"
    lookup = next(t["function"] for t in llm_tools if t["function"]["name"] == "lookup_order")
    assert lookup == {
        "name": "lookup_order",
        "description": "Look up an order: its status, items and tracking number.",
        "parameters": {
            "type": "object",
            "properties": {
                "order_id": {
                    "description": 'The order number the customer reads out, for example "A1001".',
                    "type": "string",
                }
            },
            "required": ["order_id"],
        },
    }
    # The vision tool goes to the perception layer, not to the LLM.
    visual = layers["perception"]["visual_tools"]
    assert [t["function"]["name"] for t in visual] == ["product_shown"]


def test_tools_registry_bodies(all_formats: dict[str, Any]) -> None:
    bodies = all_formats["tools"]

    assert [(b["name"], b["origin"]) for b in bodies] == [
        ("add_to_cart", "llm"),
        ("convert_time", "llm"),
        ("local_time", "llm"),
        ("lookup_order", "llm"),
        ("product_shown", "vision"),
        ("search_products", "llm"),
        ("track_shipment", "llm"),
        ("view_cart", "llm"),
    ]
    cart = next(b for b in bodies if b["name"] == "add_to_cart")
    assert cart["parameters"]["properties"]["quantity"] == {
        "default": 1,
        "description": "How many to add.",
        "maximum": 20,
        "minimum": 1,
        "type": "integer",
    }
    assert cart["parameters"]["required"] == ["sku"]
    assert cart["delivery"] == {"app_message": True}


@pytest.mark.parametrize(("fmt", "part"), [("legacy", "persona"), ("registry", "tools")])
def test_tools_format_prints_only_that_part(
    fmt: str, part: str, all_formats: dict[str, Any]
) -> None:
    result = invoke("tools", EXAMPLE_CONFIG, "--format", fmt)

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == all_formats[part]


def test_tools_format_is_checked() -> None:
    result = invoke("tools", EXAMPLE_CONFIG, "--format", "yaml")

    assert result.exit_code == 2
    assert "Invalid value for '--format'" in result.stderr


def test_tools_of_the_bots_own_config_match(all_formats: dict[str, Any]) -> None:
    # bot.yaml has no per-tool overrides; the definitions Tavus sees are the same.
    result = invoke("tools", SHOP_DIR / "bot.yaml")

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == all_formats


# -- help and version --------------------------------------------------------------------------


def test_help_lists_the_commands(run_cvibot: RunProcess) -> None:
    done = run_cvibot("--help")

    assert done.returncode == 0, done.stderr
    for command in ("check", "replay", "run", "tools"):
        assert f"  {command} " in done.stdout
    assert done.stdout.startswith("Usage: cvibot [OPTIONS] COMMAND [ARGS]...")


@pytest.mark.parametrize("command", ["run", "replay", "check", "tools"])
def test_each_command_has_help(command: str) -> None:
    result = invoke(command, "--help")

    assert result.exit_code == 0
    assert f"Usage: cvibot {command} [OPTIONS] CONFIG" in result.stdout


def test_version(run_cvibot: RunProcess) -> None:
    done = run_cvibot("--version")

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"cvibot, version {version('cvibot')}\n"


def test_unknown_command_is_a_usage_error(run_cvibot: RunProcess) -> None:
    done: subprocess.CompletedProcess[str] = run_cvibot("serf", "x.yaml")

    assert done.returncode == 2
    assert "No such command 'serf'" in done.stderr
    assert "Traceback" not in done.stderr
