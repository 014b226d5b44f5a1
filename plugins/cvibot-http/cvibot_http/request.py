"""From a tool's ``request`` settings and one call's values to the HTTP request to send.

:meth:`RequestPlan.compile` checks the templates against the tool's parameters once, at
start-up; :meth:`RequestPlan.render` fills them in on every call. Template values are the
validated arguments and the call's ids (``tool_call_id``, ``conversation_id``,
``inference_id``, ``seq``, ``turn_idx``):

- ``url``: each value is percent-quoted as one path segment (``/`` becomes ``%2F``), so an
  argument can never change the host or climb the path; ``.`` and ``..`` are refused.
- ``query`` / ``headers``: a value that is exactly one placeholder of an absent value
  (an optional argument the LLM left out, a call without ``tool_call_id``) drops the
  entry; a lone array placeholder in ``query`` repeats the parameter.
- ``json``: strings are templates; one that is exactly one placeholder is replaced by
  the value itself, type preserved (number, list, object...), and dropped when absent.
  Without ``json``, POST, PUT and PATCH send the arguments object (absent ones left out).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import httpx

from cvibot import ToolError
from cvibot_http.errors import SettingsError
from cvibot_http.parameters import CALL_FIELDS, ParameterInfo
from cvibot_http.settings import RequestSettings
from cvibot_http.templates import Template, text_of

__all__ = [
    "NO_BODY",
    "RequestParts",
    "RequestPlan",
    "check_base_url",
    "check_header_name",
    "check_header_value",
]

#: ``RequestParts.json`` when the request has no body.
NO_BODY: Final[Any] = object()
# Dropped from the body, query or headers: a lone placeholder whose value is absent.
_DROP: Final[Any] = object()
# The body is the arguments object (POST, PUT, PATCH without `json`).
_ARGUMENTS: Final[Any] = object()

_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
_NO_BODY_METHODS: Final = frozenset({"GET", "HEAD"})
_SCALAR_TYPES: Final = frozenset({"string", "integer", "number", "boolean"})
_CALL_FIELD_TYPES: Final = {name: "string" for name in CALL_FIELDS} | {
    "seq": "integer",
    "turn_idx": "integer",
}
_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class RequestParts:
    """One rendered request: ``params`` as ``(name, value)`` pairs, ``json`` the decoded
    body or :data:`NO_BODY`. ``headers`` are the tool's own (the plugin's are the client's)."""

    method: str
    url: str
    params: list[tuple[str, str]]
    headers: dict[str, str]
    json: Any


def check_base_url(base_url: str, loc: Sequence[str | int]) -> str:
    """``base_url`` without its trailing ``/``; :class:`SettingsError` at ``loc`` unless it
    is an absolute http(s) URL with a host and no credentials, query, fragment or ``{``."""
    if "{" in base_url or "}" in base_url:
        raise SettingsError.at(loc, "base_url cannot have placeholders")
    problem = _authority_problem(base_url)
    if problem is None:
        url = httpx.URL(base_url)
        if url.query or url.fragment:
            problem = "must not have a query or a fragment (use request.query)"
    if problem is not None:
        raise SettingsError.at(loc, problem)
    return base_url.rstrip("/")


def check_header_name(name: str, loc: Sequence[str | int]) -> None:
    """:class:`SettingsError` at ``loc`` unless ``name`` is a valid HTTP header name."""
    if not _TOKEN.fullmatch(name):
        raise SettingsError.at(loc, "not a valid header name (letters, digits and -!#$%&'*+.^_`|~)")


def check_header_value(value: str, loc: Sequence[str | int]) -> None:
    """:class:`SettingsError` at ``loc`` for a value with control characters (not quoted)."""
    if _CONTROL.search(value):
        raise SettingsError.at(loc, "the header value contains a line break or control character")


