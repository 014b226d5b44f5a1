"""``cvibot tools sync`` end to end: the command line against the fake Tavus API served
on a loopback port (``tavus.base_url``), the API key in the environment."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from sync_helpers import KEY, PERSONA, calls, invoke, spec, write_bot, writes

import cvibot._cli.tools_cmd
from cvibot.plugins._selection import DISABLE_AUTOLOAD_ENV
from cvibot.tools import to_legacy_tool
from doubles.fake_tavus import FakeTavusAPI

TOOLS = '''
from cvibot import tool

@tool
def lookup_order(order_id: str) -> str:
    """Look up an order."""
    return order_id

@tool
def view_cart() -> str:
    """Show the cart."""
    return ""
'''

ENV = {"TAVUS_API_KEY": KEY}


@pytest.fixture
def base_url(fake: FakeTavusAPI) -> Iterator[str]:
    with fake.serve() as url:
        yield url


def _bot(folder: Path, base_url: str, source: str = TOOLS, sync: str = "") -> Path:
    settings = sync or f"persona_id: {PERSONA}"
    return write_bot(folder, source, f'tavus: {{base_url: "{base_url}", sync: {{{settings}}}}}\n')


def _run(
    *args: str | Path, env: dict[str, str | None] | None = None, input: str | None = None
) -> Result:
    result = invoke("tools", "sync", *args, env=ENV if env is None else env, input=input)
    assert KEY not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result


def _errors(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def _attached(fake: FakeTavusAPI) -> list[str]:
    return sorted(t["name"] for t in fake.attached_tools(PERSONA))


def test_a_dry_run_prints_the_plan_and_sends_nothing(
    fake: FakeTavusAPI, base_url: str, tmp_path: Path
) -> None:
    result = _run(_bot(tmp_path, base_url), "--dry-run")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"tools sync: 2 tools → the tools registry, attached to persona {PERSONA}",
        "  + create    lookup_order",
        "  + create    view_cart",
        "  + attach    lookup_order",
        "  + attach    view_cart",
        "plan: 2 to create, 0 to update, 2 to attach, 0 to detach, 0 unchanged",
        "dry run: nothing was sent to Tavus",
    ]
    assert calls(fake) == [("GET", f"/pals/{PERSONA}/tools"), ("GET", "/tools")]
    assert [t["name"] for t in fake.tools.values()] == ["end_call"]


def test_only_plugins_the_config_names_reach_tavus(
    fake: FakeTavusAPI, base_url: str, tmp_path: Path
) -> None:
    # cvibot-clock is installed in the test environment; autoloading is on here.
    env = {**ENV, DISABLE_AUTOLOAD_ENV: ""}
    bot = _bot(tmp_path, base_url)

    unnamed = _run(bot, "--dry-run", env=env)
    added = _run(bot, "--dry-run", "-p", "cvibot-clock", env=env)

    assert unnamed.exit_code == 0, unnamed.stderr
    assert "local_time" not in unnamed.stdout
    assert added.exit_code == 0, added.stderr
    assert "  + create    local_time" in added.stdout.splitlines()


def test_a_run_applies_and_the_next_has_nothing_to_change(
    fake: FakeTavusAPI, base_url: str, tmp_path: Path
) -> None:
    config = _bot(tmp_path, base_url)

    first = _run(config)
    assert first.exit_code == 0, first.stderr
    assert first.stdout.splitlines()[-1] == (
        f"done: created 2, updated 0, attached 2, detached 0 (persona {PERSONA})"
    )
    assert _attached(fake) == ["lookup_order", "view_cart"]

    fake.clear_requests()
    second = _run(config)
    assert second.exit_code == 0, second.stderr
    assert second.stdout.splitlines()[1:] == [
        f"nothing to change: persona {PERSONA} has the bot's tools as coded"
    ]
    assert writes(fake) == []


def test_a_changed_docstring_updates_just_the_description(
    fake: FakeTavusAPI, base_url: str, tmp_path: Path
) -> None:
    assert _run(_bot(tmp_path, base_url)).exit_code == 0
    lookup_id = next(t["tool_id"] for t in fake.tools.values() if t["name"] == "lookup_order")
    fake.clear_requests()

    changed = TOOLS.replace("Look up an order.", "Look up an order by its number.")
    result = _run(_bot(tmp_path, base_url, changed))

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[1:4] == [
        "  ~ update    lookup_order",
        '      description: "Look up an order." → "Look up an order by its number."',
        "  = unchanged 1 tool",
    ]
    assert [(r.method, r.path, r.json) for r in writes(fake)] == [
        ("PATCH", f"/tools/{lookup_id}", {"description": "Look up an order by its number."})
    ]
    assert fake.tools[lookup_id]["description"] == "Look up an order by its number."


def test_a_tool_removed_from_code_is_detached_not_deleted(
    fake: FakeTavusAPI, base_url: str, tmp_path: Path
) -> None:
    assert _run(_bot(tmp_path, base_url)).exit_code == 0
    cart_id = next(t["tool_id"] for t in fake.tools.values() if t["name"] == "view_cart")
    fake.clear_requests()

    without_cart = TOOLS[: TOOLS.index("@tool\ndef view_cart")]
    result = _run(_bot(tmp_path, base_url, without_cart))

    assert result.exit_code == 0, result.stderr
    assert "  - detach    view_cart" in result.stdout.splitlines()
    assert [(r.method, r.path) for r in writes(fake)] == [
        ("DELETE", f"/pals/{PERSONA}/tools/{cart_id}")
    ]
    assert _attached(fake) == ["lookup_order"]
    assert fake.tools[cart_id]["name"] == "view_cart"


TOO_MANY = """
from cvibot import tool

