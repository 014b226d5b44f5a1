"""The bundled shop bot on its recorded conversation, end to end through ``cvibot``.

The recording holds one call that runs into its 1-second timeout, so each way of running
it runs once per module and the tests share the results.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import (
    EXAMPLE_CONFIG,
    SHOP_CONVERSATION,
    SHOP_DIR,
    RunProcess,
    answered_ids,
    invoke,
    read_jsonl,
)
from click.testing import Result

EXPECTED_IDS = [f"call_{n:02d}" for n in range(1, 12)]

TOOLS = (
    "add_to_cart, convert_time, local_time, lookup_order, product_shown, search_products, "
    "track_shipment, view_cart"
)

SUMMARY = [
    "summary",
    "  events      29 accepted: conversation.tool_call 11, conversation.utterance 10, "
    "conversation.utterance.streaming 2, conversation.perception_tool_call 1, "
    "conversation.rag.observability 1, conversation.stopped_speaking 1, "
    "conversation.user.started_speaking 1, system.replica_joined 1, system.shutdown 1",
    "  tool calls  13: success 8, error 3, timeout 1, cancelled 1",
    "  rejected    3: arguments_not_json 1, not_json 1, not_object 1",
    "  dropped     5: untrusted_sender 2, duplicate 1, other_conversation 1, role_twin 1",
    "  sent        13: conversation.tool_result 11, conversation.append_llm_context 1, "
    "conversation.echo 1",
    "  late        2 (arrived after a higher seq)",
]

OUTCOME_EVENTS = {"tool call answered", "tool call failed"}


# -- one run of each kind ------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_run(run_cvibot: RunProcess) -> subprocess.CompletedProcess[str]:
    """``cvibot run config.example.yaml`` as a real process, from another folder."""
    return run_cvibot("run", EXAMPLE_CONFIG)


@pytest.fixture(scope="module")
def replay_a(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    """``cvibot replay ... --out A`` in-process, with the transcript."""
    out = tmp_path_factory.mktemp("replay_a") / "A.jsonl"
    return invoke("replay", EXAMPLE_CONFIG, SHOP_CONVERSATION, "--out", out), out


@pytest.fixture(scope="module")
def replay_b(
    run_cvibot: RunProcess, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The same replay in a process of its own, quiet, logging JSON at info."""
    out = tmp_path_factory.mktemp("replay_b") / "B.jsonl"
    done = run_cvibot(
        "replay",
        EXAMPLE_CONFIG,
        SHOP_CONVERSATION,
        "--out",
        out,
        "--quiet",
        "--log-format",
        "json",
        "--log-level",
        "info",
    )
    return done, out


def _after(lines: list[str], line: str) -> str:
    """The line printed right after ``line`` (a call's outcome follows the call)."""
    assert line in lines, f"missing transcript line {line!r}"
    return lines[lines.index(line) + 1]


def _latency_ms(outcome_line: str) -> float:
    found = re.search(r" in (\d+\.\d) ms → ", outcome_line)
    assert found, outcome_line
    return float(found.group(1))


# -- cvibot run config.example.yaml ----------------------------------------------------------


def test_run_example_exits_0_without_traceback(
    example_run: subprocess.CompletedProcess[str],
) -> None:
    assert example_run.returncode == 0, example_run.stderr
    assert "Traceback" not in example_run.stderr
    assert not [line for line in example_run.stderr.splitlines() if line.startswith("error")]


def test_run_example_header_names_transport_mode_and_tools(
    example_run: subprocess.CompletedProcess[str],
) -> None:
    first, second = example_run.stdout.splitlines()[:2]
    assert first == f"cvibot · replay {SHOP_CONVERSATION} (fast) · pipeline_mode full"
    assert second == f"  8 tools: {TOOLS}"


def test_run_example_transcript_shows_speech_of_both_sides(
    example_run: subprocess.CompletedProcess[str],
) -> None:
    lines = example_run.stdout.splitlines()
    for line in [
        "  · replica joined",
        "  replica │ Hi, I'm Mia from Stride Running. How can I help you today?",
        "  user    │ Hi, where is my order A1001?",
        "  replica │ Your order A1001 shipped on Monday with UPS. Shall I track it?",
        "  user    │ Yes please, the tracking number is 1Z999AA10123456784.",
        "  user    │ OK. What's in my cart now?",
        "  · conversation shut down (end_conversation_endpoint_hit)",
    ]:
        assert line in lines
    # The final user utterance is printed once, not again for its streamed version.
    assert lines.count("  user    │ Hi, where is my order A1001?") == 1


def test_run_example_lookup_order_answers_a1001_with_a_tool_result(
    example_run: subprocess.CompletedProcess[str],
) -> None:
    lines = example_run.stdout.splitlines()
    outcome = _after(lines, '  ⚙ tool call lookup_order(order_id="A1001")  [seq 6, id call_01]')
    assert re.fullmatch(
        r"    ✓ lookup_order success in \d+\.\d ms → tool_result: "
        r'\{"order_id":"A1001","status":"shipped","placed_on":"2026-11-16",'
        r'"items":\["1 × Road Racer 9","2 × Running socks, 3 pack"\],'
        r'"tracking_number":"1Z999AA10123456784"\}',
        outcome,
    )


def test_run_example_pn_40077_tracking_times_out(
    example_run: subprocess.CompletedProcess[str],
) -> None:
    lines = example_run.stdout.splitlines()
    outcome = _after(
        lines, '  ⚙ tool call track_shipment(tracking_number="PN-40077")  [seq 26, id call_10]'
    )
    assert outcome.startswith("    ⏱ track_shipment timeout in ")
    assert outcome.endswith(" → tool_result[error]: track_shipment timed out after 1 s")
    assert 1000 <= _latency_ms(outcome) < 5000
    # The other tracking number answers in time.
    ups = _after(
        lines,
        '  ⚙ tool call track_shipment(tracking_number="1Z999AA10123456784")  [seq 9, id call_02]',
    )
    assert ups.startswith("    ✓ track_shipment success in ")
    assert ups.endswith(
        " → tool_result: UPS shipment 1Z999AA10123456784 is in transit, last seen in "
        "Louisville, KY, expected on 2026-11-21."
    )


def test_run_example_malformed_call_is_rejected_and_answered_with_an_error(
    example_run: subprocess.CompletedProcess[str],
) -> None:
    lines = example_run.stdout.splitlines()
    [rejected] = [line for line in lines if "rejected conversation.tool_call" in line]
    assert rejected.startswith(
        "  ✗ rejected conversation.tool_call (arguments_not_json): "
        "properties.arguments is not valid JSON"
    )
    assert rejected.endswith("  → answered with an error")
    outcome = _after(lines, rejected)
    assert outcome.startswith("    ✗ add_to_cart error (rejected) in ")
    assert " → tool_result[error]: invalid tool call: properties.arguments is not valid JSON" in (
        outcome
    )
    # The two garbled messages are rejected without an answer (nothing to answer).
    assert "  ✗ rejected message (not_object): message is an array, not a JSON object" in lines
    assert any(line.startswith("  ✗ rejected message (not_json): ") for line in lines)


def test_run_example_duplicate_role_twin_and_strangers_are_dropped(
    example_run: subprocess.CompletedProcess[str],
) -> None:
    lines = example_run.stdout.splitlines()
    for line in [
        "  · dropped conversation.tool_call seq 6 (duplicate)",
        "  · dropped conversation.utterance seq 2 (role_twin)",
        "  · dropped conversation.tool_call seq 5 (other_conversation)",
        "  ✗ ignored conversation.respond from 3b0c9e4a-2d6f-4f1b-8a7e-5c9d0e1f2a3b (Dana): "
        "not the replica (untrusted_sender)",
        # A human's browser forging a tool call runs nothing and gets no answer.
        "  ✗ ignored conversation.tool_call from 3b0c9e4a-2d6f-4f1b-8a7e-5c9d0e1f2a3b (Dana): "
        "not the replica (untrusted_sender)",
        "  · replica 8f2d7c1e-5b7a-4c3e-9d1a-0e6f2b9a7c11 (Mia, tavus-replica-r79e1c033f) "
        "joined the room",
    ]:
        assert lines.count(line) == 1, line
    assert not any("forged_01" in line for line in lines)
    # call_01 arrived twice but ran once.
    assert sum("lookup_order success" in line for line in lines) == 2  # call_01 and call_09


def test_run_example_late_search_is_cancelled_by_the_interruption(
    example_run: subprocess.CompletedProcess[str],
) -> None:
    lines = example_run.stdout.splitlines()
    assert "  · replica interrupted  (late: seq 22)" in lines
    outcome = _after(
        lines,
        '  ⚙ tool call search_products(query="road shoes")  [seq 21, id call_08]  (late: seq 21)',
    )
    assert outcome.startswith("    ⊘ search_products cancelled (interrupted) in ")
    assert outcome.endswith(" → tool_result[error]: cancelled: the replica was interrupted")


