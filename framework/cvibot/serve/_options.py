"""The ``serve:`` section of the config: how ``cvibot serve`` hosts conversations.

Only pydantic here (no Starlette, no uvicorn), since the config model composes it and
every command reads the config. The section::

    serve:
      host: 127.0.0.1          # the address the HTTP server binds
      port: 8080               # 0: a free port (tests)
      capacity: 25             # conversations served at once by this process
      load_threshold: 1.0      # take new jobs only below capacity × load_threshold
      drain_timeout: 3600      # SIGTERM: seconds to wait for conversations (finish)
      on_drain: finish         # finish | handoff
      api_token: ${CVIBOT_API_TOKEN}   # bearer of /v1/*; required off loopback
      public_url: https://bot.example.com   # how Tavus reaches this host
      webhook: null            # Tavus callbacks (POST /v1/webhooks/tavus/{secret})
      delivery_api: null       # delivery.api tool calls (POST /v1/tools/tavus)
      fleet: {backend: local}  # local | redis (url, stream, group, lease, ...)
"""

from __future__ import annotations

import ipaddress
import math
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)

from cvibot._fleet.options import FleetOptions
from cvibot.serve._ingress_options import DeliveryApiOptions, WebhookOptions

__all__ = ["DrainSeconds", "ServeOptions", "is_loopback"]

#: A drain can last as long as a conversation (Tavus's ``max_call_duration`` defaults to
#: an hour), so up to a day, in seconds; 0 stops at once.
DrainSeconds = Annotated[float, Field(ge=0, le=86400)]


def is_loopback(host: str) -> bool:
    """True for an address only this machine reaches: ``localhost``, ``127.0.0.0/8``,
    ``::1``. An unspecified address (``0.0.0.0``, ``::``) or a name is not."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ServeOptions(BaseModel):
    """The ``serve:`` section (see the module docstring for the keys and defaults).

    ``capacity`` × ``load_threshold`` (rounded down, at least 1) is how many
    conversations the host takes at once (:attr:`limit`); ``drain_timeout`` (seconds)
    bounds the wait of ``on_drain: finish`` after SIGTERM; ``handoff`` gives the
    conversations back at once (another host of the fleet takes them over).
    ``api_token`` is the bearer token of the control API (``/v1/conversations``);
    required unless ``host`` is a loopback address. ``webhook`` and ``delivery_api``
    configure the Tavus callback and ``delivery.api`` endpoints (``null``: not served).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8080, ge=0, le=65535)
    capacity: int = Field(default=25, ge=1, le=100000)
    load_threshold: float = Field(default=1.0, gt=0, le=1)
    drain_timeout: DrainSeconds = 3600.0
    on_drain: Literal["finish", "handoff"] = "finish"
    # After host: its validator reads host.
    api_token: SecretStr | None = Field(default=None, validate_default=True)
    public_url: AnyHttpUrl | None = None
    webhook: WebhookOptions | None = None
    delivery_api: DeliveryApiOptions | None = None
    # A factory: validating a FleetOptions imports cvibot.config, which imports this module.
    fleet: FleetOptions = Field(default_factory=FleetOptions)

    _empty_is_none = field_validator("public_url", mode="before")(
        lambda value: None if value == "" else value
    )

    @field_validator("api_token", mode="before")
    @classmethod
    def _token_off_loopback(cls, value: Any, info: ValidationInfo) -> Any:
        if value == "" or (isinstance(value, SecretStr) and not value.get_secret_value()):
            value = None
        host = info.data.get("host")
        if value is None and isinstance(host, str) and not is_loopback(host):
            raise ValueError(
                f"required when serving on {host!r} (not a loopback address): the control "
                "API would be open to anyone who reaches it; set it from the environment "
                "(api_token: ${CVIBOT_API_TOKEN}) or bind host: 127.0.0.1"
            )
        return value

    @property
    def limit(self) -> int:
        """Conversations taken at once: ``floor(capacity × load_threshold)``, at least 1."""
        return max(1, math.floor(self.capacity * self.load_threshold + 1e-9))
