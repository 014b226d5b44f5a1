"""The bot template of ``cvibot new bot``: names, files, and a generated bot whose tests
pass and whose config runs offline as generated."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cvibot._cli.new_cmd import new
from cvibot._scaffold import BotNameError, BotNames, ProjectExists, bot_files, create_bot
from cvibot.config import parse_config
from cvibot.transports._replay import read_outbound

QUIET = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:respx", "-p", "no:anyio"]


def test_names_come_from_the_bot_name() -> None:
    assert BotNames.of("order-desk") == BotNames(
        name="order-desk",
        module="order_desk_tools",
        title="Order Desk",
        test_file="test_order_desk.py",
    )


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "must not be empty"),
        ("x" * 41, "at most 40 characters"),
        ("Desk", "(try 'desk')"),
        ("9lives", "starting with a letter"),
        ("a--b", "single '-' or '_'"),
        ("../escape", "lowercase ASCII letters"),
        ("dé", "lowercase ASCII letters"),
    ],
)
def test_bad_names_say_why(name: str, fragment: str) -> None:
    with pytest.raises(BotNameError, match="invalid bot name") as info:
        BotNames.of(name)
    assert fragment in str(info.value)


@pytest.mark.parametrize("name", ["demo", "order-desk", "yes", "on", "null", "x" * 40])
def test_the_files_render_valid_python_yaml_and_recording(name: str, tmp_path: Path) -> None:
    names = BotNames.of(name)
    files = bot_files(names)
    for path, text in files.items():
        if path.endswith(".py"):
            ast.parse(text, filename=path)
    config = parse_config(files["bot.yaml"], path=tmp_path / "bot.yaml")
    [plugin] = config.config.plugins
    assert plugin.ref == names.module
    # a name YAML would read as a boolean or null stays the store's name
    assert plugin.settings["store_name"] == names.title
    lines = [json.loads(line) for line in files["conversation.jsonl"].splitlines()]
    assert lines[0]["direction"] == "meta"
    recorded = tmp_path / "conversation.jsonl"
    recorded.write_text(files["conversation.jsonl"], encoding="utf-8")
    assert len(read_outbound(recorded)) == 3


def test_an_existing_folder_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "desk").mkdir()
    (tmp_path / "desk" / "mine.txt").write_text("keep", encoding="utf-8")
    with pytest.raises(ProjectExists):
        create_bot(BotNames.of("desk"), tmp_path)
    assert [p.name for p in (tmp_path / "desk").iterdir()] == ["mine.txt"]


def test_the_command_refuses_a_bad_name_and_an_existing_folder(tmp_path: Path) -> None:
    bad = CliRunner().invoke(new, ["bot", "Bad Name", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "invalid bot name" in bad.output
    assert CliRunner().invoke(new, ["bot", "desk", "--dir", str(tmp_path)]).exit_code == 0
    again = CliRunner().invoke(new, ["bot", "desk", "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "exists already" in again.output


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder ``cvibot new bot order-desk`` wrote."""
    parent = tmp_path_factory.mktemp("bots")
    result = CliRunner().invoke(new, ["bot", "order-desk", "--dir", str(parent)])
    assert result.exit_code == 0, result.output
    assert "cvibot console bot.yaml" in result.output
    return parent / "order-desk"


def _cvibot() -> str:
    exe = shutil.which("cvibot", path=os.path.dirname(sys.executable))
    assert exe is not None
    return exe


def test_the_generated_tests_pass(generated: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *QUIET],
        cwd=generated,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout


def test_run_plays_the_recording_offline(generated: Path) -> None:
    done = subprocess.run(
        [_cvibot(), "run", "bot.yaml"],
        cwd=generated,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Order Desk is closed on Sunday." in done.stdout
    assert "tool calls  3: success 2, error 1" in done.stdout


def test_the_config_passes_check_with_its_two_tools(generated: Path) -> None:
    done = subprocess.run(
        [_cvibot(), "check", "bot.yaml"], cwd=generated, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "2 tools" in done.stdout
    assert yaml.safe_load((generated / "bot.yaml").read_text())["transport"]["type"] == "replay"
