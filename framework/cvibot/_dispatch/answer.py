"""From a handler's return value (or failure) to the interaction that answers the call.

A result that Tavus reads (``tool_result``, ``append_context``) is sent as JSON; one that
the replica speaks (``echo``, ``respond``, and ``auto`` for a call without a
``tool_call_id``) goes through the tool's ``say=`` formatter, or else
:func:`speakable`, so that nobody hears ``{"status": "shipped"}`` read out.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import math
from collections.abc import Callable, Mapping
from typing import Any, Final

import pydantic_core
import structlog
from pydantic import BaseModel

from cvibot._errors import ToolError
from cvibot._protocol.interactions import (
    AppendContext,
    Echo,
    Interaction,
    Respond,
    ToolResult,
)
from cvibot.tools._options import ReplyMode

__all__ = [
    "ANSWER_MODES",
    "SPOKEN_MODES",
    "UnsendableResult",
    "answer_for",
    "effective_reply",
    "explicit_answer",
    "render_answer",
    "render_value",
    "speakable",
    "spoken_text",
]

log = structlog.get_logger("cvibot.dispatch")

_INTERACTION_REPLY: dict[type[Interaction], ReplyMode] = {
    ToolResult: ReplyMode.TOOL_RESULT,
    Echo: ReplyMode.ECHO,
    Respond: ReplyMode.RESPOND,
    AppendContext: ReplyMode.APPEND_CONTEXT,
}
# The reply modes whose answer carries text (``none`` and ``auto`` do not).
ANSWER_MODES = frozenset(_INTERACTION_REPLY.values())
#: The resolved reply modes whose text the replica speaks (``respond`` through the LLM).
SPOKEN_MODES: Final = frozenset({ReplyMode.ECHO, ReplyMode.RESPOND})
# Below this depth a spoken rendering says "…": nobody listens to the tenth level, and
# a self-containing result must end somewhere.
_MAX_SPOKEN_DEPTH: Final = 8


def effective_reply(mode: ReplyMode, tool_call_id: str | None) -> ReplyMode:
    """Resolve ``auto`` and the ``tool_result``-without-id case (protocol reference D17).

    ``auto`` → ``tool_result`` when the call carries a ``tool_call_id``, else ``echo``.
    ``tool_result`` without an id → ``echo``: Tavus could not match a result to the call.
    """
    if mode is ReplyMode.AUTO or mode is ReplyMode.TOOL_RESULT:
        return ReplyMode.TOOL_RESULT if tool_call_id else ReplyMode.ECHO
    return mode


class UnsendableResult(ToolError):
    """A handler returned a value that cannot be sent as JSON text.

    A :class:`~cvibot._errors.ToolError`, so the dispatcher answers the call with an error
    whose message names the value's type, e.g. ``"lookup_order returned a value that
    cannot be sent as JSON: _thread.lock"``; ``value_type`` is that type's name.
    """

    def __init__(self, tool: str | None, value_type: str, reason: str | None = None) -> None:
        who = tool or "the tool"
        why = f" ({reason})" if reason else ""
        super().__init__(f"{who} returned a value that cannot be sent as JSON: {value_type}{why}")
        self.value_type = value_type


class _Unsendable(Exception):
    """Raised inside ``json.dumps`` by :func:`_jsonable` for the value it cannot take."""

    def __init__(self, value: Any, reason: str | None = None) -> None:
        super().__init__(reason)
        self.value = value
        self.reason = reason


def render_value(value: Any, tool: str | None = None) -> tuple[str | None, Interaction | None]:
    """Turn a handler's return value into ``(answer text, explicit interaction)``.

    - ``str`` → the text itself; ``None`` → no text;
    - an :class:`Interaction` → ``(None, interaction)``: it replaces the configured reply;
    - a pydantic model → its ``model_dump_json()``;
    - ``dict``, ``list``, ``tuple``, numbers, booleans → compact JSON text (non-ASCII kept
      as is); inside them dataclasses, models, datetimes, UUIDs, enums, ``Decimal`` and
      the other types pydantic serialises are converted as pydantic does.

    Raises :class:`UnsendableResult` (a ``ToolError``, so the call is answered with an
    error naming the value's type) for what has no faithful JSON text: an object pydantic
    cannot serialise (a lock, a socket, a plain ``object()``), a ``set`` (JSON has no
    unordered collection, and its order changes between runs: return a sorted list),
    NaN or infinite floats, dict keys that are not strings or numbers, circular or very
    deeply nested values, integers too long to write. ``tool`` names the tool in the
    message. Never calls ``str()`` or ``repr()`` on the value.
    """
    if value is None:
        return None, None
    if isinstance(value, str):
        return value, None
    if isinstance(value, Interaction):
        return None, value
    if isinstance(value, BaseModel):
        try:
            return value.model_dump_json(), None
        except pydantic_core.PydanticSerializationError:
            pass  # a lone surrogate in a field, say: try the general path
    try:
        text = json.dumps(
            value,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
            default=_jsonable,
        )
    except _Unsendable as exc:
        raise UnsendableResult(tool, _type_name(exc.value), exc.reason) from None
    except RecursionError:
        raise UnsendableResult(tool, _type_name(value), "nested too deeply") from None
    except Exception as exc:  # TypeError, ValueError, or what a value's own code raised
        raise UnsendableResult(tool, _type_name(value), _why(exc)) from None
    return text, None


def _jsonable(value: Any) -> Any:
    """``json.dumps``'s hook for the types it does not know: what pydantic makes of them."""
    if isinstance(value, set | frozenset):
        raise _Unsendable(value, "JSON has no sets: return a sorted list")
    try:
        converted = pydantic_core.to_jsonable_python(value)
    except Exception:
        raise _Unsendable(value) from None
    if type(converted) is type(value):  # not converted: json.dumps would ask again
        raise _Unsendable(value)
    return converted


def _why(exc: Exception) -> str:
    """A short reason for a failed ``json.dumps``, without the value's own text."""
    try:
        message = str(exc)
    except Exception:
        message = ""
    if "Out of range float" in message:
        return "NaN or an infinite float, which JSON cannot carry"
    if "Circular reference" in message:
        return "a circular reference"
    if "integer string conversion" in message:
        return "an integer too long to write"
    if message.startswith("keys must be"):
        return f"dict {message}"
    return type(exc).__name__


def _type_name(value: Any) -> str:
    """``"_thread.lock"``, ``"set"``, ``"shop.Order"``: the module-qualified type name."""
    kind = type(value)
    try:
        module, name = kind.__module__, kind.__qualname__
    except Exception:
        return "an unknown type"
    return name if module == "builtins" else f"{module}.{name}"


def answer_for(
    mode: ReplyMode, *, text: str | None, ok: bool, tool_call_id: str | None
) -> Interaction | None:
    """The interaction a resolved reply ``mode`` sends for an answer ``text``.

    ``tool_result`` always answers (an empty ``output`` when there is no text, so the
    replica is never left waiting); ``status`` is ``"error"`` when ``ok`` is false.
    The spoken or appended modes send nothing when there is no text. ``none`` never
    sends. ``mode`` must already be resolved by :func:`effective_reply`.
    """
    if mode is ReplyMode.TOOL_RESULT:
        return ToolResult(
            tool_call_id=tool_call_id, output=text or "", status="success" if ok else "error"
        )
    if not text or mode is ReplyMode.NONE:
        return None
    if mode is ReplyMode.ECHO:
        return Echo(text=text)
    if mode is ReplyMode.RESPOND:
        return Respond(text=text)
    if mode is ReplyMode.APPEND_CONTEXT:
        return AppendContext(context=text)
    raise ValueError(f"unresolved reply mode {mode}")


def explicit_answer(
    interaction: Interaction, tool_call_id: str | None
) -> tuple[Interaction | None, ReplyMode]:
    """A handler returned ``interaction``: it replaces the configured reply.

    A ``ToolResult`` gets the call's ``tool_call_id``; for a call without one there is
    nothing for Tavus to match it to, so its output is spoken instead (D17). Returns the
    interaction to send and the reply mode it stands for (``auto`` for interactions that
    are not answers, such as ``OverwriteContext``).
    """
    if isinstance(interaction, ToolResult):
        if tool_call_id is None:
            return (
                answer_for(ReplyMode.ECHO, text=interaction.output, ok=True, tool_call_id=None),
                ReplyMode.ECHO,
            )
        if interaction.tool_call_id is None:
            interaction = interaction.model_copy(update={"tool_call_id": tool_call_id})
    return interaction, _INTERACTION_REPLY.get(type(interaction), ReplyMode.AUTO)


def render_answer(
    value: Any, mode: ReplyMode, say: Callable[[Any], str | None] | None = None, *, tool: str = ""
) -> tuple[str | None, Interaction | None]:
    """:func:`render_value`, except for a result that is spoken.

    ``mode`` is the reply mode resolved by :func:`effective_reply`. Under ``echo`` or
    ``respond`` the text is :func:`spoken_text` (the tool's ``say`` formatter, else the
    readable default); under the other modes, and for an :class:`Interaction`, it is
    :func:`render_value`'s. ``tool`` names the tool in the logs and errors.

    Raises :class:`UnsendableResult` for a value with no JSON text (as
    :func:`render_value`), spoken or not, unless the tool's ``say`` formatter makes the
    sentence from it.
    """
    if mode not in SPOKEN_MODES or isinstance(value, Interaction):
        return render_value(value, tool)
    if say is None:
        render_value(value, tool)  # a value with no JSON text is an error spoken too
    return spoken_text(value, say, tool=tool), None


def spoken_text(
    value: Any, say: Callable[[Any], str | None] | None = None, *, tool: str = ""
) -> str | None:
    """The sentence spoken for a handler's result ``value``.

    ``say(value)`` when the tool has a formatter (``None`` or ``""``: nothing is spoken);
    one that raises or returns something other than a string is logged as an error
    (logger ``cvibot._dispatch``, event ``say formatter failed``) and the readable default
    is spoken instead, so the call is still answered. Without ``say``: :func:`speakable`.
    """
    if say is not None:
        try:
            text = say(value)
        except Exception:
            log.exception("say formatter failed", tool=tool)
        else:
            if text is None or isinstance(text, str):
                return text or None
            if inspect.iscoroutine(text):
                text.close()  # never awaited on purpose; closing avoids a RuntimeWarning
            log.error(
                "say formatter failed",
                tool=tool,
                error=f"it returned {type(text).__name__}, not a string",
            )
    return speakable(value)


def speakable(value: Any) -> str | None:
    """A handler's result as words, for a reply the replica speaks.

    ``None`` → ``None`` (nothing is spoken); a string → itself; booleans → ``yes`` /
    ``no``; a mapping, pydantic model or dataclass → ``key: value`` pairs joined by
    commas, underscores in keys read as spaces (``{"order_id": 7, "status": "shipped"}``
    → ``order id: 7, status: shipped``); a list → its items joined naturally (``a, b and
    c``), items that have commas of their own by semicolons; ``[]`` and ``{}`` →
    ``none``; an enum → its value; other objects → their JSON value or ``str()``. Levels
    nested deeper than 8 read ``…``. Never raises.
    """
    if value is None:
        return None
    return _phrase(value, 0)


def _phrase(value: Any, depth: int) -> str:
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, enum.Enum):
        return _phrase(value.value, depth)
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:  # beyond Python's digit limit for int → str
            return "a very large number"
    if isinstance(value, float):
        return _number(value)
    if depth >= _MAX_SPOKEN_DEPTH:
        return "…"
    fields = _fields(value)
    if fields is not None:
        return _join_pairs(fields, depth)
    if isinstance(value, list | tuple | set | frozenset):
        return _join_items([_phrase(item, depth + 1) for item in value])
    try:
        plain = pydantic_core.to_jsonable_python(value)
    except (pydantic_core.PydanticSerializationError, ValueError, RecursionError):
        plain = None
    if plain is not None and plain is not value and not isinstance(plain, dict | list):
        return _phrase(plain, depth)
    try:
        return str(value)
    except Exception:  # a broken __str__ must not cost the answer
        return type(value).__name__


def _fields(value: Any) -> Mapping[Any, Any] | None:
    """The key/value pairs of a mapping, pydantic model or dataclass, else ``None``."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, BaseModel):
        return {name: getattr(value, name, None) for name in type(value).model_fields}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
    return None


def _join_pairs(fields: Mapping[Any, Any], depth: int) -> str:
    parts = [f"{_key(key)}: {_phrase(item, depth + 1)}" for key, item in fields.items()]
    if not parts:
        return "none"
    # Inner pairs have commas of their own: the outer ones are set apart by semicolons.
    separator = "; " if any(", " in part for part in parts) else ", "
    return separator.join(parts)


def _join_items(items: list[str]) -> str:
    if not items:
        return "none"
    if any(", " in item for item in items):
        return "; ".join(items)
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _key(key: Any) -> str:
    text = key if isinstance(key, str) else _phrase(key, _MAX_SPOKEN_DEPTH)
    return text.replace("_", " ").strip() or text


def _number(value: float) -> str:
    if math.isnan(value):
        return "not a number"
    if math.isinf(value):
        return "infinity" if value > 0 else "minus infinity"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)
