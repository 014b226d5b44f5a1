"""``cvibot new bot NAME``: a bot's folder, from the templates in ``templates/bot``.

:func:`create_bot` writes ``NAME/``: ``bot.yaml`` (the config, with a replay transport
on the recording), the tools module ``NAME_tools.py`` (two ``@tool`` functions), the
recorded conversation ``conversation.jsonl`` (what ``cvibot replay --check`` compares),
``tests/test_NAME.py`` (on the ``cvibot_conversation`` fixture, and the replay),
``pytest.ini`` and a README. Every file works as generated: the tests pass and ``cvibot
run bot.yaml`` plays the recording offline.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from string import Template

from cvibot._errors import CvibotError
from cvibot._scaffold.names import MAX_NAME_LENGTH
from cvibot._scaffold.plugin_project import write_project

__all__ = ["BotNameError", "BotNames", "bot_files", "create_bot"]

_NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")


class BotNameError(CvibotError, ValueError):
    """A bot name that is not allowed; the message says why and what would be."""


@dataclass(frozen=True)
class BotNames:
    """Every name of one bot: ``name`` (its folder), ``module`` (the tools module,
    ``NAME_tools`` with ``-`` made ``_``), ``title`` (the store name of the example
    settings) and ``test_file``."""

    name: str
    module: str
    title: str
    test_file: str

    @classmethod
    def of(cls, name: str) -> BotNames:
        """The names for bot ``name``: 1 to 40 lowercase ASCII letters and digits in
        words joined by single ``-`` or ``_``, starting with a letter (so the module
        name is an identifier). Raises :class:`BotNameError` otherwise."""
        if not name:
            raise BotNameError("invalid bot name '': the name must not be empty")
        if len(name) > MAX_NAME_LENGTH:
            raise BotNameError(
                f"invalid bot name {name!r}: at most {MAX_NAME_LENGTH} characters "
                f"(it has {len(name)})"
            )
        if not _NAME.fullmatch(name):
            hint = f" (try {name.lower()!r})" if _NAME.fullmatch(name.lower()) else ""
            raise BotNameError(
                f"invalid bot name {name!r}: use lowercase ASCII letters and digits in "
                f"words joined by single '-' or '_', starting with a letter{hint}"
            )
        snake = name.replace("-", "_")
        return cls(
            name=name,
            module=f"{snake}_tools",
            title=" ".join(word.capitalize() for word in re.split(r"[-_]", name)),
            test_file=f"test_{snake}.py",
        )


def bot_files(names: BotNames) -> dict[str, str]:
    """The bot's files: relative POSIX path → text, in listing order.

    Raises ``KeyError`` or ``ValueError`` for a template with an unknown field or a
    stray ``$`` (a bug of the templates, which the tests render).
    """
    layout = {
        "bot.yaml": "bot.yaml.tmpl",
        f"{names.module}.py": "tools.py.tmpl",
        "conversation.jsonl": "conversation.jsonl.tmpl",
        f"tests/{names.test_file}": "test_bot.py.tmpl",
        "pytest.ini": "pytest.ini.tmpl",
        "README.md": "README.md.tmpl",
    }
    fields = asdict(names)
    folder = resources.files("cvibot._scaffold") / "templates" / "bot"
    return {
        path: Template((folder / template).read_text(encoding="utf-8")).substitute(fields)
        for path, template in layout.items()
    }


def create_bot(names: BotNames, parent: Path) -> tuple[Path, list[Path]]:
    """Write the bot of ``names`` into ``parent/<name>``; return the folder and the
    files written (absolute, in listing order).

    ``parent`` is created if missing. Raises :class:`ProjectExists` when the folder
    exists (nothing is written) and ``OSError`` when it cannot be written; a folder
    left half-written by an error is removed.
    """
    return write_project((parent / names.name).absolute(), bot_files(names))
