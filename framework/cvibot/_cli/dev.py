"""``cvibot dev CONFIG``: run (or talk to) a bot, restarted when its files change.

The bot runs in a child process (``cvibot run``, or ``cvibot console`` with
``--console``) so that each start imports the plugin modules afresh. :func:`watched`
says which folders are watched: the config's, and those of the plugin modules the
config and ``-p`` name (their ``.py`` files, or their package's folder; an installed
plugin only when it is installed in editable mode, its source outside the environment).
A change to a file of a kind a bot is made of (:data:`WATCHED_SUFFIXES`) stops the
child and starts it again, re-reading the config, so a plugin added to it is watched
from then on.

Stopping the child: ``run`` gets SIGINT (it finishes its running calls, as on Ctrl-C),
then SIGKILL after ``dispatch.shutdown_grace`` plus 5 s; ``console`` gets SIGTERM, and
the terminal's settings are put back. Under ``--console`` the child has the terminal:
Ctrl-C clears its line, and leaving the console (Ctrl-D, ``/quit``) ends ``dev``.

``dev`` itself ends on Ctrl-C (SIGINT, exit status 130) or SIGTERM (an editor's stop
button, a process manager; 143), and stops its child first either way: ``run`` has a
session of its own, so a signal sent to ``dev`` alone would otherwise leave the bot in
its room. Both are taken whatever ``dev`` inherited (a background job of a script
starts with SIGINT ignored). Once one is taken, further ones are let pass while the
child stops, which the kill above bounds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from cvibot._cli.common_options import plugin_option

__all__ = ["WATCHED_SUFFIXES", "dev", "watched"]

WATCHED_SUFFIXES = frozenset({".py", ".yaml", ".yml", ".json", ".toml", ".sql"})
"""Files whose change restarts the bot. Recordings (``.jsonl``), logs and other text
are left out: a bot writing such a file into its own folder would restart for ever."""

_STOP_MARGIN = 5.0  # seconds past the grace before the child is killed
_DEFAULT_GRACE = 10.0


def _top_folder(module: str, search: Sequence[str]) -> Path | None:
    """The folder holding the top-level package or module of dotted ``module``, found
    on ``search`` without importing anything; ``None`` when not found."""
    import importlib.machinery

    top = module.split(".", 1)[0]
    if not top.isidentifier():
        return None
    try:
        spec = importlib.machinery.PathFinder.find_spec(top, list(search))
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    if spec.origin and spec.origin not in ("built-in", "frozen"):
        return Path(spec.origin).parent
    return None


def _in_environment(folder: Path) -> bool:
    """True for a folder of the Python installation (site-packages and the like)."""
    roots = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    resolved = folder.resolve()
    return any(resolved.is_relative_to(root) for root in roots)


def watched(config: Path, plugin_args: Sequence[str] = ()) -> list[Path]:
    """The folders to watch for ``config``: its own, then the plugin modules' (sorted,
    without folders inside another one). A config that cannot be loaded is
    watched through its folder alone (fixing it restarts the bot)."""
    from importlib.metadata import entry_points

    from cvibot._errors import ConfigError
    from cvibot.config import load_config

    base = config.expanduser().absolute().parent.resolve()
    folders = {base}
    refs: list[tuple[str, str]] = []
    with contextlib.suppress(ConfigError):
        refs = [(e.ref, e.kind) for e in load_config(config).config.plugins]
    refs += [(arg, "auto") for arg in plugin_args if not arg.startswith("no:")]
    installed = {ep.name: ep for ep in entry_points(group="cvibot")}
    search = [str(base), *sys.path]
    for ref, kind in refs:
        folder: Path | None = None
        if ref.endswith(".py") or "/" in ref or os.sep in ref:
            folder = (base / Path(ref).expanduser()).parent
        elif kind != "module" and ref in installed:
            folder = _top_folder(installed[ref].module, sys.path)
        elif kind != "entry_point":
            folder = _top_folder(ref, search)
        if folder is not None and folder.is_dir() and not _in_environment(folder):
            folders.add(folder.resolve())
    ordered = sorted(folders, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for folder in ordered:
        if not any(folder.is_relative_to(k) for k in kept):
            kept.append(folder)
    return sorted(kept, key=lambda p: (p != base, str(p)))


def _relevant(changes: set[tuple[Any, str]]) -> list[str]:
    """The changed files that restart the bot, sorted."""
    return sorted({path for _, path in changes if Path(path).suffix in WATCHED_SUFFIXES})


class _Child:
    """The ``cvibot run`` or ``cvibot console`` process of one start."""

    def __init__(self, args: list[str], console: bool) -> None:
        import subprocess

        self.console = console
        # run gets a session of its own: the terminal's Ctrl-C reaches dev alone, which
        # passes one SIGINT on (a second would make run exit at once). The console
        # stays in the terminal's foreground group: it reads the terminal.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cvibot", *args], start_new_session=not console
        )

    def stop(self, grace: float) -> int:
        """Stop the process (see the module docstring); return its exit status."""
        import subprocess

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM if self.console else signal.SIGINT)
            try:
                self.process.wait(timeout=grace + _STOP_MARGIN)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


def _grace(config: Path) -> float:
    from cvibot._errors import ConfigError
    from cvibot.config import load_config

    try:
        grace: float = load_config(config).config.dispatch.shutdown_grace
    except ConfigError:
        return _DEFAULT_GRACE
    return grace


@contextlib.contextmanager
def _terminal_kept() -> Iterator[None]:
    """Put the terminal's settings back when a child left them changed (a console
    stopped in the middle of readline's raw mode)."""
    try:
        import termios

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd) if os.isatty(fd) else None
    except (ImportError, OSError, ValueError):
        saved = None
    try:
        yield
    finally:
        if saved is not None:
            with contextlib.suppress(OSError):
                termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _ignore(signum: int, frame: object) -> None:
    """SIGINT under --console (the console child takes it), and any signal while the
    child is being stopped."""


