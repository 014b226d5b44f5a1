"""Request and response bodies of the Tavus REST API (protocol reference §8).

Request models forbid unknown fields (a typo fails at once, not at Tavus) and serialise
with :func:`request_body`, which leaves out every field the caller did not set, so the
body holds exactly what was asked for. ``ConversationProperties`` alone allows extra
keys, since Tavus adds properties often.

Response models keep every key they do not know (``model_extra``): a new field in a
Tavus answer is never an error. Only the identifying key (``conversation_id``,
``persona_id``) is required.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Conversation",
    "ConversationProperties",
    "CreateConversationRequest",
    "CreatePersonaRequest",
    "PatchOperation",
    "Persona",
    "request_body",
]


def request_body(model: BaseModel) -> dict[str, Any]:
    """The JSON body of a request model: only the fields that were set and are not None."""
    return model.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class ConversationProperties(BaseModel):
    """``properties`` of a create-conversation body (protocol reference §8.2).

    Durations are whole seconds. Keys not listed here are sent as given.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    max_call_duration: int | None = Field(default=None, ge=1)
    """Seconds; Tavus's default 3600, capped to the plan's maximum."""
    participant_left_timeout: int | None = Field(default=None, ge=0)
    """Seconds after the last participant leaves before the call ends; default 0."""
    participant_absent_timeout: int | None = Field(default=None, ge=0)
    """Seconds to wait for a first participant; default 300 (also the token expiry)."""
    enable_recording: bool | None = None
    recording_s3_bucket_name: str | None = None
    recording_s3_bucket_region: str | None = None
    aws_assume_role_arn: str | None = None
    recording_storage: dict[str, Any] | None = None
    """``{"provider": "s3" | "gcs" | "azure_blob", …}``."""
    enable_closed_captions: bool | None = None
    apply_greenscreen: bool | None = None
    language: str | None = None
    """A full language name (``"english"``) or ``"multilingual"``."""
    livekit_ws_url: str | None = None
    livekit_room_token: str | None = None


class CreateConversationRequest(_Request):
    """Body of ``POST /conversations`` (protocol reference §8.2).

    ``persona_id``/``replica_id`` are sent rather than the PAL-era aliases
    ``pal_id``/``face_id``, since they are accepted everywhere (D15). ``replica_id`` is
    required unless the persona has a ``default_replica_id``.
    """

    persona_id: str | None = None
    replica_id: str | None = None
    conversation_name: str | None = None
    conversational_context: str | None = None
    custom_greeting: str | None = None
    callback_url: str | None = None
    audio_only: bool | None = None
    test_mode: bool | None = None
    """The replica never joins; the answer's status is ``ended``; no billing."""
    require_auth: bool | None = None
    """Private room: the answer adds a ``meeting_token``."""
    max_participants: int | None = Field(default=None, ge=1)
    """The replica counts as a participant."""
    memory_stores: list[str] | None = None
    document_ids: list[str] | None = None
    document_tags: list[str] | None = None
    document_retrieval_strategy: str | None = None
    """``speed`` | ``balanced`` | ``quality``."""
    chat: bool | None = None
    meeting_url: str | None = None
    properties: ConversationProperties | None = None


class CreatePersonaRequest(_Request):
    """Body of ``POST /personas`` (protocol reference §8.1, §7.1, §7.4).

    ``pipeline_mode`` is ``"full"`` (the default; needs a ``system_prompt``) or
    ``"echo"``; other strings are passed through, since Tavus has more modes than it
    documents (D14). ``layers`` is the persona's layer configuration as Tavus documents
    it, e.g. ``{"llm": {"tools": [...]}}`` (§7.1).
    """

    persona_name: str | None = None
    system_prompt: str | None = None
    pipeline_mode: str | None = None
    default_replica_id: str | None = None
    context: str | None = None
    layers: dict[str, Any] | None = None
    document_ids: list[str] | None = None
    document_tags: list[str] | None = None


PatchOp = Literal["add", "remove", "replace", "copy", "move", "test"]


class PatchOperation(_Request):
    """One RFC 6902 JSON Patch operation of ``PATCH /personas/{id}`` (protocol reference §8.1).

    ``value`` is required for ``add``, ``replace`` and ``test`` (and may be ``null``);
    ``from_`` (sent as ``from``) for ``move`` and ``copy``. ``path`` is a JSON Pointer
    (RFC 6901) into the current persona document, e.g. ``"/layers/llm/tools"``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    op: PatchOp
    path: str = Field(pattern=r"^(/.*)?$")
    value: Any = None
    from_: str | None = Field(default=None, alias="from", pattern=r"^(/.*)?$")

    @model_validator(mode="after")
    def _operands(self) -> Self:
        if self.op in ("add", "replace", "test") and "value" not in self.model_fields_set:
            raise ValueError(f"the {self.op!r} operation needs a value")
        if self.op in ("move", "copy") and self.from_ is None:
            raise ValueError(f"the {self.op!r} operation needs 'from'")
        return self

    def to_json(self) -> dict[str, Any]:
        """The operation as sent: ``value`` kept even when ``null``, ``from`` by its name."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class Conversation(_Response):
    """A conversation as ``POST /conversations`` and ``GET /conversations/{id}`` return it.

    Protocol reference §8.3. ``status`` is ``"active"`` or ``"ended"`` (other strings are
    kept); ``created_at``/``updated_at`` are ISO-8601 strings as sent. The verbose GET adds
    ``shutdown_reason``, ``transcript`` and ``events`` (§8.3, §9); any other key is in
    ``model_extra``.
    """

    conversation_id: str
    conversation_name: str | None = None
    conversation_url: str | None = None
    status: str | None = None
    callback_url: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    replica_id: str | None = None
    persona_id: str | None = None
    meeting_token: str | None = None
    """Private rooms only: join with ``?t=<token>`` or Daily's ``token``."""
    shutdown_reason: str | None = None
    transcript: list[dict[str, Any]] | None = None
    events: list[dict[str, Any]] | None = None


class Persona(_Response):
    """A persona as ``POST /personas`` and ``GET /personas/{id}`` return it (§8.1).

    The create answer holds only ``persona_id``, ``persona_name`` and ``created_at``; the
    GET answer holds the whole document. Any other key is in ``model_extra``.
    """

    persona_id: str
    persona_name: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    system_prompt: str | None = None
    pipeline_mode: str | None = None
    default_replica_id: str | None = None
    context: str | None = None
    layers: dict[str, Any] | None = None
