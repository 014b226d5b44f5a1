"""The dispatcher's quick tool_result encoding gives exactly the model's message."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cvibot._protocol.interactions import (
    EncodedMessage,
    MessageTooLarge,
    ToolResult,
    encode_interaction,
    encode_tool_result,
)

# Any code point, lone surrogates and control characters included (they come from
# inbound JSON and handlers echo them).
_TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF))


@given(
    tool_call_id=_TEXT.filter(bool),
    output=_TEXT | st.text(alphabet="x\x01é", min_size=600, max_size=4200),
    ok=st.booleans(),
    conversation_id=_TEXT,
    limit=st.sampled_from([64, 300, 1024, 4096]),
)
def test_the_quick_encoding_is_the_models(
    tool_call_id: str, output: str, ok: bool, conversation_id: str, limit: int
) -> None:
    quick = encode_tool_result(tool_call_id, output, ok, conversation_id, limit)
    model = ToolResult(
        tool_call_id=tool_call_id, output=output, status="success" if ok else "error"
    )
    try:
        expected = encode_interaction(model, conversation_id, limit)
    except MessageTooLarge:
        assert quick is None  # the dispatcher then truncates or refuses it the model's way
        return
    assert isinstance(quick, EncodedMessage)
    assert quick == expected
    assert quick.data == expected.data  # the same bytes: valid UTF-8, within the limit
    assert len(quick.data) <= quick.bound <= limit


def test_an_empty_id_is_left_to_the_model() -> None:
    assert encode_tool_result("", "ok", True, "c1") is None
