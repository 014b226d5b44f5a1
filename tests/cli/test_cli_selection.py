"""Which plugins a bot loads: only those it names, the same for every command.

Installed plugins nobody names join a bot only when autoloading is asked for
(``plugins_autoload: true``, ``CVIBOT_PLUGINS_AUTOLOAD=1``); ``run``, ``check``, ``tools
show`` and ``tools sync`` load the very same tools. Real processes, with the fixture
distributions installed on ``PYTHONPATH`` (``example`` brings the tool ``shout``) and the
first-party plugins of the test environment (``cvibot-clock`` brings ``local_time``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import RunProcess, read_jsonl, shutdown, tool_call, write_jsonl, write_text

from cvibot.plugins._selection import AUTOLOAD_ENV, DISABLE_AUTOLOAD_ENV
from doubles.fake_tavus import FakeTavusAPI

KEY = "tvs-selection-key-5e2b7d"
PERSONA = "p-selection"
# A user's environment: neither variable set (the test session sets the first).
USER_ENV = {DISABLE_AUTOLOAD_ENV: "", AUTOLOAD_ENV: "", "TAVUS_API_KEY": KEY}

MINE = '''
from cvibot import tool

@tool
def lookup_order(order_id: str) -> str:
    """Look up an order."""
    return f"order {order_id}"
'''
OTHER = '''
from cvibot import tool

@tool
def extra() -> str:
    """An extra tool."""
    return "extra"
'''
# The same tool name as the installed plugin `example`.
SHOUT = '''
from cvibot import tool

@tool
def shout(text: str) -> str:
    """Whisper, in fact."""
    return text.lower()
'''


def _env(installed_plugins: Path, **extra: str) -> dict[str, str]:
    return {**USER_ENV, "PYTHONPATH": str(installed_plugins), **extra}


def _check_tools(stdout: str) -> set[str]:
    """The tool names of the table ``cvibot check`` prints."""
    lines = stdout.splitlines()
    header = next(n for n, line in enumerate(lines) if line.split()[:1] == ["tool"])
    return {line.split()[0] for line in lines[header + 1 :] if line.strip()}


@pytest.mark.parametrize("autoload", [False, True], ids=["named only", "plugins_autoload"])
def test_run_check_show_and_sync_load_the_same_tools(
    installed_plugins: Path, tmp_path: Path, run_cvibot: RunProcess, autoload: bool
) -> None:
    write_text(tmp_path / "mine.py", MINE)
    write_text(tmp_path / "other.py", OTHER)
    candidates = ["lookup_order", "extra", "shout", "local_time"]
    write_jsonl(
        tmp_path / "rec.jsonl",
        [
            *(tool_call(n, name, {}, f"c{n}") for n, name in enumerate(candidates, 1)),
            shutdown(),
        ],
    )
    fake = FakeTavusAPI(api_key=KEY)
    fake.add_persona(PERSONA, persona_name="Shop", system_prompt="You help.")
    selection = ("-p", "example", "-p", "no:other", "-p", "no:broken")
    env = _env(installed_plugins)

    with fake.serve() as base_url:
        config = write_text(
            tmp_path / "bot.yaml",
            f"""
            transport: {{type: replay, path: rec.jsonl, out: sent.jsonl}}
            plugins: [mine, other]
            plugins_autoload: {"true" if autoload else "false"}
            tavus: {{base_url: "{base_url}", sync: {{persona_id: {PERSONA}}}}}
            """,
        )
        checked = run_cvibot("check", config, *selection, extra_env=env)
        shown = run_cvibot(
            "tools", "show", config, "--format", "registry", *selection, extra_env=env
        )
        synced = run_cvibot("tools", "sync", config, "--dry-run", *selection, extra_env=env)
        ran = run_cvibot("run", config, "--quiet", *selection, extra_env=env)

    for done in (checked, shown, synced, ran):
        assert done.returncode == 0, done.stderr
    by_check = _check_tools(checked.stdout)
    by_show = {body["name"] for body in json.loads(shown.stdout)}
    by_sync = {
        line.split()[-1]
        for line in synced.stdout.splitlines()
        if line.split()[:2] == ["+", "create"]
    }
    # Each call is answered: with "unknown tool" unless the bot has the tool.
    by_run = {
        candidates[int(m["properties"]["tool_call_id"][1:]) - 1]
        for m in read_jsonl(tmp_path / "sent.jsonl")
        if not m["properties"]["output"].startswith("unknown tool")
    }
    assert by_check == by_show == by_sync, (by_check, by_show, by_sync)
    assert by_run == by_check & set(candidates)
    if autoload:
        assert {"lookup_order", "shout", "local_time"} <= by_check
        assert "extra" not in by_check
    else:
        assert by_check == {"lookup_order", "shout"}


def test_installing_an_unnamed_plugin_leaves_a_bots_tools_as_they_were(
    installed_plugins: Path, tmp_path: Path, run_cvibot: RunProcess
) -> None:
    # The bot's own `shout` has the name of the installed plugin's tool: when installed
    # plugins joined every bot, installing it stopped this unchanged bot.
    write_text(tmp_path / "mine.py", SHOUT)
    config = write_text(
        tmp_path / "bot.yaml", "transport: {type: replay, path: rec.jsonl}\nplugins: [mine]\n"
    )

    before = run_cvibot("tools", config, "--format", "registry", extra_env=USER_ENV)
    after = run_cvibot("tools", config, "--format", "registry", extra_env=_env(installed_plugins))
    checked = run_cvibot("check", config, extra_env=_env(installed_plugins))

    assert before.returncode == 0, before.stderr
    assert after.returncode == 0, after.stderr
    assert after.stdout == before.stdout
    assert [body["description"] for body in json.loads(after.stdout)] == ["Whisper, in fact."]
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.splitlines()[0].endswith("· 1 plugin · 1 tool")
    assert "plugin skipped" not in after.stderr + checked.stderr  # `broken` never imported


def test_a_clash_with_an_autoloaded_plugin_names_both_and_sits_at_plugins_autoload(
    installed_plugins: Path, tmp_path: Path, run_cvibot: RunProcess
) -> None:
    write_text(tmp_path / "mine.py", SHOUT)
    config = write_text(
        tmp_path / "bot.yaml",
        """
        transport: {type: replay, path: rec.jsonl}
        plugins: [mine]
        plugins_autoload: true
        """,
    )

    done = run_cvibot("check", config, "-p", "no:broken", extra_env=_env(installed_plugins))

    assert done.returncode == 2
    [line] = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert line.startswith(f"error: {config}:4: plugins_autoload: tool 'shout' is provided by ")
    assert "plugin 'mine' (module mine, plugins[0])" in line
    assert "plugin 'example' (dist cvibot-example-plugin 0.3.1, installed, not named" in line
    assert "remove 'mine' from plugins:" in line
    assert "block one with -p no:mine or -p no:example" in line
    assert "turn autoloading off (plugins_autoload, CVIBOT_PLUGINS_AUTOLOAD)" in line


def test_the_environment_turns_autoloading_on_and_the_disable_switch_wins(
    installed_plugins: Path, tmp_path: Path, run_cvibot: RunProcess
) -> None:
    config = write_text(tmp_path / "bot.yaml", "transport: {type: replay, path: rec.jsonl}\n")
    tools = ("tools", config, "--format", "registry", "-p", "no:broken")

    default = run_cvibot(*tools, extra_env=_env(installed_plugins))
    on = run_cvibot(*tools, extra_env=_env(installed_plugins, **{AUTOLOAD_ENV: "1"}))
    disabled = run_cvibot(
        *tools,
        extra_env=_env(installed_plugins, **{AUTOLOAD_ENV: "1", DISABLE_AUTOLOAD_ENV: "1"}),
    )
    bad = run_cvibot(*tools, extra_env=_env(installed_plugins, **{AUTOLOAD_ENV: "maybe"}))

    assert json.loads(default.stdout) == []
    assert "shout" in {body["name"] for body in json.loads(on.stdout)}
    assert json.loads(disabled.stdout) == []
    assert bad.returncode == 2
    assert bad.stderr.splitlines()[-1] == (
        "error: CVIBOT_PLUGINS_AUTOLOAD='maybe': expected 1 (load the installed plugins "
        "nobody names) or 0 (do not)"
    )
