"""From the ``sources`` setting to the entries: find the files, read and parse each one.

A source is a path or a glob (``policies/*.yaml``, ``**/*.md``), relative to a base
folder (the config file's folder) unless absolute; ``~`` is expanded. The file's suffix
picks the format: ``.md``/``.markdown`` (:mod:`.markdown_file`) or ``.yaml``/``.yml``
(:mod:`.yaml_file`).
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Sequence
from pathlib import Path

from cvibot import ConfigError
from cvibot.config import read_text_file
from cvibot_faq.entries import FaqEntry, check_unique
from cvibot_faq.errors import FaqSourceError
from cvibot_faq.markdown_file import HeadingMode, parse_markdown
from cvibot_faq.yaml_file import parse_yaml

__all__ = ["find_files", "load_entries", "read_file"]

_GLOB_CHARS = frozenset("*?[")


def find_files(sources: Sequence[str], base_dir: Path) -> list[Path]:
    """The files ``sources`` name, in the order given (a glob's matches sorted), each once.

    Raises :class:`FaqSourceError` for a path that does not exist or is not a file, a
    glob that matches no file, and a file of an unknown format.
    """
    files: list[Path] = []
    for source in sources:
        pattern = Path(source).expanduser()
        full = pattern if pattern.is_absolute() else base_dir / pattern
        if _GLOB_CHARS.isdisjoint(source):
            if not full.is_file():
                problem = "is not a file" if full.exists() else "no such file"
                raise FaqSourceError(full, problem)
            matches = [full]
        else:
            matches = sorted(Path(p) for p in glob.glob(str(full), recursive=True))
            matches = [p for p in matches if p.is_file()]
            if not matches:
                raise FaqSourceError(full, f"the source {source!r} matches no file")
        for path in matches:
            _parser_for(path)  # an unknown format fails here, before any file is read
            if path not in files:
                files.append(path)
    return files


def read_file(path: Path, headings: HeadingMode = "questions") -> list[FaqEntry]:
    """The entries of one knowledge-base file (UTF-8, a BOM allowed).

    Raises :class:`FaqSourceError` for an unreadable file, one that is not a regular
    file (a FIFO or device), is over cvibot's size limit (8 MiB) or is not UTF-8 text,
    and whatever its format's parser finds wrong.
    """
    parse = _parser_for(path)
    try:
        text = read_text_file(path, what="knowledge-base file")
    except ConfigError as exc:
        raise FaqSourceError(path, exc.message, exc.line) from None
    if not text.strip():
        raise FaqSourceError(path, "the file is empty")
    if parse is parse_markdown:
        return parse_markdown(text, str(path), headings)
    return parse_yaml(text, str(path))


def load_entries(
    sources: Sequence[str], base_dir: Path, headings: HeadingMode = "questions"
) -> list[FaqEntry]:
    """All entries of the files ``sources`` name, checked for duplicate questions.

    Raises :class:`FaqSourceError` as :func:`find_files` and :func:`read_file` do, and at
    the second of two entries asking the same question (in one file or two).
    """
    entries = [
        entry for path in find_files(sources, base_dir) for entry in read_file(path, headings)
    ]
    check_unique(entries)
    return entries


def _parser_for(path: Path) -> Callable[..., list[FaqEntry]]:
    suffix = path.suffix.lower()
    if suffix in (".md", ".markdown"):
        return parse_markdown
    if suffix in (".yaml", ".yml"):
        return parse_yaml
    raise FaqSourceError(
        path, f"unknown format {suffix or '(no suffix)'!r}: expected .md, .markdown, .yaml or .yml"
    )
