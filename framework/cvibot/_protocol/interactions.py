"""Outbound interactions: what a client sends to a Tavus conversation (protocol reference §3).

Each interaction is a frozen pydantic model that validates its fields once, at
construction, and serialises to exactly the documented JSON with
:meth:`Interaction.to_message`::

    {"message_type": "conversation", "event_type": "conversation.echo",
     "conversation_id": "c123", "properties": {"modality": "text", "text": "Hi", "done": true}}

The message travels as one Daily app-message, documented at 4 KB at most
(:data:`DEFAULT_MESSAGE_LIMIT`). :func:`encode_interaction` is the one place an
outbound message is built, checked against the limit and encoded: it returns an
:class:`EncodedMessage` that transports hand on without checking or encoding it again.
:func:`check_size` checks a message built by hand, and :func:`fit_to_limit` shortens the
text of an interaction that would exceed the limit.

Outbound text is always valid UTF-8. Inbound strings may hold lone UTF-16 surrogates
(JSON's ``"\\ud83d"`` escape decodes to one), and a handler may echo them back in its
answer, its error or through the call's ``tool_call_id``. This module is the one place
they are mended: :meth:`Interaction.to_message` replaces the lone surrogates of every
string property and of the ``conversation_id`` by U+FFFD
(:func:`~cvibot._protocol.text.valid_unicode`), and the fields with a length constraint
(``ToolResult.tool_call_id``, ``Respond.text``) are mended when the model is built. So a
``tool_call_id`` that carried one is answered with U+FFFD in its place, the closest
UTF-8 can come to it.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cvibot._errors import CvibotError
from cvibot._protocol.text import has_surrogates, valid_unicode

__all__ = [
    "DEFAULT_MESSAGE_LIMIT",
    "AppendContext",
    "Echo",
    "EncodedMessage",
    "Interaction",
    "Interrupt",
    "MessageTooLarge",
    "OverwriteContext",
    "Respond",
    "Sensitivity",
    "SensitivityLevel",
    "ToolResult",
    "check_size",
    "encode_interaction",
    "encode_message",
    "encode_tool_result",
    "fit_to_limit",
]

DEFAULT_MESSAGE_LIMIT = 4096
"""Bytes per app-message: the 4 KB limit documented by Daily (daily-js and REST docs).

daily-python itself checks no size, so an oversized message fails later, elsewhere.
"""

_ELLIPSIS = "…"  # appended by fit_to_limit to a shortened text

SensitivityLevel = Literal["superlow", "verylow", "low", "medium", "high", "auto"]
"""Values of the ``conversation.sensitivity`` properties: the wider set of the cvi-ui
typings; the docs list only ``low``, ``medium``, ``high`` (D12)."""


class MessageTooLarge(CvibotError, ValueError):
    """An encoded interaction exceeds the app-message limit.

    Attributes: ``size`` (bytes of the encoded message), ``limit`` (bytes) and
    ``event_type`` (e.g. ``"conversation.echo"``).
    """

    def __init__(self, size: int, limit: int, event_type: str) -> None:
        super().__init__(
            f"{event_type} message is {size} bytes, over the {limit}-byte app-message limit"
        )
        self.size = size
        self.limit = limit
        self.event_type = event_type


def _mended(value: Any) -> Any:
    """A before-validator for string fields with a length constraint: pydantic reads the
    characters of those, and refuses a string holding a lone surrogate (the call's
    ``tool_call_id``, or text a handler echoes back, may hold one)."""
    return valid_unicode(value) if isinstance(value, str) else value


class Interaction(BaseModel):
    """Base of the outbound interactions (protocol reference §3.1).

    Subclasses set the class attribute ``event_type`` and implement :meth:`properties`.
    Models are immutable, reject unknown fields and do not coerce types (``strict``);
    their messages have lone surrogates replaced by U+FFFD (see the module docstring).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    event_type: ClassVar[str]
    # Name of the one free-text property fit_to_limit may shorten; None when there is none.
    _text_field: ClassVar[str | None] = None

    def properties(self) -> dict[str, Any] | None:
        """The documented ``properties`` object, omitting optional fields that are ``None``.

        ``None`` for an interaction without properties (:class:`Interrupt`), whose message
        then has no ``"properties"`` key at all.
        """
        raise NotImplementedError

    def to_message(self, conversation_id: str) -> dict[str, Any]:
        """The whole app-message for ``conversation_id``: the §3 envelope plus properties.

        Lone surrogates in ``conversation_id`` and in the string properties (both may
        come from inbound events) are replaced by U+FFFD, so the message always encodes
        as UTF-8.
        """
        if not conversation_id.isascii():
            conversation_id = valid_unicode(conversation_id)
        message: dict[str, Any] = {
            "message_type": "conversation",
            "event_type": self.event_type,
            "conversation_id": conversation_id,
        }
        properties = self.properties()
        if properties is not None:
            for key, value in properties.items():
                # isascii() is O(1): the usual text costs no search.
                if type(value) is str and not value.isascii() and has_surrogates(value):
                    properties[key] = valid_unicode(value)
            message["properties"] = properties
        return message


