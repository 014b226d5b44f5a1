"""The error tree drawn in ``cvibot._errors`` is the real class hierarchy, and every
exception a user can catch sits under ``CvibotError``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

import cvibot
import cvibot._errors
from cvibot._errors import CvibotError

Shape = dict[str, tuple[str | None, tuple[str, ...]]]
"""Class name → (parent name, the builtin exceptions it also derives from)."""

_LINE = re.compile(r"^(?P<indent>[\s│├└─]*)(?P<name>[A-Z]\w*)(?: \[(?P<also>[\w, ]+)\])?")


def _all_modules() -> list[ModuleType]:
    """Every module of the package, imported (``__main__`` would run the command line)."""
    return [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(cvibot.__path__, "cvibot.")
        if not info.name.endswith("__main__")
    ]


def _drawn(doc: str) -> Shape:
    """The tree of the docstring's ``::`` block: each indent level is four columns."""
    block = doc.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    shape: Shape = {}
    parents: list[str] = []
    for line in block.splitlines():
        match = _LINE.match(line)
        assert match, f"not a tree line: {line!r}"
        depth = (len(match["indent"]) - 4) // 4
        assert depth <= len(parents), f"skips a level: {line!r}"
        name = match["name"]
        assert name not in shape, f"drawn twice: {name}"
        del parents[depth:]
        also = tuple(a.strip() for a in match["also"].split(",")) if match["also"] else ()
        shape[name] = (parents[-1] if parents else None, also)
        parents.append(name)
    return shape


def _real() -> Shape:
    """The hierarchy below ``CvibotError`` of the classes the package defines."""
    _all_modules()
    shape: Shape = {CvibotError.__name__: (None, ())}
    todo = [CvibotError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if not sub.__module__.startswith("cvibot."):
                continue  # a plugin's or a test's own subclass
            assert sub.__name__ not in shape, f"two classes named {sub.__name__}"
            parent = next(b for b in sub.__bases__ if issubclass(b, CvibotError))
            also = tuple(b.__name__ for b in sub.__bases__ if b.__module__ == "builtins")
            shape[sub.__name__] = (parent.__name__, also)
            todo.append(sub)
    return shape


def test_the_drawn_tree_is_the_class_hierarchy() -> None:
    drawn = _drawn(cvibot._errors.__doc__ or "")
    real = _real()
    assert drawn == real
    assert len(real) > 40


def test_the_drawing_parser_sees_a_wrong_parent() -> None:
    """The check above can fail: a class drawn under the wrong parent is a difference."""
    doc = cvibot._errors.__doc__ or ""
    moved = doc.replace("    │   └── UnsendableResult", "    ├── UnsendableResult", 1)
    assert moved != doc
    assert _drawn(moved) != _real()


def test_only_internal_signals_stay_outside_the_tree() -> None:
    """An exception class of the package is in the tree, private, or named in the
    docstring's paragraph of those left outside on purpose."""
    doc = cvibot._errors.__doc__ or ""
    outside = set(re.findall(r"``(\w+)``", doc.split("Left outside the tree", 1)[1]))
    found = {
        obj.__name__
        for module in _all_modules()
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == module.__name__
        and not issubclass(obj, CvibotError)
        and not obj.__name__.startswith("_")
    }
    assert found == outside - {"ValueError", "_"}


@pytest.mark.parametrize(
    ("module", "name", "builtin"),
    [
        ("cvibot.transports._base", "TransportError", None),
        ("cvibot.transports._daily", "InvalidAppMessage", ValueError),
        ("cvibot.tavus", "TavusAPIError", None),
        ("cvibot._sync", "LimitsExceeded", None),
        ("cvibot.plugins._selection", "SelectionError", ValueError),
        ("cvibot.tools._spec", "ArgumentsError", ValueError),
        ("cvibot._scaffold", "ProjectExists", FileExistsError),
        ("cvibot.testing", "ReplyTimeout", TimeoutError),
    ],
)
def test_one_except_clause_catches_every_error(
    module: str, name: str, builtin: type[BaseException] | None
) -> None:
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, CvibotError)
    if builtin is not None:
        assert issubclass(cls, builtin)


def test_the_transport_errors_are_cvibot_errors() -> None:
    from cvibot.transports._daily import JoinTimeout

    with pytest.raises(CvibotError) as caught:
        raise JoinTimeout("https://example.daily.co/room", 5)
    assert isinstance(caught.value, cvibot.TransportError)


def test_the_facade_exports_the_bases_users_catch() -> None:
    for name in (
        "CvibotError",
        "ConfigError",
        "PluginLoadError",
        "PluginSettingsError",
        "PluginStartupError",
        "SyncError",
        "TavusAPIError",
        "ToolDefinitionError",
        "ToolError",
        "TransportError",
    ):
        assert name in cvibot.__all__
        assert issubclass(getattr(cvibot, name), CvibotError)


def test_module_names_do_not_repeat_among_the_error_modules() -> None:
    """One ``errors.py``: the others are named by what they hold."""
    root = Path(cvibot.__file__).parent
    # A private module's name is its public one with a leading underscore.
    names = Counter(path.name.lstrip("_") for path in root.rglob("*.py"))
    assert names["errors.py"] == 1
    assert names["base.py"] == 1
    homes = {
        inspect.getfile(getattr(importlib.import_module(module), name))
        for module, name in [
            ("cvibot.transports._daily", "DailyError"),
            ("cvibot.tavus", "TavusAPIError"),
            ("cvibot.transports._base", "TransportError"),
            ("cvibot._sync", "ApplyFailed"),
        ]
    }
    assert all(names[Path(home).name.lstrip("_")] == 1 for home in homes)


def test_harness_and_plan_each_name_one_thing() -> None:
    """``Harness`` once named the fake conversation's plugin and a test helper, ``Plan``
    both what ``cvibot run`` serves and a sync plan."""
    import cvibot._cli.live
    import cvibot._sync
    import cvibot.testing._assembly

    assert not hasattr(cvibot._sync, "Plan")
    assert not hasattr(cvibot._sync.plan, "Plan")
    assert not hasattr(cvibot.testing._assembly, "Harness")
    assert cvibot._sync.SyncPlan is cvibot._sync.plan.SyncPlan
    assert inspect.isclass(cvibot._cli.live.Plan)
