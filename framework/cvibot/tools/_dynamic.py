"""Tools built from data at start-up rather than from a Python function's signature.

A plugin that declares its tools in settings (one HTTP endpoint per tool, say) has no
function to decorate. :func:`dynamic_tool` makes a :class:`~cvibot.tools.ToolSpec` from a
name, a description, the argument fields and one generic handler that receives the
validated arguments as a dict::

    async def forward(arguments: dict[str, Any], ctx: ToolContext) -> str:
        return f"Looked up {arguments['order_id']} for call {ctx.tool_call_id}."

    spec = dynamic_tool(
        "lookup_order",
        "Look up an order by its number.",
        {"order_id": (str, Field(description="The order number, e.g. A1001"))},
        forward,
        reply="tool_result",
    )

The spec is a normal one: its JSON Schema comes from :func:`~cvibot.tools._schema.
llm_json_schema`, and the dispatcher validates the LLM's arguments against the argument
model before the handler runs, so invalid arguments get the usual error answer naming
the field.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Final, Unpack

from pydantic import BaseModel, ConfigDict, create_model

from cvibot._context import ToolContext
from cvibot._errors import ToolDefinitionError
from cvibot.tools._options import ToolBehaviourKwargs
from cvibot.tools._schema import checked_parameters, is_async_callable
from cvibot.tools._spec import ToolSpec

__all__ = ["CONTEXT_PARAM", "dynamic_handler", "dynamic_tool"]

#: The keyword under which the dispatcher passes the ToolContext to a dynamic tool's
#: function. pydantic refuses field names with a leading underscore, so no argument can
#: ever collide with it.
CONTEXT_PARAM: Final = "_cvibot_context"

# Like the models of @tool functions: unknown arguments from the LLM are errors, and a
# parameter may be called `model_name`.
_MODEL_CONFIG: Final = ConfigDict(extra="forbid", protected_namespaces=())
_POSITIONAL: Final = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


class _DynamicCall:
    """The ``function`` of a dynamic tool's spec: keyword arguments in, one dict out."""

    __slots__ = ("handler", "name", "takes_context")

    def __init__(self, name: str, handler: Callable[..., Any], takes_context: bool) -> None:
        self.name = name
        self.handler = handler
        self.takes_context = takes_context

    def _args(self, kwargs: dict[str, Any]) -> tuple[Any, ...]:
        if self.takes_context:
            context = kwargs.pop(CONTEXT_PARAM)
            return kwargs, context
        return (kwargs,)

    def __repr__(self) -> str:
        return f"<dynamic tool {self.name} handler={self.handler!r}>"


class _SyncCall(_DynamicCall):
    __slots__ = ()

    def __call__(self, **kwargs: Any) -> Any:
        return self.handler(*self._args(kwargs))


class _AsyncCall(_DynamicCall):
    __slots__ = ()

    async def __call__(self, **kwargs: Any) -> Any:
        return await self.handler(*self._args(kwargs))


def dynamic_tool(
    name: str,
    description: str,
    arguments: type[BaseModel] | Mapping[str, Any],
    handler: Callable[..., Any],
    **options: Unpack[ToolBehaviourKwargs],
) -> ToolSpec:
    """Build the :class:`~cvibot.tools.ToolSpec` of a tool described by data.

    - ``name``: the tool name, ``^[a-zA-Z_][a-zA-Z0-9_]{0,63}$``.
    - ``description``: what the LLM reads about the tool.
    - ``arguments``: a pydantic model of the arguments (give it ``extra="forbid"`` to
      refuse unknown arguments), or a mapping of field definitions as
      :func:`pydantic.create_model` takes them, ``{"order_id": (str, ...), "qty": (int, 1),
      "note": str}``, from which a model refusing unknown arguments is made. Field names
      starting ``tavus_`` are reserved by Tavus.
    - ``handler``: ``handler(arguments)`` or ``handler(arguments, ctx)``, an ``async def``
      (run as a task) or a plain function (run in the bot's thread pool). ``arguments``
      is a new ``dict`` of the validated arguments by field name (defaults filled in,
      nested models kept as model instances); ``ctx`` the call's
      :class:`~cvibot._context.ToolContext`, passed when the handler takes two positional
      parameters. Its return value and exceptions mean what they mean for ``@tool``
      functions (``ToolError`` → error answer with its message).
    - the options: those of :class:`~cvibot.tools._options.ToolOptions` but ``name`` and
      ``description``, as for :func:`~cvibot.tools.tool` (``say`` included: the sentence
      spoken for the handler's result).

    Raises :class:`~cvibot._errors.ToolDefinitionError` naming the tool for a bad name or
    option, field definitions pydantic refuses, a reserved field name, or a handler that
    is not callable with one or two positional arguments. Use :func:`dynamic_handler` to
    get ``handler`` back from the spec (for example from ``bot.tools`` at start-up).
    """

    def fail(message: str) -> ToolDefinitionError:
        return ToolDefinitionError(f"tool {name!r}: {message}")

    if not isinstance(name, str):
        raise ToolDefinitionError(f"tool name must be a string, not {type(name).__name__}")
    takes_context = _takes_context(handler, fail)
    model = _arguments_model(name, arguments, handler, fail)
    parameters = checked_parameters(
        model, fail, "cannot build the JSON Schema of the arguments", "argument"
    )
    call_type = _AsyncCall if is_async_callable(handler) else _SyncCall
    return ToolSpec(
        name=name,
        description=description,
        parameters=parameters,
        function=call_type(name, handler, takes_context),
        is_async=call_type is _AsyncCall,
        arguments_model=model,
        context_param=CONTEXT_PARAM if takes_context else None,
        # The options as given: ToolOptions converts and checks them.
        **dict[str, Any](options),
    )