def test_run_example_other_reply_modes_and_errors(
    example_run: subprocess.CompletedProcess[str],
) -> None:
    lines = example_run.stdout.splitlines()
    local_time = _after(lines, '  ⚙ tool call local_time(timezone="Asia/Tokyo")  [seq 11]')
    assert local_time.endswith(" → echo: In Asia/Tokyo it is 00:00 on Saturday 21 November 2026.")
    shown = _after(
        lines,
        '  ⚙ perception tool call product_shown(product_name="a blue insulated water bottle")'
        "  [seq 17]",
    )
    assert shown.endswith(
        " → append_llm_context: The customer is showing a blue insulated water bottle on camera."
    )
    too_many = _after(
        lines, '  ⚙ tool call add_to_cart(sku="SK-5", quantity=50)  [seq 19, id call_06]'
    )
    assert too_many.startswith("    ✗ add_to_cart error (invalid_arguments) in ")
    assert "quantity: Input should be less than or equal to 20 (got 50)" in too_many
    unknown = _after(lines, "  ⚙ tool call cancel_subscription()  [seq 20, id call_07]")
    assert unknown.endswith(" → tool_result[error]: unknown tool 'cancel_subscription'")
    cart = _after(lines, "  ⚙ tool call view_cart()  [seq 28, id call_11]")
    assert cart.endswith(" → tool_result: The cart holds 2 × Trail Runner 3; total $240.00.")
    assert "  · unhandled event conversation.rag.observability" in lines


def test_run_example_ends_with_the_summary(example_run: subprocess.CompletedProcess[str]) -> None:
    assert example_run.stdout.splitlines()[-len(SUMMARY) :] == SUMMARY


def test_run_the_bots_own_config() -> None:
    result = invoke("run", SHOP_DIR / "bot.yaml")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith(f"cvibot · replay {SHOP_CONVERSATION} (fast)")
    assert result.stdout.splitlines()[-len(SUMMARY) :] == SUMMARY


# -- replay --out: the outbound messages --------------------------------------------------


def _recorded_call_ids() -> dict[str, str]:
    """tool_call_id -> conversation_id of every tool call in the recording that parses."""
    found: dict[str, str] = {}
    for text in SHOP_CONVERSATION.read_text(encoding="utf-8").splitlines():
        try:
            value: Any = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict) and "message" in value:
            value = value["message"]
        if not isinstance(value, dict) or value.get("event_type") != "conversation.tool_call":
            continue
        call_id = (value.get("properties") or {}).get("tool_call_id")
        if call_id:
            found[call_id] = value["conversation_id"]
    return found


def test_the_recording_holds_the_calls_the_tests_expect() -> None:
    recorded = _recorded_call_ids()
    assert recorded.pop("call_x1") == "c0ffee99"  # another conversation: not answered
    assert recorded.pop("forged_01") == "c0ffee42"  # sent by the human: not answered
    assert sorted(recorded) == EXPECTED_IDS
    assert set(recorded.values()) == {"c0ffee42"}


def test_replay_writes_every_answer_once(replay_a: tuple[Result, Path]) -> None:
    result, out = replay_a
    assert result.exit_code == 0, result.stderr
    messages = read_jsonl(out)

    ids = answered_ids(messages)
    assert ids == EXPECTED_IDS  # in order, each exactly once
    assert "call_x1" not in ids
    statuses = {
        m["properties"]["tool_call_id"]: m["properties"]["status"]
        for m in messages
        if m["event_type"] == "conversation.tool_result"
    }
    assert [i for i, s in statuses.items() if s == "error"] == [
        "call_05",
        "call_06",
        "call_07",
        "call_08",
        "call_10",
    ]
    assert [m["event_type"] for m in messages].count("conversation.echo") == 1
    assert [m["event_type"] for m in messages].count("conversation.append_llm_context") == 1
    assert len(messages) == 13
    assert {m["conversation_id"] for m in messages} == {"c0ffee42"}


def test_replay_out_file_lines_are_exact(replay_a: tuple[Result, Path]) -> None:
    _, out = replay_a
    lines = out.read_text(encoding="utf-8").splitlines()

    assert lines[0] == (
        '{"message_type":"conversation","event_type":"conversation.tool_result",'
        '"conversation_id":"c0ffee42","properties":{"tool_call_id":"call_01","output":'
        '"{\\"order_id\\":\\"A1001\\",\\"status\\":\\"shipped\\",\\"placed_on\\":'
        '\\"2026-11-16\\",\\"items\\":[\\"1 × Road Racer 9\\",\\"2 × Running socks, 3 pack\\"],'
        '\\"tracking_number\\":\\"1Z999AA10123456784\\"}","status":"success"}}'
    )
    assert lines[2] == (
        '{"message_type":"conversation","event_type":"conversation.echo",'
        '"conversation_id":"c0ffee42","properties":{"modality":"text",'
        '"text":"In Asia/Tokyo it is 00:00 on Saturday 21 November 2026.","done":true}}'
    )
    assert lines[5] == (
        '{"message_type":"conversation","event_type":"conversation.append_llm_context",'
        '"conversation_id":"c0ffee42","properties":{"context":'
        '"The customer is showing a blue insulated water bottle on camera."}}'
    )
    assert lines[6].startswith(
        '{"message_type":"conversation","event_type":"conversation.tool_result",'
        '"conversation_id":"c0ffee42","properties":{"tool_call_id":"call_05","output":'
        '"invalid tool call: properties.arguments is not valid JSON: '
    )
    assert lines[6].endswith('","status":"error"}}')
    assert lines[11] == (
        '{"message_type":"conversation","event_type":"conversation.tool_result",'
        '"conversation_id":"c0ffee42","properties":{"tool_call_id":"call_10",'
        '"output":"track_shipment timed out after 1 s","status":"error"}}'
    )
    assert lines[12] == (
        '{"message_type":"conversation","event_type":"conversation.tool_result",'
        '"conversation_id":"c0ffee42","properties":{"tool_call_id":"call_11",'
        '"output":"The cart holds 2 × Trail Runner 3; total $240.00.","status":"success"}}'
    )


