"""The description of one tool, built once at decoration time and read on every call.

A :class:`ToolSpec` holds what Tavus needs to declare the tool (name, description, JSON
Schema, the server-side options of protocol reference §7.2) and what the dispatcher needs to
run it (the function, its argument validator, reply mode, timeout, cancellation flag).
"""

from __future__ import annotations

import dataclasses
import inspect
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from cvibot.errors import CvibotError, ToolDefinitionError
from cvibot.tools.options import Origin, ReplyMode

__all__ = [
    "MAX_NAME_LENGTH",
    "ON_CALL_VALUES",
    "ON_RESOLVE_VALUES",
    "ArgumentsError",
    "ToolSpec",
    "name_problem",
]

#: Longest tool name Tavus accepts (``^[a-zA-Z_][a-zA-Z0-9_]{0,63}$``, §7.2).
MAX_NAME_LENGTH: Final = 64
#: ``on_call`` values of the tools registry (§7.2): what the replica does while the tool runs.
ON_CALL_VALUES: Final = ("generate_filler", "static_filler", "silent", "passthrough")
#: ``on_resolve`` values of the tools registry (§7.2): what Tavus does with the result.
ON_RESOLVE_VALUES: Final = (
    "generate_response",
    "response_in_result",
    "add_to_context",
    "fire_and_forget",
)

_FIRST_CHARS: Final = frozenset(string.ascii_letters + "_")
_NAME_CHARS: Final = _FIRST_CHARS | frozenset(string.digits)
# The fields `with_options` may change; the others are derived from the function.
_OPTION_FIELDS: Final = (
    "name",
    "description",
    "reply",
    "say",
    "timeout",
    "cancel_on_interrupt",
    "max_concurrent",
    "origin",
    "on_call",
    "static_filler",
    "on_resolve",
    "plugin",
)
_INPUT_REPR_LIMIT: Final = 40


