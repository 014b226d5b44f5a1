"""Outbound interactions: exact JSON, validation, size limit (protocol reference §3)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cvibot._protocol import (
    DEFAULT_MESSAGE_LIMIT,
    AppendContext,
    Echo,
    EncodedMessage,
    Interaction,
    Interrupt,
    MessageTooLarge,
    OverwriteContext,
    Respond,
    Sensitivity,
    ToolResult,
    check_size,
    encode_interaction,
    encode_message,
    fit_to_limit,
)

CID = "c123"


def envelope(event_type: str, properties: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_type": "conversation",
        "event_type": event_type,
        "conversation_id": CID,
    }
    if properties is not None:
        message["properties"] = properties
    return message


# --- exact serialisation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interaction", "expected"),
    [
        (
            Echo(text="It is 21 degrees in Paris."),
            envelope(
                "conversation.echo",
                {"modality": "text", "text": "It is 21 degrees in Paris.", "done": True},
            ),
        ),
        (
            Echo(text="Hi", inference_id="inf-1"),
            envelope(
                "conversation.echo",
                {"modality": "text", "text": "Hi", "inference_id": "inf-1", "done": True},
            ),
        ),
        (
            Echo(audio="AAAA", sample_rate=24000, inference_id="utt-1", done=False),
            envelope(
                "conversation.echo",
                {
                    "modality": "audio",
                    "audio": "AAAA",
                    "sample_rate": 24000,
                    "inference_id": "utt-1",
                    "done": False,
                },
            ),
        ),
        (
            Echo(audio=""),
            envelope("conversation.echo", {"modality": "audio", "audio": "", "done": True}),
        ),
        (
            Respond(text="What's the weather?"),
            envelope("conversation.respond", {"text": "What's the weather?"}),
        ),
        (Interrupt(), envelope("conversation.interrupt")),
        (
            OverwriteContext(context="The user is Ada."),
            envelope("conversation.overwrite_llm_context", {"context": "The user is Ada."}),
        ),
        (
            OverwriteContext(context=""),
            envelope("conversation.overwrite_llm_context", {"context": ""}),
        ),
        (
            AppendContext(context="Order 42 shipped."),
            envelope("conversation.append_llm_context", {"context": "Order 42 shipped."}),
        ),
        (
            AppendContext(context="Job done.", job_status="completed"),
            envelope(
                "conversation.append_llm_context",
                {"context": "Job done.", "job_status": "completed"},
            ),
        ),
        (
            Sensitivity(participant_pause_sensitivity="high"),
            envelope("conversation.sensitivity", {"participant_pause_sensitivity": "high"}),
        ),
        (
            Sensitivity(participant_interrupt_sensitivity="superlow"),
            envelope("conversation.sensitivity", {"participant_interrupt_sensitivity": "superlow"}),
        ),
        (
            Sensitivity(
                participant_pause_sensitivity="auto", participant_interrupt_sensitivity="low"
            ),
            envelope(
                "conversation.sensitivity",
                {
                    "participant_pause_sensitivity": "auto",
                    "participant_interrupt_sensitivity": "low",
                },
            ),
        ),
        (
            ToolResult(tool_call_id="call_1", output="21 degrees"),
            envelope(
                "conversation.tool_result",
                {"tool_call_id": "call_1", "output": "21 degrees", "status": "success"},
            ),
        ),
        (
            ToolResult(tool_call_id="call_2", output="lookup failed", status="error"),
            envelope(
                "conversation.tool_result",
                {"tool_call_id": "call_2", "output": "lookup failed", "status": "error"},
            ),
        ),
        (
            ToolResult(tool_call_id="call_3"),
            envelope(
                "conversation.tool_result",
                {"tool_call_id": "call_3", "output": "", "status": "success"},
            ),
        ),
    ],
)
def test_to_message_is_the_documented_json(
    interaction: Interaction, expected: dict[str, Any]
) -> None:
    message = interaction.to_message(CID)
    assert message == expected
    assert interaction.properties() == expected.get("properties")
    # What goes on the wire decodes to the same thing, booleans as booleans (D10).
    assert json.loads(encode_message(message)) == expected


def test_interrupt_has_no_properties_key() -> None:
    assert Interrupt().properties() is None
    assert "properties" not in Interrupt().to_message(CID)


@pytest.mark.parametrize(
    ("cls", "event_type"),
    [
        (Echo, "conversation.echo"),
        (Respond, "conversation.respond"),
        (Interrupt, "conversation.interrupt"),
        (OverwriteContext, "conversation.overwrite_llm_context"),
        (AppendContext, "conversation.append_llm_context"),
        (Sensitivity, "conversation.sensitivity"),
        (ToolResult, "conversation.tool_result"),
    ],
)
def test_event_types(cls: type[Interaction], event_type: str) -> None:
    assert cls.event_type == event_type


def test_echo_modality_is_derived() -> None:
    assert Echo(text="x").modality == "text"
    assert Echo(audio="AAAA").modality == "audio"


def test_tool_result_needs_an_id_to_be_sent() -> None:
    result = ToolResult(output="42")
    with pytest.raises(ValueError, match="tool_call_id"):
        result.to_message(CID)
    with pytest.raises(ValueError, match="tool_call_id"):
        result.properties()
    filled = result.model_copy(update={"tool_call_id": "call_7"})
    assert filled.to_message(CID)["properties"] == {
        "tool_call_id": "call_7",
        "output": "42",
        "status": "success",
    }


def test_interactions_are_frozen() -> None:
    echo = Echo(text="x")
    with pytest.raises(ValidationError):
        echo.text = "y"  # type: ignore[misc]


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        pytest.param(Echo, dict(), id="echo-neither"),
        pytest.param(Echo, dict(text="a", audio="AAAA"), id="echo-both"),
        pytest.param(Echo, dict(audio="not base64!"), id="audio-alphabet"),
        pytest.param(Echo, dict(audio="AAA"), id="audio-padding"),
        pytest.param(Echo, dict(audio="AA==AA"), id="audio-after-padding"),
        pytest.param(Echo, dict(audio="AAAA\n"), id="audio-newline"),
        pytest.param(Echo, dict(audio="ÀÀÀÀ"), id="audio-non-ascii"),
        pytest.param(Echo, dict(audio="AAAA", sample_rate=0), id="sample-rate-zero"),
        pytest.param(Echo, dict(audio="AAAA", sample_rate=-16000), id="sample-rate-negative"),
        pytest.param(Echo, dict(audio="AAAA", sample_rate="24000"), id="sample-rate-str"),
        pytest.param(Echo, dict(audio="AAAA", sample_rate=24000.0), id="sample-rate-float"),
        pytest.param(Echo, dict(text="a", sample_rate=24000), id="sample-rate-with-text"),
        pytest.param(Echo, dict(text="a", done="true"), id="done-str"),
        pytest.param(Echo, dict(text="a", done=1), id="done-int"),
        pytest.param(Echo, dict(text=5), id="text-int"),
        pytest.param(Echo, dict(text="a", modality="text"), id="modality-not-a-field"),
        pytest.param(Respond, dict(text=""), id="respond-empty"),
        pytest.param(Respond, dict(), id="respond-missing"),
        pytest.param(OverwriteContext, dict(), id="overwrite-missing"),
        pytest.param(OverwriteContext, dict(text="x"), id="overwrite-text-key"),
        pytest.param(AppendContext, dict(context="x", job_status=1), id="job-status-int"),
        pytest.param(Sensitivity, dict(), id="sensitivity-none"),
        pytest.param(
            Sensitivity, dict(participant_pause_sensitivity="max"), id="sensitivity-value"
        ),
        pytest.param(
            Sensitivity, dict(participant_interrupt_sensitivity="HIGH"), id="sensitivity-case"
        ),
        pytest.param(ToolResult, dict(tool_call_id="c", status="ok"), id="status-value"),
        pytest.param(ToolResult, dict(tool_call_id=""), id="tool-call-id-empty"),
        pytest.param(ToolResult, dict(tool_call_id="c", output={"a": 1}), id="output-object"),
        pytest.param(ToolResult, dict(tool_call_id="c", name="t"), id="extra-field"),
        pytest.param(Interrupt, dict(now=True), id="interrupt-extra"),
    ],
)
def test_validation_errors(cls: type[Interaction], kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        cls(**kwargs)


def test_validation_messages_are_clear() -> None:
    with pytest.raises(ValidationError, match="exactly one of text or audio"):
        Echo()
    with pytest.raises(ValidationError, match="audio is not valid base64"):
        Echo(audio="AAA")
    with pytest.raises(ValidationError, match="participant_pause_sensitivity"):
        Sensitivity()


# --- encoding and the size limit ------------------------------------------------------------


def test_default_limit_is_dailys_4_kb() -> None:
    assert DEFAULT_MESSAGE_LIMIT == 4096


def test_encode_message_is_compact_utf8() -> None:
    message = Echo(text='Zoë says "hi"\n').to_message(CID)
    encoded = encode_message(message)
    assert (
        encoded
        == (
            '{"message_type":"conversation","event_type":"conversation.echo",'
            '"conversation_id":"c123","properties":{"modality":"text",'
            '"text":"Zoë says \\"hi\\"\\n","done":true}}'
        ).encode()
    )


@pytest.mark.parametrize(
    "message",
    [
        {"x": float("nan")},
        {"x": float("inf")},
        {"x": object()},
        {"x": "\ud800"},
        {"x": b"bytes"},
    ],
)
def test_encode_message_rejects_non_json(message: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not JSON-encodable"):
        encode_message(message)


def _echo_of_size(size: int) -> dict[str, Any]:
    base = len(encode_message(Echo(text="").to_message(CID)))
    return Echo(text="x" * (size - base)).to_message(CID)


def test_check_size_at_exactly_the_limit() -> None:
    message = _echo_of_size(DEFAULT_MESSAGE_LIMIT)
    encoded = check_size(message)
    assert len(encoded) == DEFAULT_MESSAGE_LIMIT
    assert encoded == encode_message(message)


def test_check_size_one_byte_over() -> None:
    message = _echo_of_size(DEFAULT_MESSAGE_LIMIT + 1)
    with pytest.raises(MessageTooLarge) as caught:
        check_size(message)
    assert caught.value.size == DEFAULT_MESSAGE_LIMIT + 1
    assert caught.value.limit == DEFAULT_MESSAGE_LIMIT
    assert caught.value.event_type == "conversation.echo"
    assert str(caught.value) == (
        "conversation.echo message is 4097 bytes, over the 4096-byte app-message limit"
    )
    assert isinstance(caught.value, ValueError)


def test_check_size_custom_limit() -> None:
    message = Interrupt().to_message(CID)
    size = len(encode_message(message))
    assert len(check_size(message, limit=size)) == size
    with pytest.raises(MessageTooLarge):
        check_size(message, limit=size - 1)


def test_message_too_large_text() -> None:
    error = MessageTooLarge(5123, 4096, "conversation.echo")
    assert str(error) == (
        "conversation.echo message is 5123 bytes, over the 4096-byte app-message limit"
    )


# --- fit_to_limit -------------------------------------------------------------------------


def _size(interaction: Interaction) -> int:
    return len(encode_message(interaction.to_message(CID)))


def _assert_maximal_truncation(original: str, shortened: str, rebuild: Any, limit: int) -> None:
    """``shortened`` is a prefix plus "…" that fits, and one more character would not."""
    assert shortened.endswith("…")
    prefix = shortened[:-1]
    assert original.startswith(prefix)
    assert len(prefix) < len(original)
    longer = original[: len(prefix) + 1] + "…"
    assert _size(rebuild(longer)) > limit


def test_fit_to_limit_returns_a_fitting_interaction_untouched() -> None:
    echo = Echo(text="short")
    fitted, truncated = fit_to_limit(echo, CID)
    assert fitted is echo
    assert truncated is False


def test_fit_to_limit_exactly_at_the_limit_is_untouched() -> None:
    message = _echo_of_size(300)
    echo = Echo(text=message["properties"]["text"])
    fitted, truncated = fit_to_limit(echo, CID, limit=300)
    assert fitted is echo and not truncated


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a" * 10_000, id="ascii"),
        pytest.param("é" * 5_000, id="two-byte"),
        pytest.param("日本語" * 3_000, id="three-byte"),
        pytest.param("🙂" * 3_000, id="four-byte"),
        pytest.param('"\\' * 3_000, id="escaped-two-byte"),
        pytest.param("\x01\x1f" * 3_000, id="escaped-six-byte"),
        pytest.param(('ab🙂\n"é\x02' * 1_000), id="mixed"),
    ],
)
def test_fit_to_limit_truncates_echo_text(text: str) -> None:
    echo = Echo(text=text, inference_id="inf-1")
    fitted, truncated = fit_to_limit(echo, CID)
    assert truncated is True
    assert isinstance(fitted, Echo)
    assert _size(fitted) <= DEFAULT_MESSAGE_LIMIT
    assert fitted.inference_id == "inf-1" and fitted.done is True
    assert fitted.text is not None
    _assert_maximal_truncation(
        text, fitted.text, lambda t: Echo(text=t, inference_id="inf-1"), DEFAULT_MESSAGE_LIMIT
    )


@pytest.mark.parametrize(
    ("interaction", "key", "rebuild"),
    [
        (Respond(text="r" * 5000), "text", lambda t: Respond(text=t)),
        (
            OverwriteContext(context="o" * 5000),
            "context",
            lambda t: OverwriteContext(context=t),
        ),
        (
            AppendContext(context="ä" * 5000, job_status="completed"),
            "context",
            lambda t: AppendContext(context=t, job_status="completed"),
        ),
        (
            ToolResult(tool_call_id="call_1", output="ü" * 5000, status="error"),
            "output",
            lambda t: ToolResult(tool_call_id="call_1", output=t, status="error"),
        ),
    ],
)
def test_fit_to_limit_truncates_the_text_field(
    interaction: Interaction, key: str, rebuild: Any
) -> None:
    fitted, truncated = fit_to_limit(interaction, CID, limit=1000)
    assert truncated is True
    assert type(fitted) is type(interaction)
    assert _size(fitted) <= 1000
    shortened = getattr(fitted, key)
    _assert_maximal_truncation(getattr(interaction, key), shortened, rebuild, 1000)
    # Everything but the text field is kept.
    assert fitted.model_dump(exclude={key}) == interaction.model_dump(exclude={key})


def test_fit_to_limit_refuses_audio() -> None:
    echo = Echo(audio="AAAA" * 2000, sample_rate=24000)
    with pytest.raises(MessageTooLarge) as caught:
        fit_to_limit(echo, CID)
    assert caught.value.event_type == "conversation.echo"
    assert caught.value.size == _size(echo)


@pytest.mark.parametrize(
    "interaction", [Interrupt(), Sensitivity(participant_pause_sensitivity="low")]
)
def test_fit_to_limit_refuses_interactions_without_text(interaction: Interaction) -> None:
    with pytest.raises(MessageTooLarge):
        fit_to_limit(interaction, "c" * 5000)


def test_fit_to_limit_when_not_even_the_ellipsis_fits() -> None:
    echo = Echo(text="hello world")
    empty = _size(Echo(text=""))
    with pytest.raises(MessageTooLarge):
        fit_to_limit(echo, CID, limit=empty + 2)  # "…" is three bytes
    fitted, truncated = fit_to_limit(echo, CID, limit=empty + 3)
    assert truncated and fitted == Echo(text="…")


def test_fit_to_limit_needs_a_tool_call_id() -> None:
    with pytest.raises(ValueError, match="tool_call_id"):
        fit_to_limit(ToolResult(output="x" * 5000), CID)


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(min_size=1, max_size=400),
    limit=st.integers(min_value=120, max_value=600),
)
def test_fit_to_limit_always_fits_and_keeps_the_longest_prefix(text: str, limit: int) -> None:
    respond = Respond(text=text)  # lone surrogates included: they become U+FFFD
    fitted, truncated = fit_to_limit(respond, CID, limit=limit)
    assert _size(fitted) <= limit
    assert isinstance(fitted, Respond)
    if not truncated:
        assert fitted is respond
    else:
        _assert_maximal_truncation(
            respond.text or "", fitted.text, lambda t: Respond(text=t), limit
        )


_ANY_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None))


@settings(max_examples=300, deadline=None)
@given(output=_ANY_TEXT, call_id=_ANY_TEXT.filter(bool), limit=st.integers(100, 5000))
def test_encode_interaction_checks_and_encodes_once(output: str, call_id: str, limit: int) -> None:
    """Whatever the text (lone surrogates, escapes, astral characters): the message is
    valid UTF-8 JSON, fits the limit exactly when its real encoding does, and the bound
    handed to transports is never below the real size."""
    interaction = ToolResult(tool_call_id=call_id, output=output)
    data = encode_message(interaction.to_message(CID))  # mended, so always encodable
    if len(data) > limit:
        with pytest.raises(MessageTooLarge) as caught:
            encode_interaction(interaction, CID, limit)
        assert caught.value.size == len(data)
        return
    encoded = encode_interaction(interaction, CID, limit)
    assert isinstance(encoded, EncodedMessage) and isinstance(encoded, dict)
    assert encoded.data == data and encoded.size == len(data)
    assert len(data) <= encoded.bound <= limit
    assert json.loads(data.decode("utf-8")) == encoded


def test_encode_interaction_hands_on_the_json_that_was_measured() -> None:
    """A custom interaction holding a tuple or a float is measured for real, and the
    message handed on is exactly that JSON (the tuple a list)."""

    class Custom(Interaction):
        event_type = "conversation.custom"

        def properties(self) -> dict[str, Any]:
            return {"pair": (1, 2), "ratio": 0.5}

    encoded = encode_interaction(Custom(), CID)
    assert encoded["properties"] == {"pair": [1, 2], "ratio": 0.5}
    assert encoded.bound == len(encoded.data)
    with pytest.raises(ValueError, match="not JSON-encodable"):

        class NotJson(Custom):
            def properties(self) -> dict[str, Any]:
                return {"x": float("nan")}

        encode_interaction(NotJson(), CID)
