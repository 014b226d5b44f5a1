"""The plugin host: loads the plugins once at start-up and keeps what they brought.

:class:`PluginHost` ties the parts together: :mod:`.loading` finds and imports plugins,
:mod:`.registering` registers them with pluggy, :mod:`.collecting` gathers their tools,
and the hook calls come from :class:`~cvibot.plugins._calling.HookRunner`, its base.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from cvibot._errors import PluginLoadError
from cvibot.plugins import _loading as loading
from cvibot.plugins._calling import HookRunner
from cvibot.plugins._collecting import collect_plugin_tools
from cvibot.plugins._loading import LoadedPlugin, PluginEntryLike
from cvibot.plugins._registering import register
from cvibot.plugins._selection import PluginSelection

if TYPE_CHECKING:
    from cvibot.tools import ToolSpec

__all__ = ["PluginHost"]

log = structlog.get_logger("cvibot.plugins")


class PluginHost(HookRunner):
    """The loaded plugins, their hooks and their tools.

    ``pm`` is the pluggy manager with the cvibot hookspecs added; ``plugins`` lists the
    plugins in registration order: built-ins, then the config's plugins in config
    order, then autoloaded entry points in name order. Implementations are called in
    pluggy's order (last registered first), so a config plugin runs before a built-in;
    autoloaded plugins are registered ``trylast``, so they run after all the others.
    Each plugin is registered as its :class:`~cvibot.plugins._binding.PluginImpls`:
    ``pm.get_plugin(name).plugin`` is the plugin object (usually the module).
    ``base_dir`` is the resolved config folder given to :meth:`load` (``None`` without
    one); ``cvibot_register_tools`` gets it, or the current directory.

    A host built with ``PluginHost()`` has no plugins; plugins registered on ``pm``
    directly take part in every hook with empty ``settings``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.plugins: tuple[LoadedPlugin, ...] = ()
        self.base_dir: Path | None = None
        self._keys: dict[str, str] = {}

    @classmethod
    def load(
        cls,
        entries: Sequence[PluginEntryLike],
        *,
        base_dir: Path | None = None,
        autoload: bool | None = None,
        builtins: Sequence[tuple[str, object]] = (),
        added: Sequence[str] = (),
        blocked: Collection[str] = (),
    ) -> PluginHost:
        """Import and register plugins; runs once at start-up, before the event loop.

        ``builtins`` are registered first, as given. Each of ``entries`` is then
        resolved by ``kind``:

        - ``"module"``: ``ref`` is a dotted module name, looked up in ``base_dir`` and on
          ``sys.path``, or a path to a ``.py`` file (relative to ``base_dir``).
        - ``"entry_point"``: the entry point named ``ref`` in group ``cvibot``.
        - ``"auto"``: that entry point if one is installed, else a module.

        ``base_dir`` (the config file's directory) is put at the front of ``sys.path``
        unless it is already on it, and so is the directory of a ``.py`` plugin, so that
        plugin modules can import their siblings.

        ``added`` names plugins to load after ``entries`` as ``auto`` entries without
        settings (``-p NAME``; one the config names already is left as it is), and
        ``blocked`` names plugins not to load at all (``-p no:NAME``): entries with that
        ``ref`` are skipped (logged at info level) and so are entry points of that name.

        With ``autoload`` (``None``: as the environment says, off unless
        ``CVIBOT_PLUGINS_AUTOLOAD=1``, see :mod:`cvibot.plugins._selection`), every other
        installed entry point of group ``cvibot`` is loaded too, with empty settings;
        one that fails to import or register is logged as a warning (logger
        ``cvibot.plugins``) and skipped. A module that is both named and autoloaded is
        registered once, under its config name.

        Raises :class:`~cvibot._errors.PluginLoadError` (``key="plugins[<index>]"``, or
        ``"-p NAME"`` for an added one) when a plugin the config or ``added`` names
        cannot be found, imported or registered: a hook
        implementation with an argument the hook does not have, a marked function that
        is no cvibot hook, a hook wrapper, or an ``async`` ``cvibot_register_tools``.
        """
        host = cls()
        if base_dir is not None:
            base_dir = Path(base_dir).resolve()
            loading.add_to_sys_path(base_dir)
        host.base_dir = base_dir
        # Import paths may have been written since the interpreter looked last.
        importlib.invalidate_caches()
        entry_points = loading.EntryPoints()

        for name, obj in builtins:
            host._register(loading.builtin_plugin(name, obj), key=None)

        refs = {entry.ref for entry in entries}
        named: list[tuple[str, PluginEntryLike]] = [
            (f"plugins[{index}]", entry) for index, entry in enumerate(entries)
        ]
        named += [(f"-p {name}", loading.PluginRef(name)) for name in added if name not in refs]
        for key, entry in named:
            if entry.ref in blocked:
                log.info("plugin blocked", plugin=entry.ref, by=f"-p no:{entry.ref}")
                continue
            if host.pm.has_plugin(entry.ref):
                first = host._keys.get(entry.ref)
                raise PluginLoadError(
                    f"plugin {entry.ref!r} is listed more than once (first as {first})"
                    if first is not None
                    else f"plugin {entry.ref!r} has the name of a built-in plugin",
                    plugin=entry.ref,
                    key=key,
                )
            loaded = loading.load_entry(entry, key, base_dir, entry_points)
            other = host.name_of(loaded.plugin)
            if other is not None:
                raise PluginLoadError(
                    f"plugin {entry.ref!r} is the same plugin as {other!r}, which is "
                    "already loaded; list it once",
                    plugin=entry.ref,
                    distribution=loaded.distribution,
                    key=key,
                )
            host._register(loaded, key=key)

        if autoload is None:
            autoload = PluginSelection.parse().autoloads(False)
        if autoload:
            skip = {entry.ref for _, entry in named} | set(blocked)
            loading.autoload(
                entry_points,
                host.pm,
                skip,
                lambda loaded: host._register(loaded, key=None),
                loaded=lambda plugin: host.name_of(plugin) is not None,
            )
        return host

    def collect_tools(self) -> list[ToolSpec]:
        """Every plugin's tools, each with ``spec.plugin`` set to the plugin's name.

        Per plugin, in :attr:`plugins` order: the ``@tool`` functions in the namespace
        of a plugin that is a module (named, autoloaded or built-in; no hook code
        needed), then what its
        ``cvibot_register_tools`` implementations register, each called with that
        plugin's settings. Plugins registered on :attr:`pm` directly come last.

        The same function under the same tool name from two plugins is collected once,
        for the first. Call once at start-up; the result is the bot's tool set.

        Raises :class:`~cvibot._errors.DuplicateToolError` when two different functions
        share a tool name, naming both plugins, their distributions and the fix, with
        its ``key`` where the user acts (``plugins[N]``, ``-p NAME`` or
        ``plugins_autoload``), and
        :class:`~cvibot._errors.PluginLoadError` when a plugin the config names fails to
        register its tools (an autoloaded one is logged as a warning and unregistered).
        """
        base_dir = self.base_dir if self.base_dir is not None else Path.cwd()
        return collect_plugin_tools(self, self.plugins, self._keys, self._unregister, base_dir)

    def name_of(self, plugin: object) -> str | None:
        """The name under which the plugin object ``plugin`` (a module, say) is loaded,
        or ``None``."""
        return next((p.name for p in self.plugins if p.plugin is plugin), None)

    def _register(self, loaded: LoadedPlugin, *, key: str | None) -> None:
        """Register ``loaded`` with pluggy, then record it with its settings and key.

        Installed plugins nobody named (autoloaded) are registered ``trylast``, so they
        are asked after the plugins the config names and the built-ins."""
        register(self.pm, loaded, key=key, last=key is None and loaded.kind == "entry_point")
        self.plugins = (*self.plugins, loaded)
        self._settings[loaded.name] = loaded.settings
        if key is not None:
            self._keys[loaded.name] = key

    def _unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.plugins = tuple(p for p in self.plugins if p.name != name)
        self._settings.pop(name, None)
