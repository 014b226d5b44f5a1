"""One question and its answer, as read from a knowledge-base file."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from cvibot_faq.errors import FaqSourceError
from cvibot_faq.text import fold

__all__ = ["FaqEntry", "check_unique", "question_key"]


@dataclass(frozen=True, slots=True)
class FaqEntry:
    """A knowledge-base entry.

    - ``question``: the question as written (a Markdown heading or a YAML ``question``).
    - ``answer``: the answer as plain text (Markdown markup removed), what the replica says.
    - ``alternatives``: other phrasings of the question (YAML ``alternatives``).
    - ``tags``: topic words (YAML ``tags``; in Markdown, the headings of the sections the
      entry is in).
    - ``file``, ``line``: where the question was written (1-based line), for errors.
    """

    question: str
    answer: str
    alternatives: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    file: str = "<memory>"
    line: int = 0

    @property
    def location(self) -> str:
        """``"<file>:<line>"``."""
        return f"{self.file}:{self.line}"


_SPACE_AND_END = re.compile(r"\s+")


def question_key(text: str) -> str:
    """The form two questions are compared in: folded, spaces collapsed, end marks dropped.

    ``"Do you ship  abroad?"`` and ``"do you ship abroad"`` have the same key.
    """
    return _SPACE_AND_END.sub(" ", fold(text)).strip(" ?!.:;")


def check_unique(entries: Iterable[FaqEntry]) -> None:
    """Raise :class:`FaqSourceError` at the second of two entries asking the same thing.

    Questions and alternatives are compared with :func:`question_key` across all files;
    an entry may repeat its own question among its alternatives.
    """
    seen: dict[str, FaqEntry] = {}
    for entry in entries:
        asked = {question_key(text): text for text in (*entry.alternatives, entry.question)}
        for key, text in asked.items():
            first = seen.get(key)
            if first is not None:
                raise FaqSourceError(
                    entry.file,
                    f"duplicate question {text!r} (first at {first.location})",
                    entry.line,
                )
            seen[key] = entry