def _on_signal(signum: int, frame: object) -> None:
    """SIGINT or SIGTERM: end the watch. watchfiles turns whatever a handler raises
    into KeyboardInterrupt, so the signal is recorded here for the exit status."""
    _received.append(signum)
    raise KeyboardInterrupt


_received: list[int] = []  # the signals that ended dev (a list: set from a handler)


def _say(message: str) -> None:
    click.echo(click.style(f"dev: {message}", fg="cyan"), err=True)


@click.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--console",
    "use_console",
    is_flag=True,
    help="Talk to the bot (cvibot console) instead of running it (cvibot run).",
)
@plugin_option
def dev(config: Path, use_console: bool, plugin_args: tuple[str, ...]) -> None:
    """Run the bot CONFIG describes, restarted when the config or a plugin file changes.

    Watches the config's folder and the folders of the plugin modules it names. With
    --console, the bot is talked to as with cvibot console; leaving the console ends
    dev. Ctrl-C (or SIGTERM) stops the bot and dev.
    """
    import watchfiles

    command = ["console" if use_console else "run", str(config)]
    for arg in plugin_args:
        command += ["-p", arg]
    _received.clear()
    # Handlers, not SIG_IGN: an ignored signal would stay ignored in the child.
    signal.signal(signal.SIGTERM, _on_signal)
    # Under --console Ctrl-C belongs to the console (it clears the line); dev ends when
    # the console does.
    signal.signal(signal.SIGINT, _ignore if use_console else _on_signal)
    code = 0
    child: _Child | None = None
    try:
        while True:
            folders = watched(config, plugin_args)
            _say(f"watching {', '.join(str(f) for f in folders)}")
            with _terminal_kept():
                child = _Child(command, use_console)
                reported = False
                restart: list[str] = []
                for changes in watchfiles.watch(
                    *folders, rust_timeout=500, yield_on_timeout=True, raise_interrupt=True
                ):
                    restart = _relevant(changes)
                    if restart:
                        break
                    status = child.process.poll()
                    if status is None or reported:
                        continue
                    if use_console and status in (0, 130):
                        sys.exit(status)  # the user left the console
                    _say(f"the bot exited with status {status}; waiting for a change")
                    reported = True
                child.stop(_grace(config))
            shown = ", ".join(os.path.relpath(p) for p in restart[:3])
            more = f" and {len(restart) - 3} more" if len(restart) > 3 else ""
            _say(f"{shown}{more} changed: restarting")
    except KeyboardInterrupt:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _ignore)  # the stop below is bounded: let it end
        code = 128 + (_received[0] if _received else signal.SIGINT)
        if child is not None:
            child.stop(_grace(config))
    sys.exit(code)