class Echo(Interaction):
    """``conversation.echo``: the replica speaks exactly this text or audio (§3.2).

    Exactly one of:

    - ``text``: spoken verbatim through TTS (skips the LLM);
    - ``audio``: base64 of raw 16-bit mono PCM, played by the renderer; ``sample_rate`` in
      Hz (Tavus recommends 24000 and assumes 16000 when absent); stream an utterance as
      chunks sharing one ``inference_id``, ``done`` false on all but the last.

    ``modality`` is derived and always sent explicitly (D11); ``done`` is sent as a boolean
    (D10). Serialises to ``{"modality": "text", "text": ..., "done": true}`` (plus
    ``inference_id`` when set) or ``{"modality": "audio", "audio": ..., "sample_rate": ...,
    "inference_id": ..., "done": ...}`` (optional fields left out when ``None``).

    Raises ``pydantic.ValidationError`` for neither or both payloads, audio that is not
    strict base64, ``sample_rate`` not a positive integer or given with text, ``done`` not a
    boolean.
    """

    event_type: ClassVar[str] = "conversation.echo"
    _text_field: ClassVar[str | None] = "text"

    text: str | None = None
    audio: str | None = None
    sample_rate: int | None = Field(default=None, gt=0)
    inference_id: str | None = None
    done: bool = True

    @field_validator("audio")
    @classmethod
    def _audio_is_base64(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                binascii.a2b_base64(value, strict_mode=True)
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"audio is not valid base64: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_payload(self) -> Self:
        if (self.text is None) == (self.audio is None):
            raise ValueError("an echo carries exactly one of text or audio")
        if self.text is not None and self.sample_rate is not None:
            raise ValueError("sample_rate applies to audio echoes only")
        return self

    @property
    def modality(self) -> Literal["text", "audio"]:
        """``"text"`` when the echo carries text, ``"audio"`` when it carries audio."""
        return "text" if self.text is not None else "audio"

    def properties(self) -> dict[str, Any]:
        if self.text is not None:
            properties: dict[str, Any] = {"modality": "text", "text": self.text}
        else:
            properties = {"modality": "audio", "audio": self.audio}
            if self.sample_rate is not None:
                properties["sample_rate"] = self.sample_rate
        if self.inference_id is not None:
            properties["inference_id"] = self.inference_id
        properties["done"] = self.done
        return properties


class Respond(Interaction):
    """``conversation.respond``: ``text`` (non-empty) is answered as if the user said it (§3.3).

    Goes through Tavus's LLM; serialises to ``{"text": ...}``.
    """

    event_type: ClassVar[str] = "conversation.respond"
    _text_field: ClassVar[str | None] = "text"

    text: str = Field(min_length=1)

    @field_validator("text", mode="before")
    @classmethod
    def _mend_text(cls, value: Any) -> Any:
        return _mended(value)

    def properties(self) -> dict[str, Any]:
        return {"text": self.text}


class Interrupt(Interaction):
    """``conversation.interrupt``: stop the replica mid-speech (§3.4); no properties."""

    event_type: ClassVar[str] = "conversation.interrupt"

    def properties(self) -> dict[str, Any] | None:
        return None


class OverwriteContext(Interaction):
    """``conversation.overwrite_llm_context``: replace the conversational context (§3.5).

    Only the ``_llm_`` name is sent; the seed's ``overwrite_context`` does not exist (D8).
    Serialises to ``{"context": ...}``.
    """

    event_type: ClassVar[str] = "conversation.overwrite_llm_context"
    _text_field: ClassVar[str | None] = "context"

    context: str

    def properties(self) -> dict[str, Any]:
        return {"context": self.context}


class AppendContext(Interaction):
    """``conversation.append_llm_context``: add to the conversational context, silently (§3.5).

    The usual carrier of a tool result without speech (§3.5, D17). ``job_status`` (e.g.
    ``"completed"``, Docs-PAL) flags a job as finished. Serialises to
    ``{"context": ..., "job_status": ...}``, ``job_status`` left out when ``None``.
    """

    event_type: ClassVar[str] = "conversation.append_llm_context"
    _text_field: ClassVar[str | None] = "context"

    context: str
    job_status: str | None = None

    def properties(self) -> dict[str, Any]:
        properties: dict[str, Any] = {"context": self.context}
        if self.job_status is not None:
            properties["job_status"] = self.job_status
        return properties


class Sensitivity(Interaction):
    """``conversation.sensitivity``: change turn-taking sensitivity live (§3.6).

    At least one of ``participant_pause_sensitivity`` and
    ``participant_interrupt_sensitivity`` (each a :data:`SensitivityLevel`); the ones left
    ``None`` are not sent. These are Sparrow-0 knobs; under Sparrow-1 the persona's
    flow-layer settings take precedence.
    """

    event_type: ClassVar[str] = "conversation.sensitivity"

    participant_pause_sensitivity: SensitivityLevel | None = None
    participant_interrupt_sensitivity: SensitivityLevel | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> Self:
        if self.participant_pause_sensitivity is None and (
            self.participant_interrupt_sensitivity is None
        ):
            raise ValueError(
                "give participant_pause_sensitivity, participant_interrupt_sensitivity or both"
            )
        return self

    def properties(self) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        if self.participant_pause_sensitivity is not None:
            properties["participant_pause_sensitivity"] = self.participant_pause_sensitivity
        if self.participant_interrupt_sensitivity is not None:
            properties["participant_interrupt_sensitivity"] = self.participant_interrupt_sensitivity
        return properties


class ToolResult(Interaction):
    """``conversation.tool_result``: the outcome of a tool call (§3.7, §6 rule 8).

    ``tool_call_id`` must equal the call's; it may be left ``None`` while the result is
    built and filled in later with ``model_copy(update={"tool_call_id": ...})``.
    ``output`` is a string (Tavus's own client always sends one); ``status`` is
    ``"success"`` or ``"error"`` (the PAL then acknowledges the failure). Serialises to
    ``{"tool_call_id": ..., "output": ..., "status": ...}``.

    :meth:`properties` and :meth:`to_message` raise ``ValueError`` while ``tool_call_id``
    is ``None``.
    """

    event_type: ClassVar[str] = "conversation.tool_result"
    _text_field: ClassVar[str | None] = "output"

    output: str = ""
    status: Literal["success", "error"] = "success"
    tool_call_id: str | None = Field(default=None, min_length=1)

    @field_validator("tool_call_id", mode="before")
    @classmethod
    def _mend_id(cls, value: Any) -> Any:
        return _mended(value)

    def properties(self) -> dict[str, Any]:
        if self.tool_call_id is None:
            raise ValueError("conversation.tool_result needs a tool_call_id before it is sent")
        return {"tool_call_id": self.tool_call_id, "output": self.output, "status": self.status}


def encode_message(message: Mapping[str, Any]) -> bytes:
    """Encode a message as compact UTF-8 JSON, the bytes that count against the limit.

    Separators ``","``/``":"``, non-ASCII characters kept as UTF-8 rather than ``\\u``
    escapes. Raises ``ValueError`` for what is not strict JSON: NaN or infinite floats,
    non-JSON types, circular references, lone surrogates (which the messages of
    :meth:`Interaction.to_message` never hold).
    """
    try:
        text = json.dumps(
            message if isinstance(message, dict) else dict(message),
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
        return text.encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"message is not JSON-encodable: {exc}") from exc


class EncodedMessage(dict[str, Any]):
    """An app-message checked once (:func:`encode_interaction`): a plain JSON object
    (``dict``/``list``/``str``/``int``/``bool``/``None`` and finite floats, string keys)
    whose strings are valid UTF-8 and whose compact encoding fits the limit it was built
    for.

    It is the message itself, a ``dict``, so a transport whose SDK takes a Python object
    (daily-python's ``send_app_message`` serialises it natively) hands it over as is.
    ``bound`` is an upper bound of its size in bytes (within the limit), often reached
    without encoding it; :attr:`data` gives the compact UTF-8 JSON bytes, encoded on first
    use only. A transport whose own limit ``bound`` fits needs no check of its own. Do
    not change it after it was built: the bound would no longer hold.
    """

    __slots__ = ("_data", "bound")

    def __init__(
        self, message: Mapping[str, Any], *, bound: int, data: bytes | None = None
    ) -> None:
        super().__init__(message)
        self.bound = bound
        self._data = data

    @property
    def data(self) -> bytes:
        """The compact UTF-8 JSON (:func:`encode_message`), encoded once."""
        if self._data is None:
            self._data = encode_message(self)
        return self._data

    @property
    def size(self) -> int:
        """Bytes of :attr:`data`."""
        return len(self.data)


def _plain_bound(value: Any) -> int | None:
    """An upper bound of the compact JSON size of ``value`` in bytes, without encoding
    it; ``None`` when only a real encoding can tell (a float, a tuple, a non-string key,
    a string holding a surrogate, any other type).

    A character takes at most 6 bytes (a ``\\u00XX`` escape; non-ASCII UTF-8 takes at
    most 4), so the usual answer is shown to fit without paying for ``json.dumps``.
    Strings, the usual children, are measured inline (no call per value).
    """
    kind = type(value)
    if kind is dict:
        total = 2
        for key, child in value.items():
            if type(key) is not str or (not key.isascii() and has_surrogates(key)):
                return None
            total += 6 * len(key) + 4
            if type(child) is str:
                if not child.isascii() and has_surrogates(child):
                    return None
                total += 6 * len(child) + 2
            else:
                size = _plain_bound(child)
                if size is None:
                    return None
                total += size
        return total
    if kind is str:
        return None if not value.isascii() and has_surrogates(value) else 6 * len(value) + 2
    if kind is list:
        total = 2
        for child in value:
            size = _plain_bound(child)
            if size is None:
                return None
            total += size + 1
        return total
    if value is None or kind is bool:
        return 5
    if kind is int and -(10**15) < value < 10**15:
        return 17
    return None


def encode_interaction(
    interaction: Interaction, conversation_id: str, limit: int = DEFAULT_MESSAGE_LIMIT
) -> EncodedMessage:
    """Build, check and encode ``interaction``'s app-message for ``conversation_id``.

    The one place an outbound interaction gets its size limit (``limit`` bytes of compact
    UTF-8 JSON, exactly ``limit`` fits), its UTF-8 rule (lone surrogates mended by
    :meth:`Interaction.to_message`) and its encoding. Raises :class:`MessageTooLarge`
    over the limit and ``ValueError`` for a message that is not strict JSON (a custom
    interaction holding a NaN, an integer too long to write) or cannot be built (a
    ``ToolResult`` without ``tool_call_id``).
    """
    message = interaction.to_message(conversation_id)
    try:
        bound = _plain_bound(message)
    except RecursionError:  # absurdly nested: let the encoder say so
        bound = None
    if bound is not None and bound <= limit:
        return EncodedMessage(message, bound=bound)
    data = encode_message(message)
    if len(data) > limit:
        raise MessageTooLarge(len(data), limit, interaction.event_type)
    if bound is None:  # tuples, subclasses...: hand on exactly the JSON that was measured
        message = json.loads(data)
    return EncodedMessage(message, bound=len(data), data=data)


def _tool_result_fixed() -> int:
    """What :func:`_plain_bound` counts for a tool_result message whose four strings are
    empty; each of their characters adds at most 6 bytes to it (see ``_plain_bound``)."""
    empty = {"tool_call_id": "", "output": "", "status": ""}
    bound = _plain_bound(
        {
            "message_type": "conversation",
            "event_type": ToolResult.event_type,
            "conversation_id": "",
            "properties": empty,
        }
    )
    assert bound is not None
    return bound


_TOOL_RESULT_FIXED = _tool_result_fixed()


def encode_tool_result(
    tool_call_id: str,
    output: str,
    ok: bool,
    conversation_id: str,
    limit: int = DEFAULT_MESSAGE_LIMIT,
) -> EncodedMessage | None:
    """``encode_interaction(ToolResult(...), conversation_id, limit)`` for the usual answer,
    without building the model: the same message, mended and bounded the same way.

    ``status`` is ``"success"`` when ``ok``, else ``"error"``. Returns ``None`` when the
    message does not fit ``limit`` bytes (or the id is empty): the caller then takes the
    model's path (:func:`encode_interaction`, :func:`fit_to_limit`), which truncates or
    refuses it. The dispatcher answers nearly every call this way; a short answer costs a
    few dictionary operations (its size bound is arithmetic), not a pydantic validation
    and a walk.
    """
    if not tool_call_id:
        return None
    # The UTF-8 rule of ToolResult and to_message: lone surrogates become U+FFFD.
    if not conversation_id.isascii():
        conversation_id = valid_unicode(conversation_id)
    if not tool_call_id.isascii():
        tool_call_id = valid_unicode(tool_call_id)
    if not output.isascii():
        output = valid_unicode(output)
    status = "success" if ok else "error"
    bound = _TOOL_RESULT_FIXED + 6 * (
        len(conversation_id) + len(tool_call_id) + len(output) + len(status)
    )
    # Filled in place rather than through __init__, which would copy a finished dict.
    encoded = EncodedMessage.__new__(EncodedMessage)
    encoded["message_type"] = "conversation"
    encoded["event_type"] = "conversation.tool_result"
    encoded["conversation_id"] = conversation_id
    encoded["properties"] = {"tool_call_id": tool_call_id, "output": output, "status": status}
    encoded._data = None
    if bound > limit:  # may still fit: measure it, as encode_interaction does
        data = encode_message(encoded)
        if len(data) > limit:
            return None
        bound, encoded._data = len(data), data
    encoded.bound = bound
    return encoded


def check_size(message: Mapping[str, Any], limit: int = DEFAULT_MESSAGE_LIMIT) -> bytes:
    """Encode ``message`` (:func:`encode_message`) and return the bytes if they fit.

    Raises :class:`MessageTooLarge` when the encoding is longer than ``limit`` bytes
    (exactly ``limit`` fits), ``ValueError`` when the message is not JSON-encodable.
    """
    encoded = encode_message(message)
    if len(encoded) > limit:
        raise MessageTooLarge(len(encoded), limit, str(message.get("event_type", "message")))
    return encoded


def fit_to_limit(
    interaction: Interaction, conversation_id: str, limit: int = DEFAULT_MESSAGE_LIMIT
) -> tuple[Interaction, bool]:
    """Return ``(interaction, truncated)`` whose message encodes to at most ``limit`` bytes.

    An interaction that fits comes back unchanged with ``False``. Otherwise its one text
    field (``Echo.text``, ``Respond.text``, ``OverwriteContext.context``,
    ``AppendContext.context``, ``ToolResult.output``) is cut at a character boundary and
    ends with ``"…"``, keeping the longest prefix that fits; the copy comes back with
    ``True``. Sizes are measured on the real encoding, so multi-byte characters and JSON
    escapes are accounted for.

    Raises :class:`MessageTooLarge` when there is no text to shorten (audio echo,
    interrupt, sensitivity) or when even ``"…"`` alone does not fit, and ``ValueError`` as
    :meth:`Interaction.to_message` and :func:`encode_message` do.
    """
    message = interaction.to_message(conversation_id)
    size = len(encode_message(message))
    if size <= limit:
        return interaction, False

    key = interaction._text_field
    properties = message.get("properties")
    text = properties.get(key) if key is not None and properties is not None else None
    if key is None or properties is None or not isinstance(text, str):
        raise MessageTooLarge(size, limit, interaction.event_type)

    def fits(length: int) -> bool:
        properties[key] = text[:length] + _ELLIPSIS  # `message` is our own fresh copy
        return len(encode_message(message)) <= limit

    if not fits(0):
        raise MessageTooLarge(size, limit, interaction.event_type)
    # Largest prefix length that fits. Every character costs at least one byte, so no more
    # than `limit` characters can fit: that bounds the search and each encoding.
    low, high = 0, min(len(text) - 1, limit)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return interaction.model_copy(update={key: text[:low] + _ELLIPSIS}), True
