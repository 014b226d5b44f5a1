"""The description of one tool, built once at decoration time and read on every call.

A :class:`ToolSpec` holds what Tavus needs to declare the tool (name, description, JSON
Schema, the server-side options of protocol reference §7.2) and what the dispatcher needs to
run it (the function, its argument validator, reply mode, timeout, cancellation flag).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from cvibot._errors import CvibotError, ToolDefinitionError
from cvibot.tools._options import (
    MAX_NAME_LENGTH,
    ON_CALL_VALUES,
    ON_RESOLVE_VALUES,
    Origin,
    ToolOptions,
    name_problem,
)

__all__ = [
    "MAX_NAME_LENGTH",
    "ON_CALL_VALUES",
    "ON_RESOLVE_VALUES",
    "ArgumentsError",
    "ToolSpec",
    "name_problem",
]

# The fields `with_options` may change: the options, and the plugin that registered it.
_OPTION_FIELDS: Final = (*ToolOptions.option_names(), "plugin")
_INPUT_REPR_LIMIT: Final = 40


class ArgumentsError(CvibotError, ValueError):
    """The LLM's arguments do not match the tool's parameters.

    ``errors`` lists ``(path, message)`` pairs, ``path`` dotted (``items.0.sku``; empty when
    the arguments as a whole are wrong). ``str(err)`` names every bad field, for example
    ``order_id: Input should be a valid integer, ... (got 'abc'); quantity: Field required``,
    short enough to hand back to the LLM so it can retry. Unknown arguments are errors too
    (``Extra inputs are not permitted``): the LLM is an untrusted caller.
    """

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{path}: {msg}" if path else msg for path, msg in errors))

    def __reduce__(self) -> tuple[type[ArgumentsError], tuple[list[tuple[str, str]]]]:
        return type(self), (self.errors,)

    @classmethod
    def from_validation_error(cls, exc: ValidationError) -> ArgumentsError:
        """Turn pydantic's errors into short ``(path, message)`` pairs with the bad input."""
        errors = []
        for err in exc.errors(include_url=False, include_context=False):
            path = ".".join(str(part) for part in err["loc"])
            if not path and err["type"] == "model_type":
                msg = "Arguments should be a JSON object"
            else:
                msg = err["msg"]
            # For a missing field the "input" is the whole argument object: not worth quoting.
            if err["type"] != "missing":
                msg = f"{msg} (got {_short_repr(err['input'])})"
            errors.append((path, msg))
        return cls(errors)


def _short_repr(value: object) -> str:
    text = repr(value)
    if len(text) <= _INPUT_REPR_LIMIT:
        return text
    return text[: _INPUT_REPR_LIMIT - 3] + "..."


@dataclass(frozen=True, slots=True)
class ToolSpec(ToolOptions):
    """One tool: its :class:`~cvibot.tools._options.ToolOptions` (every option is an
    attribute), its Tavus definition and its handler.

    Built by :func:`~cvibot.tools.tool` (or :func:`~cvibot.tools.build_tool_spec`); option
    values are checked on construction and by :meth:`with_options`, so a spec that exists is
    valid (:class:`~cvibot.tools._options.ToolOptions` lists the rules; a bad value raises
    :class:`~cvibot._errors.ToolDefinitionError` naming the tool). Here ``name`` and
    ``description`` are required, and ``plugin`` names the plugin that registered the tool.

    ``None`` for ``reply``, ``timeout``, ``cancel_on_interrupt`` and ``max_concurrent``
    means "the configured default decides" (10 s for the timeout;
    ``dispatch.max_concurrent_per_tool`` for ``max_concurrent``, the calls of one tool
    running at once per conversation). ``say`` (a callable, else ``None``) turns the
    handler's result into the sentence spoken when the answer is spoken (see
    :func:`cvibot._dispatch.answer.spoken_text`). ``on_call``, ``static_filler`` and ``on_resolve``
    only matter when definitions are exported to Tavus (:mod:`cvibot.tools._export`).
    """

    name: str
    description: str
    # Left out of the hash (a dict is not hashable) and of the repr (too long to read).
    parameters: dict[str, Any] = field(hash=False, repr=False)
    function: Callable[..., Any]
    is_async: bool
    arguments_model: type[BaseModel]
    context_param: str | None = None
    plugin: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise ToolDefinitionError(f"tool name {self.name!r} {name_problem(self.name)}")
        ToolOptions.__post_init__(self)
        if not isinstance(self.description, str):
            raise self._fail(f"description must be a string, not {self.description!r}")

    @property
    def options(self) -> ToolOptions:
        """The spec's options alone, as a :class:`~cvibot.tools._options.ToolOptions`."""
        return ToolOptions(**{name: getattr(self, name) for name in ToolOptions.option_names()})

    @property
    def is_perception(self) -> bool:
        """True for Raven perception tools (``origin`` vision or audio, §4.5, §7.3)."""
        return self.origin is not Origin.LLM

    def validate(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Check the LLM's parsed ``arguments`` and return the handler's keyword arguments.

        Values are coerced as pydantic's lax mode does (``"5"`` → ``5``); nested models stay
        model instances and ``Enum`` parameters become members. Parameters the LLM left out
        get their defaults; the :attr:`context_param` is not included (the dispatcher adds
        it). Raises :class:`ArgumentsError` naming every bad or unknown field.
        """
        try:
            # The model's validator itself: what model_validate calls, less a frame.
            model: BaseModel = self.arguments_model.__pydantic_validator__.validate_python(
                arguments
            )
        except ValidationError as exc:
            raise ArgumentsError.from_validation_error(exc) from None
        # A validated model's __dict__ holds exactly its fields (extras and private
        # attributes live elsewhere), nested models unconverted; copying it costs a fraction
        # of a microsecond where dict(model) costs several.
        return model.__dict__.copy()

    def with_options(self, **changes: Any) -> ToolSpec:
        """Return a copy with some options changed, validated like the original.

        Accepted keys: the fields of :class:`~cvibot.tools._options.ToolOptions` and
        ``plugin``. Raises
        :class:`~cvibot._errors.ToolDefinitionError` for another key or a bad value, e.g.
        ``spec.with_options(reply="echo", timeout=5)``.
        """
        unknown = sorted(set(changes) - set(_OPTION_FIELDS))
        if unknown:
            raise self._fail(
                f"unknown option(s) {', '.join(map(repr, unknown))}; "
                f"expected some of {', '.join(_OPTION_FIELDS)}"
            )
        return dataclasses.replace(self, **changes)
