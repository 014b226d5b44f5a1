"""From the declarative ``parameters`` form to pydantic field definitions.

``order_id: {type: string, description: ..., enum: [...], default: ..., required: ...}``
becomes ``order_id=(Annotated[str, Field(description=...)], ...)`` for
:func:`cvibot.tools.dynamic_tool`. Types map to ``str``, ``int``, :data:`Number` (a
finite float, whole values as ``int``), ``bool``,
``list[...]`` (of ``items``, any value without it) and ``dict[str, Any]``; ``enum`` makes a
``Literal``. A parameter is required unless it has a ``default`` or says
``required: false``; an optional parameter without a default (or with ``default: null``)
is ``None`` when the LLM leaves it out, and may be sent as ``null``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, AllowInfNan, Field, TypeAdapter, ValidationError

from cvibot.tools import RESERVED_PREFIX
from cvibot_http.errors import SettingsError
from cvibot_http.settings import ItemSettings, ParameterSettings

__all__ = ["CALL_FIELDS", "Number", "ParameterInfo", "field_definitions"]

#: The call's ids, usable in request templates next to the parameters.
CALL_FIELDS: Final = ("conversation_id", "tool_call_id", "inference_id", "seq", "turn_idx")


def _integral(value: float) -> float | int:
    return int(value) if value.is_integer() else value


#: A JSON number: finite, and an int when it is whole (so that ``5`` stays ``5`` in URLs
#: and bodies, not ``5.0``).
Number = Annotated[float, AllowInfNan(False), AfterValidator(_integral)]

_SCALARS: Final[dict[str, Any]] = {"string": str, "integer": int, "number": Number, "boolean": bool}
_ENUM_TYPES: Final = ("string", "integer", "number")


class ParameterInfo:
    """What the request builder needs to know of a parameter.

    ``type`` is the declared type; ``always`` is true when a call always has a value for
    it (required, or a non-null default).
    """

    __slots__ = ("always", "type")

    def __init__(self, type: str, always: bool) -> None:
        self.type = type
        self.always = always


def field_definitions(
    parameters: Mapping[str, ParameterSettings], loc: Sequence[str | int]
) -> tuple[dict[str, Any], dict[str, ParameterInfo]]:
    """``create_model`` field definitions for ``parameters`` (at key path ``loc``), and
    a :class:`ParameterInfo` per parameter.

    Raises :class:`SettingsError` at the parameter's key for a name that is no
    identifier, starts with ``_`` or ``tavus_``, or is a call id; an ``enum`` on a type
    other than string, integer or number, or a value of the wrong type in it; ``items``
    on a type other than array; a ``default`` of the wrong type; ``required: true`` with a
    default.
    """
    fields: dict[str, Any] = {}
    infos: dict[str, ParameterInfo] = {}
    for name, param in parameters.items():
        where = (*loc, name)
        _check_name(name, where)
        annotation = _annotation(param, where)
        has_default = "default" in param.model_fields_set
        if has_default and param.required:
            raise SettingsError.at(
                (*where, "required"), "a parameter with a default is optional; drop one of them"
            )
        if has_default:
            _check_default(annotation, param.default, (*where, "default"))
            default: Any = param.default
            if default is None:  # `default: null`: the LLM may send null too
                annotation = annotation | None
        elif param.required is False:
            annotation = annotation | None
            default = None
        else:
            default = ...
        if param.description:
            annotation = Annotated[annotation, Field(description=param.description)]
        fields[name] = (annotation, default)
        infos[name] = ParameterInfo(param.type, default is ... or default is not None)
    return fields, infos


def _check_name(name: str, where: Sequence[str | int]) -> None:
    problem = None
    if not name.isidentifier():
        problem = "a parameter name must be an identifier (letters, digits, _)"
    elif name.startswith("_"):
        problem = "a parameter name must not start with an underscore"
    elif name.startswith(RESERVED_PREFIX):
        problem = f"the prefix {RESERVED_PREFIX!r} is reserved by Tavus"
    elif name in CALL_FIELDS:
        problem = f"{name!r} names one of the call's ids in templates; choose another name"
    elif name.startswith("model_"):
        problem = "a parameter name must not start with 'model_'"
    if problem is not None:
        raise SettingsError.at(where, problem)


def _annotation(item: ItemSettings, where: Sequence[str | int]) -> Any:
    if item.items is not None and item.type != "array":
        raise SettingsError.at((*where, "items"), "items is only for parameters of type array")
    if item.enum is not None:
        return _enum_annotation(item, where)
    if item.type == "array":
        if item.items is None:
            return list[Any]
        element = _annotation(item.items, (*where, "items"))
        return list[element]  # type: ignore[valid-type]
    if item.type == "object":
        return dict[str, Any]
    return _SCALARS[item.type]


def _enum_annotation(item: ItemSettings, where: Sequence[str | int]) -> Any:
    assert item.enum is not None
    if item.type not in _ENUM_TYPES:
        raise SettingsError.at(
            (*where, "enum"), f"enum is only for string, integer and number (not {item.type})"
        )
    for index, value in enumerate(item.enum):
        if not _is_of_type(value, item.type):
            raise SettingsError.at(
                (*where, "enum", index), f"{value!r} is not of the parameter's type {item.type}"
            )
    return Literal[tuple(dict.fromkeys(item.enum))]


def _is_of_type(value: Any, type_: str) -> bool:
    if isinstance(value, bool):
        return False
    if type_ == "string":
        return isinstance(value, str)
    if type_ == "integer":
        return isinstance(value, int)
    return isinstance(value, int | float)


def _check_default(annotation: Any, default: Any, where: Sequence[str | int]) -> None:
    if default is None:
        return  # `default: null` makes an optional parameter whose value may be absent
    try:
        TypeAdapter(annotation).validate_python(default, strict=True)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise SettingsError.at(where, f"{first['msg']} (got {default!r})") from None
