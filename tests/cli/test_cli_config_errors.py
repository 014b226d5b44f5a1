"""Config errors: exit status 2 and one ``error: FILE:LINE: KEY: message`` line, no traceback.

Each case is checked in-process with ``check``, and a few also through ``run`` in a real
process, where an escaped exception would print a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_helpers import RunProcess, error_lines, invoke, write_text

TRANSPORT = """\
transport:
  type: replay
  path: rec.jsonl
"""

SAME_TOOL = '''
from cvibot import tool

@tool
def same(text: str) -> str:
    """A tool two plugins define."""
    return text
'''


@dataclass(frozen=True)
class Case:
    """A config (and plugin modules next to it) and what its error line must say."""

    config: str
    line: int | None
    key: str | None
    says: tuple[str, ...]
    modules: tuple[tuple[str, str], ...] = ()


CASES = {
    "unknown_key": Case(
        TRANSPORT + "  bogus: 1\n",
        4,
        "transport.bogus",
        ("unknown key", "allowed: out, pace, path, speed, type"),
    ),
    "unknown_top_level_key": Case(
        TRANSPORT + "plugin:\n  - x\n",
        4,
        "plugin",
        ("unknown key",),
    ),
    "bad_value": Case(
        TRANSPORT + "defaults:\n  timeout: -3\n",
        5,
        "defaults.timeout",
        ("must be greater than 0", "got -3"),
    ),
    "bad_choice": Case(
        "pipeline_mode: lite\n" + TRANSPORT,
        1,
        "pipeline_mode",
        ("must be one of: full, echo", "got 'lite'"),
    ),
    "missing_variable": Case(
        TRANSPORT.replace("rec.jsonl", "${CVIBOT_TEST_UNSET_RECORDING}"),
        3,
        "transport.path",
        ("environment variable CVIBOT_TEST_UNSET_RECORDING is not set",),
    ),
    "yaml_syntax": Case(
        "transport:\n  type: replay\n   path: [rec.jsonl\n",
        3,
        None,
        ("invalid YAML",),
    ),
    "plugin_module_missing": Case(
        TRANSPORT + "plugins:\n  - module: no_such_cvibot_plugin_mod\n",
        5,
        "plugins[0]",
        (
            "plugin 'no_such_cvibot_plugin_mod' could not be imported",
            "ModuleNotFoundError",
        ),
    ),
    "plugin_import_raises": Case(
        TRANSPORT + "plugins:\n  - {module: raising_at_import}\n",
        5,
        "plugins[0]",
        ("plugin 'raising_at_import' could not be imported", "RuntimeError: no database URL"),
        (("raising_at_import.py", 'raise RuntimeError("no database URL")\n'),),
    ),
    "plugin_register_tools_raises": Case(
        TRANSPORT + "plugins:\n  - first_same\n  - registering\n",
        6,
        "plugins[1]",
        ("plugin 'registering' could not register its tools", "ValueError: needs a catalogue"),
        (
            ("first_same.py", SAME_TOOL),
            (
                "registering.py",
                "from cvibot import hookimpl\n\n"
                "@hookimpl\n"
                "def cvibot_register_tools(register, settings):\n"
                "    raise ValueError('needs a catalogue')\n",
            ),
        ),
    ),
    "duplicate_tool": Case(
        TRANSPORT + "plugins:\n  - first_same\n  - second_same\n",
        6,
        "plugins[1]",
        (
            "tool 'same' is provided by plugin 'first_same' (module first_same, plugins[0]) "
            "and plugin 'second_same' (module second_same, plugins[1]): "
            "remove one from plugins:, block one with -p no:first_same or -p no:second_same",
        ),
        (("first_same.py", SAME_TOOL), ("second_same.py", SAME_TOOL)),
    ),
    "override_of_unknown_tool": Case(
        TRANSPORT + "plugins:\n  - first_same\ntools:\n  nothere:\n    timeout: 3\n",
        7,
        "tools.nothere",
        ("no tool named 'nothere'", "known tools: same"),
        (("first_same.py", SAME_TOOL),),
    ),
    "respond_tool_under_echo": Case(
        "pipeline_mode: echo\n" + TRANSPORT + "plugins:\n  - talking\n",
        1,
        "pipeline_mode",
        ("tool 'talk' (plugin talking) replies with 'respond'", "pipeline_mode: echo"),
        (
            (
                "talking.py",
                "from cvibot import tool\n\n"
                '@tool(reply="respond")\n'
                "def talk(text: str) -> str:\n"
                '    """Say it through the LLM."""\n'
                "    return text\n",
            ),
        ),
    ),
    "respond_override_under_echo": Case(
        "pipeline_mode: echo\n"
        + TRANSPORT
        + "plugins:\n  - first_same\ntools:\n  same:\n    reply: respond\n",
        9,
        "tools.same.reply",
        ("respond needs Tavus's LLM", "echo"),
        (("first_same.py", SAME_TOOL),),
    ),
    "respond_default_under_echo": Case(
        "pipeline_mode: echo\n" + TRANSPORT + "defaults:\n  reply: respond\n",
        6,
        "defaults.reply",
        ("respond needs Tavus's LLM",),
    ),
}


def _write_case(case: Case, folder: Path) -> Path:
    for name, source in case.modules:
        write_text(folder / name, source)
    return write_text(folder / "bot.yaml", case.config)


def _assert_error(stderr: str, config: Path, case: Case) -> None:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    [line] = lines
    where = f"error: {config}:{case.line}: " if case.line else f"error: {config}: "
    assert line.startswith(where), line
    if case.key is not None:
        assert line.startswith(f"{where}{case.key}: "), line
    for text in case.says:
        assert text in line, (text, line)


@pytest.mark.parametrize("name", list(CASES))
def test_config_error_exits_2_with_one_located_line(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CVIBOT_TEST_UNSET_RECORDING", raising=False)
    case = CASES[name]
    config = _write_case(case, tmp_path)

    result = invoke("check", config)

    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    _assert_error(result.stderr, config, case)


@pytest.mark.parametrize(
    "name",
    ["unknown_key", "yaml_syntax", "plugin_import_raises", "duplicate_tool"],
)
def test_config_error_in_a_real_process(name: str, tmp_path: Path, run_cvibot: RunProcess) -> None:
    case = CASES[name]
    config = _write_case(case, tmp_path)

    done = run_cvibot("run", config)

    assert done.returncode == 2
    assert done.stdout == ""
    _assert_error(done.stderr, config, case)


@pytest.mark.parametrize("command", ["run", "check", "tools"])
def test_missing_config_file(command: str, tmp_path: Path) -> None:
    config = tmp_path / "nowhere.yaml"

    result = invoke(command, config)

    assert result.exit_code == 2
    assert result.stderr == f"error: {config}: file not found\n"


def test_missing_config_file_in_a_real_process(tmp_path: Path, run_cvibot: RunProcess) -> None:
    done = run_cvibot("replay", tmp_path / "nowhere.yaml", tmp_path / "rec.jsonl")

    assert done.returncode == 2
    assert done.stderr == f"error: {tmp_path / 'nowhere.yaml'}: file not found\n"


def test_plugin_import_error_names_plugin_entry_line(tmp_path: Path) -> None:
    # Plugin errors point at the plugins: item, not at the top of the list.
    config = write_text(
        tmp_path / "bot.yaml",
        TRANSPORT + "plugins:\n  - first_same\n\n  - module: not_there_either\n",
    )
    write_text(tmp_path / "first_same.py", SAME_TOOL)

    result = invoke("check", config)

    assert result.exit_code == 2
    assert error_lines(result.stderr) == [
        f"error: {config}:7: plugins[1]: plugin 'not_there_either' could not be imported: "
        "ModuleNotFoundError: No module named 'not_there_either' "
        f"(looked in {tmp_path.resolve()} and sys.path)"
    ]


def test_variable_from_the_environment_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The counterpart of missing_variable: set, the same config is fine.
    monkeypatch.setenv("CVIBOT_TEST_UNSET_RECORDING", "rec.jsonl")
    config = write_text(tmp_path / "bot.yaml", CASES["missing_variable"].config)

    result = invoke("check", config)

    assert result.exit_code == 0, result.stderr
