"""The shape of the plugin's ``settings``, as pydantic models, and their parsing.

These models check types and value ranges; what depends on several keys (a placeholder
naming a parameter, a body with ``GET``) is checked when the tools are built
(:mod:`cvibot_http.build`). Every model forbids unknown keys and is frozen. Header values
are :class:`~pydantic.SecretStr`, so a repr of the settings never shows a credential.
See the README for the reference of every key.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo

from cvibot.tools import ON_CALL_VALUES, ON_RESOLVE_VALUES, Origin, ReplyMode, name_problem
from cvibot_http.errors import SettingsError, key_text

__all__ = [
    "HttpSettings",
    "ItemSettings",
    "ParameterSettings",
    "ParameterType",
    "RequestSettings",
    "ResponseSettings",
    "ToolSettings",
    "parse_settings",
]

#: Seconds: positive, at most an hour, so that milliseconds written as seconds are caught.
Seconds = Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)]
ParameterType = Literal["string", "integer", "number", "boolean", "array", "object"]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemSettings(_Model):
    """The type of a value: a parameter's, or an array parameter's items (``items``)."""

    type: ParameterType = "string"
    description: str | None = None
    enum: list[Any] | None = Field(default=None, min_length=1)
    items: ItemSettings | None = None


class ParameterSettings(ItemSettings):
    """One argument the LLM passes. ``default`` counts when it is written (even ``null``)."""

    default: Any = None
    required: bool | None = None


class RequestSettings(_Model):
    """The HTTP request one call makes. ``json`` counts when it is written."""

    method: Method = "POST"
    url: str = Field(min_length=1)
    query: dict[str, Any] = {}
    headers: dict[str, SecretStr] = {}
    body: Any = Field(default=None, alias="json")

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class ResponseSettings(_Model):
    """How the HTTP response becomes the answer."""

    path: str | None = None
    template: str | None = None
    errors: dict[int | str, str] = {}
    error_path: str | None = None


class ToolSettings(_Model):
    """One declared tool: its definition, its request, its response and its options."""

    name: str
    description: str = Field(min_length=1)
    parameters: dict[str, ParameterSettings] = {}
    request: RequestSettings
    response: ResponseSettings = ResponseSettings()
    reply: ReplyMode | None = None
    timeout: Seconds | None = None
    cancel_on_interrupt: bool | None = None
    origin: Origin = Origin.LLM
    on_call: str | None = None
    static_filler: str | None = None
    on_resolve: str | None = None

    @field_validator("name")
    @classmethod
    def _tavus_name(cls, value: str) -> str:
        problem = name_problem(value)
        if problem is not None:
            raise ValueError(f"the tool name {problem}")
        return value

    @field_validator("on_call", "on_resolve")
    @classmethod
    def _tavus_value(cls, value: str | None, info: Any) -> str | None:
        allowed = ON_CALL_VALUES if info.field_name == "on_call" else ON_RESOLVE_VALUES
        if value is not None and value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value


class HttpSettings(_Model):
    """The whole ``settings`` mapping; empty settings declare no tools."""

    base_url: str | None = None
    headers: dict[str, SecretStr] = {}
    timeout: Seconds | None = None
    max_connections: int = Field(default=10, ge=1, le=1000)
    tools: list[ToolSettings] = []


def parse_settings(settings: Mapping[str, Any]) -> HttpSettings:
    """Validate the plugin's ``settings`` mapping.

    Raises :class:`~cvibot_http.errors.SettingsError` listing every problem at its key
    path (``tools[0].request.method: Input should be 'GET', 'POST', ...``); an unknown key
    lists the allowed ones. Input values are never quoted.
    """
    if not isinstance(settings, Mapping):
        raise SettingsError([("", f"settings must be a mapping, not {type(settings).__name__}")])
    try:
        return HttpSettings.model_validate(dict(settings))
    except ValidationError as exc:
        raise SettingsError(_problems(exc)) from None


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = tuple(err["loc"])
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            model = _model_at(loc[:-1])
            allowed = _keys_of(model) if model is not None else []
            message = "unknown key" + (f" (allowed: {', '.join(allowed)})" if allowed else "")
        elif message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        problems.append((key_text(_dict_keys_as_text(loc)), message))
    return problems


def _dict_keys_as_text(loc: Sequence[int | str]) -> tuple[int | str, ...]:
    """``loc`` with the integer keys of mappings (``errors: {404: ...}``) made text, so
    that only list indexes read ``[0]``."""
    out: list[int | str] = []
    current: Any = HttpSettings
    for part in loc:
        current = _unwrap(current)
        if typing.get_origin(current) is dict:
            out.append(str(part))
        else:
            out.append(part)
        current = _step(current, part)
    return tuple(out)


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _model_at(loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The settings model found at key path ``loc``, or None if it leads elsewhere."""
    current: Any = HttpSettings
    for part in loc:
        current = _step(_unwrap(current), part)
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _step(annotation: Any, part: int | str) -> Any:
    """The annotation one key below ``annotation`` (``None`` when there is none)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = _field(annotation, part)
        return field.annotation if field is not None else None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and isinstance(part, int):
        return args[0]
    if origin is dict:
        return args[1]
    return None


def _field(model: type[BaseModel], key: int | str) -> FieldInfo | None:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _unwrap(annotation: Any) -> Any:
    """``X`` from ``X | None`` and ``Annotated[X, ...]``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation
