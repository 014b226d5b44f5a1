"""cvibot's public API: what each public package exports, and what plugins may import.

The public packages, and who needs each (every other module is private: its name, or
the name of a package above it, starts with ``_``; public packages re-export from their
private modules, as ``httpx/__init__.py`` does):

- ``cvibot``: the facade for bot authors: ``@tool``, ``ToolContext``, the interactions,
  the errors users catch, ``Bot``, ``Session``, ``hookimpl``;
- ``cvibot.testing``: the fake conversation and the pytest fixture, for the tests of bots
  and plugins;
- ``cvibot.tools``: tools built at run time (``dynamic_tool``), ``ToolOptions`` and the
  Tavus tool formats, for plugin authors (``cvibot-http``, ``cvibot-faq``);
- ``cvibot.plugins``: the hook markers and the plugin host, for plugin authors;
- ``cvibot.config``: a config loaded from code, and the file and YAML guards plugins use
  for their own files;
- ``cvibot.transports``: writing a transport, and the Daily transport with the errors
  to catch around it;
- ``cvibot.tavus``: the Tavus REST API client and its errors;
- ``cvibot.serve``: the contract a backend of ``cvibot serve`` implements.
"""

from __future__ import annotations
import __future__

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import pytest

import cvibot

REPO = Path(__file__).resolve().parents[2]
PUBLIC_PACKAGES = (
    "cvibot",
    "cvibot.config",
    "cvibot.plugins",
    "cvibot.serve",
    "cvibot.tavus",
    "cvibot.testing",
    "cvibot.tools",
    "cvibot.transports",
)

# Names a public package re-exports from a private module outside it, on purpose: a
# transport hands the session participants, which the core defines.
BORROWED = {"cvibot.transports": ("cvibot._participants",)}


def _private(module: str) -> bool:
    return any(part.startswith("_") for part in module.split(".")[1:])


def _exported(package: str) -> set[str]:
    return set(importlib.import_module(package).__all__)


@pytest.mark.parametrize("package", PUBLIC_PACKAGES)
def test_all_is_exactly_the_public_names_the_package_defines(package: str) -> None:
    module = importlib.import_module(package)
    exported = module.__all__
    assert len(exported) == len(set(exported)), "a name is listed twice"
    for name in exported:  # each resolves (the lazy ones are imported here)
        getattr(module, name)
    defined = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, ModuleType)  # a submodule, once imported
        and value is not __future__.annotations
    }
    assert defined == {name for name in exported if not name.startswith("_")}


@pytest.mark.parametrize("package", PUBLIC_PACKAGES)
def test_each_public_class_and_function_lives_in_a_private_module_of_its_package(
    package: str,
) -> None:
    module = importlib.import_module(package)
    homes = (package, *BORROWED.get(package, ()))
    for name in module.__all__:
        value = getattr(module, name)
        if not (inspect.isclass(value) or inspect.isfunction(value)):
            continue  # constants, type aliases, hook markers
        home = value.__module__
        assert _private(home), f"{package}.{name} is defined in public {home}"
        assert any(home == h or home.startswith(h + ".") for h in homes), (
            f"{package}.{name} is defined in {home}, outside {package}"
        )


def test_every_module_is_private_or_a_public_package() -> None:
    public = set(PUBLIC_PACKAGES) | {"cvibot.__main__"}
    names = [info.name for info in pkgutil.walk_packages(cvibot.__path__, "cvibot.")]
    assert len(names) > 100
    exposed = [name for name in names if name not in public and not _private(name)]
    assert exposed == []


def test_the_test_doubles_are_not_in_the_package() -> None:
    """The fake Daily SDK and fake Tavus API serve cvibot's own tests (tests/doubles)."""
    import cvibot.testing

    assert [m.name for m in pkgutil.iter_modules(cvibot.testing.__path__) if m.ispkg] == []
    for path in (REPO / "framework" / "cvibot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            assert not [m for m in modules if m.split(".")[0] == "doubles"], path


def _python_of(path: Path) -> str:
    """A file's Python: the file itself, or a document's ``python`` blocks (lines kept)."""
    source = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        blocks = re.finditer(r"^```python\n(.*?)^```", source, re.M | re.S)
        lines = [""] * source.count("\n")
        for block in blocks:
            first = source.count("\n", 0, block.start(1))
            for offset, line in enumerate(block.group(1).splitlines()):
                lines[first + offset] = line
        return "\n".join(lines)  # each block parses on its own in the tests of the docs
    if path.name.endswith(".tmpl"):
        return re.sub(r"\$\{\w+\}", "x", source)  # the scaffold's placeholders
    return source


def _cvibot_imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name) of each import of cvibot in a file; name None for ``import``."""
    source = _python_of(path)
    if path.suffix == ".md":  # only the import lines: the blocks are fragments
        source = "\n".join(
            line if re.match(r"(from|import) cvibot\b", line) else "" for line in source.split("\n")
        )
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found += [(node.lineno, node.module, a.name) for a in node.names]
    return [(line, m, n) for line, m, n in found if m == "cvibot" or m.startswith("cvibot.")]


def _first_party_code() -> list[Path]:
    """The first-party plugins, the example bots, the scaffold's Python templates, and
    the Python of the documents users copy from."""
    files = [*(REPO / "plugins").glob("*/**/*.py"), *(REPO / "bots").rglob("*.py")]
    files += (REPO / "framework" / "cvibot").rglob("*.py.tmpl")
    files += [REPO / "README.md", *(REPO / "docs").glob("*.md")]
    files += (REPO / "plugins").glob("*/README.md")
    return sorted(f for f in files if not {".venv", "build"} & set(f.parts))


def _non_public(path: Path) -> list[str]:
    wrong = []
    for line, module, name in _cvibot_imports(path):
        where = f"{path.relative_to(REPO)}:{line}"
        if module not in PUBLIC_PACKAGES:
            wrong.append(f"{where}: {module} is not a public package")
        elif (
            name is not None
            and name not in _exported(module)
            and f"{module}.{name}" not in PUBLIC_PACKAGES
        ):
            wrong.append(f"{where}: {module} does not export {name}")
    return wrong


def test_first_party_plugins_and_bots_import_only_public_names() -> None:
    files = _first_party_code()
    assert len([f for f in files if "cvibot_http" in f.parts]) > 5
    assert [f for f in files if f.name == "tools.py.tmpl"]
    assert len(_cvibot_imports(REPO / "docs" / "plugins.md")) > 10
    imports = sum(len(_cvibot_imports(f)) for f in files)
    assert imports > 20
    assert [problem for f in files for problem in _non_public(f)] == []


def test_the_import_check_sees_a_private_module_and_an_unexported_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check above can fail: a deep import and a name outside ``__all__`` are found."""
    monkeypatch.setattr(f"{__name__}.REPO", tmp_path)
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "from cvibot import tool, Nope\n"
        "from cvibot._session import Session\n"
        "import cvibot.testing, cvibot._dispatch\n",
        encoding="utf-8",
    )
    assert _non_public(plugin) == [
        "plugin.py:1: cvibot does not export Nope",
        "plugin.py:2: cvibot._session is not a public package",
        "plugin.py:3: cvibot._dispatch is not a public package",
    ]
