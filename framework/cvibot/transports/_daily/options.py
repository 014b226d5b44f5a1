"""The settings of the Daily transport, declared once: the config's ``transport`` section
of ``type: daily`` is :class:`DailyOptions`, and :meth:`DailyTransport.from_options
<cvibot.transports._daily.DailyTransport.from_options>` builds the transport from it."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

__all__ = ["DailyOptions", "ReconnectPolicy", "WaitSeconds"]

# Seconds for the network waits of the Daily transport: positive, at most 10 minutes.
WaitSeconds = Annotated[float, Field(gt=0, le=600, allow_inf_nan=False)]


class ReconnectPolicy(BaseModel):
    """How to rejoin the room after a network drop (exponential backoff with jitter).

    - ``enabled``: rejoin at all; ``False`` makes a drop end
      :meth:`~cvibot.transports._daily.DailyTransport.run` with
      :class:`~cvibot.transports._daily.ConnectionLost` at once.
    - ``max_attempts``: rejoin attempts before giving up, 1 to 100.
    - ``initial_backoff``: seconds before the first attempt; the wait before attempt
      ``n > 1`` is ``2**(n-1) * initial_backoff`` plus up to ``initial_backoff / 2`` of
      jitter, capped at ``max_backoff`` seconds (at least ``initial_backoff``, at most
      600, like every wait here).

    Raises pydantic's ``ValidationError`` (a ``ValueError``) for values out of range.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    max_attempts: int = Field(default=5, ge=1, le=100)
    initial_backoff: WaitSeconds = 0.5
    max_backoff: WaitSeconds = 10.0

    @field_validator("max_backoff")
    @classmethod
    def _not_below_initial(cls, value: float, info: ValidationInfo) -> float:
        initial = info.data.get("initial_backoff")
        if initial is not None and value < initial:
            raise ValueError(f"must be at least initial_backoff ({initial:g})")
        return value


class DailyOptions(BaseModel):
    """How the bot joins the conversation's Daily room with daily-python.

    The room is ``conversation.url`` (or the conversation the bot creates, or
    ``cvibot run --conversation-url``). The bot subscribes to no media and publishes
    none: it lives on the app-message data channel.

    - ``meeting_token``: Daily meeting token for private rooms (``require_auth``);
      ``None`` (or empty) joins without one (a created private conversation's token is
      used).
    - ``user_name``: the bot's participant name in the room, 1 to 100 characters.
    - ``join_timeout``: seconds to wait for the join; the SDK itself only gives up on
      an unreachable room after about 19 s.
    - ``leave_timeout`` / ``send_timeout``: seconds to wait for a leave / for one
      app-message's delivery.
    - ``reconnect``: see :class:`ReconnectPolicy`.

    Each name but ``meeting_token`` is a keyword argument of
    :class:`~cvibot.transports._daily.DailyTransport`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    meeting_token: SecretStr | None = None
    user_name: str = Field(default="cvibot", min_length=1, max_length=100)
    join_timeout: WaitSeconds = 15.0
    leave_timeout: WaitSeconds = 5.0
    send_timeout: WaitSeconds = 5.0
    reconnect: ReconnectPolicy = ReconnectPolicy()

    _empty_token_is_none = field_validator("meeting_token", mode="before")(
        lambda value: None if value == "" else value
    )
