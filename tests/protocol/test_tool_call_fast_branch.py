"""The tool-call builder's inline branch (the usual shape) reads exactly what the checking
readers read: same event, or the same rejection, for any message."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvibot._protocol import builders, parse_event

SAME = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))

surrogates = st.integers(0xD800, 0xDFFF).map(chr)
texts = st.one_of(
    st.text(max_size=8),
    st.lists(st.one_of(st.characters(), surrogates), max_size=8).map("".join),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), texts),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(texts, children, max_size=3)
    ),
    max_leaves=12,
)


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


argument_texts = st.one_of(
    st.dictionaries(texts, json_values, max_size=4).map(json.dumps),
    st.dictionaries(texts, json_values, max_size=4).map(lambda d: json.dumps(d) + " "),
    st.dictionaries(texts, json_values, max_size=4).map(lambda d: json.dumps(d) + "x"),
    st.integers(55, 70).map(_nested),  # around the depth the inline branch accepts
    texts.map(lambda t: "{" + t),
    st.sampled_from(["", " ", "{}", "[]", '{"a": 1}{', "{\n}", '{"a": "\x01"}', "{" * 70]),
    texts,
)
fields = st.one_of(st.none(), texts, st.integers(), st.booleans())


@SAME
@given(
    name=fields,
    arguments=st.one_of(argument_texts, json_values),
    tool_call_id=fields,
    top_id=fields,
)
def test_the_inline_branch_reads_what_the_checking_readers_read(
    name: Any, arguments: Any, tool_call_id: Any, top_id: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = {
        "event_type": "conversation.tool_call",
        "conversation_id": "c1",
        "seq": 3,
        "tool_call_id": top_id,
        "properties": {"name": name, "arguments": arguments, "tool_call_id": tool_call_id},
    }
    inline = parse_event(message)
    with monkeypatch.context() as patch:
        patch.setattr(builders, "_PLAIN_BRACKETS", -1)  # no text passes: the checking way
        checked = parse_event(message)
    assert inline == checked
