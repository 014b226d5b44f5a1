"""Entries from a Markdown file: a ``##``/``###`` heading is a question, the text below it
the answer.

Parsed with markdown-it-py (CommonMark), so ``#`` lines in code blocks are not headings,
setext (underlined) headings count, and the answer loses its inline markup (``**bold**``,
links, code spans) to read well when spoken. Rules:

- ``headings="questions"`` (default): a ``##`` or ``###`` heading ending in ``?`` is an
  entry; any other heading starts a section, whose title becomes a tag of the entries in
  it (``## Shipping`` then ``### Do you ship abroad?``).
- ``headings="all"``: every ``##`` and ``###`` heading is an entry, except one with no
  text of its own that is followed by a deeper heading (a section title).
- ``#`` headings are document titles, ``####`` and deeper are part of an answer; text
  before the first entry is ignored.
- An entry heading with no text below it before the next heading is an error, as is a
  file with no entry at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token

from cvibot_faq.entries import FaqEntry
from cvibot_faq.errors import FaqSourceError
from cvibot_faq.text import words

__all__ = ["HeadingMode", "parse_markdown"]

HeadingMode = Literal["questions", "all"]

_ENTRY_LEVELS = (2, 3)
_parser = MarkdownIt("commonmark")


@dataclass(frozen=True, slots=True)
class _Heading:
    level: int
    text: str
    line: int  # 1-based
    body: str


def parse_markdown(text: str, file: str, headings: HeadingMode = "questions") -> list[FaqEntry]:
    """The entries of the Markdown ``text`` read from ``file`` (named in errors).

    Raises :class:`FaqSourceError` (with the line) for an entry heading without an answer,
    and (without a line) for a file with no entries.
    """
    found = _headings(_parser.parse(text))
    entries: list[FaqEntry] = []
    sections: dict[int, str] = {}
    for index, heading in enumerate(found):
        for level in [level for level in sections if level >= heading.level]:
            del sections[level]
        following = found[index + 1] if index + 1 < len(found) else None
        if not _is_entry(heading, following, headings):
            sections[heading.level] = heading.text
            continue
        if not words(heading.text):
            raise FaqSourceError(file, "the question heading has no words", heading.line)
        if not heading.body:
            raise FaqSourceError(
                file, f"question {heading.text!r} has no answer (no text below it)", heading.line
            )
        tags = tuple(sections[level] for level in sorted(sections) if level >= 2)
        entries.append(
            FaqEntry(
                question=heading.text,
                answer=heading.body,
                tags=tags,
                file=file,
                line=heading.line,
            )
        )
    if not entries:
        wanted = "'##' or '###' heading" + (" ending in '?'" if headings == "questions" else "")
        raise FaqSourceError(file, f"no entries: no {wanted} with text below it")
    return entries


def _is_entry(heading: _Heading, following: _Heading | None, mode: HeadingMode) -> bool:
    if heading.level not in _ENTRY_LEVELS:
        return False
    if mode == "questions":
        return heading.text.endswith(("?", "？"))
    is_section = not heading.body and following is not None and following.level > heading.level
    return not is_section


def _headings(tokens: Sequence[Token]) -> list[_Heading]:
    """The headings of levels 1 to 3, each with the plain text of the blocks below it."""
    starts = [
        i
        for i, token in enumerate(tokens)
        if token.type == "heading_open" and int(token.tag[1:]) <= max(_ENTRY_LEVELS)
    ]
    result: list[_Heading] = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(tokens)
        opening, inline = tokens[start], tokens[start + 1]
        line = opening.map[0] + 1 if opening.map else 0
        result.append(
            _Heading(
                level=int(opening.tag[1:]),
                text=_inline_text(inline).strip(),
                line=line,
                body=_blocks_text(tokens[start + 3 : end]),
            )
        )
    return result


def _blocks_text(tokens: Sequence[Token]) -> str:
    """Plain text of block tokens: paragraphs apart by a blank line, list items by a newline.

    Bullet items start with ``- ``, ordered ones with their number; nested lists are
    indented by two spaces per level; code blocks keep their text; HTML is dropped.
    """
    blocks: list[tuple[str, bool]] = []  # (text, inside a list)
    lists: list[int | None] = []  # per open list: the last number used, None for bullets
    marker: str | None = None
    for token in tokens:
        kind = token.type
        if kind == "bullet_list_open":
            lists.append(None)
        elif kind == "ordered_list_open":
            start = token.attrs.get("start", 1)
            lists.append((start if isinstance(start, int) else int(start)) - 1)
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open" and lists:
            number = lists[-1]
            if number is None:
                bullet = "- "
            else:
                lists[-1] = number + 1
                bullet = f"{number + 1}. "
            marker = "  " * (len(lists) - 1) + bullet
        elif kind in ("inline", "fence", "code_block"):
            text = _inline_text(token) if kind == "inline" else token.content.rstrip("\n")
            if not text.strip():
                continue
            if marker is not None:
                text, marker = marker + text, None
            elif lists:
                text = "  " * len(lists) + text
            blocks.append((text, bool(lists)))
    out = ""
    for i, (text, in_list) in enumerate(blocks):
        if i:
            out += "\n" if in_list and blocks[i - 1][1] else "\n\n"
        out += text
    return out.strip()


def _inline_text(token: Token) -> str:
    """Plain text of an inline token: markup and HTML dropped, link and image text kept."""
    parts: list[str] = []
    for child in token.children or ():
        kind = child.type
        if kind in ("text", "code_inline"):
            parts.append(child.content)
        elif kind == "softbreak":
            parts.append(" ")
        elif kind == "hardbreak":
            parts.append("\n")
        elif kind == "image":
            parts.append(child.content)
    return "".join(parts)
