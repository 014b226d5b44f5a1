"""Stopping within the grace, always: stuck sync handlers, Daily joins and rejoins, a
second signal at any moment. Real processes, signals sent while they run.

The margins are generous (a loaded machine); what they tell apart is the grace from the
minute a stuck handler, or a rejoin's attempts, would otherwise take.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import CONVERSATION_ID, read_jsonl, shutdown, tool_call, write_jsonl, write_text
from process_helpers import Watch, Watched, fake_daily_argv

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

GRACE = 2
MARGIN = 5  # seconds beyond the grace a loaded machine may need to exit

STUCK_TOOLS = """
import time
from cvibot import tool

@tool(timeout=300)
def stuck(seconds: float) -> str:
    \"\"\"Block a pool thread for a long time.\"\"\"
    time.sleep(seconds)
    return "finished"
"""


def _replay_bot(folder: Path, grace: float = GRACE) -> Path:
    write_text(folder / "stuck_tools.py", STUCK_TOOLS)
    write_jsonl(
        folder / "rec.jsonl",
        [
            {"direction": "in", "at": 0.0, "message": tool_call(1, "stuck", {"seconds": 60}, "t1")},
            {"direction": "in", "at": 120.0, "message": shutdown()},
        ],
    )
    return write_text(
        folder / "bot.yaml",
        f"""
        conversation: {{id: {CONVERSATION_ID}}}
        transport: {{type: replay, path: rec.jsonl, pace: recorded, out: out.jsonl}}
        plugins: [stuck_tools]
        dispatch: {{shutdown_grace: {grace}}}
        logging: {{level: info, format: json}}
        """,
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stuck_sync_handler_is_answered_and_the_process_exits_within_the_grace(
    watch: Watch, cvibot_exe: str, tmp_path: Path, signum: int
) -> None:
    config = _replay_bot(tmp_path)
    bot = watch([cvibot_exe, "run", config, "--record", "recorded.jsonl"], tmp_path)
    bot.wait_for("tool call stuck", stream="stdout")

    sent = bot.signal(signum)
    code, ended = bot.finish(within=GRACE + MARGIN + 10)

    assert code == 0, bot.stderr
    assert ended - sent < GRACE + MARGIN  # not the minute the handler sleeps
    answer = {"tool_call_id": "t1", "output": "cancelled: the bot is stopping", "status": "error"}
    assert [m["properties"] for m in read_jsonl(tmp_path / "out.jsonl")] == [answer]
    outs = [
        line["message"]["properties"]
        for line in read_jsonl(tmp_path / "recorded.jsonl")
        if line["direction"] == "out"
    ]
    assert outs == [answer]
    assert "stuck cancelled (shutdown)" in bot.stdout
    assert "Traceback" not in bot.stderr


def test_a_second_sigterm_during_the_drain_exits_130_quietly(
    watch: Watch, cvibot_exe: str, tmp_path: Path
) -> None:
    config = _replay_bot(tmp_path, grace=60)
    bot = watch([cvibot_exe, "run", config, "--log-level", "error"], tmp_path)
    bot.wait_for("tool call stuck", stream="stdout")
    bot.signal(signal.SIGTERM)
    bot.wait_for("SIGTERM: finishing running tool calls")

    sent = bot.signal(signal.SIGTERM)
    code, ended = bot.finish(within=MARGIN + 10)

    assert code == 130
    assert ended - sent < MARGIN
    assert bot.plain_stderr() == [
        "SIGTERM: finishing running tool calls (again to quit at once)",
        "error: SIGTERM again: exiting now",
    ]


# -- Daily: joins and rejoins (the fake SDK) ------------------------------------------------

DAILY_TOOLS = STUCK_TOOLS


def _daily_bot(folder: Path, grace: float = GRACE) -> Path:
    write_text(folder / "daily_tools.py", DAILY_TOOLS)
    # Joins wait 30 s each, five rejoin attempts: without the stop, minutes.
    return write_text(
        folder / "bot.yaml",
        f"""
        conversation: {{id: c0ffee, url: "https://tavus.daily.co/c0ffee"}}
        transport:
          type: daily
          join_timeout: 30
          reconnect: {{max_attempts: 5, initial_backoff: 0.05, max_backoff: 0.1}}
        plugins: [daily_tools]
        dispatch: {{shutdown_grace: {grace}}}
        logging: {{level: info, format: json}}
        """,
    )


def _scenario(**fields: object) -> str:
    return json.dumps(fields)


def _log_events(bot: Watched) -> list[dict[str, object]]:
    return [json.loads(line) for line in bot.lines["stderr"] if line.startswith("{")]


def test_sigterm_during_a_hanging_join_stops_at_once(watch: Watch, tmp_path: Path) -> None:
    config = _daily_bot(tmp_path)
    scenario = _scenario(client={"join_outcome": "hang"})
    bot = watch(fake_daily_argv(scenario, "run", config, "-q"), tmp_path)
    bot.wait_for('"joining the room"')

    sent = bot.signal(signal.SIGTERM)
    code, ended = bot.finish(within=MARGIN + 10)

    assert code == 130
    assert ended - sent < MARGIN
    assert "error: stopped by SIGTERM before the conversation started" in bot.plain_stderr()
    events = [entry["event"] for entry in _log_events(bot)]
    assert "releasing the daily client in the background; a join is pending" in events
    assert "Traceback" not in bot.stderr


def test_sigterm_during_a_rejoin_stops_it_at_once(watch: Watch, tmp_path: Path) -> None:
    config = _daily_bot(tmp_path)
    scenario = _scenario(
        client={"join_outcomes": ["ok"], "join_outcome": "hang"}, replica=True, drop=True
    )
    bot = watch(fake_daily_argv(scenario, "run", config, "-q"), tmp_path)
    bot.wait_for('"rejoining the room"')

    sent = bot.signal(signal.SIGTERM)
    code, ended = bot.finish(within=MARGIN + 10)

    assert code == 0, bot.stderr
    assert ended - sent < MARGIN  # not 5 attempts of 30 s
    events = [entry["event"] for entry in _log_events(bot)]
    assert "not rejoining the room: the bot is leaving" in events
    assert "giving up on the room" not in events
    assert "Traceback" not in bot.stderr


def test_sigterm_mid_call_while_the_network_is_down_exits_within_the_grace(
    watch: Watch, tmp_path: Path
) -> None:
    config = _daily_bot(tmp_path)
    scenario = _scenario(
        client={"join_outcomes": ["ok"], "join_outcome": "hang"},
        replica=True,
        call={"name": "stuck", "arguments": {"seconds": 60}, "tool_call_id": "t1"},
        drop=True,
    )
    bot = watch(fake_daily_argv(scenario, "run", config, "-q"), tmp_path)
    bot.wait_for('"rejoining the room"')

    sent = bot.signal(signal.SIGTERM)
    code, ended = bot.finish(within=GRACE + MARGIN + 10)

    assert code == 0, bot.stderr
    assert ended - sent < GRACE + MARGIN
    [outcome] = [e for e in _log_events(bot) if e.get("tool_call_id") == "t1" and "outcome" in e]
    assert (outcome["outcome"], outcome["error"]) == ("cancelled", "shutdown")


def test_a_second_signal_during_a_rejoin_exits_130_quietly(watch: Watch, tmp_path: Path) -> None:
    config = _daily_bot(tmp_path, grace=60)
    scenario = _scenario(
        client={"join_outcomes": ["ok"], "join_outcome": "hang"},
        replica=True,
        call={"name": "stuck", "arguments": {"seconds": 60}, "tool_call_id": "t1"},
        drop=True,
    )
    bot = watch(fake_daily_argv(scenario, "run", config, "-q"), tmp_path)
    bot.wait_for('"rejoining the room"')
    bot.signal(signal.SIGTERM)
    bot.wait_for("SIGTERM: finishing running tool calls")

    sent = bot.signal(signal.SIGINT)
    code, ended = bot.finish(within=MARGIN + 10)

    assert code == 130
    assert ended - sent < MARGIN
    assert bot.plain_stderr() == [
        "SIGTERM: finishing running tool calls (again to quit at once)",
        "error: SIGINT again: exiting now",
    ]


# -- a handler that blocks the event loop ---------------------------------------------------

FROZEN_TOOLS = """
import time
from cvibot import tool

