"""Quick construction of frozen, slotted dataclasses made once per tool call.

A frozen dataclass's generated ``__init__`` assigns each field through
``object.__setattr__`` (the frozen guard is bypassed that way), a lookup and a generic
call per field; for the dozen fields of a :class:`~cvibot._protocol.events.ToolCall` or a
:class:`~cvibot._dispatch.outcome.ToolOutcome` that is a visible share of a call's cost.
:func:`slots_maker` generates a constructor that fills the slots through their
descriptors instead. The instances are the same (equal, hashed, printed and frozen the
same); what is skipped is only the per-call overhead, not a check: these dataclasses have
no ``__post_init__`` (refused here) and every field must be given (no defaults are filled
in).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

__all__ = ["slots_maker"]

T = TypeVar("T")


def slots_maker(cls: type[T], keyed: Iterable[str] = ()) -> Callable[..., T]:
    """A constructor of the frozen, slotted dataclass ``cls``.

    The fields named in ``keyed`` are read from a mapping given as the first argument
    (``env[name]``: a missing one raises ``KeyError``); the others are keyword-only
    arguments, all required. Raises ``TypeError`` for a class that is not a slotted
    dataclass or has a ``__post_init__``.
    """
    if not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__qualname__} is not a slotted dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__qualname__} has a __post_init__ that would be skipped")
    names = [f.name for f in dataclasses.fields(cls)]
    from_env = set(keyed)
    setters = {
        f"_set_{name}": klass.__dict__[name].__set__
        for klass in reversed(cls.__mro__)
        for name in klass.__dict__.get("__slots__", ())
        if name in names
    }
    if len(setters) != len(names):
        raise TypeError(f"{cls.__qualname__}: every field must have a slot")
    own = [name for name in names if name not in from_env]
    params = ", ".join(["env"] * bool(from_env) + (["*", *own] if own else []))
    lines = [f"def make({params}):", "    obj = _new(_cls)"]
    lines += [
        f"    _set_{name}(obj, env[{name!r}])"
        if name in from_env
        else f"    _set_{name}(obj, {name})"
        for name in names
    ]
    lines.append("    return obj")
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls, **setters}
    exec("\n".join(lines), namespace)
    make: Callable[..., T] = namespace["make"]
    make.__qualname__ = f"slots_maker({cls.__qualname__})"
    return make
