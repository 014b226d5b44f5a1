"""The live conversation: which one the bot serves and the Tavus API.

Whom the bot trusts (the ``trust`` section) is :class:`cvibot._participants.TrustPolicy`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from cvibot.config._common import LocatedValueError, WaitSeconds

__all__ = [
    "ConversationConfig",
    "CreateConversationConfig",
    "TavusConfig",
    "ToolSyncConfig",
]


class CreateConversationConfig(BaseModel):
    """Ask Tavus for a new conversation when the bot starts (protocol reference §8.2).

    ``persona_id`` and ``replica_id`` (the latter optional when the persona has a
    default replica) pick who the human talks to; ``name``, ``context`` and
    ``greeting`` become ``conversation_name``, ``conversational_context`` and
    ``custom_greeting``; ``properties`` is sent as is (``max_call_duration``,
    ``participant_left_timeout``, ``language``, ...). ``test_mode`` creates a
    conversation the replica never joins (no billing). ``end_on_exit`` ends the
    conversation (``POST /conversations/{id}/end``) when the bot stops.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    persona_id: str = Field(min_length=1)
    replica_id: str | None = None
    name: str | None = None
    context: str | None = None
    greeting: str | None = None
    callback_url: AnyHttpUrl | None = None
    audio_only: bool | None = None
    require_auth: bool | None = None
    test_mode: bool = False
    properties: dict[str, Any] = {}
    end_on_exit: bool = True

    # ``${TAVUS_REPLICA_ID:-}`` left empty means "not given".
    _empty_is_none = field_validator(
        "replica_id", "name", "context", "greeting", "callback_url", mode="before"
    )(lambda value: None if value == "" else value)


class ConversationConfig(BaseModel):
    """Which conversation the bot serves.

    - ``id``: events of any other ``conversation_id`` are dropped; ``None`` takes it from
      the first trusted event.
    - ``url``: the ``conversation_url`` (Daily room) of an existing conversation, for the
      ``daily`` transport.
    - ``create``: create a conversation instead (:class:`CreateConversationConfig`);
      excludes ``url`` and ``id``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = None
    url: AnyHttpUrl | None = None
    create: CreateConversationConfig | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ConversationConfig:
        if self.create is not None:
            if self.url is not None:
                raise LocatedValueError("give either 'url' or 'create', not both", ("create",))
            if self.id is not None:
                raise LocatedValueError(
                    "a created conversation gets its id from Tavus: remove 'id'", ("id",)
                )
        return self


class ToolSyncConfig(BaseModel):
    """Where ``cvibot tools sync`` puts the bot's tool definitions (protocol reference §7).

    - ``target``: ``registry`` (default) creates or updates each tool in the account's
      ``/v2/tools`` registry and makes the persona's (PAL's) attached tools exactly the
      bot's; ``persona`` patches a legacy persona's inline ``layers.llm.tools`` (and its
      perception tools) instead.
    - ``persona_id``: the persona (PAL) to sync; ``None`` takes
      ``conversation.create.persona_id``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: Literal["registry", "persona"] = "registry"
    persona_id: str | None = None

    _empty_is_none = field_validator("persona_id", mode="before")(
        lambda value: None if value == "" else value
    )


class TavusConfig(BaseModel):
    """The Tavus REST API (protocol reference §8), used to create and end conversations
    and to sync tool definitions.

    ``api_key``: write ``${TAVUS_API_KEY}``; unset, the ``TAVUS_API_KEY`` environment
    variable is read when the API is needed. It never appears in logs or errors.
    ``base_url``: the API root. ``timeout``: seconds per request. ``sync``: see
    :class:`ToolSyncConfig`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: SecretStr | None = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://tavusapi.com/v2")
    timeout: WaitSeconds = 10.0
    sync: ToolSyncConfig = ToolSyncConfig()

    _empty_key_is_none = field_validator("api_key", mode="before")(
        lambda value: None if value == "" else value
    )
