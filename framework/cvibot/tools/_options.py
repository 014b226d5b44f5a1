"""The options of a tool, declared once: :class:`ToolOptions`.

``@tool``, :func:`~cvibot.tools.dynamic_tool` and :meth:`~cvibot.tools.ToolSpec.with_options`
take them as keyword arguments (typed by :class:`ToolOptionKwargs`); a
:class:`~cvibot.tools.ToolSpec` is a :class:`ToolOptions` with the function's parts added;
the config's ``tools.<name>:`` section is :func:`config_model`, made from the fields marked
``config``; the fields marked ``tavus`` are exported to and compared with Tavus's tools
registry (:func:`tavus_fields`). A new option is one field here (and one key of
:class:`ToolBehaviourKwargs`, which a test keeps in step), plus its documentation.
"""

from __future__ import annotations

import dataclasses
import inspect
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Final, Literal, TypedDict, get_args

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from cvibot._errors import ToolDefinitionError

__all__ = [
    "DELIVERY_VALUES",
    "MAX_NAME_LENGTH",
    "OMIT",
    "ON_CALL_VALUES",
    "ON_RESOLVE_VALUES",
    "Origin",
    "ReplyMode",
    "TavusField",
    "TimeoutSeconds",
    "ToolBehaviourKwargs",
    "ToolDelivery",
    "ToolOptionKwargs",
    "ToolOptions",
    "config_model",
    "name_problem",
    "tavus_fields",
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

#: How Tavus delivers a tool's calls (``delivery`` of the tools registry, §7.2):
#: ``app_message`` as ``conversation.tool_call`` in the Daily room, ``api`` as an HTTPS
#: request to ``cvibot serve`` (``POST /v1/tools/tavus``, docs/configuration.md).
ToolDelivery = Literal["app_message", "api"]
DELIVERY_VALUES: Final[tuple[str, ...]] = get_args(ToolDelivery)

# Tool timeouts in the config, in seconds: positive, and at most an hour so a typo in
# minutes or milliseconds is caught rather than leaving a call hanging.
TimeoutSeconds = Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)]

_FIRST_CHARS: Final = frozenset(string.ascii_letters + "_")
_NAME_CHARS: Final = _FIRST_CHARS | frozenset(string.digits)
# The field metadata keys: the pydantic type of an option the config may set, and the
# TavusField of an option that is a field of Tavus's tools registry.
_CONFIG: Final = "config"
_TAVUS: Final = "tavus"


class ReplyMode(StrEnum):
    """How the outcome of a tool call is sent back to Tavus.

    - ``auto``: ``conversation.tool_result`` when the call carries a ``tool_call_id``,
      ``conversation.echo`` (text) otherwise (protocol reference §6 rule 8, D17).
    - ``tool_result``: ``conversation.tool_result`` (§3.7); falls back to ``echo`` when the
      call has no ``tool_call_id``, since Tavus would have nothing to match it to.
    - ``echo``: the replica speaks the answer verbatim (§3.2).
    - ``respond``: the answer goes through Tavus's LLM as if the user had said it (§3.3);
      impossible under ``pipeline_mode: echo``.
    - ``append_context``: ``conversation.append_llm_context``, silent (§3.5).
    - ``none``: nothing is sent; the outcome is only logged (fire-and-forget).
    """

    AUTO = "auto"
    TOOL_RESULT = "tool_result"
    ECHO = "echo"
    RESPOND = "respond"
    APPEND_CONTEXT = "append_context"
    NONE = "none"


class Origin(StrEnum):
    """Where Tavus raises the tool (tools registry ``origin``, protocol reference §7.2).

    ``llm`` tools arrive as ``conversation.tool_call``; ``vision`` and ``audio`` tools are
    Raven perception tools and arrive as ``conversation.perception_tool_call`` (§4.5).
    """

    LLM = "llm"
    VISION = "vision"
    AUDIO = "audio"


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


def _config(annotation: Any) -> dict[str, Any]:
    """Field metadata: the config may set this option under ``tools.<name>`` as ``annotation``."""
    return {_CONFIG: annotation}


#: A :class:`TavusField` default meaning "leave the field out of the body".
OMIT: Final = "<omit>"


@dataclass(frozen=True, slots=True)
class TavusField:
    """How an option is a field of the Tavus tools registry (§7.2): exported by
    :func:`~cvibot.tools.to_registry_tool` and compared by :mod:`cvibot._sync.tool_compare`.

    ``export``: the value sent for an LLM tool that leaves the option ``None``;
    ``perception``: the value sent (and assumed) for a vision/audio tool that does;
    ``server``: Tavus's own default for an LLM tool, when the field is missing or ``null``.
    :data:`OMIT` leaves the field out of the body.
    """

    export: Any
    perception: Any
    server: Any


def _tavus(export: Any, perception: Any, server: Any) -> dict[str, Any]:
    """Field metadata: the option is the Tavus registry field of the same name."""
    return {_TAVUS: TavusField(export, perception, server)}


