"""The options of ``cvibot serve``'s two ingress endpoints: ``serve.webhook`` (Tavus
conversation callbacks, :mod:`cvibot.serve._webhooks`) and ``serve.delivery_api``
(``delivery.api`` tool calls, :mod:`cvibot.serve._tools_api`).

Only pydantic here: :class:`~cvibot.serve._options.ServeOptions` composes them and every
command reads the config, so importing them must not pull Starlette or the runtime in.
"""

from __future__ import annotations

import math
import time
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["DeliveryApiOptions", "TavusCallback", "WebhookOptions"]


class WebhookOptions(BaseModel):
    """``serve.webhook``: the receiver of Tavus's conversation callbacks.

    - ``secret``: the path segment of ``callback_url``
      (``{public_url}/v1/webhooks/tavus/{secret}``), at least 16 characters of
      ``[A-Za-z0-9_-]`` (it sits in a URL as is).
    - ``auto_join``: join a conversation that a ``system.replica_joined`` /
      ``pal_joined`` callback announces and the backend does not know, once ``GET
      /v2/conversations/{id}`` confirms it (needs the Tavus API key).
    - ``allow_personas``: only auto-join conversations of these persona (PAL) ids;
      ``None`` allows any persona of the account.
    - ``max_body_bytes``: the largest callback body read (413 beyond); transcripts
      (``application.transcription_ready``) can be long.
    - ``max_pending``: callbacks being handled at once; more are answered 503.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    secret: SecretStr = Field(min_length=16, max_length=256)
    auto_join: bool = False
    allow_personas: tuple[str, ...] | None = None
    max_body_bytes: int = Field(default=4 * 1_048_576, ge=1024, le=64 * 1_048_576)
    max_pending: int = Field(default=1000, ge=1)

    @field_validator("secret")
    @classmethod
    def _path_safe(cls, value: SecretStr) -> SecretStr:
        text = value.get_secret_value()
        if not all(c.isascii() and (c.isalnum() or c in "-_") for c in text):
            raise ValueError("must be letters, digits, '-' and '_' only (it is a URL path part)")
        return value


class DeliveryApiOptions(BaseModel):
    """``serve.delivery_api``: the receiver of Tavus's ``delivery.api`` tool calls.

    - ``secret``: the HMAC secret shared with Tavus (``delivery.api.auth.secret``), at
      least 16 characters; ``cvibot tools sync`` writes it into each ``delivery: api``
      tool.
    - ``timeout``: seconds Tavus waits for an answer, in (0, 60] (Tavus's default 10);
      written by ``tools sync``; handlers get ``min(tool timeout, timeout − 1 s)`` (half
      of ``timeout`` when it is 2 s or less).
    - ``error_status``: the HTTP status of a failed call's error text: 200 (the default:
      the text reaches the LLM as the tool output) or 400–599. Which one Tavus prefers
      is not documented (docs/configuration.md, serve.delivery_api).
    - ``max_body_bytes``: the largest request body read (413 beyond).
    - ``max_answer_bytes``: the largest answer text, UTF-8 bytes; a longer one is
      truncated or replaced by an error as ``dispatch.on_oversize`` says.
    - ``max_concurrent``: calls running at once in this process; more are answered at
      once with a ``busy`` error.
    - ``redelivery_ttl`` (seconds) and ``redelivery_capacity``: how long and how many
      answers are kept to answer a redelivered ``tool_call_id``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    secret: SecretStr = Field(min_length=16)
    timeout: float = Field(default=10.0, gt=0, le=60, allow_inf_nan=False)
    error_status: int = 200
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    max_answer_bytes: int = Field(default=65_536, ge=256, le=16 * 1_048_576)
    max_concurrent: int = Field(default=256, ge=1)
    redelivery_ttl: float = Field(default=600.0, gt=0, le=86_400, allow_inf_nan=False)
    redelivery_capacity: int = Field(default=10_000, ge=1)

    @field_validator("error_status")
    @classmethod
    def _http_error_status(cls, value: int) -> int:
        if value != 200 and not 400 <= value <= 599:
            raise ValueError("must be 200 (the error text as the result) or a 4xx/5xx status")
        return value

    @property
    def handler_timeout_cap(self) -> float:
        """The longest a handler may run: ``timeout − 1 s``, at least ``timeout / 2``."""
        return max(self.timeout - 1.0, self.timeout / 2)


# Ids and event types: visible ASCII, as Tavus writes them (printable in logs, bounded labels).
_ID_PATTERN: Final = r"^[\x21-\x7e]{1,256}$"


class TavusCallback(BaseModel):
    """One callback as Tavus sends it to ``callback_url`` (protocol reference §9)::

        {"properties": {"replica_id": "r1"}, "conversation_id": "c123",
         "webhook_url": "https://…", "event_type": "system.replica_joined",
         "message_type": "system", "timestamp": "2025-07-11T06:45:47.472000Z"}

    ``event_type`` is kept as sent, a type nobody documents included (``None`` for the
    guardrail and objective callbacks, which have none); it and ``conversation_id`` must
    be 1 to 256 visible ASCII characters. ``properties`` is ``{}`` when
    absent or null. ``timestamp`` is an ISO-8601 string (sometimes a number elsewhere in
    Tavus's protocol: kept as sent). Keys Tavus adds are kept (``model_extra``).
    ``received_at`` is when cvibot read it (Unix seconds).
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    event_type: str | None = Field(default=None, pattern=_ID_PATTERN)
    conversation_id: str | None = Field(default=None, pattern=_ID_PATTERN)
    message_type: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    webhook_url: str | None = None
    timestamp: str | float | None = None
    received_at: float = Field(default_factory=time.time)

    @field_validator("properties", mode="before")
    @classmethod
    def _null_properties(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("timestamp")
    @classmethod
    def _finite(cls, value: str | float | None) -> str | float | None:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number or an ISO-8601 string")
        return value

    @property
    def replica_id(self) -> str | None:
        """``properties.replica_id`` when it is a string."""
        value = self.properties.get("replica_id")
        return value if isinstance(value, str) else None

    @property
    def shutdown_reason(self) -> str | None:
        """``properties.shutdown_reason`` of a ``system.shutdown`` (§9), e.g.
        ``"participant_left_timeout"``, when it is a string."""
        value = self.properties.get("shutdown_reason")
        return value if isinstance(value, str) else None
