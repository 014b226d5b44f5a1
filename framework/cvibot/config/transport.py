"""Where the bot gets its messages: a recorded conversation or the live Daily room."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from cvibot.config.common import WaitSeconds

__all__ = [
    "DailyTransportConfig",
    "ReconnectConfig",
    "ReplayTransportConfig",
    "TransportConfig",
]


class ReplayTransportConfig(BaseModel):
    """Replay a recorded conversation instead of joining a live room.

    - ``path``: JSONL file of recorded app-messages. The loader resolves a relative path
      from the config file's folder and expands ``~``.
    - ``pace``: ``fast`` delivers each message once the work of the previous one has
      settled (deterministic output); ``recorded`` keeps the recorded arrival times.
    - ``speed``: multiplier of the recorded pace, > 0 (``2.0`` is twice as fast).
    - ``out``: file that receives every outbound message, one JSON per line; resolved
      like ``path``. ``None`` writes nothing.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["replay"]
    path: Path
    pace: Literal["fast", "recorded"] = "fast"
    speed: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    out: Path | None = None

    @field_validator("path", "out", mode="before")
    @classmethod
    def _reject_empty_path(cls, value: Any) -> Any:
        # Path("") is ".", which would silently mean the config's own folder.
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty")
        return value


class ReconnectConfig(BaseModel):
    """Rejoining the room after the network dropped (exponential backoff with jitter).

    - ``enabled``: rejoin at all; ``false`` ends the run with an error on a drop.
    - ``max_attempts``: rejoin attempts before giving up, >= 1.
    - ``initial_backoff`` / ``max_backoff``: seconds before the first retry / at most
      between two.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    max_attempts: int = Field(default=5, ge=1, le=100)
    initial_backoff: WaitSeconds = 0.5
    max_backoff: WaitSeconds = 10.0


class DailyTransportConfig(BaseModel):
    """Join the conversation's Daily room with daily-python (the live transport).

    The room is ``conversation.url`` (or the conversation the bot creates, or
    ``cvibot run --conversation-url``). The bot subscribes to no media and publishes
    none: it lives on the app-message data channel.

    - ``meeting_token``: Daily meeting token for private rooms (``require_auth``);
      ``None`` joins without one (a created private conversation's token is used).
    - ``user_name``: the bot's participant name in the room.
    - ``join_timeout``: seconds to wait for the join; the SDK itself only gives up on
      an unreachable room after about 19 s.
    - ``leave_timeout`` / ``send_timeout``: seconds to wait for a leave / for one
      app-message's delivery.
    - ``reconnect``: see :class:`ReconnectConfig`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["daily"]
    meeting_token: SecretStr | None = None
    user_name: str = Field(default="cvibot", min_length=1, max_length=100)
    join_timeout: WaitSeconds = 15.0
    leave_timeout: WaitSeconds = 5.0
    send_timeout: WaitSeconds = 5.0
    reconnect: ReconnectConfig = ReconnectConfig()

    _empty_token_is_none = field_validator("meeting_token", mode="before")(
        lambda value: None if value == "" else value
    )


# A union discriminated by ``type``: errors name the allowed types and the keys of the
# chosen one.
TransportConfig = Annotated[
    ReplayTransportConfig | DailyTransportConfig, Field(discriminator="type")
]
