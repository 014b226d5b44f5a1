"""Which plugins a bot loads, in the manner of pytest's ``-p``.

A bot's tools and hooks come from the plugins it names: the config's ``plugins:`` list.
On top of it:

- ``-p NAME`` adds a plugin (as if ``- NAME`` ended the list, with no settings);
- ``-p no:NAME`` blocks one: a config entry or an installed plugin of that name is not
  loaded;
- installed plugins (entry points of group ``cvibot``) that neither the config nor
  ``-p`` names are loaded only on request: ``plugins_autoload: true`` in the config, or
  the environment variable :data:`AUTOLOAD_ENV` (``1``; ``0`` turns it off for every
  bot whatever the config says);
- the environment variable :data:`DISABLE_AUTOLOAD_ENV` (any non-empty value, as
  ``PYTEST_DISABLE_PLUGIN_AUTOLOAD`` for pytest) turns autoloading off and wins over
  both.

:meth:`PluginSelection.autoloads` is the one place that decides, for ``run``,
``replay``, ``check``, ``tools show`` and ``tools sync`` alike.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from cvibot._errors import CvibotError

__all__ = [
    "AUTOLOAD_ENV",
    "BLOCK_PREFIX",
    "DISABLE_AUTOLOAD_ENV",
    "PluginSelection",
    "SelectionError",
]

#: ``1`` (or ``true``, ``yes``, ``on``): installed plugins nobody names are loaded, as if
#: every config said ``plugins_autoload: true``; ``0`` (``false``, ``no``, ``off``): not.
AUTOLOAD_ENV: Final = "CVIBOT_PLUGINS_AUTOLOAD"
#: Set to a non-empty value, installed plugins are loaded only when named (wins over
#: :data:`AUTOLOAD_ENV` and the config).
DISABLE_AUTOLOAD_ENV: Final = "CVIBOT_DISABLE_PLUGIN_AUTOLOAD"
#: ``-p no:NAME`` blocks the plugin NAME.
BLOCK_PREFIX: Final = "no:"

_ON: Final = frozenset({"1", "true", "yes", "on"})
_OFF: Final = frozenset({"0", "false", "no", "off"})


class SelectionError(CvibotError, ValueError):
    """A ``-p`` value that cannot be used (empty, or a plugin both added and blocked), or
    an :data:`AUTOLOAD_ENV` value that is no boolean."""


@dataclass(frozen=True)
class PluginSelection:
    """The plugins to add and to block, and what the environment says about autoloading.

    ``add`` keeps the order given (duplicates dropped); ``block`` names plugins by their
    config ``ref`` or entry-point name. ``disabled`` is whether
    :data:`DISABLE_AUTOLOAD_ENV` is set; ``autoload`` is then ``False``, else what
    :data:`AUTOLOAD_ENV` says, ``None`` when it says nothing (the config decides).
    ``PluginSelection()`` changes nothing.
    """

    add: tuple[str, ...] = ()
    block: frozenset[str] = field(default_factory=frozenset)
    autoload: bool | None = None
    disabled: bool = False

    def autoloads(self, configured: bool, *, given: bool | None = None) -> bool:
        """Whether installed plugins nobody names are loaded, for a config whose
        ``plugins_autoload`` is ``configured``.

        The disable switch wins; then ``given``, a caller's own decision (a test
        harness's ``autoload=``); then :data:`AUTOLOAD_ENV`, which stands for the
        ``plugins_autoload`` of every config; then ``configured``.
        """
        if self.disabled:
            return False
        if given is not None:
            return given
        return configured if self.autoload is None else self.autoload

    @classmethod
    def parse(
        cls, values: Iterable[str] = (), *, environ: Mapping[str, str] | None = None
    ) -> PluginSelection:
        """Read ``-p`` values (``NAME`` or ``no:NAME``) and the environment.

        ``environ`` defaults to ``os.environ``. Raises :class:`SelectionError` for an
        empty name, a name that is both added and blocked, or an :data:`AUTOLOAD_ENV`
        that is neither on (``1``, ``true``, ``yes``, ``on``), off (``0``, ``false``,
        ``no``, ``off``) nor empty.
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
            add=tuple(add),
            block=frozenset(block),
            autoload=_environment_autoload(env),
            disabled=bool(env.get(DISABLE_AUTOLOAD_ENV)),
        )


def _environment_autoload(env: Mapping[str, str]) -> bool | None:
    if env.get(DISABLE_AUTOLOAD_ENV):
        return False
    value = env.get(AUTOLOAD_ENV, "").strip().lower()
    if not value:
        return None
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise SelectionError(
        f"{AUTOLOAD_ENV}={env.get(AUTOLOAD_ENV)!r}: expected 1 (load the installed plugins "
        "nobody names) or 0 (do not)"
    )
