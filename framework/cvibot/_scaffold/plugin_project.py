"""Writing a new plugin project from the templates shipped in ``templates/plugin``.

The templates are :class:`string.Template` texts (``${name}``, ``${package}``, ...,
see :class:`~cvibot._scaffold.names.PluginNames`), read as package data.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from string import Template

from cvibot._errors import CvibotError
from cvibot._scaffold.names import PluginNames

__all__ = ["ProjectExists", "create_plugin", "plugin_files", "write_project"]


class ProjectExists(CvibotError, FileExistsError):
    """The project's folder exists already; nothing was written. ``path`` is the folder."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} exists already; choose another name or --dir")
        self.path = path


def plugin_files(names: PluginNames) -> dict[str, str]:
    """The project's files: relative POSIX path → text, in the order they are listed.

    Raises ``KeyError`` or ``ValueError`` for a template that names an unknown field
    or has a stray ``$`` (a bug of the templates, which the tests render).
    """
    fields = asdict(names)
    layout = {
        "pyproject.toml": "pyproject.toml.tmpl",
        "README.md": "README.md.tmpl",
        ".gitignore": "gitignore.tmpl",
        f"{names.package}/__init__.py": "module.py.tmpl",
        f"tests/{names.test_file}": "test_plugin.py.tmpl",
    }
    folder = resources.files("cvibot._scaffold") / "templates" / "plugin"
    return {
        path: Template((folder / template).read_text(encoding="utf-8")).substitute(fields)
        for path, template in layout.items()
    }


def create_plugin(names: PluginNames, parent: Path) -> tuple[Path, list[Path]]:
    """Write the project of ``names`` into ``parent/<distribution>``; return the folder
    and the files written (absolute paths, in listing order).

    ``parent`` is created if missing. Raises :class:`ProjectExists` when the folder
    exists (nothing is written) and ``OSError`` when it cannot be written; a project
    left half-written by an error is removed.
    """
    return write_project((parent / names.distribution).absolute(), plugin_files(names))


def write_project(root: Path, files: Mapping[str, str]) -> tuple[Path, list[Path]]:
    """Create the folder ``root`` (its parent too, if missing) and write ``files``
    (relative POSIX path → text, UTF-8) into it; return ``root`` and the paths written,
    in the order of ``files``.

    Raises :class:`ProjectExists` when ``root`` exists (nothing is written) and
    ``OSError`` when it cannot be written; a folder left half-written is removed.
    """
    root.parent.mkdir(parents=True, exist_ok=True)
    try:
        root.mkdir()
    except FileExistsError:
        raise ProjectExists(root) from None
    written: list[Path] = []
    try:
        for relative, text in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return root, written