def tavus_fields() -> dict[str, TavusField]:
    """``{name: TavusField}`` of the options that are Tavus registry fields, in order."""
    return {
        f.name: f.metadata[_TAVUS] for f in dataclasses.fields(ToolOptions) if _TAVUS in f.metadata
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolOptions:
    """The options of one tool, checked on construction (a value that exists is valid).

    - ``name``: ``^[a-zA-Z_][a-zA-Z0-9_]{0,63}$`` (§7.2); ``None``: the function's name.
    - ``description``: ``None``: the docstring's summary and body.
    - ``reply``: a :class:`ReplyMode` or its value (``"echo"``, ...); ``None`` lets the
      configuration decide.
    - ``say``: ``say(result) -> str | None``, a plain function giving the sentence
      spoken when the answer is spoken; ``None`` says nothing special.
    - ``timeout``: seconds, > 0; ``None``: the configuration decides (10 s by default).
    - ``cancel_on_interrupt``: cancel the call when the user interrupts; ``None`` = config.
    - ``max_concurrent``: calls of this tool running at once per conversation, >= 1;
      ``None`` = config (``dispatch.max_concurrent_per_tool``).
    - ``origin``: an :class:`Origin` or its value; vision/audio are perception tools.
    - ``delivery``: :data:`ToolDelivery`, how Tavus sends the tool's calls: ``app_message``
      (the default: in the Daily room, answered by a bot in the room) or ``api`` (an
      HTTPS request to ``cvibot serve``'s ``POST /v1/tools/tavus``, answered by the same
      handler with no room; ``cvibot tools sync`` then writes a ``delivery.api`` block
      with HMAC auth). LLM tools only: the request of a perception tool is unknown.
    - ``on_call``, ``static_filler``, ``on_resolve``: Tavus's server-side behaviour
      (:data:`ON_CALL_VALUES`, :data:`ON_RESOLVE_VALUES`), only used when exporting
      definitions; ``static_filler`` is needed with, and only with,
      ``on_call="static_filler"``; a perception tool has no ``on_call`` and only
      ``on_resolve="fire_and_forget"`` (§7.2).

    Strings become the enums and a timeout a float. Raises
    :class:`~cvibot._errors.ToolDefinitionError` naming the tool and the rule. Fields whose
    metadata holds ``config`` may be set in the config's ``tools.<name>:`` section
    (:func:`config_model`); those holding ``tavus`` (a :class:`TavusField`) are fields of
    Tavus's tools registry, exported and compared under the same name
    (:func:`tavus_fields`).
    """

    name: str | None = None
    description: str | None = None
    reply: ReplyMode | None = field(default=None, metadata=_config(ReplyMode))
    # Left out of the hash and of equality: two lambdas are never equal.
    say: Callable[[Any], str | None] | None = field(default=None, compare=False, repr=False)
    timeout: float | None = field(default=None, metadata=_config(TimeoutSeconds))
    cancel_on_interrupt: bool | None = field(default=None, metadata=_config(bool))
    max_concurrent: int | None = field(default=None, metadata=_config(Annotated[int, Field(ge=1)]))
    origin: Origin = Origin.LLM
    delivery: ToolDelivery = field(default="app_message", metadata=_config(ToolDelivery))
    on_call: str | None = field(
        default=None, metadata=_tavus("generate_filler", None, "generate_filler")
    )
    static_filler: str | None = field(default=None, metadata=_tavus(OMIT, OMIT, None))
    on_resolve: str | None = field(
        default=None, metadata=_tavus("generate_response", "fire_and_forget", "fire_and_forget")
    )

    def __post_init__(self) -> None:
        if self.name is not None:
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
        if self.description is not None and not isinstance(self.description, str):
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
        if self.delivery not in DELIVERY_VALUES:
            choices = ", ".join(map(repr, DELIVERY_VALUES))
            raise self._fail(f"delivery must be one of {choices}, not {self.delivery!r}")
        if self.origin is not Origin.LLM:
            if self.delivery == "api":
                raise self._fail(
                    f"perception tools (origin {self.origin.value!r}) can only have "
                    "delivery='app_message': the delivery.api request of a perception "
                    "tool is not documented (docs/configuration.md, serve.delivery_api)"
                )
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

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """The names of the options, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(ToolOptions))


class ToolBehaviourKwargs(TypedDict, total=False):
    """The options of :class:`ToolOptions` but ``name`` and ``description``, as keyword
    arguments (``dynamic_tool`` takes those two positionally). The types accept the
    enums' string values. A test checks these keys against :class:`ToolOptions`."""

    reply: ReplyMode | str | None
    say: Callable[[Any], str | None] | None
    timeout: float | None
    cancel_on_interrupt: bool | None
    max_concurrent: int | None
    origin: Origin | str
    delivery: ToolDelivery
    on_call: str | None
    static_filler: str | None
    on_resolve: str | None


class ToolOptionKwargs(ToolBehaviourKwargs, total=False):
    """Every option of :class:`ToolOptions` as keyword arguments (``@tool(...)``)."""

    name: str | None
    description: str | None


def config_model() -> type[BaseModel]:
    """The pydantic model of the config's ``tools.<name>:`` section, made from the
    :class:`ToolOptions` fields marked ``config``: each optional (``None`` keeps what the
    tool declares), unknown keys refused, frozen. The values set are checked by
    :class:`ToolOptions` too, so the two never disagree."""
    fields: dict[str, Any] = {
        f.name: (f.metadata[_CONFIG] | None, None)
        for f in dataclasses.fields(ToolOptions)
        if _CONFIG in f.metadata
    }

    def check(model: BaseModel) -> BaseModel:
        try:
            ToolOptions(**model.model_dump(exclude_none=True))
        except ToolDefinitionError as exc:
            raise ValueError(str(exc).removeprefix("tool None: ")) from None
        return model

    return create_model(
        "ToolOverride",
        __config__=ConfigDict(extra="forbid", frozen=True),
        __doc__=(
            "Per-tool settings from ``tools.<name>``; ``None`` keeps what the tool declares.\n\n"
            "``timeout`` in seconds (0 < timeout <= 3600), from the call's arrival to its "
            "answer; ``max_concurrent`` (>= 1) calls of the tool running at once per "
            "conversation."
        ),
        __module__="cvibot.config._model",
        __validators__={"_checked_by_tool_options": model_validator(mode="after")(check)},  # type: ignore[dict-item]
        **fields,
    )
