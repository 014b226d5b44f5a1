"""``${VAR}`` interpolation of config string values.

Interpolation applies to every string value, at any depth (plugin settings included),
but not to keys:

- ``${NAME}``: the environment variable ``NAME``; an error if it is unset (set but
  empty gives ``""``).
- ``${NAME:-default}``: ``default`` if ``NAME`` is unset or empty (shell rule); the
  default is taken literally and may be empty (``${NAME:-}``).
- ``$${`` gives a literal ``${``; any other ``$`` is kept as is (``$NAME`` is not
  interpolated).
- ``NAME`` matches ``[A-Za-z_][A-Za-z0-9_]*``; anything else between ``${`` and ``}``,
  or a ``${`` without ``}``, is an error.

A substituted value is a string, never re-read as YAML: ``timeout: ${T:-5}`` works
because the model converts ``"5"`` to a float, but a plugin setting ``port: ${PORT}``
reaches the plugin as the string ``"8080"``.

Error messages never show what a variable expanded to: a bad value that came from
``${NAME}`` is quoted as written in the file (``got '${NAME}'``), and the values taken
from the environment are replaced by their ``${NAME}`` wherever else a message would
quote them (:func:`redact`), so a secret does not reach the terminal or a log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# Values shorter than this are replaced only where a message quotes the value itself:
# in free text, "json" or "8080" would be replaced in words that merely look the same.
_REDACT_MIN_CHARS = 8


def _interpolate(text: str, environ: Mapping[str, str], used: dict[str, str] | None = None) -> str:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in ``text``; ``$${`` is a literal ``${``.

    ``used``, if given, receives each non-empty value taken from ``environ`` → the
    reference that gave it (``"${NAME}"``), for :func:`redact`. Raises
    :class:`ValueError` with a message for the user on an unset variable without default
    or a malformed reference.
    """
    if "$" not in text:
        return text
    out: list[str] = []
    pos = 0
    while (start := text.find("$", pos)) >= 0:
        out.append(text[pos:start])
        if text.startswith("$${", start):
            out.append("${")
            pos = start + 3
            continue
        if not text.startswith("${", start):
            out.append("$")
            pos = start + 1
            continue
        end = text.find("}", start + 2)
        if end < 0:
            raise ValueError("unterminated '${' (write '$${' for a literal '${')")
        body = text[start + 2 : end]
        name, has_default, default = body.partition(":-")
        if not _VAR_NAME.fullmatch(name):
            raise ValueError(
                f"bad variable reference '${{{body}}}': expected ${{NAME}} or ${{NAME:-default}}"
            )
        if "${" in default:
            raise ValueError(f"'${{' inside the default of ${{{name}}} is not supported")
        value = environ.get(name)
        if value and used is not None:
            used[value] = f"${{{name}}}"
        if has_default:
            value = value or default
        elif value is None:
            raise ValueError(
                f"environment variable {name} is not set "
                f"(write ${{{name}:-default}} to give a default)"
            )
        out.append(value)
        pos = end + 1
    out.append(text[pos:])
    return "".join(out)


def redact(text: str, references: Mapping[str, str]) -> str:
    """``text`` with each value of ``references`` (value → ``${NAME}``) of at least
    8 characters replaced by its reference, longest first."""
    for value in sorted(references, key=len, reverse=True):
        if len(value) >= _REDACT_MIN_CHARS and value in text:
            text = text.replace(value, references[value])
    return text
