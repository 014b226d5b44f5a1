"""Where the bot gets its messages: a recorded conversation or the live Daily room."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cvibot.transports._daily.options import DailyOptions

__all__ = [
    "DailyTransportConfig",
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


class DailyTransportConfig(DailyOptions):
    """Join the conversation's Daily room with daily-python (the live transport): the
    settings of :class:`~cvibot.transports._daily.DailyOptions`, chosen by ``type: daily``."""

    type: Literal["daily"]


# A union discriminated by ``type``: errors name the allowed types and the keys of the
# chosen one.
TransportConfig = Annotated[
    ReplayTransportConfig | DailyTransportConfig, Field(discriminator="type")
]
