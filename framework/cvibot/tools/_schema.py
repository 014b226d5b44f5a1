"""From a handler's signature and docstring to an argument model and an LLM-ready JSON Schema.

Everything here runs once, when a tool is decorated; nothing runs per call. The rules:

- every parameter needs a type hint (an unannotated one is an error, never silently ``str``);
  ``*args``, ``**kwargs``, positional-only and ``_private`` parameters are errors;
- the one parameter annotated :class:`~cvibot._context.ToolContext` (or ``ToolContext | None``)
  is injected by the dispatcher and left out of the schema;
- parameters with a default are optional; ``Annotated[..., Field(...)]`` constraints and
  descriptions are honoured, and a ``Field`` description wins over the docstring's;
- the description is the docstring's summary and body (Google, NumPy, reST or Epydoc style,
  detected automatically); a documented parameter missing from the signature is an error;
- the JSON Schema has ``$ref``\\ s inlined and ``title``\\ s removed, and its top level is
  exactly ``{"type": "object", "properties": {...}, "required": [...]}`` (protocol
  reference §7.1); property names starting ``tavus_`` are reserved by Tavus (§7.2).
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Union

import docstring_parser
from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from cvibot._context import ToolContext
from cvibot._errors import ToolDefinitionError

__all__ = [
    "RESERVED_PREFIX",
    "FunctionSchema",
    "default_name",
    "function_schema",
    "is_async_callable",
    "llm_json_schema",
    "reserved_properties",
    "unwrap_partial",
]

#: Property-name prefix Tavus keeps for itself (§7.2).
RESERVED_PREFIX: Final = "tavus_"

# extra="forbid": unknown arguments from the LLM are errors. No protected namespaces: a
# parameter may well be called `model_name`.
_MODEL_CONFIG: Final = ConfigDict(extra="forbid", protected_namespaces=())

# JSON Schema keywords whose values are schemas, so the walkers below only touch schemas
# and never a property that happens to be called "title" or a default value.
_SCHEMA_MAPS: Final = ("properties", "patternProperties", "dependentSchemas", "$defs")
_SCHEMA_VALUES: Final = (
    "items",
    "additionalItems",
    "additionalProperties",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
)
_SCHEMA_LISTS: Final = ("anyOf", "allOf", "oneOf", "prefixItems")
# docstring_parser "params" also holds attributes; these kinds describe call arguments.
_PARAM_KINDS: Final = frozenset(
    {"param", "parameter", "arg", "argument", "key", "keyword", "other_param"}
)
_NULL: Final = {"type": "null"}


@dataclass(frozen=True, slots=True)
class FunctionSchema:
    """What :func:`function_schema` derives from a function.

    ``description``: the docstring's summary and body (``""`` without a docstring);
    ``parameters``: the JSON Schema object; ``arguments_model``: the pydantic model that
    validates the LLM's arguments (fields named like the parameters); ``context_param``: the
    parameter that receives the :class:`~cvibot._context.ToolContext`, if any.
    """

    description: str
    parameters: dict[str, Any]
    arguments_model: type[BaseModel]
    context_param: str | None


def unwrap_partial(fn: Any) -> Any:
    """The callable under any layers of ``functools.partial``."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def default_name(fn: Callable[..., Any]) -> str | None:
    """The tool name a function gets by default: its ``__name__`` (through partials)."""
    name = getattr(unwrap_partial(fn), "__name__", None)
    return name if isinstance(name, str) else None


def is_async_callable(fn: Callable[..., Any]) -> bool:
    """True if calling ``fn`` returns a coroutine: an ``async def`` function or method, a
    ``functools.partial`` of one, or an object whose ``__call__`` is ``async def``."""
    target = unwrap_partial(fn)
    return inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(
        getattr(target, "__call__", None)  # noqa: B004 - the __call__ itself is inspected
    )


def function_schema(
    fn: Callable[..., Any], *, name: str, localns: Mapping[str, Any] | None = None
) -> FunctionSchema:
    """Build the argument model and JSON Schema of ``fn``, to be tool ``name``.

    ``localns`` resolves string annotations (``from __future__ import annotations``) that
    name types local to the scope where the tool is defined; module globals are always used.
    Raises :class:`~cvibot._errors.ToolDefinitionError` naming the tool and the parameter.
    """

    def fail(message: str) -> ToolDefinitionError:
        return ToolDefinitionError(f"tool {name!r}: {message}")

    target = unwrap_partial(fn)
    try:
        signature = inspect.signature(fn)
        all_params = inspect.signature(target).parameters
    except (TypeError, ValueError) as exc:
        raise fail(f"cannot read the signature of {fn!r}: {exc}") from exc
    hints = _type_hints(target, localns, fail)
    description, param_docs = _parse_docstring(target, fail)
    drift = sorted(set(param_docs) - set(all_params))
    if drift:
        raise fail(
            f"the docstring documents {', '.join(map(repr, drift))}, which the signature "
            "does not have"
        )

    fields, context_param = _fields(fn, signature, hints, param_docs, fail)
    try:
        with warnings.catch_warnings():
            # A parameter named like a BaseModel method (`json`, `copy`, `schema`) works:
            # instance fields win over the deprecated methods, which cvibot never calls.
            warnings.filterwarnings("ignore", r".*shadows an attribute", UserWarning)
            model = create_model(
                name,
                __config__=_MODEL_CONFIG,
                __module__=getattr(target, "__module__", None) or __name__,
                **fields,
            )
    except Exception as exc:  # pydantic's many model errors, all fatal at definition time
        raise fail(f"cannot build the argument model: {exc}") from exc
    parameters = checked_parameters(model, fail, "cannot build the argument model", "parameter")
    return FunctionSchema(description, parameters, model, context_param)


