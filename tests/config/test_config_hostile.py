"""Hostile configs and files: YAML bombs, deep nesting, paths that are not files, secrets.

The bomb and device tests run in a child process with an address-space limit, so that
a regression fails fast (MemoryError) instead of taking the machine's memory.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from config_helpers import MINIMAL, LoadError
from hypothesis import given, settings
from hypothesis import strategies as st

from cvibot._errors import ConfigError
from cvibot._runtime import Bot
from cvibot.config import (
    YamlLimits,
    compose_yaml,
    load_config,
    load_yaml,
    parse_yaml,
    read_text_file,
)

# Generous for an interpreter with pydantic loaded; the bomb took 3 GB before the limits.
_MEMORY_LIMIT = 1024 * 1024 * 1024


def _bomb(indent: str, levels: int = 9, first_line: int = 1) -> str:
    """A billion-laughs: 9 aliases of 9 aliases ... of 9 strings (9**9 when expanded)."""
    lines = [f'{indent}a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in itertools.pairwise("abcdefghijklmnop"[:levels]):
        lines.append(f"{indent}{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


# The bomb in the JSON body of a cvibot-http tool: expanding it took 16 s and 3 GB.
HTTP_BOMB = (
    "transport: {type: replay, path: rec.jsonl}\n"
    "plugins:\n"
    "  - name: cvibot-http\n"
    "    settings:\n"
    "      tools:\n"
    "        - name: t\n"
    "          description: d\n"
    "          request:\n"
    "            url: http://localhost/\n"
    "            json:\n" + _bomb(" " * 14)
)


def _run_limited(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (_MEMORY_LIMIT, _MEMORY_LIMIT))

    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        preexec_fn=limit,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_an_alias_bomb_is_a_located_config_error_within_a_memory_limit(tmp_path: Path) -> None:
    config = tmp_path / "bot.yaml"
    config.write_text(HTTP_BOMB, encoding="utf-8")
    done = _run_limited(
        f"""
        from cvibot.config import load_config
        from cvibot._errors import ConfigError
        from cvibot._runtime import Bot
        try:
            Bot.from_config(load_config({str(config)!r}, environ={{}}), autoload=False)
        except ConfigError as exc:
            print(exc)
        """
    )
    assert done.returncode == 0, done.stderr
    # *e is the alias whose expansion crosses 100,000 nodes (e is 9**4 * 10 nodes).
    assert done.stdout == (
        f"{config}:16: invalid YAML: aliases expand to more than 100,000 nodes (the limit), "
        "here at *e (anchor at line 15)\n"
    )


def test_an_alias_bomb_in_plugin_settings_is_refused(load_error: LoadError) -> None:
    text = MINIMAL + "plugins:\n  - name: x\n    settings:\n" + _bomb(" " * 6)
    err = load_error(text)
    assert err.line == 12  # the alias *e in the list of f
    assert err.message.startswith("invalid YAML: aliases expand to more than 100,000 nodes")


def test_long_strings_repeated_by_aliases_count_against_a_text_limit() -> None:
    text = "a: &a " + "x" * 1000 + "\nb: [" + ", ".join(["*a"] * 20) + "]\n"
    limits = YamlLimits(max_alias_chars=10_000)
    with pytest.raises(ConfigError) as caught:
        parse_yaml(text, file="big.yaml", limits=limits)
    assert str(caught.value) == (
        "big.yaml:2: invalid YAML: aliases expand to more than 10,000 characters (the limit), "
        "here at *a (anchor at line 1)"
    )


def test_anchors_used_a_few_times_are_fine() -> None:
    data = parse_yaml(
        "base: &base {timeout: 5, reply: speak}\ntools:\n  a: *base\n  b: {<<: *base, timeout: 9}\n"
    )
    assert data["tools"] == {
        "a": {"timeout": 5, "reply": "speak"},
        "b": {"timeout": 9, "reply": "speak"},
    }


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a: " + "[" * 10_000 + "]" * 10_000 + "\n", 1, "nested deeper than 100 levels"),
        ("a:\n  b: " + "{x: " * 5000 + "1" + "}" * 5000 + "\n", 2, "nested deeper than 100 levels"),
        (
            "deep: &d " + "[" * 60 + "]" * 60 + "\nmore: " + "[" * 50 + "*d" + "]" * 50 + "\n",
            2,
            "alias *d nests deeper than 100 levels",
        ),
    ],
)
def test_deep_nesting_is_a_located_error(
    load_error: LoadError, text: str, line: int, message: str
) -> None:
    err = load_error(MINIMAL + text)
    assert (err.line, err.message) == (line + 3, f"invalid YAML: {message}")


def test_nesting_up_to_the_limit_is_read() -> None:
    nested = parse_yaml("[" * 100 + "]" * 100)
    depth = 0
    while isinstance(nested, list) and nested:
        nested, depth = nested[0], depth + 1
    assert depth == 99


def test_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert str(caught.value) == f"{tmp_path}: is a directory, not a config file"


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "bot.yaml"
    os.mkfifo(fifo)
    # In a child: before the check, opening the FIFO waited for a writer forever.
    done = _run_limited(
        f"""
        from cvibot.config import load_config, load_yaml
        from cvibot._errors import ConfigError
        for load in (load_config, load_yaml):
            try:
                load({str(fifo)!r})
            except ConfigError as exc:
                print(exc)
        """,
        timeout=60,
    )
    assert done.stdout.splitlines() == [
        f"{fifo}: is a named pipe (FIFO), not a config file",
        f"{fifo}: is a named pipe (FIFO), not a file",
    ], done.stderr


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_a_device_is_refused_without_reading_it() -> None:
    # /dev/zero never ends: before the check, reading it filled the memory.
    done = _run_limited(
        """
        from cvibot.config import load_config, read_text_file
        from cvibot._errors import ConfigError
        for read in (load_config, read_text_file):
            try:
                read("/dev/zero")
            except ConfigError as exc:
                print(exc)
        """,
        timeout=60,
    )
    assert done.stdout.splitlines() == [
        "/dev/zero: is a device, not a config file",
        "/dev/zero: is a device, not a file",
    ], done.stderr


def test_a_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * 2000 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_yaml(big, limits=YamlLimits(max_bytes=1000))
    assert str(caught.value) == f"{big}: the file is too large: over 1,000 bytes (the limit)"
    assert read_text_file(big, max_bytes=5000).startswith("a: x")


def test_load_yaml_reads_data_like_safe_load(tmp_path: Path) -> None:
    path = tmp_path / "data.yaml"
    path.write_text("\ufeffa: [1, 2.5, true, null, '2024-01-01', 2024-01-01]\n", encoding="utf-8")
    data = load_yaml(path)
    assert data["a"][:5] == [1, 2.5, True, None, "2024-01-01"]
    assert str(data["a"][5]) == "2024-01-01"
    assert compose_yaml("") is None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="[]{}&*ab:, -\n\"'!<", max_size=80))
def test_any_text_is_data_or_a_config_error(text: str) -> None:
    with contextlib.suppress(ConfigError):
        parse_yaml(text)


SECRET = "tvs_live_9f8e7d6c5b4a3210"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("dispatch:\n  max_concurrent_calls: ${TAVUS_API_KEY}\n", "(got '${TAVUS_API_KEY}')"),
        ("logging:\n  level: ${TAVUS_API_KEY}\n", "(got '${TAVUS_API_KEY}')"),
        ("dispatch:\n  shutdown_grace: key-${TAVUS_API_KEY}\n", "(got 'key-${TAVUS_API_KEY}')"),
        (
            "plugins:\n  - name: x\n    settings: {key: &k '${TAVUS_API_KEY}'}\n"
            "dispatch:\n  max_concurrent_calls: *k\n",
            "(got '${TAVUS_API_KEY}')",
        ),
    ],
)
def test_a_secret_from_a_variable_is_never_quoted_in_an_error(
    load_error: LoadError, text: str, shown: str
) -> None:
    err = load_error(MINIMAL + text, {"TAVUS_API_KEY": SECRET})
    assert SECRET not in str(err)
    assert shown in err.message


def test_a_plugin_quoting_a_secret_setting_shows_its_variable(tmp_path: Path) -> None:
    (tmp_path / "quoting_plugin.py").write_text(
        "from cvibot import PluginSettingsError, hookimpl\n\n"
        "@hookimpl\n"
        "def cvibot_register_tools(register, settings):\n"
        "    token = settings['token']\n"
        "    raise PluginSettingsError.at('token', f'{token!r} is not a valid token')\n",
        encoding="utf-8",
    )
    config = tmp_path / "bot.yaml"
    config.write_text(
        MINIMAL + "plugins:\n  - module: quoting_plugin\n    settings:\n"
        "      token: ${CRM_TOKEN}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        Bot.from_config(load_config(config, environ={"CRM_TOKEN": SECRET}), autoload=False)
    assert SECRET not in str(caught.value)
    assert "'${CRM_TOKEN}' is not a valid token" in str(caught.value)
