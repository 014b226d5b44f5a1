"""``cvibot console`` driven through a pipe: lines in, the bot's messages out, exit 0 at EOF."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from console_helpers import console, cvibot_exe, environment, write_bot


def test_a_scripted_session_shows_every_answer_and_exits_0(tmp_path: Path) -> None:
    config = write_bot(tmp_path)
    result = console(
        config,
        [
            "hello there",
            "/call add a=2 b=3",
            '/call greet {"name": "Ada", "excited": true}',
            "/legacy greet name=Bob",
            "/call refuse reason='no way'",
            "/call nope",
            "/tools",
        ],
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # the utterance, answered by the echo-mode responder
    assert "→ utterance (user): hello there" in out
    assert "← echo: you said: hello there" in out
    # the official shape, key=value arguments parsed as JSON
    assert '→ tool_call add {"a": 2, "b": 3} (tool_call_id call-1)' in out
    assert '← tool_result success (tool_call_id "call-1")\n    5\n' in out
    # a JSON object of arguments; a dict result shown as JSON
    assert '"greeting": "Hello, Ada!"' in out
    # the older shape is answered too
    assert "→ tool_call (legacy shape) greet" in out
    assert '"greeting": "Hello, Bob."' in out
    # a value with a space, quoted; a ToolError is an error answer with its message
    assert '← tool_result error (tool_call_id "call-4")\n    refused: no way\n' in out
    assert "· refuse: error (tool_error)" in out
    # a tool the bot does not have still gets its one answer
    assert "unknown tool 'nope'" in out
    # /tools lists the parameters, optional ones marked
    assert "  add(a: integer, b: integer)" in out
    assert "  greet(name: string, excited?: boolean)" in out
    # each line is shown before its answers, in order
    assert out.index("> /call add") < out.index("call-1") < out.index("> /call greet")


def test_bad_lines_are_explained_and_the_session_goes_on(tmp_path: Path) -> None:
    config = write_bot(tmp_path)
    result = console(
        config,
        [
            "/call add a",
            "/call add {not json",
            "/call add a=1 a=2",
            "/call",
            "/frobnicate",
            "/call add note='unclosed",
            "/call add a=4 b=5",
        ],
    )
    assert result.returncode == 0, result.stderr
    errors = [line for line in result.stdout.splitlines() if line.startswith("error: ")]
    assert len(errors) == 6, result.stdout
    assert "'a' is not key=value" in errors[0]
    assert "invalid JSON object" in errors[1]
    assert "'a' is given twice" in errors[2]
    assert errors[3].startswith("error: usage: /call NAME [ARGS]")
    assert "unknown command /frobnicate" in errors[4]
    assert "no closing quotation" in errors[5]
    assert '(tool_call_id "call-1")\n    9\n' in result.stdout


def test_a_slow_answer_is_reported_and_shown_when_it_comes(tmp_path: Path) -> None:
    config = write_bot(tmp_path)
    result = console(config, ["/call slow seconds=1.5", "/call add a=1 b=1"], "--wait", "0.2")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "· no answer within 0.2 s; it is shown if it comes later" in out
    # the next line was read without waiting, and the slow answer still came (at the
    # latest while the conversation closed, within the grace period)
    assert out.index("> /call add") < out.index("done waiting")


def test_full_mode_says_why_an_utterance_gets_no_answer(tmp_path: Path) -> None:
    config = write_bot(tmp_path, pipeline_mode="full")
    result = console(config, ["hi"])
    assert result.returncode == 0, result.stderr
    assert "· nothing sent: under pipeline_mode full" in result.stdout


def test_the_recording_replays_with_check(tmp_path: Path) -> None:
    config = write_bot(tmp_path)
    recording = tmp_path / "session.jsonl"
    result = console(
        config,
        ["hi", "/call add a=20 b=22", "/legacy greet name=Eve", "/call refuse reason=x"],
        "--record",
        str(recording),
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in recording.read_text(encoding="utf-8").splitlines()]
    assert [line["direction"] for line in lines].count("out") == 4
    replay = subprocess.run(
        [cvibot_exe(), "replay", str(config), str(recording), "--check", "-q"],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=60,
    )
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "check: ok, the 4 outbound messages match" in replay.stdout


def test_a_plugin_that_fails_to_start_exits_1(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text(
        "from cvibot import hookimpl\n\n"
        "@hookimpl\ndef cvibot_startup(bot):\n    raise RuntimeError('no database')\n",
        encoding="utf-8",
    )
    config = tmp_path / "bot.yaml"
    config.write_text("plugins: [{module: broken}]\n", encoding="utf-8")
    result = console(config, ["hi"])
    assert result.returncode == 1
    assert "no database" in result.stderr


def test_a_config_error_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "bot.yaml"
    config.write_text("pipeline_mode: sometimes\n", encoding="utf-8")
    result = console(config, [])
    assert result.returncode == 2
    assert "pipeline_mode" in result.stderr


def test_interrupt_cancels_a_running_call_that_allows_it(tmp_path: Path) -> None:
    config = write_bot(tmp_path)
    result = console(config, ["/call slow seconds=60", "/interrupt"], "--wait", "0.5")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "→ replica.stopped_speaking (interrupted: the user barged in)" in out
    # the call ends with its one answer, an error, well before its 60 s
    assert "· slow: cancelled (interrupted)" in out
    assert out.count('← tool_result error (tool_call_id "call-1")') == 1  # its one answer
    assert "cancelled: the replica was interrupted" in out
    assert "done waiting" not in out


def test_perception_calls_get_no_answer_by_default_and_say_so(tmp_path: Path) -> None:
    config = write_bot(tmp_path)
    result = console(config, ["/perception greet name=Cam"])
    assert result.returncode == 0, result.stderr
    assert '→ perception_tool_call greet {"name": "Cam"}' in result.stdout
    assert "· greet: success" in result.stdout
    assert "reply none: nothing sent" in result.stdout


def test_hostile_input_bytes_and_huge_lines_do_not_end_the_session(tmp_path: Path) -> None:
    config = write_bot(tmp_path)
    huge = "word " * 200_000  # a megabyte utterance
    data = b"\xff\xfe broken \xed\xa0\x80 bytes\n" + huge.encode() + b"\n/call add a=1 b=1\n"
    done = subprocess.run(
        [cvibot_exe(), "console", str(config)],
        input=data,
        capture_output=True,
        env=environment(),
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode("utf-8")
    assert "→ utterance (user): \ufffd\ufffd broken" in out
    assert '(tool_call_id "call-1")\n    2\n' in out


def test_an_answer_utf8_cannot_carry_is_shown_as_the_replica_gets_it(tmp_path: Path) -> None:
    # A lone surrogate is mended to U+FFFD in the outbound message: the console shows that.
    config = write_bot(tmp_path)
    result = console(config, ["/call surrogate", "/call add a=1 b=2"])
    assert result.returncode == 0, result.stderr
    assert "half \ufffd a pair" in result.stdout
    assert '(tool_call_id "call-2")\n    3\n' in result.stdout
