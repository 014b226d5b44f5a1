"""Tool definitions in the formats Tavus accepts, and Tavus's limits on them.

- :func:`to_legacy_tool`: an LLM tool for the persona's ``layers.llm.tools`` (OpenAI function
  format, protocol reference §7.1);
- :func:`to_registry_tool`: a ``POST /v2/tools`` body (§7.2), delivered by app-message so
  the calls reach the bot in the Daily room, or for a ``delivery="api"`` tool by an HTTPS
  request to ``cvibot serve`` (:class:`ApiDelivery`);
- :func:`to_perception_tool`: a Raven tool for ``layers.perception.visual_tools`` or
  ``audio_tools`` (§7.3);
- :func:`tool_definitions`: all of them at once; :func:`limit_problems`: what Tavus would
  reject.

Every function returns fresh dicts: changing them does not change the specs.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from cvibot.tools._options import OMIT, Origin, tavus_fields
from cvibot.tools._schema import RESERVED_PREFIX, reserved_properties
from cvibot.tools._spec import ToolSpec, name_problem

__all__ = [
    "API_TOOLS_PATH",
    "MAX_TOOLS",
    "MAX_TOOL_SIZE",
    "SECRET_PLACEHOLDER",
    "ApiDelivery",
    "limit_problems",
    "to_legacy_tool",
    "to_perception_tool",
    "to_registry_tool",
    "tool_definitions",
]

#: Most tools Tavus attaches to one persona / PAL (§7.2).
MAX_TOOLS: Final = 50
#: Most characters of a tool's description plus its JSON-serialized parameters (§7.2).
MAX_TOOL_SIZE: Final = 10_000
#: The path of ``cvibot serve``'s ``delivery.api`` receiver, under ``serve.public_url``.
API_TOOLS_PATH: Final = "/v1/tools/tavus"
#: What Tavus's GET answers show instead of a secret (docs/configuration.md, serve.delivery_api).
SECRET_PLACEHOLDER: Final = "********"
#: The longest ``delivery.api.timeout`` Tavus accepts, in seconds (§7.2: in (0, 60]).
MAX_API_TIMEOUT: Final = 60.0


@dataclass(frozen=True, slots=True)
class ApiDelivery:
    """Where Tavus sends the calls of ``delivery="api"`` tools: ``cvibot serve``'s receiver.

    - ``public_url``: the host's public ``https://`` base URL (``serve.public_url``); the
      tools' URL is ``{public_url}`` + :data:`API_TOOLS_PATH`. Tavus rejects private,
      loopback and link-local hosts (§7.2), and so a plain ``http://`` URL is refused here.
    - ``secret``: the shared HMAC secret (``serve.delivery_api.secret``): Tavus signs each
      request's body with it (``X-Tavus-Signature``).
    - ``timeout``: seconds Tavus waits for the answer, in (0, 60] (§7.2, default 10).

    Raises ``ValueError`` for a value Tavus would refuse.
    """

    public_url: str
    secret: str
    timeout: float = 10.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.public_url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(
                f"public_url must be an https:// URL that Tavus can reach, not {self.public_url!r}"
            )
        if parts.query or parts.fragment:
            raise ValueError(f"public_url must have no query or fragment: {self.public_url!r}")
        if not self.secret:
            raise ValueError("the delivery.api HMAC secret must not be empty")
        timeout = self.timeout
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or not 0 < timeout <= MAX_API_TIMEOUT
        ):
            raise ValueError(
                f"the delivery.api timeout must be in (0, 60] seconds, not {timeout!r}"
            )

    @property
    def url(self) -> str:
        """``{public_url}/v1/tools/tavus``."""
        return self.public_url.rstrip("/") + API_TOOLS_PATH

    def block(self, *, secret: str | None = None) -> dict[str, Any]:
        """The tool's ``delivery`` (§7.2): ``{"api": {"url", "method": "POST", "timeout",
        "auth": {"type": "hmac", "secret"}}}``; ``secret`` replaces the real one (to
        print the body without it)."""
        return {
            "api": {
                "url": self.url,
                "method": "POST",
                "timeout": self.timeout,
                "auth": {"type": "hmac", "secret": self.secret if secret is None else secret},
            }
        }


def _function_format(spec: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": spec.description,
            "parameters": copy.deepcopy(spec.parameters),
        },
    }


def to_legacy_tool(spec: ToolSpec) -> dict[str, Any]:
    """``{"type": "function", "function": {"name", "description", "parameters"}}`` (§7.1).

    Raises ``ValueError`` for a perception tool (see :func:`to_perception_tool`).
    """
    if spec.is_perception:
        raise ValueError(
            f"tool {spec.name!r} is a {spec.origin.value} perception tool, not an LLM tool; "
            "use to_perception_tool()"
        )
    return _function_format(spec)


def to_perception_tool(spec: ToolSpec) -> dict[str, Any]:
    """A Raven perception tool in OpenAI function format, for ``visual_tools`` or
    ``audio_tools`` by ``spec.origin`` (§7.3). Raises ``ValueError`` for an LLM tool."""
    if not spec.is_perception:
        raise ValueError(
            f"tool {spec.name!r} is an LLM tool, not a perception tool; use to_legacy_tool()"
        )
    return _function_format(spec)


def to_registry_tool(spec: ToolSpec, *, api: ApiDelivery | None = None) -> dict[str, Any]:
    """The ``POST /v2/tools`` body of ``spec`` (§7.2).

    ``on_call`` defaults to ``"generate_filler"`` for LLM tools and is ``null`` for perception
    tools (Tavus's rule). ``on_resolve`` is always written: ``"generate_response"`` by
    default for LLM tools (cvibot answers and the replica speaks from it; Tavus's own
    default, ``fire_and_forget``, would discard the result) and ``"fire_and_forget"`` for
    perception tools. ``static_filler`` appears only when set. ``delivery`` is
    ``{"app_message": true}`` (the calls must reach the Daily room), or for a
    ``delivery="api"`` tool :meth:`ApiDelivery.block`.

    Raises ``ValueError`` for a ``delivery="api"`` tool without ``api``.
    """
    body: dict[str, Any] = {
        "name": spec.name,
        "description": spec.description,
        "parameters": copy.deepcopy(spec.parameters),
        "origin": spec.origin.value,
    }
    for name, tavus in tavus_fields().items():
        value = getattr(spec, name)
        if value is None:
            value = tavus.perception if spec.is_perception else tavus.export
        if value is not OMIT:
            body[name] = value
    if spec.delivery == "api":
        if api is None:
            raise ValueError(
                f"tool {spec.name!r} has delivery='api': its definition needs the public URL "
                "and HMAC secret of cvibot serve (serve.public_url, serve.delivery_api.secret)"
            )
        body["delivery"] = api.block()
    else:
        body["delivery"] = {"app_message": True}
    return body


def tool_definitions(
    specs: Iterable[ToolSpec], *, api: ApiDelivery | None = None
) -> dict[str, Any]:
    """Every definition of ``specs``, for a persona PATCH and for the tools registry::

        {"persona": {"layers": {"llm": {"tools": [<legacy>...]},
                                "perception": {"visual_tools": [...], "audio_tools": [...]}}},
         "tools": [<registry body>...]}

    Empty perception lists are left out, and ``perception`` too when both are. ``api``
    is passed to :func:`to_registry_tool` (needed when a tool has ``delivery="api"``).
    """
    specs = list(specs)
    layers: dict[str, Any] = {
        "llm": {"tools": [to_legacy_tool(s) for s in specs if not s.is_perception]}
    }
    perception = {
        key: [to_perception_tool(s) for s in specs if s.origin is origin]
        for key, origin in (("visual_tools", Origin.VISION), ("audio_tools", Origin.AUDIO))
    }
    perception = {key: tools for key, tools in perception.items() if tools}
    if perception:
        layers["perception"] = perception
    return {"persona": {"layers": layers}, "tools": [to_registry_tool(s, api=api) for s in specs]}


def limit_problems(specs: Sequence[ToolSpec]) -> list[str]:
    """What Tavus would reject in ``specs`` (§7.2), one human-readable message each.

    Checks: more than :data:`MAX_TOOLS` tools; a name used twice; a name breaking
    ``^[a-zA-Z_][a-zA-Z0-9_]{0,63}$``; description plus serialized parameters over
    :data:`MAX_TOOL_SIZE` characters; a property named with the reserved ``tavus_`` prefix,
    nested ones included. An empty list means nothing known to be wrong.
    """
    problems: list[str] = []
    if len(specs) > MAX_TOOLS:
        problems.append(f"{len(specs)} tools, more than Tavus's limit of {MAX_TOOLS} per persona")
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            problems.append(f"tool {spec.name!r}: the name is used by more than one tool")
        seen.add(spec.name)
        problem = name_problem(spec.name)
        if problem is not None:
            problems.append(f"tool {spec.name!r}: the name {problem}")
        size = len(spec.description) + len(json.dumps(spec.parameters))
        if size > MAX_TOOL_SIZE:
            problems.append(
                f"tool {spec.name!r}: description and parameters take {size:,} characters, "
                f"more than Tavus's limit of {MAX_TOOL_SIZE:,}"
            )
        reserved = reserved_properties(spec.parameters)
        if reserved:
            problems.append(
                f"tool {spec.name!r}: parameter(s) {', '.join(map(repr, reserved))} use the "
                f"prefix {RESERVED_PREFIX!r}, which Tavus reserves"
            )
    return problems
