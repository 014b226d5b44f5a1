"""From an HTTP response (or a failure to get one) to the tool's answer.

- 2xx: with ``path``, the value at that dotted path of the JSON body; with ``template``,
  a text whose ``{dotted.path}`` placeholders are filled from the body (or from the value
  ``path`` picked); with neither, the JSON body (sent as compact JSON text), the text of
  a body that is not JSON, or an empty answer for an empty body.
- 4xx: the message configured in ``errors`` for the status or for ``4xx``, else the
  body's own message (at ``error_path``, or ``message``, ``error.message``, ``error``,
  ``detail``, ``errors.0.message``, ``title``), else "The service refused the request".
- 5xx, other statuses, timeouts and connection errors: the message configured for the
  status, ``5xx`` or ``unavailable``, else "The service is unavailable."

Every failure carries a ``detail`` for the log; a text taken from the body is passed
through the :class:`~cvibot_http.secrets.Redactor` first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import httpx

from cvibot_http.errors import SettingsError
from cvibot_http.parameters import CALL_FIELDS
from cvibot_http.paths import MISSING, check_path, pick
from cvibot_http.settings import ResponseSettings
from cvibot_http.templates import Template

__all__ = ["UNAVAILABLE", "UNREADABLE", "Failure", "ResponseMapper"]

UNAVAILABLE: Final = "The service is unavailable."
UNREADABLE: Final = "The service sent an answer that could not be read."
_DEFAULT_ERROR_PATHS: Final = (
    "message",
    "error.message",
    "error",
    "detail",
    "errors.0.message",
    "title",
)
_CLASSES: Final = ("4xx", "5xx", "unavailable")
_MESSAGE_LIMIT: Final = 200
_DETAIL_LIMIT: Final = 300


class Failure(Exception):
    """A call that failed: ``message`` is for the LLM, ``detail`` for the log."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class ResponseMapper:
    """The compiled ``response`` settings of one tool.

    ``fields`` are the parameter names and call ids its ``errors`` templates use.
    """

    __slots__ = ("_error_paths", "_errors", "_path", "_redact", "_template", "fields")

    def __init__(
        self,
        path: str | None,
        template: Template | None,
        errors: dict[int | str, Template],
        error_paths: tuple[str, ...],
        redact: Callable[[str], str],
    ) -> None:
        self._path = path
        self._template = template
        self._errors = errors
        self._error_paths = error_paths
        self._redact = redact
        self.fields = frozenset(name for t in errors.values() for name in t.fields)

    @classmethod
    def compile(
        cls,
        settings: ResponseSettings,
        *,
        parameters: Sequence[str],
        redact: Callable[[str], str],
        loc: Sequence[str | int],
    ) -> ResponseMapper:
        """Check ``settings`` (at key path ``loc``); ``parameters`` are the tool's names.

        Raises :class:`SettingsError` for a bad ``path`` or ``error_path``, a template
        that does not parse, an ``errors`` key that is no status 400-599, ``4xx``, ``5xx``
        or ``unavailable``, or an ``errors`` placeholder that is no parameter or call id.
        """
        for key in ("path", "error_path"):
            value = getattr(settings, key)
            problem = check_path(value) if value is not None else None
            if problem is not None:
                raise SettingsError.at((*loc, key), problem)
        template = None
        if settings.template is not None:
            try:
                template = Template.parse(settings.template, paths=True)
            except ValueError as exc:
                raise SettingsError.at((*loc, "template"), str(exc)) from None
        # str(key): a status code is a mapping key, not a list index, in the key path.
        errors = {
            _error_key(key, (*loc, "errors", str(key))): _error_template(
                text, parameters, (*loc, "errors", str(key))
            )
            for key, text in settings.errors.items()
        }
        error_paths = (
            (settings.error_path,) if settings.error_path is not None else _DEFAULT_ERROR_PATHS
        )
        return cls(settings.path, template, errors, error_paths, redact)

    def success(self, response: httpx.Response) -> Any:
        """The answer for a 2xx ``response``; raises :class:`Failure` when the body does
        not have what ``path`` or ``template`` need."""
        if self._path is None and self._template is None:
            return _decoded(response)
        body = _json(response)
        if self._path is not None:
            body = pick(body, self._path)
            if body is MISSING:
                raise Failure(UNREADABLE, f"the response has no {self._path!r}")
        if self._template is None:
            return body
        value = body

        def field(name: str) -> Any:
            found = pick(value, name)
            if found is MISSING:
                raise Failure(UNREADABLE, f"the response has no {name!r} for the template")
            return found

        return self._template.render(field)

    def failure(self, response: httpx.Response, values: Mapping[str, Any]) -> Failure:
        """The :class:`Failure` for a response whose status is not 2xx."""
        status = response.status_code
        detail = f"HTTP {status}: {self._excerpt(response.text, _DETAIL_LIMIT) or '(empty body)'}"
        if status < 400 or status > 599:
            return Failure(self._unavailable(values), f"unexpected {detail}")
        configured = self._errors.get(status) or self._errors.get(f"{status // 100}xx")
        if configured is not None:
            return Failure(configured.render(values.__getitem__), detail)
        if status >= 500:
            return Failure(self._unavailable(values), detail)
        message = self._body_message(response)
        return Failure(message or f"The service refused the request (HTTP {status}).", detail)

    def unavailable(self, values: Mapping[str, Any], detail: str) -> Failure:
        """The :class:`Failure` for a request that got no response (timeout, refused)."""
        return Failure(self._unavailable(values), self._redact(detail))

    def _unavailable(self, values: Mapping[str, Any]) -> str:
        configured = self._errors.get("unavailable")
        return configured.render(values.__getitem__) if configured is not None else UNAVAILABLE

    def _body_message(self, response: httpx.Response) -> str | None:
        try:
            body = _json(response)
        except Failure:
            return None
        for path in self._error_paths:
            found = pick(body, path)
            if isinstance(found, str) and found.strip():
                return self._excerpt(found, _MESSAGE_LIMIT)
        return None

    def _excerpt(self, text: str, limit: int) -> str:
        text = " ".join(self._redact(text).split())
        return text if len(text) <= limit else text[: limit - 1] + "…"


def _decoded(response: httpx.Response) -> Any:
    """The JSON body decoded, the text of a body that is not JSON, None for no body."""
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        if _says_json(response):
            raise Failure(UNREADABLE, "the response says JSON but is not") from None
        return response.text


def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        raise Failure(UNREADABLE, "the response is not JSON") from None


def _says_json(response: httpx.Response) -> bool:
    content_type = str(response.headers.get("content-type", "")).split(";", 1)[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")


def _error_key(key: int | str, where: Sequence[str | int]) -> int | str:
    if isinstance(key, str) and key.strip().isdigit():
        key = int(key)
    if isinstance(key, int) and not isinstance(key, bool) and 400 <= key <= 599:
        return key
    if isinstance(key, str) and key.strip().lower() in _CLASSES:
        return key.strip().lower()
    raise SettingsError.at(
        where, "expected an HTTP status from 400 to 599, 4xx, 5xx or unavailable"
    )


def _error_template(text: str, parameters: Sequence[str], where: Sequence[str | int]) -> Template:
    try:
        template = Template.parse(text)
    except ValueError as exc:
        raise SettingsError.at(where, str(exc)) from None
    for name in template.fields:
        if name not in parameters and name not in CALL_FIELDS:
            known = ", ".join(parameters) or "none"
            raise SettingsError.at(
                where,
                f"placeholder {{{name}}} is not a parameter (parameters: {known}; "
                f"call ids: {', '.join(CALL_FIELDS)})",
            )
    return template
