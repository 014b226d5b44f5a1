"""Plugins as the command line loads them: modules, ``.py`` paths, settings, installed ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import (
    RunProcess,
    error_lines,
    invoke,
    read_jsonl,
    shutdown,
    tool_call,
    utterance,
    write_jsonl,
    write_text,
)

from cvibot.plugins._selection import AUTOLOAD_ENV, DISABLE_AUTOLOAD_ENV

# Autoloading is an opt-in, and the test session turns it off besides.
AUTOLOAD = {DISABLE_AUTOLOAD_ENV: "", AUTOLOAD_ENV: "1"}

# -- modules and paths ----------------------------------------------------------------------


def test_dotted_module_resolves_from_the_config_folder(tmp_path: Path) -> None:
    folder = tmp_path / "deploy"
    write_text(folder / "acme_bot" / "__init__.py", "")
    write_text(
        folder / "acme_bot" / "tools.py",
        '''
        from cvibot import tool

        __version__ = "2.1"

        @tool(timeout=4)
        def order_status(order_id: str) -> str:
            """Say where an order is."""
            return f"order {order_id} is packed"
        ''',
    )
    write_jsonl(
        folder / "rec.jsonl",
        [tool_call(1, "order_status", {"order_id": "Z9"}, "call_a"), shutdown()],
    )
    config = write_text(
        folder / "bot.yaml",
        """
        transport: {type: replay, path: rec.jsonl, out: out/sent.jsonl}
        plugins:
          - acme_bot.tools
        """,
    )

    checked = invoke("check", config)
    ran = invoke("run", config, "--quiet")

    assert checked.exit_code == 0, checked.stderr
    assert "  plugin acme_bot.tools (module: acme_bot.tools 2.1)" in checked.stdout.splitlines()
    [row] = [line.split() for line in checked.stdout.splitlines() if "order_status" in line]
    assert row == ["order_status", "llm", "auto", "4", "s", "no", "acme_bot.tools"]
    assert ran.exit_code == 0, ran.stderr
    [answer] = read_jsonl(folder / "out" / "sent.jsonl")
    assert answer["properties"] == {
        "tool_call_id": "call_a",
        "output": "order Z9 is packed",
        "status": "success",
    }


def test_py_path_relative_to_the_config_with_a_sibling_import(tmp_path: Path) -> None:
    write_text(tmp_path / "extra" / "wording.py", 'PREFIX = "the weather in"\n')
    write_text(
        tmp_path / "extra" / "weather_tools.py",
        '''
        from wording import PREFIX

        from cvibot import tool

        @tool
        def weather(city: str) -> str:
            """Tell the weather."""
            return f"{PREFIX} {city} is mild"
        ''',
    )
    write_jsonl(tmp_path / "rec.jsonl", [tool_call(1, "weather", {"city": "Oslo"}, "w1")])
    config = write_text(
        tmp_path / "conf" / "bot.yaml",
        """
        transport: {type: replay, path: ../rec.jsonl}
        plugins:
          - module: ../extra/weather_tools.py
        """,
    )
    out = tmp_path / "sent.jsonl"

    checked = invoke("check", config)
    result = invoke("replay", config, tmp_path / "rec.jsonl", "--out", out)

    assert checked.exit_code == 0, checked.stderr
    assert "  plugin ../extra/weather_tools.py (module: weather_tools)" in checked.stdout
    assert result.exit_code == 0, result.stderr
    assert '  ⚙ tool call weather(city="Oslo")  [seq 1, id w1]' in result.stdout.splitlines()
    assert [m["properties"]["output"] for m in read_jsonl(out)] == ["the weather in Oslo is mild"]


# -- settings --------------------------------------------------------------------------------

SETTINGS_PLUGIN = '''
import json
from pathlib import Path

from cvibot import ToolContext, hookimpl, tool

@hookimpl
def cvibot_startup(settings):
    # What this plugin's start-up hook was given, for the test to read.
    Path(settings["startup_file"]).write_text(json.dumps(dict(settings)))

@tool(name="{tool}")
def greet(name: str, ctx: ToolContext) -> str:
    """Greet someone."""
    return f"{{ctx.settings['greeting']}}, {{name}} (limit {{ctx.settings['limits']['max']}})"
'''


def test_settings_reach_the_plugins_tools_and_startup_hook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CVIBOT_TEST_GREETING", "Good morning")
    write_text(tmp_path / "greeter_a.py", SETTINGS_PLUGIN.format(tool="greet_a"))
    write_text(tmp_path / "greeter_b.py", SETTINGS_PLUGIN.format(tool="greet_b"))
    write_jsonl(
        tmp_path / "rec.jsonl",
        [
            tool_call(1, "greet_a", {"name": "Ada"}, "a1"),
            tool_call(2, "greet_b", {"name": "Bo"}, "b1"),
            shutdown(),
        ],
    )
    config = write_text(
        tmp_path / "bot.yaml",
        f"""
        transport: {{type: replay, path: rec.jsonl, out: sent.jsonl}}
        plugins:
          - module: greeter_a
            settings:
              greeting: ${{CVIBOT_TEST_GREETING}}
              limits: {{max: 3}}
              startup_file: {tmp_path / "a.json"}
          - module: greeter_b
            settings:
              greeting: Hey
              limits: {{max: 9}}
              startup_file: {tmp_path / "b.json"}
        """,
    )

    result = invoke("run", config, "--quiet")

    assert result.exit_code == 0, result.stderr
    # Each plugin's tool sees its own plugin's settings (interpolated).
    assert {
        m["properties"]["tool_call_id"]: m["properties"]["output"]
        for m in read_jsonl(tmp_path / "sent.jsonl")
    } == {"a1": "Good morning, Ada (limit 3)", "b1": "Hey, Bo (limit 9)"}
    assert json.loads((tmp_path / "a.json").read_text()) == {
        "greeting": "Good morning",
        "limits": {"max": 3},
        "startup_file": str(tmp_path / "a.json"),
    }
    assert json.loads((tmp_path / "b.json").read_text())["greeting"] == "Hey"


# -- installed (entry-point) plugins ----------------------------------------------------------


def test_installed_plugin_is_autoloaded_and_listed(
    installed_plugins: Path, tmp_path: Path, run_cvibot: RunProcess
) -> None:
    config = write_text(tmp_path / "bot.yaml", "transport: {type: replay, path: rec.jsonl}\n")

    done = run_cvibot("check", config, extra_env=AUTOLOAD | {"PYTHONPATH": str(installed_plugins)})

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # Other installed plugins (the first-party ones) may be listed too.
    assert lines[0].startswith(f"{config}: ok · pipeline_mode full · ")
    assert "  plugin example (entry_point: cvibot-example-plugin 0.3.1)" in lines
    assert not any("broken" in line for line in lines)
    [row] = [line.split() for line in lines if line.split()[:1] == ["shout"]]
    assert row == ["shout", "llm", "auto", "10", "s", "no", "example"]
    # The broken distribution next to it is skipped with a warning on stderr (JSON here,
    # not a terminal), never on stdout.
    [warning] = [json.loads(line) for line in done.stderr.splitlines()]
    assert warning["event"] == "plugin skipped"
    assert warning["plugin"] == "broken"
    assert warning["level"] == "warning"


def test_autoload_is_off_with_the_environment_variable(
    installed_plugins: Path, tmp_path: Path, run_cvibot: RunProcess
) -> None:
    config = write_text(tmp_path / "bot.yaml", "transport: {type: replay, path: rec.jsonl}\n")
    env = {"PYTHONPATH": str(installed_plugins), DISABLE_AUTOLOAD_ENV: "1"}

    off = run_cvibot("check", config, extra_env=env)
    added = run_cvibot("check", config, "-p", "example", extra_env=env)

    assert off.returncode == 0, off.stderr
    assert off.stdout.splitlines()[0] == f"{config}: ok · pipeline_mode full · 0 plugins · 0 tools"
    assert off.stderr == ""  # the broken plugin is not even imported
    assert added.returncode == 0, added.stderr
    assert added.stdout.splitlines()[:2] == [
        f"{config}: ok · pipeline_mode full · 1 plugin · 1 tool",
        "  plugin example (entry_point: cvibot-example-plugin 0.3.1)",
    ]


def test_blocked_plugin_is_not_loaded_even_when_named(
    installed_plugins: Path, tmp_path: Path, run_cvibot: RunProcess
) -> None:
    config = write_text(
        tmp_path / "bot.yaml",
        "transport: {type: replay, path: rec.jsonl}\nplugins:\n  - name: example\n",
    )
    env = AUTOLOAD | {"PYTHONPATH": str(installed_plugins)}

    blocked = run_cvibot("check", config, "-p", "no:example", "-p", "no:broken", extra_env=env)

    assert blocked.returncode == 0, blocked.stderr
    assert "plugin example" not in blocked.stdout
    assert "shout" not in blocked.stdout
    # Blocking the broken one keeps it from being imported at all: no warning.
    assert "plugin skipped" not in blocked.stderr
    assert "plugin blocked" in blocked.stderr


def test_adding_and_blocking_the_same_plugin_is_a_usage_error(tmp_path: Path) -> None:
    config = write_text(tmp_path / "bot.yaml", "transport: {type: replay, path: rec.jsonl}\n")

    result = invoke("check", config, "-p", "example", "-p", "no:example")

    assert result.exit_code == 2
    assert error_lines(result.stderr) == [
        "error: plugin 'example' is both added (-p example) and blocked (-p no:example)"
    ]


def test_added_plugin_that_is_missing_names_the_option(tmp_path: Path) -> None:
    config = write_text(tmp_path / "bot.yaml", "transport: {type: replay, path: rec.jsonl}\n")

    result = invoke("check", config, "-p", "no_such_plugin_anywhere")

    assert result.exit_code == 2
    [line] = error_lines(result.stderr)
    assert line.startswith(f"error: {config}: -p no_such_plugin_anywhere: plugin ")
    assert "no_such_plugin_anywhere" in line


def test_tools_output_stays_json_when_a_plugin_is_skipped(
    installed_plugins: Path, tmp_path: Path, run_cvibot: RunProcess
) -> None:
    config = write_text(tmp_path / "bot.yaml", "transport: {type: replay, path: rec.jsonl}\n")

    done = run_cvibot(
        "tools",
        config,
        "--format",
        "registry",
        extra_env=AUTOLOAD | {"PYTHONPATH": str(installed_plugins)},
    )

    assert done.returncode == 0, done.stderr
    assert "shout" in [body["name"] for body in json.loads(done.stdout)]
    assert "plugin skipped" in done.stderr


def test_installed_plugin_named_in_the_config_gets_its_settings(
    installed_plugins: Path, tmp_path: Path, run_cvibot: RunProcess
) -> None:
    write_jsonl(
        tmp_path / "rec.jsonl",
        [
            utterance(1, "hello there"),
            tool_call(2, "shout", {"text": "quiet please"}, "s1"),
            shutdown(),
        ],
    )
    config = write_text(
        tmp_path / "bot.yaml",
        """
        pipeline_mode: echo
        transport: {type: replay, path: rec.jsonl, out: sent.jsonl}
        plugins:
          - {name: example, settings: {prefix: "heard: "}}
        """,
    )
    env = {"PYTHONPATH": str(installed_plugins)}

    checked = run_cvibot("check", config, extra_env=env)
    ran = run_cvibot("run", config, "--quiet", extra_env=env)

    assert checked.returncode == 0, checked.stderr
    plugin_lines = [line for line in checked.stdout.splitlines() if line.startswith("  plugin ")]
    assert plugin_lines == ["  plugin example (entry_point: cvibot-example-plugin 0.3.1)"]
    assert ran.returncode == 0, ran.stderr
    sent = read_jsonl(tmp_path / "sent.jsonl")
    assert [(m["event_type"], m["properties"]) for m in sent] == [
        (
            "conversation.echo",
            {"modality": "text", "text": "heard: hello there", "done": True},
        ),
        (
            "conversation.tool_result",
            {"tool_call_id": "s1", "output": "QUIET PLEASE", "status": "success"},
        ),
    ]


def test_naming_a_plugin_that_is_not_installed(tmp_path: Path) -> None:
    config = write_text(
        tmp_path / "bot.yaml",
        "transport: {type: replay, path: rec.jsonl}\nplugins:\n  - name: cvibot-not-installed\n",
    )

    result = invoke("check", config)

    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(
        f"error: {config}:3: plugins[0]: plugin 'cvibot-not-installed' is not an installed "
        "entry point of group 'cvibot'"
    )


# -- cvibot plugins -------------------------------------------------------------------------


def test_plugins_lists_installed_ones_with_tools_hooks_and_the_broken_one(
    installed_plugins: Path, run_cvibot: RunProcess
) -> None:
    env = {"PYTHONPATH": str(installed_plugins)}

    table = run_cvibot("plugins", extra_env=env)
    listed = run_cvibot("plugins", "--json", extra_env=env)

    assert table.returncode == 0, table.stderr
    rows = {line.split()[0]: line.split() for line in table.stdout.splitlines()[1:]}
    assert table.stdout.splitlines()[0].split() == [
        "plugin",
        "distribution",
        "status",
        "tools",
        "hooks",
    ]
    assert rows["example"] == [
        "example",
        "cvibot-example-plugin",
        "0.3.1",
        "ok",
        "shout",
        "respond_to_utterance",
    ]
    assert rows["broken"][:4] == ["broken", "cvibot-broken-plugin", "1.0.0", "error"]
    assert (
        "broken: error: plugin 'broken' could not be imported: ImportError: "
        "cvibot_broken_plugin needs the 'libfoo' package" in table.stderr
    )
    assert listed.returncode == 0, listed.stderr
    plugins = {info["name"]: info for info in json.loads(listed.stdout)}
    assert plugins["example"] == {
        "name": "example",
        "value": "cvibot_example_plugin",
        "distribution": "cvibot-example-plugin",
        "version": "0.3.1",
        "status": "ok",
        "error": None,
        "tools": ["shout"],
        "hooks": ["cvibot_respond_to_utterance"],
    }
    assert plugins["broken"]["status"] == "error"
    assert plugins["broken"]["distribution"] == "cvibot-broken-plugin"
    assert "ImportError" in plugins["broken"]["error"]


def test_a_broken_installed_plugin_does_not_stop_a_bot_that_does_not_name_it(
    installed_plugins: Path, tmp_path: Path, run_cvibot: RunProcess
) -> None:
    write_jsonl(tmp_path / "rec.jsonl", [tool_call(1, "shout", {"text": "hi"}, "s1"), shutdown()])
    config = write_text(
        tmp_path / "bot.yaml",
        "transport: {type: replay, path: rec.jsonl, out: sent.jsonl}\n",
    )

    ran = run_cvibot(
        "run", config, "--quiet", extra_env=AUTOLOAD | {"PYTHONPATH": str(installed_plugins)}
    )

    assert ran.returncode == 0, ran.stderr
    assert "plugin skipped" in ran.stderr
    [answer] = read_jsonl(tmp_path / "sent.jsonl")
    assert answer["properties"] == {"tool_call_id": "s1", "output": "HI", "status": "success"}


def test_plugins_with_a_config_says_what_that_bot_loads(
    installed_plugins: Path, tmp_path: Path, run_cvibot: RunProcess
) -> None:
    config = write_text(
        tmp_path / "bot.yaml",
        "transport: {type: replay, path: rec.jsonl}\nplugins:\n  - name: example\n",
    )
    env = {"PYTHONPATH": str(installed_plugins), DISABLE_AUTOLOAD_ENV: "", AUTOLOAD_ENV: ""}

    table = run_cvibot("plugins", config, "-p", "no:broken", extra_env=env)
    listed = run_cvibot("plugins", config, "--json", "-p", "cvibot-clock", extra_env=env)
    autoloaded = run_cvibot(
        "plugins",
        config,
        "--json",
        "-p",
        "no:broken",
        extra_env=AUTOLOAD | {"PYTHONPATH": str(installed_plugins)},
    )

    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[-1] == "bot"
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows["example"].endswith("  loaded")
    assert rows["broken"].endswith("  blocked")
    assert rows["cvibot-clock"].endswith("  not named")  # installed in the test environment
    bot = {entry["name"]: entry["bot"] for entry in json.loads(listed.stdout)}
    assert (bot["example"], bot["cvibot-clock"], bot["broken"]) == (
        "loaded",
        "loaded",
        "not named",
    )
    auto = {entry["name"]: entry["bot"] for entry in json.loads(autoloaded.stdout)}
    assert (auto["example"], auto["cvibot-clock"]) == ("loaded", "autoloaded")