def dynamic_handler(spec: ToolSpec) -> Callable[..., Any] | None:
    """The ``handler`` that :func:`dynamic_tool` built ``spec`` around, else ``None``.

    Survives :meth:`~cvibot.tools.ToolSpec.with_options` (config overrides), so a plugin
    can find its own tools among ``bot.tools`` in ``cvibot_startup``.
    """
    function = spec.function
    return function.handler if isinstance(function, _DynamicCall) else None


def _takes_context(handler: Any, fail: Callable[[str], ToolDefinitionError]) -> bool:
    """True if ``handler`` takes ``(arguments, ctx)``, false for ``(arguments)``."""
    if not callable(handler):
        raise fail(f"the handler must be callable, not {type(handler).__name__}")
    try:
        params = list(inspect.signature(handler).parameters.values())
    except (TypeError, ValueError) as exc:
        raise fail(f"cannot read the signature of the handler {handler!r}: {exc}") from exc
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [p for p in params if p.kind in _POSITIONAL]
    required = [p for p in params if p.default is p.empty and p.kind is not p.VAR_KEYWORD]
    if not positional or len(required) > 2 or any(p.kind is p.KEYWORD_ONLY for p in required):
        raise fail(
            f"the handler {handler!r} must take (arguments) or (arguments, ctx) as "
            "positional parameters"
        )
    return len(positional) >= 2


def _arguments_model(
    name: str,
    arguments: Any,
    handler: Any,
    fail: Callable[[str], ToolDefinitionError],
) -> type[BaseModel]:
    if isinstance(arguments, type) and issubclass(arguments, BaseModel):
        return arguments
    if not isinstance(arguments, Mapping):
        raise fail(
            "arguments must be a pydantic model or a mapping of field definitions, "
            f"not {type(arguments).__name__}"
        )
    bad = [key for key in arguments if not isinstance(key, str) or not key.isidentifier()]
    if bad:
        raise fail(f"argument names must be Python identifiers, not {', '.join(map(repr, bad))}")
    # pydantic would silently make these a private attribute or model configuration.
    taken = [key for key in arguments if key.startswith("_") or _is_model_attribute(key)]
    if taken:
        raise fail(
            f"argument name(s) {', '.join(map(repr, taken))} cannot be used: names may not "
            "start with an underscore or be a pydantic model attribute (model_...)"
        )
    if ToolContext in arguments.values():
        raise fail("a ToolContext is not an argument; take it as the handler's second parameter")
    try:
        with warnings.catch_warnings():
            # A field named like a BaseModel method (`json`, `copy`, `schema`) works:
            # instance fields win over the deprecated methods, which cvibot never calls.
            warnings.filterwarnings("ignore", r".*shadows an attribute", UserWarning)
            return create_model(
                name,
                __config__=_MODEL_CONFIG,
                __module__=getattr(handler, "__module__", None) or __name__,
                **arguments,
            )
    except Exception as exc:  # NameError, TypeError, PydanticSchemaGenerationError, ...
        raise fail(f"cannot build the argument model: {exc}") from exc


def _is_model_attribute(key: str) -> bool:
    return key.startswith("model_") and hasattr(BaseModel, key)