def checked_parameters(
    model: type[BaseModel], fail: Callable[[str], ToolDefinitionError], failure: str, noun: str
) -> dict[str, Any]:
    """The JSON Schema Tavus gets for the argument ``model`` (:func:`llm_json_schema`).

    Raises ``fail(...)`` when pydantic cannot build the schema (the message starts with
    ``failure``) and when a property uses Tavus's reserved ``tavus_`` prefix (the
    properties are called by ``noun`` in the message).
    """
    try:
        parameters = llm_json_schema(model)
    except ToolDefinitionError as exc:
        raise fail(str(exc)) from None
    except Exception as exc:  # pydantic's schema errors: fatal at definition time
        raise fail(f"{failure}: {exc}") from exc
    reserved = reserved_properties(parameters)
    if reserved:
        raise fail(
            f"{noun} name(s) {', '.join(map(repr, reserved))} use the prefix "
            f"{RESERVED_PREFIX!r}, which Tavus reserves (§7.2)"
        )
    return parameters


def _fields(
    fn: Callable[..., Any],
    signature: inspect.Signature,
    hints: Mapping[str, Any],
    param_docs: Mapping[str, str],
    fail: Callable[[str], ToolDefinitionError],
) -> tuple[dict[str, Any], str | None]:
    """``create_model`` field definitions, and the name of the ToolContext parameter."""
    # Arguments bound by a partial are not the LLM's to set.
    bound = set(fn.keywords) if isinstance(fn, functools.partial) else set()
    fields: dict[str, Any] = {}
    context_param: str | None = None
    for param in signature.parameters.values():
        pname = param.name
        if pname in bound:
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            stars = "*" if param.kind is param.VAR_POSITIONAL else "**"
            raise fail(f"{stars}{pname} is not supported: the LLM calls tools with named fields")
        if param.kind is param.POSITIONAL_ONLY:
            raise fail(f"parameter {pname!r} is positional-only; tool arguments are passed by name")
        if pname not in hints:
            hint = (
                "; for a method, register the bound method: build_tool_spec(obj.method)"
                if pname in ("self", "cls")
                else ""
            )
            raise fail(
                f"parameter {pname!r} has no type annotation; every tool parameter needs "
                f"one (the JSON Schema is built from it){hint}"
            )
        annotation = hints[pname]
        if _is_context(annotation):
            if context_param is not None:
                raise fail(
                    f"parameters {context_param!r} and {pname!r} are both ToolContext; "
                    "declare it once"
                )
            context_param = pname
            continue
        if pname.startswith("_"):
            raise fail(
                f"parameter {pname!r} starts with an underscore, which pydantic keeps for "
                "private attributes; rename it (Field(alias=...) sets the name the LLM sees)"
            )
        default = ... if param.default is param.empty else param.default
        doc = param_docs.get(pname)
        if doc and not _has_description(annotation, default):
            annotation = Annotated[annotation, Field(description=doc)]
        fields[pname] = (annotation, default)
    return fields, context_param


def _type_hints(
    target: Any,
    localns: Mapping[str, Any] | None,
    fail: Callable[[str], ToolDefinitionError],
) -> dict[str, Any]:
    # A callable object's annotations live on its class's __call__.
    source = target if inspect.isroutine(target) else type(target).__call__
    namespace = dict(localns or {})
    # Handlers often import ToolContext under `if TYPE_CHECKING:` only; resolve it anyway,
    # unless the module means something else by that name.
    if "ToolContext" not in namespace and "ToolContext" not in _globals_of(source):
        namespace["ToolContext"] = ToolContext
    try:
        return typing.get_type_hints(source, localns=namespace, include_extras=True)
    except Exception as exc:  # NameError for an undefined name, TypeError for a bad hint
        raise fail(
            f"cannot resolve the type hints of {getattr(target, '__qualname__', target)!r}: "
            f"{exc} (types named in annotations must be importable from the module, or "
            "defined in the scope where @tool is applied)"
        ) from exc


def _globals_of(fn: Any) -> Mapping[str, Any]:
    globalns = getattr(inspect.unwrap(fn), "__globals__", None)
    return globalns if isinstance(globalns, Mapping) else {}


