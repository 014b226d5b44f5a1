"""Which plugins a bot loads beyond its config, in the manner of pytest's ``-p``.

The config's ``plugins:`` list names the plugins a bot loads. On top of it:

- ``-p NAME`` adds a plugin (as if ``- NAME`` ended the list, with no settings);
- ``-p no:NAME`` blocks one: a config entry or an installed plugin of that name is not
  loaded;
- the environment variable :data:`DISABLE_AUTOLOAD_ENV` (any non-empty value) turns off
  the loading of installed plugins (entry points of group ``cvibot``) that neither the
  config nor ``-p`` names, as ``PYTEST_DISABLE_PLUGIN_AUTOLOAD`` does for pytest.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

__all__ = ["BLOCK_PREFIX", "DISABLE_AUTOLOAD_ENV", "PluginSelection", "SelectionError"]

#: Set to a non-empty value, installed plugins are loaded only when named.
DISABLE_AUTOLOAD_ENV: Final = "CVIBOT_DISABLE_PLUGIN_AUTOLOAD"
#: ``-p no:NAME`` blocks the plugin NAME.
BLOCK_PREFIX: Final = "no:"


class SelectionError(ValueError):
    """A ``-p`` value that cannot be used: empty, or a plugin both added and blocked."""


@dataclass(frozen=True)
class PluginSelection:
    """The plugins to add and to block, and whether installed plugins are autoloaded.

    ``add`` keeps the order given (duplicates dropped); ``block`` names plugins by their
    config ``ref`` or entry-point name. ``PluginSelection()`` changes nothing.
    """

    add: tuple[str, ...] = ()
    block: frozenset[str] = field(default_factory=frozenset)
    autoload: bool = True

    @classmethod
    def parse(
        cls, values: Iterable[str] = (), *, environ: Mapping[str, str] | None = None
    ) -> PluginSelection:
        """Read ``-p`` values (``NAME`` or ``no:NAME``) and the environment.

        ``environ`` defaults to ``os.environ``. Raises :class:`SelectionError` for an
        empty name, or a name that is both added and blocked.
        """
        env = os.environ if environ is None else environ
        add: list[str] = []
        block: set[str] = set()
        for value in values:
            blocked = value.startswith(BLOCK_PREFIX)
            name = (value[len(BLOCK_PREFIX) :] if blocked else value).strip()
            if not name:
                raise SelectionError(f"-p {value!r}: expected NAME or no:NAME")
            if blocked:
                block.add(name)
            elif name not in add:
                add.append(name)
        both = sorted(block.intersection(add))
        if both:
            raise SelectionError(
                f"plugin {both[0]!r} is both added (-p {both[0]}) and blocked (-p no:{both[0]})"
            )
        return cls(
            add=tuple(add), block=frozenset(block), autoload=not env.get(DISABLE_AUTOLOAD_ENV)
        )
