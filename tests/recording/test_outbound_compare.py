"""compare_outbound: a multiset comparison that reports what a person can act on."""

from __future__ import annotations

import json
from collections import OrderedDict
from types import MappingProxyType
from typing import Any

import pytest
from recording_helpers import echo, tool_result

from cvibot._recording import ABSENT, compare_outbound


def test_equal_lists_are_ok() -> None:
    messages = [tool_result("t1", "3 pairs"), echo("hi")]
    diff = compare_outbound(messages, [dict(m) for m in messages])
    assert diff.ok
    assert diff.counts == {
        "recorded": 2,
        "sent": 2,
        "same": 2,
        "changed": 0,
        "missing": 0,
        "unexpected": 0,
    }
    assert diff.format() == "outbound: 2 messages, the same as recorded"


def test_reordered_messages_compare_equal() -> None:
    recorded = [tool_result("t1", "a"), tool_result("t2", "b"), echo("x"), echo("y")]
    sent = [echo("y"), tool_result("t2", "b"), echo("x"), tool_result("t1", "a")]
    assert compare_outbound(recorded, sent).ok


def test_key_order_whitespace_and_number_spelling_do_not_matter() -> None:
    recorded = [tool_result("t1", '{"order": 1, "items": [1, 2]}')]
    sent_message: dict[str, Any] = {
        "properties": OrderedDict(
            [
                ("status", "success"),
                ("output", '{"items":[1,2.0],"order":1}'),
                ("tool_call_id", "t1"),
            ]
        ),
        "event_type": "conversation.tool_result",
        "conversation_id": "c1",
        "message_type": "conversation",
    }
    assert compare_outbound(recorded, [MappingProxyType(sent_message)]).ok


def test_true_is_not_one_and_plain_strings_compare_exactly() -> None:
    recorded = [{"event_type": "x", "properties": {"done": True, "text": "a  b"}}]
    sent = [{"event_type": "x", "properties": {"done": 1, "text": "a b"}}]
    diff = compare_outbound(recorded, sent)
    assert not diff.ok
    [pair] = diff.changed
    assert [(f.path, f.recorded, f.sent) for f in pair.fields] == [
        ("properties.done", True, 1),
        ("properties.text", "a  b", "a b"),
    ]


def test_a_changed_answer_names_its_tool_call_and_field() -> None:
    recorded = [tool_result("t0", "same"), tool_result("t1", "3 pairs")]
    sent = [tool_result("t1", "4 pairs"), tool_result("t0", "same")]
    diff = compare_outbound(recorded, sent)
    assert not diff.ok
    [pair] = diff.changed
    assert (pair.key, pair.recorded_index, pair.sent_index) == (
        "conversation.tool_result tool_call_id=t1",
        1,
        0,
    )
    [change] = pair.fields
    assert (change.path, change.recorded, change.sent) == (
        "properties.output",
        "3 pairs",
        "4 pairs",
    )
    assert diff.counts["same"] == 1 and diff.counts["changed"] == 1
    text = diff.format()
    assert (
        'conversation.tool_result tool_call_id=t1: properties.output: "3 pairs" -> "4 pairs"'
        in text
    )
    assert text.splitlines()[0].startswith("outbound differs from the recording: 2 recorded")


def test_missing_and_unexpected_messages_are_reported() -> None:
    recorded = [tool_result("t1", "a"), echo("one moment"), tool_result("t2", "b")]
    sent = [tool_result("t2", "b"), tool_result("t1", "a"), tool_result("t9", "new")]
    diff = compare_outbound(recorded, sent)
    assert not diff.ok and not diff.changed
    assert [(m.key, m.index, m.message) for m in diff.missing] == [
        ("conversation.echo #1", 1, echo("one moment"))
    ]
    assert [(m.key, m.index) for m in diff.unexpected] == [
        ("conversation.tool_result tool_call_id=t9", 2)
    ]
    lines = diff.format().splitlines()
    assert lines[0].endswith("2 same, 0 changed, 1 missing, 1 unexpected")
    assert lines[1].startswith("  missing    conversation.echo #1: {")
    assert "one moment" in lines[1]
    assert lines[2].startswith("  unexpected conversation.tool_result tool_call_id=t9: {")


def test_messages_without_tool_call_id_pair_by_position_among_their_type() -> None:
    recorded = [echo("a"), echo("b"), echo("c")]
    sent = [echo("a"), echo("c"), echo("B")]
    diff = compare_outbound(recorded, sent)
    [pair] = diff.changed
    assert pair.key == "conversation.echo #2"  # the recording's second echo
    assert [f.format() for f in pair.fields] == ['properties.text: "b" -> "B"']
    assert not diff.missing and not diff.unexpected


def test_an_answer_whose_status_changed() -> None:
    diff = compare_outbound(
        [tool_result("t1", "ok")], [tool_result("t1", "order 13 does not exist", "error")]
    )
    [pair] = diff.changed
    assert [f.path for f in pair.fields] == ["properties.output", "properties.status"]


def test_fields_added_or_removed_and_json_text_paths() -> None:
    recorded = [tool_result("t1", json.dumps({"status": "shipped", "items": [1, 2]}))]
    changed = tool_result("t1", json.dumps({"status": "lost", "items": [1], "eta": None}))
    changed["properties"]["extra"] = 1
    del changed["conversation_id"]
    [pair] = compare_outbound(recorded, [changed]).changed
    found = {f.path: (f.recorded, f.sent) for f in pair.fields}
    assert found == {
        "conversation_id": ("c1", ABSENT),
        "properties.output<json>.status": ("shipped", "lost"),
        "properties.output<json>.items[1]": (2, ABSENT),
        "properties.output<json>.eta": (ABSENT, None),
        "properties.extra": (ABSENT, 1),
    }
    text = compare_outbound(recorded, [changed]).format()
    assert 'conversation_id: "c1" -> (absent)' in text


def test_long_strings_are_cut_around_the_first_difference() -> None:
    prefix = "x" * 500
    diff = compare_outbound([echo(prefix + "OLD tail")], [echo(prefix + "NEW tail")])
    [line] = [ln for ln in diff.format().splitlines() if ln.startswith("  changed")]
    assert "OLD" in line and "NEW" in line
    assert len(line) < 300
    assert "…" in line


def test_duplicates_count() -> None:
    diff = compare_outbound([echo("a"), echo("a")], [echo("a")])
    assert [m.key for m in diff.missing] == ["conversation.echo #2"]
    diff = compare_outbound([echo("a")], [echo("a"), echo("a")])
    assert [m.key for m in diff.unexpected] == ["conversation.echo #2"]


def test_empty_lists_and_inputs_untouched() -> None:
    assert compare_outbound([], []).ok
    recorded = [tool_result("t1", "a")]
    sent = [tool_result("t1", "b")]
    compare_outbound(recorded, sent)
    assert recorded == [tool_result("t1", "a")] and sent == [tool_result("t1", "b")]


def test_a_non_mapping_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"sent\[1\] is str"):
        compare_outbound([], [echo("a"), "b"])  # type: ignore[list-item]
