"""Real installed distributions: entry points found by name and by autoload.

The two fixture projects under ``tests/fixtures`` are installed once per session (the
``installed_plugins`` fixture of ``tests/conftest.py``), and a fresh interpreter with
that folder on ``PYTHONPATH`` loads them, as a bot process would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

# Runs in the child interpreter: each scenario loads a host and reports what it got.
PROBE = textwrap.dedent(
    """
    import asyncio
    import json
    import sys
    from types import SimpleNamespace

    from structlog.testing import capture_logs

    from cvibot._errors import PluginLoadError
    from cvibot.plugins import PluginHost

    def run(entries, autoload):
        with capture_logs() as logs:
            try:
                host = PluginHost.load(
                    [SimpleNamespace(ref=r, kind=k, settings=s) for r, k, s in entries],
                    autoload=autoload,
                )
                tools = host.collect_tools()
            except PluginLoadError as exc:
                return {
                    "error": {
                        "plugin": exc.plugin,
                        "distribution": exc.distribution,
                        "key": exc.key,
                        "message": exc.message,
                        "cause": type(exc.cause).__name__,
                    }
                }
        answer = asyncio.run(
            host.call_first(
                "cvibot_respond_to_utterance",
                utterance=SimpleNamespace(speech="hello"),
                session=None,
            )
        )
        return {
            "plugins": [
                {
                    "name": p.name,
                    "kind": p.kind,
                    "module": p.module,
                    "distribution": p.distribution,
                    "version": p.version,
                }
                for p in host.plugins
            ],
            "tools": {spec.name: spec.plugin for spec in tools},
            "answer": answer,
            "warnings": [
                {"plugin": log.get("plugin"), "error": log.get("error")}
                for log in logs
                if log["log_level"] == "warning"
            ],
        }

    scenarios = json.loads(sys.argv[1])
    print(json.dumps({name: run(**scenario) for name, scenario in scenarios.items()}))
    """
)

SCENARIOS: dict[str, dict[str, Any]] = {
    "autoload": {"entries": [], "autoload": True},
    "by_entry_point_name": {
        "entries": [["example", "entry_point", {"prefix": "heard: "}]],
        "autoload": False,
    },
    "by_auto_name": {"entries": [["example", "auto", {}]], "autoload": False},
    "named_broken": {"entries": [["broken", "auto", {}]], "autoload": True},
}


@pytest.fixture(scope="session")
def probed(installed_plugins: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every scenario's outcome, from one child interpreter (keeps the suite fast)."""
    env = {**os.environ, "PYTHONPATH": str(installed_plugins)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(SCENARIOS)],
        env=env,
        cwd=tmp_path_factory.mktemp("cwd"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def plugin(result: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [p for p in result["plugins"] if p["name"] == name]
    assert len(found) == 1
    return found[0]


EXAMPLE = {
    "name": "example",
    "kind": "entry_point",
    "module": "cvibot_example_plugin",
    "distribution": "cvibot-example-plugin",
    "version": "0.3.1",
}


def test_autoload_finds_the_installed_plugin_and_its_tool(probed: dict[str, Any]) -> None:
    result = probed["autoload"]

    assert plugin(result, "example") == EXAMPLE
    assert result["tools"]["shout"] == "example"
    assert result["answer"] == "you said: hello"


def test_autoload_skips_a_broken_distribution_with_a_warning(probed: dict[str, Any]) -> None:
    result = probed["autoload"]

    assert "broken" not in [p["name"] for p in result["plugins"]]
    [warning] = [w for w in result["warnings"] if w["plugin"] == "broken"]
    assert "ImportError: cvibot_broken_plugin needs the 'libfoo' package" in warning["error"]
    assert "cvibot-broken-plugin 1.0.0" in warning["error"]


def test_loaded_by_entry_point_name_with_settings(probed: dict[str, Any]) -> None:
    result = probed["by_entry_point_name"]

    assert result["plugins"] == [EXAMPLE]
    assert result["tools"] == {"shout": "example"}
    assert result["answer"] == "heard: hello"
    assert result["warnings"] == []


def test_auto_kind_resolves_to_the_entry_point(probed: dict[str, Any]) -> None:
    assert probed["by_auto_name"]["plugins"] == [EXAMPLE]


def test_naming_the_broken_distribution_is_an_error(probed: dict[str, Any]) -> None:
    error = probed["named_broken"]["error"]

    assert error == {
        "plugin": "broken",
        "distribution": "cvibot-broken-plugin",
        "key": "plugins[0]",
        "message": error["message"],
        "cause": "ImportError",
    }
    assert error["message"].startswith("plugin 'broken' could not be imported: ImportError: ")