def _make(n):
    def handler() -> str:
        return str(n)
    handler.__name__ = handler.__qualname__ = f"tool_{n:02d}"
    return tool(handler)

for _n in range(50):
    globals()[f"tool_{_n:02d}"] = _make(_n)

@tool(description="x" * 10_001)
def huge() -> str:
    return ""
"""


def test_tools_over_the_limits_are_refused_with_every_problem(
    fake: FakeTavusAPI, base_url: str, tmp_path: Path
) -> None:
    result = _run(_bot(tmp_path, base_url, TOO_MANY))

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: the bot's tools break Tavus's limits (2 problems); nothing was sent:",
        "  - 51 tools, more than Tavus's limit of 50 per persona",
        "  - tool 'huge': description and parameters take 10,053 characters, more than "
        "Tavus's limit of 10,000",
    ]
    assert fake.requests == []


def test_the_persona_target_patches_only_the_differing_paths(
    fake: FakeTavusAPI, base_url: str, tmp_path: Path
) -> None:
    def lookup_order(order_id: str) -> str:
        """Look up an order."""
        return order_id

    fake.add_persona(
        "p-legacy",
        system_prompt="You help.",
        layers={"llm": {"tools": [to_legacy_tool(spec(lookup_order))]}, "tts": {"voice": "v"}},
    )
    source = TOOLS.replace("@tool\ndef view_cart", '@tool(origin="vision")\ndef view_cart')
    config = _bot(tmp_path, base_url, source, "target: persona, persona_id: p-legacy")

    result = _run(config)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "tools sync: 2 tools → the inline tools of persona p-legacy",
        "  /layers/perception/visual_tools",
        "    + add       view_cart",
        "  = unchanged 1 tool",
        "plan: 1 to add, 0 to update, 0 to remove, 1 unchanged",
        "patch: PATCH /personas/p-legacy with add /layers/perception",
        "done: patched persona p-legacy (add /layers/perception)",
    ]
    (patch,) = writes(fake)
    assert [op["path"] for op in patch.json] == ["/layers/perception"]
    assert fake.personas["p-legacy"]["layers"]["tts"] == {"voice": "v"}

    fake.clear_requests()
    again = _run(config)
    assert "nothing to change" in again.stdout
    assert calls(fake) == [("GET", "/personas/p-legacy")]


def test_options_override_the_config(fake: FakeTavusAPI, base_url: str, tmp_path: Path) -> None:
    fake.add_persona("p-other", system_prompt="You help.")
    config = _bot(tmp_path, base_url, sync="target: registry, persona_id: p-none")

    result = _run(config, "--target", "persona", "--persona-id", "p-other", "--dry-run")

    assert result.exit_code == 0, result.stderr
    assert calls(fake) == [("GET", "/personas/p-other")]


def test_the_persona_defaults_to_the_created_conversations(
    fake: FakeTavusAPI, base_url: str, tmp_path: Path
) -> None:
    config = write_bot(
        tmp_path,
        TOOLS,
        f'conversation: {{create: {{persona_id: {PERSONA}}}}}\ntavus: {{base_url: "{base_url}"}}\n',
    )

    assert _run(config, "--dry-run").exit_code == 0
    assert calls(fake)[0] == ("GET", f"/pals/{PERSONA}/tools")


# -- errors --------------------------------------------------------------------------------


def test_a_missing_persona_id_is_a_config_error(base_url: str, tmp_path: Path) -> None:
    config = write_bot(tmp_path, TOOLS, f'tavus: {{base_url: "{base_url}"}}\n')

    result = _run(config)

    assert result.exit_code == 2
    (line,) = _errors(result)
    assert line.startswith(f"error: {config}:")
    assert "tavus.sync.persona_id: tools sync needs the persona (PAL) to sync" in line


def test_a_missing_api_key_is_a_config_error(
    fake: FakeTavusAPI, base_url: str, tmp_path: Path
) -> None:
    result = _run(_bot(tmp_path, base_url), env={"TAVUS_API_KEY": None})

    assert result.exit_code == 2
    (line,) = _errors(result)
    assert "tavus.api_key: syncing tools needs a Tavus API key" in line
    assert fake.requests == []


def test_a_refused_key_is_one_line(fake: FakeTavusAPI, base_url: str, tmp_path: Path) -> None:
    result = _run(_bot(tmp_path, base_url), env={"TAVUS_API_KEY": "not-" + KEY})

    assert result.exit_code == 1
    assert result.stdout == ""
    assert _errors(result) == [
        f"error: Tavus API GET /pals/{PERSONA}/tools: 401 Unauthorized: the Tavus API key "
        "was refused; check TAVUS_API_KEY (Tavus said: Invalid access token)"
    ]
    assert "not-" + KEY not in result.stderr


def test_an_unknown_persona_is_one_line(base_url: str, tmp_path: Path) -> None:
    result = _run(_bot(tmp_path, base_url, sync="persona_id: p-none"))

    assert result.exit_code == 1
    (line,) = _errors(result)
    assert "404 Not Found: persona 'p-none' was not found" in line


def test_a_refusal_reports_what_was_applied_before_it(
    fake: FakeTavusAPI, base_url: str, tmp_path: Path
) -> None:
    fake.fail_next(400, body={"message": "Invalid tool_ids"}, method="POST", path="/pals/*")

    result = _run(_bot(tmp_path, base_url))

    assert result.exit_code == 1
    ids = {t["name"]: t["tool_id"] for t in fake.tools.values()}
    assert result.stderr.splitlines() == [
        f"applied before the error: created lookup_order ({ids['lookup_order']}), "
        f"created view_cart ({ids['view_cart']})",
        f"error: Tavus API POST /pals/{PERSONA}/tools: 400 Bad Request: Invalid tool_ids",
    ]
    assert _attached(fake) == []


def test_an_unreachable_tavus_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = _run(_bot(tmp_path, f"http://127.0.0.1:{port}/v2"))

    assert result.exit_code == 1
    (line,) = _errors(result)
    assert line.startswith(
        f"error: Tavus API GET /pals/{PERSONA}/tools: could not connect to Tavus at "
        f"http://127.0.0.1:{port}/"
    )


# -- asking on a terminal ------------------------------------------------------------------


@pytest.mark.parametrize(("answer", "applied"), [("n\n", False), ("y\n", True)])
def test_on_a_terminal_it_asks_before_applying(
    fake: FakeTavusAPI,
    base_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    applied: bool,
) -> None:
    monkeypatch.setattr(cvibot._cli.tools_cmd, "_interactive", lambda: True)

    result = _run(_bot(tmp_path, base_url), input=answer)

    assert "Apply these changes? [y/N]" in result.stdout
    assert result.exit_code == (0 if applied else 1)
    assert bool(writes(fake)) is applied
    if not applied:
        assert _errors(result) == ["error: not applied: nothing was changed"]


def test_yes_applies_without_asking(
    fake: FakeTavusAPI, base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cvibot._cli.tools_cmd, "_interactive", lambda: True)

    result = _run(_bot(tmp_path, base_url), "--yes")

    assert result.exit_code == 0, result.stderr
    assert "Apply these changes?" not in result.stdout
    assert _attached(fake) == ["lookup_order", "view_cart"]


# -- cvibot tools CONFIG, as before ----------------------------------------------------------


def test_tools_config_still_prints_the_definitions(base_url: str, tmp_path: Path) -> None:
    config = _bot(tmp_path, base_url)

    plain = invoke("tools", config, "--format", "registry")
    shown = invoke("tools", "show", config, "--format", "registry")
    options_first = invoke("tools", "--format", "registry", config)

    assert plain.exit_code == 0, plain.stderr
    assert plain.stdout == shown.stdout == options_first.stdout
    assert '"name": "lookup_order"' in plain.stdout


def test_tools_help_shows_both_forms() -> None:
    result = invoke("tools", "--help")

    assert result.exit_code == 0
    assert result.stdout.startswith(
        "Usage: cvibot tools [OPTIONS] CONFIG\n       cvibot tools COMMAND [ARGS]..."
    )
    assert "  show " in result.stdout and "  sync " in result.stdout