@tool(timeout=300)
async def frozen(seconds: float) -> str:
    \"\"\"Block the event loop (a bug: time.sleep in an async handler).\"\"\"
    time.sleep(seconds)
    return "finished"
"""


def _frozen_bot(folder: Path, grace: float) -> Path:
    write_text(folder / "frozen_tools.py", FROZEN_TOOLS)
    write_jsonl(
        folder / "rec.jsonl",
        [
            {
                "direction": "in",
                "at": 0.0,
                "message": tool_call(1, "frozen", {"seconds": 60}, "t1"),
            },
            {"direction": "in", "at": 120.0, "message": shutdown()},
        ],
    )
    return write_text(
        folder / "bot.yaml",
        f"""
        conversation: {{id: {CONVERSATION_ID}}}
        transport: {{type: replay, path: rec.jsonl, pace: recorded}}
        plugins: [frozen_tools]
        dispatch: {{shutdown_grace: {grace}}}
        logging: {{level: error, format: json}}
        """,
    )


def test_a_blocked_event_loop_still_exits_after_the_grace_and_clean_up_slack(
    watch: Watch, cvibot_exe: str, tmp_path: Path
) -> None:
    config = _frozen_bot(tmp_path, grace=1)
    bot = watch([cvibot_exe, "run", config], tmp_path)
    bot.wait_for("tool call frozen", stream="stdout")

    sent = bot.signal(signal.SIGTERM)
    code, ended = bot.finish(within=1 + MARGIN + 10)

    assert code == 1
    assert ended - sent < 1 + 2 + MARGIN  # the grace, the watchdog's slack, the margin
    *before, last = bot.plain_stderr()
    assert last == (
        "error: SIGTERM: the bot did not stop within 3 s (shutdown_grace and clean-up); exiting now"
    )
    # Said only if the loop ran once more after the signal, before the handler froze it.
    assert before in ([], ["SIGTERM: finishing running tool calls (again to quit at once)"])


def test_a_second_signal_exits_even_while_the_event_loop_is_blocked(
    watch: Watch, cvibot_exe: str, tmp_path: Path
) -> None:
    config = _frozen_bot(tmp_path, grace=60)
    bot = watch([cvibot_exe, "run", config], tmp_path)
    bot.wait_for("tool call frozen", stream="stdout")
    bot.signal(signal.SIGINT)  # the loop is (about to be) blocked: it may say nothing
    time.sleep(0.5)

    sent = bot.signal(signal.SIGINT)
    code, ended = bot.finish(within=MARGIN + 10)

    assert code == 130
    assert ended - sent < MARGIN
    *before, last = bot.plain_stderr()
    assert last == "error: SIGINT again: exiting now"
    assert before in ([], ["SIGINT: finishing running tool calls (again to quit at once)"])
    assert "Traceback" not in bot.stderr


def test_a_signal_while_a_created_conversation_is_being_ended_exits_130_quietly(
    watch: Watch, tmp_path: Path
) -> None:
    write_text(tmp_path / "daily_tools.py", DAILY_TOOLS)
    config = write_text(
        tmp_path / "bot.yaml",
        """
        conversation: {create: {persona_id: p1}}
        transport: {type: daily, join_timeout: 30}
        tavus: {api_key: fake-tavus-key, base_url: "${FAKE_TAVUS_URL}"}
        plugins: [daily_tools]
        logging: {level: error, format: json}
        """,
    )
    # The replica leaves, so the conversation is over for the bot, which then ends it
    # through the API: the fake takes a minute to answer.
    scenario = _scenario(client={"join_outcome": "ok"}, replica=True, leave=True, tavus=True)
    bot = watch(fake_daily_argv(scenario, "run", config, "-q"), tmp_path)
    bot.wait_for("fake: end requested", stream="stdout")

    sent = bot.signal(signal.SIGINT)
    code, ended = bot.finish(within=MARGIN + 10)

    assert code == 130
    assert ended - sent < MARGIN
    assert bot.plain_stderr() == ["error: SIGINT: exiting now"]