def _authority_problem(url: str) -> str | None:
    """What is wrong with the scheme and host of the absolute ``url``, if anything."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        return f"not a valid URL: {exc}"
    if parsed.scheme not in ("http", "https"):
        return "must be an absolute http:// or https:// URL"
    if not parsed.host:
        return "has no host"
    if parsed.userinfo:
        return "must not contain credentials; send them in headers (Authorization)"
    return None


@dataclass(frozen=True, slots=True)
class _Query:
    name: str
    value: Template | str | list[str]


class RequestPlan:
    """The compiled ``request`` of one tool.

    ``fields`` are the names its templates use; ``sends_arguments`` is true when the
    body is the whole arguments object.
    """

    __slots__ = ("_body", "_headers", "_prefix", "_query", "_url", "fields", "method")

    def __init__(
        self,
        method: str,
        prefix: str,
        url: Template,
        query: list[_Query],
        headers: dict[str, Template],
        body: Any,
        fields: frozenset[str],
    ) -> None:
        self.method = method
        self._prefix = prefix
        self._url = url
        self._query = query
        self._headers = headers
        self._body = body
        self.fields = fields

    @property
    def sends_arguments(self) -> bool:
        return self._body is _ARGUMENTS

    @property
    def url_template(self) -> str:
        """The URL as configured (base URL joined), for logs: no values, no query values."""
        return self._prefix + self._url.source.split("?", 1)[0]

    @classmethod
    def compile(
        cls,
        settings: RequestSettings,
        *,
        base_url: str | None,
        parameters: Mapping[str, ParameterInfo],
        loc: Sequence[str | int],
    ) -> RequestPlan:
        """Check and parse ``settings`` (at key path ``loc``) against ``parameters``.

        ``base_url`` comes from :func:`check_base_url`. Raises :class:`SettingsError` at
        the key of the first problem: a template that does not parse, a placeholder that
        is neither a parameter nor a call id, an optional parameter (or an array/object)
        in the URL, a placeholder in the URL's scheme or host, a relative URL without
        ``base_url``, a bad header, ``json`` with GET or HEAD.
        """
        checker = _Checker(parameters, loc)
        url, prefix = checker.url(settings.url, base_url)
        query = [checker.query(name, value) for name, value in settings.query.items()]
        headers = {
            name: checker.header(name, value.get_secret_value())
            for name, value in settings.headers.items()
        }
        if "body" in settings.model_fields_set:
            if settings.method in _NO_BODY_METHODS:
                raise SettingsError.at(
                    (*loc, "json"),
                    f"{settings.method} requests have no body; send the values in query",
                )
            body = NO_BODY if settings.body is None else checker.body(settings.body, (*loc, "json"))
        else:
            body = _ARGUMENTS if settings.method in _BODY_METHODS else NO_BODY
        return cls(settings.method, prefix, url, query, headers, body, frozenset(checker.used))

    def render(self, values: Mapping[str, Any]) -> RequestParts:
        """The request for one call; ``values`` maps every field name to its value.

        Raises :class:`~cvibot._errors.ToolError` (a message for the LLM) when an argument
        cannot be sent: ``.`` or ``..`` in the URL, a line break in a header.
        """
        url = self._prefix + self._url.render(values.__getitem__, _url_quote)
        params: list[tuple[str, str]] = []
        for entry in self._query:
            if isinstance(entry.value, str):
                params.append((entry.name, entry.value))
            elif isinstance(entry.value, list):
                params.extend((entry.name, item) for item in entry.value)
            else:
                rendered = _render_value(entry.value, values)
                if rendered is _DROP:
                    continue
                items = rendered if isinstance(rendered, list) else [rendered]
                params.extend((entry.name, text_of(item)) for item in items)
        headers: dict[str, str] = {}
        for name, template in self._headers.items():
            rendered = _render_value(template, values)
            if rendered is _DROP:
                continue
            text = text_of(rendered)
            if _CONTROL.search(text):
                raise ToolError(f"A value cannot be sent in the {name} header.")
            headers[name] = text
        if self._body is _ARGUMENTS:
            body = {k: v for k, v in values.items() if k not in CALL_FIELDS and v is not None}
        elif self._body is NO_BODY:
            body = NO_BODY
        else:
            body = _render_body(self._body, values)
        return RequestParts(self.method, url, params, headers, body)


class _Checker:
    """Parses the templates of one ``request`` and records the fields they use."""

    def __init__(self, parameters: Mapping[str, ParameterInfo], loc: Sequence[str | int]) -> None:
        self.parameters = parameters
        self.loc = tuple(loc)
        self.used: set[str] = set()

    def template(
        self, text: str, where: Sequence[str | int], *, scalar: bool, always: bool = False
    ) -> Template:
        try:
            template = Template.parse(text)
        except ValueError as exc:
            raise SettingsError.at(where, str(exc)) from None
        for name in template.fields:
            kind = self._kind(name, where)
            if scalar and kind not in _SCALAR_TYPES and template.lone is None:
                raise SettingsError.at(
                    where,
                    f"placeholder {{{name}}} is an {kind} parameter; only strings, numbers and "
                    "booleans can be embedded in text",
                )
            if always and name in self.parameters and not self.parameters[name].always:
                raise SettingsError.at(
                    where,
                    f"placeholder {{{name}}} names an optional parameter without a default; "
                    "the URL needs a value on every call",
                )
            self.used.add(name)
        return template

    def _kind(self, name: str, where: Sequence[str | int]) -> str:
        info = self.parameters.get(name)
        if info is not None:
            return info.type
        if name in _CALL_FIELD_TYPES:
            return _CALL_FIELD_TYPES[name]
        known = ", ".join(self.parameters) or "none"
        raise SettingsError.at(
            where,
            f"placeholder {{{name}}} is not a parameter (parameters: {known}; "
            f"call ids: {', '.join(CALL_FIELDS)})",
        )

    def url(self, text: str, base_url: str | None) -> tuple[Template, str]:
        where = (*self.loc, "url")
        template = self.template(text, where, scalar=False, always=True)
        for name in template.fields:
            kind = self._kind(name, where)
            if kind not in _SCALAR_TYPES:
                raise SettingsError.at(
                    where, f"placeholder {{{name}}} is an {kind} parameter, which a URL cannot hold"
                )
        head = template.parts[0] if template.parts and isinstance(template.parts[0], str) else ""
        if _SCHEME.match(head):
            end = _authority_end(head)
            if end is None and len(template.parts) > 1:
                raise SettingsError.at(
                    where, "placeholders can only be in the URL's path or query, not in its host"
                )
            problem = _authority_problem(head if end is None else head[:end])
            if problem is not None:
                raise SettingsError.at(where, problem)
            return template, ""
        if base_url is None:
            raise SettingsError.at(
                where, "a relative URL needs base_url (or write an absolute http(s) URL)"
            )
        if not text.startswith("/"):
            return template, base_url + "/"
        return template, base_url

    def query(self, name: str, value: Any) -> _Query:
        where = (*self.loc, "query", name)
        if isinstance(value, str):
            template = self.template(value, where, scalar=True)
            lone = template.lone
            if lone is not None and self._kind(lone, where) == "object":
                raise SettingsError.at(where, f"placeholder {{{lone}}} is an object parameter")
            return _Query(name, template if template.fields else template.render(str))
        if isinstance(value, bool | int | float):
            return _Query(name, text_of(value))
        if isinstance(value, list) and all(
            isinstance(item, str | bool | int | float) for item in value
        ):
            return _Query(name, [text_of(item) for item in value])
        raise SettingsError.at(
            where, "a query value must be a string, a number, a boolean or a list of them"
        )

    def header(self, name: str, value: str) -> Template:
        where = (*self.loc, "headers", name)
        check_header_name(name, where)
        check_header_value(value, where)
        return self.template(value, where, scalar=True)

    def body(self, node: Any, where: tuple[str | int, ...]) -> Any:
        if isinstance(node, str):
            return self.template(node, where, scalar=False)
        if isinstance(node, dict):
            return {key: self.body(value, (*where, key)) for key, value in node.items()}
        if isinstance(node, list):
            return [self.body(value, (*where, index)) for index, value in enumerate(node)]
        if node is None or isinstance(node, bool | int | float):
            return node
        raise SettingsError.at(where, f"not a JSON value ({type(node).__name__})")


def _authority_end(head: str) -> int | None:
    """Index where the host part of the URL starting ``head`` ends, None if not in ``head``."""
    start = head.find("//")
    start = start + 2 if start >= 0 else len(head.split(":", 1)[0]) + 1
    for index in range(start, len(head)):
        if head[index] in "/?#":
            return index
    return None


def _url_quote(text: str) -> str:
    if text in (".", ".."):
        raise ToolError(f"{text!r} is not a valid value here.")
    return quote(text, safe="")


def _render_value(template: Template, values: Mapping[str, Any]) -> Any:
    """A lone placeholder's value (``_DROP`` when absent), else the rendered text."""
    lone = template.lone
    if lone is not None:
        value = values[lone]
        return _DROP if value is None else value
    return template.render(values.__getitem__)


def _render_body(node: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(node, Template):
        return _render_value(node, values)
    if isinstance(node, dict):
        rendered = {key: _render_body(value, values) for key, value in node.items()}
        return {key: value for key, value in rendered.items() if value is not _DROP}
    if isinstance(node, list):
        items = [_render_body(value, values) for value in node]
        return [item for item in items if item is not _DROP]
    return node
