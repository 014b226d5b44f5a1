"""The ``@tool`` decorator, and finding decorated tools in a module.

Example::

    @tool(reply="echo", timeout=5)
    async def lookup_order(order_id: int, ctx: ToolContext) -> str:
        \"\"\"Look up an order's status.

        Args:
            order_id: The number printed on the receipt.
        \"\"\"

All the work (schema, argument model, option checks) happens here, at import time, so a bad
tool fails when its module loads, with a :class:`~cvibot._errors.ToolDefinitionError`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from types import FrameType, ModuleType
from typing import Any, Final, TypeVar, Unpack, overload

from cvibot._errors import ToolDefinitionError
from cvibot.tools._options import ToolOptionKwargs, ToolOptions
from cvibot.tools._schema import default_name, function_schema, is_async_callable, unwrap_partial
from cvibot.tools._spec import ToolSpec

__all__ = ["build_tool_spec", "collect_tools", "get_tool_spec", "tool"]

F = TypeVar("F", bound=Callable[..., Any])

#: The attribute ``@tool`` sets on the decorated function.
SPEC_ATTRIBUTE: Final = "__cvibot_tool__"


def build_tool_spec(
    fn: Callable[..., Any],
    *,
    localns: Mapping[str, Any] | None = None,
    **options: Unpack[ToolOptionKwargs],
) -> ToolSpec:
    """Build the :class:`ToolSpec` of ``fn`` without marking ``fn``.

    What ``@tool`` does, for callables that cannot carry an attribute (bound methods) or
    that a plugin registers without decorating. ``name`` defaults to ``fn.__name__``,
    ``description`` to the docstring; the options are those of
    :class:`~cvibot.tools._options.ToolOptions`, as for :func:`tool`.
    ``localns`` resolves string annotations naming types local to the function that defines
    ``fn``; by default the caller's locals are used when the caller is that function.
    Raises :class:`~cvibot._errors.ToolDefinitionError`.
    """
    if localns is None:
        localns = _defining_scope_locals(fn, sys._getframe(1))
    rest: dict[str, Any] = dict(options)
    name = rest.pop("name", None)
    description = rest.pop("description", None)
    if name is None:
        name = default_name(fn)
        if name is None:
            raise ToolDefinitionError(f"{fn!r} has no __name__; pass name=... to @tool")
    schema = function_schema(fn, name=name, localns=localns)
    return ToolSpec(
        name=name,
        description=schema.description if description is None else description,
        parameters=schema.parameters,
        function=fn,
        is_async=is_async_callable(fn),
        arguments_model=schema.arguments_model,
        context_param=schema.context_param,
        # The options as given: ToolOptions converts and checks them.
        **rest,
    )


@overload
def tool(fn: F, /) -> F: ...


@overload
def tool(**options: Unpack[ToolOptionKwargs]) -> Callable[[F], F]: ...


def tool(fn: Callable[..., Any] | None = None, /, **options: Unpack[ToolOptionKwargs]) -> Any:
    """Declare a function as a tool; usable as ``@tool``, ``@tool()`` or ``@tool(...)``.

    The keyword arguments are the options of :class:`~cvibot.tools._options.ToolOptions`.
    Returns the function itself, unchanged, with its :class:`ToolSpec` in the attribute
    ``__cvibot_tool__`` (read it with :func:`get_tool_spec`).

    - ``name``: defaults to the function's name; must match ``^[a-zA-Z_][a-zA-Z0-9_]{0,63}$``.
    - ``description``: defaults to the docstring's summary and body.
    - ``reply``: a :class:`ReplyMode` or its value (``"echo"``, ...); ``None`` lets the
      configuration decide.
    - ``say``: ``say(result) -> str | None``, the sentence the replica speaks when the
      answer is spoken (reply ``echo`` or ``respond``, or ``auto`` for a call without a
      ``tool_call_id``); ``None`` says nothing. Without it a structured result is spoken
      in a readable default form (``status: shipped, eta: Friday``), never as JSON. A
      ``tool_result`` or ``append_context`` answer keeps the JSON. It runs on the event
      loop: format, do no I/O.
    - ``timeout``: seconds, > 0; ``None`` lets the configuration decide (10 s by default).
    - ``cancel_on_interrupt``: cancel the call when the user interrupts; ``None`` = config.
    - ``max_concurrent``: calls of this tool running at once per conversation, >= 1;
      ``None`` = config (``dispatch.max_concurrent_per_tool``). More wait their turn
      without holding up calls of other tools.
    - ``origin``: ``"llm"`` (``conversation.tool_call``) or ``"vision"`` / ``"audio"``
      (Raven perception tools, ``conversation.perception_tool_call``, §4.5).
    - ``on_call``, ``static_filler``, ``on_resolve``: Tavus's server-side behaviour, only
      used when exporting definitions (protocol reference §7.2).

    Raises :class:`~cvibot._errors.ToolDefinitionError` at decoration time for a bad name or
    option, an unannotated / ``*args`` / positional-only / ``tavus_`` parameter, two
    ``ToolContext`` parameters, or a docstring documenting a parameter that does not exist.
    """

    unknown = sorted(set(options) - set(ToolOptions.option_names()))
    if unknown:  # as for an explicit signature: at the call, not when the decorator runs
        raise TypeError(f"tool() got an unexpected keyword argument {unknown[0]!r}")

    def decorate(func: F) -> F:
        return _mark(func, sys._getframe(1), options)

    if fn is None:
        return decorate
    return _mark(fn, sys._getframe(1), options)


def _mark(fn: F, caller: FrameType, options: ToolOptionKwargs) -> F:
    spec = build_tool_spec(fn, localns=_defining_scope_locals(fn, caller), **options)
    try:
        setattr(fn, SPEC_ATTRIBUTE, spec)
    except (AttributeError, TypeError):
        raise ToolDefinitionError(
            f"tool {spec.name!r}: {fn!r} cannot carry the tool marker; "
            "use build_tool_spec(...) and register the spec instead"
        ) from None
    return fn


def _defining_scope_locals(fn: Callable[..., Any], caller: FrameType) -> Mapping[str, Any]:
    """``caller``'s locals if ``caller`` is the function whose body defines ``fn``.

    With ``from __future__ import annotations`` a hint naming a class defined in that body
    only resolves through those locals. Any other caller's locals (a plugin loader's, say)
    are unrelated to ``fn`` and could shadow its globals, so they are not used.
    """
    target = unwrap_partial(fn)
    qualname = getattr(target, "__qualname__", None) or type(target).__qualname__
    scope, sep, _ = qualname.rpartition(".<locals>.")
    return caller.f_locals if sep and scope == caller.f_code.co_qualname else {}


def get_tool_spec(obj: object) -> ToolSpec | None:
    """The :class:`ToolSpec` that ``@tool`` attached to ``obj``, or ``None``."""
    spec = getattr(obj, SPEC_ATTRIBUTE, None)
    # isinstance: some objects (mocks, proxies) answer any attribute lookup.
    return spec if isinstance(spec, ToolSpec) else None


def collect_tools(namespace: ModuleType | Mapping[str, Any]) -> list[ToolSpec]:
    """The specs of the ``@tool`` functions among a module's attributes (or a mapping's values).

    A function reachable under several names counts once. Sorted by tool name, so the order
    does not depend on import order.
    """
    values = vars(namespace).values() if isinstance(namespace, ModuleType) else namespace.values()
    specs: dict[int, ToolSpec] = {}
    for value in values:
        spec = get_tool_spec(value)
        if spec is not None:
            specs.setdefault(id(spec.function), spec)
    return sorted(specs.values(), key=lambda spec: spec.name)
