"""From the plugin's ``settings`` to the :class:`~cvibot.tools.ToolSpec` of each tool.

Runs once, in ``cvibot_register_tools``. Every problem is a
:class:`~cvibot_http.errors.SettingsError` naming its key path, which the framework turns
into a load error at the plugin's config entry.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from cvibot import ToolDefinitionError
from cvibot.tools import ToolSpec, dynamic_handler, dynamic_tool
from cvibot_http.client import Connection
from cvibot_http.errors import SettingsError
from cvibot_http.parameters import field_definitions
from cvibot_http.request import RequestPlan, check_base_url, check_header_name, check_header_value
from cvibot_http.response import ResponseMapper
from cvibot_http.secrets import Redactor
from cvibot_http.settings import HttpSettings, ToolSettings, parse_settings
from cvibot_http.templates import Template
from cvibot_http.tool import HttpTool

__all__ = ["build_tools", "connections_of"]


def build_tools(settings: Mapping[str, Any]) -> list[ToolSpec]:
    """The tools ``settings`` declares, sharing one (not yet open) :class:`Connection`.

    Empty settings declare none. Raises :class:`SettingsError` at the key path of the
    first problem: see :func:`~cvibot_http.settings.parse_settings`,
    :meth:`RequestPlan.compile`, :meth:`ResponseMapper.compile` and
    :func:`~cvibot_http.parameters.field_definitions`; also a tool name declared twice, a
    parameter the request never uses, and an option combination ``@tool`` refuses.
    """
    parsed = parse_settings(settings)
    base_url = check_base_url(parsed.base_url, ("base_url",)) if parsed.base_url else None
    headers = {name: value.get_secret_value() for name, value in parsed.headers.items()}
    for name, value in headers.items():
        check_header_name(name, ("headers", name))
        check_header_value(value, ("headers", name))
    redact = Redactor(_secrets(parsed))
    connection = Connection(headers=headers, max_connections=parsed.max_connections, redact=redact)
    specs: list[ToolSpec] = []
    first_index: dict[str, int] = {}
    for index, tool in enumerate(parsed.tools):
        if tool.name in first_index:
            raise SettingsError.at(
                ("tools", index, "name"),
                f"tool {tool.name!r} is declared twice (first at tools[{first_index[tool.name]}])",
            )
        first_index[tool.name] = index
        specs.append(_build_tool(tool, parsed, base_url, connection, redact, ("tools", index)))
    return specs


def connections_of(tools: Mapping[str, ToolSpec]) -> list[Connection]:
    """The connections of the cvibot-http tools among ``tools`` (``bot.tools``), once each."""
    found: dict[int, Connection] = {}
    for spec in tools.values():
        handler = dynamic_handler(spec)
        if isinstance(handler, HttpTool):
            found.setdefault(id(handler.connection), handler.connection)
    return list(found.values())


def _build_tool(
    tool: ToolSettings,
    settings: HttpSettings,
    base_url: str | None,
    connection: Connection,
    redact: Redactor,
    loc: Sequence[str | int],
) -> ToolSpec:
    fields, infos = field_definitions(tool.parameters, (*loc, "parameters"))
    request = RequestPlan.compile(
        tool.request, base_url=base_url, parameters=infos, loc=(*loc, "request")
    )
    response = ResponseMapper.compile(
        tool.response, parameters=list(infos), redact=redact, loc=(*loc, "response")
    )
    if not request.sends_arguments:
        used = request.fields | response.fields
        for name in infos:
            if name not in used:
                raise SettingsError.at(
                    (*loc, "parameters", name),
                    f"the request never uses it; put {{{name}}} in request.url, query, "
                    "headers or json",
                )
    timeout = tool.timeout if tool.timeout is not None else settings.timeout
    try:
        return dynamic_tool(
            tool.name,
            tool.description,
            fields,
            HttpTool(tool.name, request, response, connection),
            reply=tool.reply,
            timeout=timeout,
            cancel_on_interrupt=tool.cancel_on_interrupt,
            origin=tool.origin,
            on_call=tool.on_call,
            static_filler=tool.static_filler,
            on_resolve=tool.on_resolve,
        )
    except ToolDefinitionError as exc:
        raise SettingsError.at(loc, str(exc)) from None


def _secrets(settings: HttpSettings) -> Iterator[str]:
    """Configured values that may be credentials: every header value, and the literal
    (placeholder-free) tool header and query values."""
    for value in settings.headers.values():
        yield value.get_secret_value()
    for tool in settings.tools:
        for secret in tool.request.headers.values():
            if not _has_placeholder(secret.get_secret_value()):
                yield secret.get_secret_value()
        for query in tool.request.query.values():
            if isinstance(query, str) and not _has_placeholder(query):
                yield query


def _has_placeholder(text: str) -> bool:
    try:
        return bool(Template.parse(text).fields)
    except ValueError:
        return False