def _parse_docstring(
    target: Any, fail: Callable[[str], ToolDefinitionError]
) -> tuple[str, dict[str, str]]:
    doc = inspect.getdoc(target)
    if not doc:
        return "", {}
    try:
        parsed = docstring_parser.parse(doc)
    except docstring_parser.ParseError as exc:
        raise fail(f"cannot parse the docstring: {exc}") from exc
    # A summary wrapped over two lines continues in the long description.
    sep = "\n\n" if parsed.blank_after_short_description else "\n"
    text = sep.join(part for part in (parsed.short_description, parsed.long_description) if part)
    params = {
        p.arg_name: p.description or ""
        for p in parsed.params
        if p.args and p.args[0] in _PARAM_KINDS
    }
    return text, params


def _is_context(annotation: Any) -> bool:
    if typing.get_origin(annotation) is Annotated:
        annotation = annotation.__origin__
    if isinstance(annotation, type):
        return issubclass(annotation, ToolContext)
    if typing.get_origin(annotation) in (Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return len(members) == 1 and _is_context(members[0])
    return False


def _has_description(annotation: Any, default: Any) -> bool:
    metadata = annotation.__metadata__ if typing.get_origin(annotation) is Annotated else ()
    return any(
        isinstance(item, FieldInfo) and item.description is not None
        for item in (*metadata, default)
    )


def llm_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s validation JSON Schema, reshaped for an LLM's tool definition.

    ``$ref``\\ s are replaced by the definitions they point to (a field's own keywords, such
    as its description, win over the definition's) and ``$defs`` dropped; ``title`` keywords
    are removed; ``anyOf: [{"type": X}, {"type": "null"}]`` becomes ``"type": [X, "null"]``;
    defaults, enums, descriptions and constraints stay. The result is
    ``{"type": "object", "properties": {...}, "required": [...]}``. A recursive model cannot
    be inlined and raises :class:`~cvibot._errors.ToolDefinitionError`.
    """
    raw = model.model_json_schema()
    defs = raw.pop("$defs", {})
    cleaned = _clean(raw, defs, ())
    return {
        "type": "object",
        "properties": cleaned.get("properties", {}),
        "required": cleaned.get("required", []),
    }


def _clean(node: Any, defs: Mapping[str, Any], seen: tuple[str, ...]) -> Any:
    if not isinstance(node, dict):
        return node  # a boolean schema, e.g. additionalProperties: false
    out: dict[str, Any] = {}
    ref = node.get("$ref")
    if isinstance(ref, str):
        def_name = ref.rpartition("/")[2]
        if def_name in seen:
            raise ToolDefinitionError(
                f"{def_name!r} refers to itself; a recursive type cannot be inlined into a "
                "tool schema"
            )
        out.update(_clean(defs[def_name], defs, (*seen, def_name)))
    for key, value in node.items():
        if key in ("$ref", "title"):
            continue
        if key in _SCHEMA_MAPS:
            value = {k: _clean(v, defs, seen) for k, v in value.items()}
        elif key in _SCHEMA_VALUES:
            value = _clean(value, defs, seen)
        elif key in _SCHEMA_LISTS:
            value = [_clean(v, defs, seen) for v in value]
        out[key] = value
    return _simplify_nullable(out)


def _simplify_nullable(node: dict[str, Any]) -> dict[str, Any]:
    branches = node.get("anyOf")
    if not (isinstance(branches, list) and len(branches) == 2 and _NULL in branches):
        return node
    other = branches[1] if branches[0] == _NULL else branches[0]
    # Only a bare {"type": X}: merging enums or constraints into a type list would change
    # what null is allowed to do.
    if not (
        isinstance(other, dict) and other.keys() == {"type"} and isinstance(other["type"], str)
    ):
        return node
    return {
        ("type" if key == "anyOf" else key): ([other["type"], "null"] if key == "anyOf" else value)
        for key, value in node.items()
    }


def reserved_properties(schema: Mapping[str, Any]) -> list[str]:
    """Paths of the properties of ``schema`` named with Tavus's reserved ``tavus_`` prefix.

    Nested objects are searched too: ``order.tavus_id``, ``lines[].tavus_sku`` (``[]`` marks
    array items).
    """
    return [path for path, name in _property_names(schema, "") if name.startswith(RESERVED_PREFIX)]


def _property_names(node: Any, path: str) -> Iterator[tuple[str, str]]:
    if not isinstance(node, Mapping):
        return
    for key, value in node.items():
        if key in ("properties", "patternProperties") and isinstance(value, Mapping):
            for prop, sub in value.items():
                prop_path = f"{path}.{prop}" if path else prop
                yield prop_path, prop
                yield from _property_names(sub, prop_path)
        elif key in _SCHEMA_MAPS:  # $defs, dependentSchemas: names are not properties
            for sub in value.values() if isinstance(value, Mapping) else ():
                yield from _property_names(sub, path)
        elif key in _SCHEMA_VALUES:
            yield from _property_names(value, f"{path}[]" if key == "items" else path)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            for sub in value:
                yield from _property_names(sub, f"{path}[]" if key == "prefixItems" else path)