def test_replay_is_deterministic_byte_for_byte(
    replay_a: tuple[Result, Path],
    replay_b: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    (result, a), (done, b) = replay_a, replay_b
    assert result.exit_code == 0
    assert done.returncode == 0, done.stderr

    assert a.read_bytes() == b.read_bytes()


def test_replay_prints_the_same_transcript_as_run(
    replay_a: tuple[Result, Path], example_run: subprocess.CompletedProcess[str]
) -> None:
    def stable(text: str) -> list[str]:
        return [re.sub(r" in \d+\.\d ms → ", " in … ms → ", line) for line in text.splitlines()]

    assert stable(replay_a[0].stdout) == stable(example_run.stdout)


# -- --quiet and JSON logs ---------------------------------------------------------------


def test_quiet_prints_nothing_on_stdout(
    replay_b: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, _ = replay_b
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


def test_json_logs_are_one_object_per_line_with_an_event(
    replay_b: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, _ = replay_b
    lines = done.stderr.splitlines()
    assert lines
    records = [json.loads(line) for line in lines]
    assert all(isinstance(r, dict) and isinstance(r.get("event"), str) for r in records)
    assert {r["level"] for r in records} <= {"info", "warning"}
    [summary] = [r for r in records if r["event"] == "run summary"]
    assert summary["tool_calls"] == {"success": 8, "error": 3, "timeout": 1, "cancelled": 1}
    assert summary["conversation_id"] == "c0ffee42"


def test_json_outcome_lines_carry_the_call_identity(
    replay_b: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, _ = replay_b
    records = [json.loads(line) for line in done.stderr.splitlines()]
    outcomes = [r for r in records if r["event"] in OUTCOME_EVENTS]

    assert len(outcomes) == 13
    for record in outcomes:
        for key in ("conversation_id", "tool_call_id", "inference_id", "seq", "tool", "latency_ms"):
            assert key in record, (key, record)
        assert record["conversation_id"] == "c0ffee42"
        assert isinstance(record["latency_ms"], int | float)
    by_id = {r["tool_call_id"]: r for r in outcomes if r["tool_call_id"]}
    assert sorted(by_id) == EXPECTED_IDS
    assert by_id["call_10"] | {"latency_ms": 0} == {
        **by_id["call_10"],
        "tool": "track_shipment",
        "outcome": "timeout",
        "inference_id": "inf-u8",
        "seq": 26,
        "latency_ms": 0,
    }
    assert by_id["call_10"]["latency_ms"] >= 1000
    assert (by_id["call_05"]["outcome"], by_id["call_05"]["error"]) == ("error", "rejected")
    # Calls without a tool_call_id (the bare local_time, the perception call) are logged too.
    assert Counter(r["tool"] for r in outcomes if r["tool_call_id"] is None) == {
        "local_time": 1,
        "product_shown": 1,
    }


# -- --pace recorded -------------------------------------------------------------------------


def test_recorded_pace_answers_every_call_once(tmp_path: Path) -> None:
    out = tmp_path / "recorded.jsonl"
    result = invoke(
        "replay",
        EXAMPLE_CONFIG,
        SHOP_CONVERSATION,
        "--pace",
        "recorded",
        "--speed",
        "1000",
        "--out",
        out,
        "--quiet",
    )

    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    messages = read_jsonl(out)
    assert Counter(answered_ids(messages)) == Counter(EXPECTED_IDS)
    # The shutdown arrives (at 65 ms) while PN-40077 is still being tracked: the call
    # still gets its answer, sent before the transport closes.
    [timeout] = [m for m in messages if m["properties"].get("tool_call_id") == "call_10"]
    assert timeout["properties"] == {
        "tool_call_id": "call_10",
        "output": "track_shipment timed out after 1 s",
        "status": "error",
    }
