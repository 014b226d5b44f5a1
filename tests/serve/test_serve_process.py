"""``cvibot serve`` as a process of its own, on the fake Daily SDK (fake_daily_serve.py):
it listens, serves a conversation whose tool call is answered, drains on SIGTERM
(``/readyz`` 503 meanwhile) and exits 0; and its refusals at start-up."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from cvibot._cli.main import cli

_spec = importlib.util.spec_from_file_location(
    "serve_process_helpers", Path(__file__).parents[1] / "cli" / "process_helpers.py"
)
assert _spec is not None and _spec.loader is not None
process_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(process_helpers)
Watched: Any = process_helpers.Watched

FAKE_DAILY_SERVE = Path(__file__).with_name("fake_daily_serve.py")
TOKEN = "process-token-42"

TOOLS = '''
from cvibot import tool

@tool
def lookup_order(order_id: str) -> str:
    """Look up an order's status."""
    return f"order {order_id} has shipped"
'''


def write_config(tmp_path: Path, serve: str) -> Path:
    (tmp_path / "serve_process_tools.py").write_text(TOOLS, encoding="utf-8")
    config = tmp_path / "bot.yaml"
    config.write_text(
        textwrap.dedent(
            """
            transport: {type: daily, leave_timeout: 1}
            plugins: [serve_process_tools]
            logging: {format: json}
            """
        )
        + serve,
        encoding="utf-8",
    )
    return config


def poll(predicate: Any, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_serve_listens_serves_and_drains_on_sigterm(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        f"serve: {{port: 0, api_token: {TOKEN}, drain_timeout: 1.5, capacity: 4}}\n",
    )
    argv = [sys.executable, FAKE_DAILY_SERVE, "serve", config]
    with Watched(argv, tmp_path) as proc:
        proc.wait_for("listening on http://127.0.0.1:")
        url = re.search(r"listening on (http://\S+)", proc.stderr)
        assert url is not None
        base = url.group(1)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=base, timeout=5) as http:
            assert http.get("/readyz").status_code == 200
            started = http.post(
                "/v1/conversations",
                json={"conversation_url": "https://tavus.daily.co/room-1"},
                headers=auth,
            )
            assert started.status_code == 202
            assert started.json() == {"conversation_id": "room-1", "state": "queued"}
            proc.wait_for("fake: answered call-room-1 success", stream="stdout")
            poll(
                lambda: (
                    http.get("/v1/conversations/room-1", headers=auth).json()["state"] == "active"
                )
            )
            assert http.get("/v1/conversations/room-1", headers=auth).json()["tool_calls"] == 1

            sent = proc.signal(signal.SIGTERM)
            proc.wait_for("SIGTERM: draining (finish")
            # Draining: the conversation goes on (up to drain_timeout), readiness is off.
            ready = http.get("/readyz")
            assert (ready.status_code, ready.json()) == (503, {"status": "draining"})
            refused = http.post(
                "/v1/conversations",
                json={"conversation_url": "https://tavus.daily.co/room-2"},
                headers=auth,
            )
            assert refused.status_code == 503
        code, ended = proc.finish(within=15)
        assert code == 0, proc.stderr
        assert 1.4 <= ended - sent < 10  # drain_timeout, then leave and close


def test_a_second_signal_exits_at_once_with_130(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"serve: {{port: 0, api_token: {TOKEN}, drain_timeout: 60}}\n")
    argv = [sys.executable, FAKE_DAILY_SERVE, "serve", config]
    with Watched(argv, tmp_path) as proc:
        proc.wait_for("listening on http://127.0.0.1:")
        base = re.search(r"listening on (http://\S+)", proc.stderr).group(1)  # type: ignore[union-attr]
        with httpx.Client(base_url=base, timeout=5) as http:
            http.post(
                "/v1/conversations",
                json={"conversation_url": "https://tavus.daily.co/room-1"},
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
        proc.wait_for("fake: answered call-room-1", stream="stdout")
        proc.signal(signal.SIGTERM)
        proc.wait_for("SIGTERM: draining")
        proc.signal(signal.SIGINT)
        code, _ = proc.finish(within=10)
        assert code == 130
        assert "SIGINT again: exiting now" in proc.stderr


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(cli, ["serve", *args], catch_exceptions=False)


def test_serving_off_loopback_without_a_token_is_a_config_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, "serve: {port: 0}\n")
    result = run_cli(str(config), "--host", "0.0.0.0")
    assert result.exit_code == 2
    assert "serve.api_token: required when serving on '0.0.0.0'" in result.stderr
    assert "(with --host)" in result.stderr


def test_a_taken_port_is_a_runtime_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, "serve: {}\n")
        result = run_cli(str(config), "--port", str(port))
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_an_unreachable_redis_is_a_runtime_error(
    tmp_path: Path,
) -> None:
    import socket

    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0"
    config = write_config(
        tmp_path, f"serve: {{port: 0, fleet: {{backend: redis, url: '{url}'}}}}\n"
    )
    result = run_cli(str(config))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: redis: cannot connect")


def test_fleet_and_ingress_errors_name_their_file_line_and_key(tmp_path: Path) -> None:
    # write_config puts four lines before the serve section: serve: is line 5.
    cases = {
        "serve:\n  fleet:\n    backend: redis\n    lese: 3\n": "bot.yaml:8: serve.fleet.lese: "
        "unknown key",
        "serve:\n  fleet:\n    lease: 2\n    renew_every: 1.5\n": "bot.yaml:8: "
        "serve.fleet.renew_every: must be at most half of lease",
        "serve:\n  webhook:\n    secret: short\n": "bot.yaml:7: serve.webhook.secret: ",
        "serve:\n  delivery_api:\n    secret: s3cret-s3cret-s3cret\n    timeout: 90\n": (
            "bot.yaml:8: serve.delivery_api.timeout: "
        ),
    }
    for text, expected in cases.items():
        result = run_cli(str(write_config(tmp_path, text)))
        assert result.exit_code == 2, result.stderr
        assert expected in result.stderr, result.stderr


def test_without_the_serve_extra_the_command_says_which_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cvibot._cli.serve_cmd as serve_cmd

    monkeypatch.setattr(serve_cmd, "_EXTRA", ("starlette", "no_such_module_cvibot"))
    result = run_cli(str(write_config(tmp_path, "")))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: cvibot serve needs the 'serve' extra (no_such_module_cvibot is not "
        "installed): pip install 'cvibot[serve]'"
    )


def test_cvibot_help_lists_serve_without_importing_the_server() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from cvibot._cli.main import cli\n"
        "out = CliRunner().invoke(cli, ['--help']).output\n"
        "assert 'serve' in out, out\n"
        "heavy = ('starlette', 'uvicorn', 'prometheus_client', 'redis')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ},
    )
    assert done.stdout.strip() == "[]"
