"""``serve.fleet``: which backend feeds the host its jobs, and the Redis fleet's timings.

The host composes :class:`FleetOptions` under ``serve.fleet``; the config loader turns a
validation error into a :class:`~cvibot._errors.ConfigError` with file, line and key (the
cross-key checks below raise :class:`~cvibot.config._common.LocatedValueError` so that the
error points at the key to change, not at the section).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["FleetOptions"]

_SCHEMES = ("redis://", "rediss://", "unix://")

#: Seconds, over 0 and at most a day.
Seconds = Annotated[float, Field(gt=0, le=86400)]


class FleetOptions(BaseModel):
    """How conversations reach this host (``serve.fleet``).

    - ``backend``: ``local`` (an in-process queue: one host, a full host refuses work)
      or ``redis`` (a Redis Streams consumer group shared by every host of the fleet).
    - ``url``: the Redis server (``redis://``, ``rediss://`` for TLS, ``unix://``).
    - ``stream``: the stream's name; every fleet key shares its hash tag (``{stream}``)
      so they live in one Redis Cluster slot. The stream key itself is ``{<stream>}``.
    - ``group``: the consumer group every host reads with.
    - ``lease`` (s): how long a host's hold on a conversation lasts without renewal; a
      dead host's conversations are taken over within ``lease + reclaim_every + t_join``.
    - ``renew_every`` (s): how often held leases are renewed (at most ``lease / 2``: a
      host leaves a room when it could not renew within 0.9 × ``lease``).
    - ``reclaim_every`` (s): how often a host with free slots looks for conversations
      whose host died (``XAUTOCLAIM``).
    - ``claim_batch``: most jobs taken in one read, so that one host does not take all.
    - ``max_attempts``: takes of a job without a successful join before it is parked in
      the dead-letter stream with state ``failed``.
    - ``call_fencing``: claim each tool call in Redis before answering it, so that a
      paused or cut-off host never answers a call that its successor answers.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["local", "redis"] = "local"
    url: str = "redis://127.0.0.1:6379/0"
    stream: str = Field(default="cvibot:conversations", min_length=1, max_length=200)
    group: str = Field(default="cvibot", min_length=1, max_length=200)
    lease: Seconds = 15.0
    renew_every: Seconds = 5.0
    reclaim_every: Seconds = 2.0
    claim_batch: int = Field(default=8, ge=1, le=1000)
    max_attempts: int = Field(default=5, ge=1, le=1000)
    call_fencing: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> FleetOptions:
        # Here, not at the top: cvibot.config composes this model (an import cycle).
        from cvibot.config._common import LocatedValueError

        if not self.url.startswith(_SCHEMES):
            raise LocatedValueError(
                f"expected a Redis URL starting with {', '.join(_SCHEMES)}", ("url",)
            )
        for key in ("stream", "group"):
            value: str = getattr(self, key)
            if any(ch.isspace() for ch in value) or "{" in value or "}" in value:
                raise LocatedValueError("no spaces or braces allowed", (key,))
        if self.renew_every * 2 > self.lease:
            raise LocatedValueError(
                f"must be at most half of lease ({self.lease:g} s): a host leaves its rooms "
                "when it could not renew within 0.9 × lease",
                ("renew_every",),
            )
        if self.reclaim_every > self.lease:
            raise LocatedValueError(
                f"must be at most lease ({self.lease:g} s), which it adds to the take-over time",
                ("reclaim_every",),
            )
        return self

    @property
    def key_prefix(self) -> str:
        """The hash tag every fleet key starts with: ``{<stream>}``."""
        return "{" + self.stream + "}"

    @property
    def lease_ms(self) -> int:
        return max(1, round(self.lease * 1000))
