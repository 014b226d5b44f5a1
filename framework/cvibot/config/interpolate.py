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
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _interpolate(text: str, environ: Mapping[str, str]) -> str:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in ``text``; ``$${`` is a literal ``${``.

    Raises :class:`ValueError` with a message for the user on an unset variable without
    default or a malformed reference.
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
