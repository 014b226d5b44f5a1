"""What one line typed into ``cvibot console`` asks for.

:func:`parse_line` turns a line into a :class:`Command`; it never raises: a line it
cannot use is a :class:`Problem` that says why. The grammar:

- a line that does not start with ``/`` is a final user utterance (its text as typed);
- ``/call NAME ARGS`` and ``/legacy NAME ARGS``: a ``conversation.tool_call`` in the
  official or the older shape (protocol reference §4.4);
- ``/perception NAME ARGS``: a vision ``conversation.perception_tool_call`` (§4.5);
- ``/interrupt``: the replica was interrupted (a ``conversation.replica.stopped_speaking``
  with ``interrupted: true``, §4.7);
- ``/tools``, ``/help``, ``/quit`` (``/exit``).

``ARGS`` is nothing (``{}``), one JSON object (``{"order_id": "A1"}``), or
``key=value`` words split as a POSIX shell would (quote a value with spaces or JSON
quotes: ``note='say "hi"'``); a value that parses as JSON is that JSON (``n=3``,
``ok=true``, ``tags='["a","b"]'``), any other value is the string as written. A line
starting with ``//`` is an utterance that starts with ``/``.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "COMMANDS",
    "Call",
    "Command",
    "Help",
    "Interrupt",
    "ListTools",
    "Problem",
    "Quit",
    "Say",
    "parse_arguments",
    "parse_line",
]


@dataclass(frozen=True)
class Say:
    """A final user utterance of ``text``."""

    text: str


@dataclass(frozen=True)
class Call:
    """A tool call of ``shape`` (``official`` or ``legacy``), or a perception call."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    shape: Literal["official", "legacy"] = "official"
    perception: bool = False


@dataclass(frozen=True)
class Interrupt:
    """The replica was interrupted: running calls that may be cancelled are."""


@dataclass(frozen=True)
class ListTools:
    """Show the bot's tools and their parameters."""


@dataclass(frozen=True)
class Help:
    """Show the commands."""


@dataclass(frozen=True)
class Quit:
    """End the conversation and exit."""


@dataclass(frozen=True)
class Problem:
    """A line that cannot be sent; ``message`` says why and how to write it."""

    message: str


Command = Say | Call | Interrupt | ListTools | Help | Quit | Problem

COMMANDS: tuple[tuple[str, str], ...] = (
    ("TEXT", "say TEXT as the user (a conversation.utterance; //TEXT for a leading /)"),
    ("/call NAME [ARGS]", "send a conversation.tool_call in the official shape"),
    ("/legacy NAME [ARGS]", "the same call in the older shape (tool_name, object arguments)"),
    ("/perception NAME [ARGS]", "send a vision conversation.perception_tool_call"),
    ("/interrupt", "the user interrupted the replica (cancels what may be cancelled)"),
    ("/tools", "list the bot's tools and their parameters"),
    ("/help", "show this help"),
    ("/quit", "end the conversation and exit (or Ctrl-D)"),
)
"""The help table: (syntax, meaning)."""

ARGS_HELP = (
    'ARGS: nothing, one JSON object ({"order_id": "A1"}) or key=value words '
    "(values that parse as JSON are JSON: n=3 ok=true; others are strings; "
    "quote values with spaces: note='two words')"
)

_CALLS: dict[str, tuple[Literal["official", "legacy"], bool]] = {
    "call": ("official", False),
    "legacy": ("legacy", False),
    "perception": ("official", True),
}
_BARE: dict[str, Command] = {
    "interrupt": Interrupt(),
    "tools": ListTools(),
    "help": Help(),
    "?": Help(),
    "quit": Quit(),
    "exit": Quit(),
}


def parse_line(line: str) -> Command | None:
    """The command of one input ``line`` (without its newline); ``None`` for a blank line."""
    text = line.strip()
    if not text:
        return None
    if text.startswith("//"):
        return Say(text[1:])
    if not text.startswith("/"):
        return Say(text)
    word, _, rest = text[1:].partition(" ")
    word = word.lower()
    rest = rest.strip()
    if word in _BARE:
        if rest:
            return Problem(f"/{word} takes no arguments")
        return _BARE[word]
    if word in _CALLS:
        shape, perception = _CALLS[word]
        name, _, args = rest.partition(" ")
        if not name:
            return Problem(f"usage: /{word} NAME [ARGS]; {ARGS_HELP}")
        try:
            arguments = parse_arguments(args)
        except ValueError as exc:
            return Problem(f"/{word} {name}: {exc}; {ARGS_HELP}")
        return Call(name, arguments, shape=shape, perception=perception)
    return Problem(f"unknown command /{word}: /help lists the commands")


def parse_arguments(text: str) -> dict[str, Any]:
    """The arguments object of ``ARGS`` (see the module docstring).

    Raises ``ValueError`` saying what is wrong: JSON that is not an object, a word
    without ``=``, an empty or repeated key, unbalanced quotes.
    """
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            value = json.loads(text, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            raise ValueError(f"invalid JSON object: {exc.msg} at column {exc.colno}") from None
        except RecursionError:
            raise ValueError("the JSON object is nested too deeply") from None
        if not isinstance(value, dict):
            raise ValueError("the arguments must be one JSON object")
        return value
    try:
        words = shlex.split(text)
    except ValueError as exc:  # "No closing quotation"
        raise ValueError(f"cannot split the arguments: {str(exc).lower()}") from None
    arguments: dict[str, Any] = {}
    for word in words:
        key, sep, raw = word.partition("=")
        if not sep:
            raise ValueError(f"{word!r} is not key=value")
        if not key:
            raise ValueError(f"{word!r} has no key before '='")
        if key in arguments:
            raise ValueError(f"{key!r} is given twice")
        arguments[key] = _value(raw)
    return arguments


def _value(raw: str) -> Any:
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (json.JSONDecodeError, RecursionError):
        return raw


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON: the official shape sends the arguments as JSON text.
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)
