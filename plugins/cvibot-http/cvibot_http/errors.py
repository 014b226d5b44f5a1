"""The error a bad ``settings`` mapping raises, with the key path of each problem."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["SettingsError", "key_text"]


def key_text(loc: Sequence[str | int]) -> str:
    """A key path as written in messages: ``tools[0].request.url``, ``headers.X-Trace``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


class SettingsError(ValueError):
    """The plugin's ``settings`` are invalid.

    ``problems`` lists ``(key path, message)`` pairs, the path relative to ``settings``
    (``tools[0].request.url``). ``str(err)`` reads ``KEY: MESSAGE`` for each problem,
    joined by ``"; "``. No message quotes a header value, so secrets stay out of it.
    """

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{key}: {msg}" if key else msg for key, msg in self.problems))

    def __reduce__(self) -> tuple[type[SettingsError], tuple[list[tuple[str, str]]]]:
        return type(self), (self.problems,)

    @classmethod
    def at(cls, loc: Sequence[str | int], message: str) -> SettingsError:
        """One problem at the key path ``loc``."""
        return cls([(key_text(loc), message)])

    @property
    def key(self) -> str:
        """The key path of the first problem."""
        return self.problems[0][0] if self.problems else ""
