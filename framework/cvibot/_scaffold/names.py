"""The names a new plugin project is built from, and the rule for the name it is given.

``cvibot new plugin NAME`` makes the distribution ``cvibot-NAME`` and the entry point of
the same name in group ``cvibot``, which is also the name a bot's config uses for the
plugin (as for the first-party ``cvibot-faq``), and the import package ``cvibot_NAME``
(hyphens become underscores).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cvibot._errors import CvibotError

__all__ = ["MAX_NAME_LENGTH", "PluginNameError", "PluginNames", "name_problem"]

MAX_NAME_LENGTH = 40
_NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")


class PluginNameError(CvibotError, ValueError):
    """A plugin name that breaks the rule of :func:`name_problem`; the message says how."""


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a plugin, or ``None`` when it can.

    The rule: 1 to 40 characters; lowercase ASCII letters and digits, in words joined
    by single ``-`` or ``_``; starting with a letter; without the ``cvibot`` prefix the
    project gets anyway. Such a name is a valid distribution name (PEP 508), and with
    ``-`` made ``_`` a valid Python identifier and tool-name prefix.
    """
    if not name:
        return "the name must not be empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"the name must be at most {MAX_NAME_LENGTH} characters long (it has {len(name)})"
    lowered = name.lower()
    if lowered == "cvibot" or lowered.startswith(("cvibot-", "cvibot_")):
        rest = lowered.removeprefix("cvibot").lstrip("-_")
        hint = f" (try {rest!r})" if rest else ", for example 'faq'"
        return f"give the name without the cvibot prefix, which the project gets anyway{hint}"
    if _NAME.fullmatch(name):
        return None
    if _NAME.fullmatch(lowered):
        return f"the name must be lowercase (try {lowered!r})"
    if not name[0].isalpha() or not name[0].isascii():
        return "the name must start with a lowercase ASCII letter"
    return (
        "the name may contain only lowercase ASCII letters and digits, in words joined by "
        "single '-' or '_' (for example 'order-lookup')"
    )


@dataclass(frozen=True)
class PluginNames:
    """Every name of one plugin project.

    ``name`` is the name given to ``cvibot new plugin``, ``distribution`` the
    project's (``cvibot-NAME``), also its entry point and the name a config uses,
    ``package`` the import name (``cvibot_NAME``), ``tool``
    the example tool's name (``NAME_greet``) and ``test_file`` the tests' file name.
    """

    name: str
    distribution: str
    package: str
    tool: str
    test_file: str

    @classmethod
    def of(cls, name: str) -> PluginNames:
        """The names for plugin ``name``; raises :class:`PluginNameError` for a bad one."""
        problem = name_problem(name)
        if problem is not None:
            raise PluginNameError(f"invalid plugin name {name!r}: {problem}")
        snake = name.replace("-", "_")
        return cls(
            name=name,
            distribution=f"cvibot-{name}",
            package=f"cvibot_{snake}",
            tool=f"{snake}_greet",
            test_file=f"test_{snake}.py",
        )