def name_problem(name: object) -> str | None:
    """Say why ``name`` breaks Tavus's tool-name rule (§7.2), or return ``None`` if it is valid.

    The rule is ``^[a-zA-Z_][a-zA-Z0-9_]{0,63}$``: 1 to 64 ASCII letters, digits and
    underscores, not starting with a digit.
    """
    if not isinstance(name, str):
        return f"must be a string, not {type(name).__name__}"
    if not name:
        return "must not be empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"must be at most {MAX_NAME_LENGTH} characters long (it has {len(name)})"
    if name[0] not in _FIRST_CHARS:
        return f"must start with an ASCII letter or an underscore, not {name[0]!r}"
    bad = sorted(set(name) - _NAME_CHARS)
    if bad:
        return (
            "may contain only ASCII letters, digits and underscores "
            f"(found {', '.join(map(repr, bad))})"
        )
    return None


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
class ToolSpec:
    """One tool: its Tavus definition, its handler and how calls to it are run.

    Built by :func:`~cvibot.tools.tool` (or :func:`~cvibot.tools.build_tool_spec`); option
    values are checked on construction and by :meth:`with_options`, so a spec that exists is
    valid. Raises :class:`~cvibot.errors.ToolDefinitionError` naming the tool and the rule:

    - ``name`` breaks ``^[a-zA-Z_][a-zA-Z0-9_]{0,63}$`` (§7.2);
    - ``reply`` / ``origin`` is not a :class:`ReplyMode` / :class:`Origin` value (strings are
      converted to the enums);
    - ``timeout`` is not a number of seconds > 0;
    - ``max_concurrent`` is not an integer >= 1;
    - ``on_call`` / ``on_resolve`` is not a Tavus value (:data:`ON_CALL_VALUES`,
      :data:`ON_RESOLVE_VALUES`); ``static_filler`` is missing although ``on_call`` is
      ``"static_filler"``, or set although it is not;
    - a perception tool (``origin`` vision/audio) has an ``on_call`` or an ``on_resolve``
      other than ``"fire_and_forget"`` (§7.2).

    ``None`` for ``reply``, ``timeout``, ``cancel_on_interrupt`` and ``max_concurrent``
    means "the configured default decides" (10 s for the timeout;
    ``dispatch.max_concurrent_per_tool`` for ``max_concurrent``, the calls of one tool
    running at once per conversation). ``say`` (a callable, else ``None``) turns the
    handler's result into the sentence spoken when the answer is spoken (see
    :func:`cvibot.dispatch.answer.spoken_text`). ``on_call``, ``static_filler`` and ``on_resolve``
    only matter when definitions are exported to Tavus (:mod:`cvibot.tools.export`).
    """

    name: str
    description: str
    # Left out of the hash (a dict is not hashable) and of the repr (too long to read).
    parameters: dict[str, Any] = field(hash=False, repr=False)
    function: Callable[..., Any]
    is_async: bool
    arguments_model: type[BaseModel]
    context_param: str | None = None
    reply: ReplyMode | None = None
    # Left out of the hash and of equality: two lambdas are never equal.
    say: Callable[[Any], str | None] | None = field(default=None, compare=False, repr=False)
    timeout: float | None = None
    cancel_on_interrupt: bool | None = None
    max_concurrent: int | None = None
    origin: Origin = Origin.LLM
    on_call: str | None = None
    static_filler: str | None = None
    on_resolve: str | None = None
    plugin: str | None = None

    def __post_init__(self) -> None:
        problem = name_problem(self.name)
        if problem is not None:
            raise ToolDefinitionError(f"tool name {self.name!r} {problem}")
        set_ = object.__setattr__  # frozen: normalised values are written this way
        set_(self, "reply", self._enum_option("reply", self.reply, ReplyMode))
        set_(self, "origin", self._enum_option("origin", self.origin, Origin))
        set_(self, "timeout", self._checked_timeout())
        self._check_options()

    def _fail(self, message: str) -> ToolDefinitionError:
        return ToolDefinitionError(f"tool {self.name!r}: {message}")

    def _enum_option(self, option: str, value: Any, enum: type[Any]) -> Any:
        if value is None and option == "reply":
            return None
        try:
            return enum(value)
        except ValueError:
            allowed = ", ".join(repr(member.value) for member in enum)
            raise self._fail(f"{option} must be one of {allowed}, not {value!r}") from None

    def _checked_timeout(self) -> float | None:
        timeout = self.timeout
        if timeout is None:
            return None
        # bool is an int: `timeout=True` is a mistake, not one second.
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            raise self._fail(f"timeout must be a number of seconds, not {timeout!r}")
        if not timeout > 0:  # also rejects NaN
            raise self._fail(f"timeout must be > 0 seconds, not {timeout!r}")
        return float(timeout)

    def _check_options(self) -> None:
        if not isinstance(self.description, str):
            raise self._fail(f"description must be a string, not {self.description!r}")
        if self.say is not None and (
            not callable(self.say)
            or inspect.iscoroutinefunction(self.say)
            or inspect.isasyncgenfunction(self.say)
        ):
            raise self._fail(
                "say must be a plain function that turns the result into the sentence "
                f"spoken (say=lambda result: ...), not {self.say!r}"
            )
        limit = self.max_concurrent
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise self._fail(f"max_concurrent must be an integer >= 1 or None, not {limit!r}")
        if self.cancel_on_interrupt is not None and not isinstance(self.cancel_on_interrupt, bool):
            raise self._fail(
                f"cancel_on_interrupt must be true, false or None, not {self.cancel_on_interrupt!r}"
            )
        for option, value, allowed in (
            ("on_call", self.on_call, ON_CALL_VALUES),
            ("on_resolve", self.on_resolve, ON_RESOLVE_VALUES),
        ):
            if value is not None and value not in allowed:
                choices = ", ".join(map(repr, allowed))
                raise self._fail(f"{option} must be one of {choices} or None, not {value!r}")
        if self.on_call == "static_filler":
            if not isinstance(self.static_filler, str) or not self.static_filler:
                raise self._fail('on_call="static_filler" needs a non-empty static_filler text')
        elif self.static_filler is not None:
            raise self._fail(
                f"static_filler is only used with on_call='static_filler' (on_call is "
                f"{self.on_call!r}); set on_call='static_filler' or drop static_filler"
            )
        if self.origin is not Origin.LLM:
            if self.on_call is not None:
                raise self._fail(
                    f"perception tools (origin {self.origin.value!r}) cannot have on_call "
                    f"(got {self.on_call!r}); Tavus requires it to be null (§7.2)"
                )
            if self.on_resolve not in (None, "fire_and_forget"):
                raise self._fail(
                    f"perception tools (origin {self.origin.value!r}) only allow "
                    f"on_resolve='fire_and_forget' (got {self.on_resolve!r}); Tavus rule (§7.2)"
                )

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
            model = self.arguments_model.model_validate(arguments)
        except ValidationError as exc:
            raise ArgumentsError.from_validation_error(exc) from None
        # A validated model's __dict__ holds exactly its fields (extras and private
        # attributes live elsewhere), nested models unconverted; copying it costs a fraction
        # of a microsecond where dict(model) costs several.
        return model.__dict__.copy()

    def with_options(self, **changes: Any) -> ToolSpec:
        """Return a copy with some options changed, validated like the original.

        Accepted keys: ``name``, ``description``, ``reply``, ``say``, ``timeout``,
        ``cancel_on_interrupt``, ``max_concurrent``, ``origin``, ``on_call``,
        ``static_filler``, ``on_resolve``, ``plugin``. Raises
        :class:`~cvibot.errors.ToolDefinitionError` for another key or a bad value, e.g.
        ``spec.with_options(reply="echo", timeout=5)``.
        """
        unknown = sorted(set(changes) - set(_OPTION_FIELDS))
        if unknown:
            raise self._fail(
                f"unknown option(s) {', '.join(map(repr, unknown))}; "
                f"expected some of {', '.join(_OPTION_FIELDS)}"
            )
        return dataclasses.replace(self, **changes)
