"""Entries from a YAML file: a list of ``{question, answer, alternatives?, tags?}``.

::

    - question: Do you ship abroad?
      answer: Yes, to 40 countries; delivery takes 5 to 10 working days.
      alternatives: [International shipping?, Can you send my order to Canada?]
      tags: [shipping]

``question`` and ``answer`` are non-empty strings (numbers are taken as text);
``alternatives`` and ``tags`` are a string or a list of strings. Any other key, a key
given twice, an item that is not a mapping and an empty file are errors naming the line.
The YAML is read by cvibot's bounded reader (:func:`cvibot.config.compose_yaml`), so
an alias bomb or nesting thousands of levels deep is an error, not a hang.
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cvibot import ConfigError
from cvibot.config import compose_yaml, construct_yaml
from cvibot_faq.entries import FaqEntry
from cvibot_faq.errors import FaqSourceError

__all__ = ["parse_yaml"]

_KEYS = ("question", "answer", "alternatives", "tags")
# PyYAML ends an unquoted string at "?" inside [...] and {...}.
_QUESTION_MARK_HINT = (
    " (PyYAML ends unquoted text at '?' inside [...] or {...}: quote the question, "
    "or write the list one '- item' per line)"
)


def parse_yaml(text: str, file: str) -> list[FaqEntry]:
    """The entries of the YAML ``text`` read from ``file`` (named in errors).

    Raises :class:`FaqSourceError` with the line of the problem: invalid YAML, a top
    level that is not a list, an item that is not a mapping, a missing or empty
    ``question`` or ``answer``, an unknown or repeated key, a value of the wrong type,
    and (without a line) an empty file or list.
    """
    try:
        root = compose_yaml(text, file=file)
    except ConfigError as exc:
        problem = exc.message
        if "'?'" in problem:
            problem += _QUESTION_MARK_HINT
        raise FaqSourceError(file, problem, exc.line) from None
    if root is None or (isinstance(root, ScalarNode) and root.tag.endswith(":null")):
        raise FaqSourceError(file, "the file is empty: expected a list of questions")
    if not isinstance(root, SequenceNode):
        raise FaqSourceError(
            file,
            "expected a list of {question, answer} mappings at the top level",
            _line(root),
        )
    if not root.value:
        raise FaqSourceError(file, "the list is empty: expected questions", _line(root))
    return [_entry(item, file) for item in root.value]


def _entry(node: Node, file: str) -> FaqEntry:
    if not isinstance(node, MappingNode):
        raise FaqSourceError(
            file, "expected a mapping with 'question' and 'answer' keys", _line(node)
        )
    values: dict[str, tuple[Node, Any]] = {}
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, ScalarNode) else None
        if key not in _KEYS:
            raise FaqSourceError(
                file, f"unknown key {key!r} (allowed: {', '.join(_KEYS)})", _line(key_node)
            )
        if key in values:
            raise FaqSourceError(file, f"{key!r} is given twice", _line(key_node))
        try:
            values[key] = (value_node, construct_yaml(value_node, file=file))
        except ConfigError as exc:
            problem = f"{key}: invalid value: {exc.message.removeprefix('invalid YAML: ')}"
            raise FaqSourceError(file, problem, exc.line or _line(value_node)) from None
    line = _line(node)
    question = _text(values, "question", file, line)
    answer = _text(values, "answer", file, line)
    return FaqEntry(
        question=question,
        answer=answer,
        alternatives=_texts(values, "alternatives", file),
        tags=_texts(values, "tags", file),
        file=file,
        line=line,
    )


def _text(values: dict[str, tuple[Node, Any]], key: str, file: str, line: int) -> str:
    if key not in values:
        raise FaqSourceError(file, f"the entry has no {key!r}", line)
    node, value = values[key]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FaqSourceError(file, f"{key!r} must be text (got {_kind(value)})", _line(node))
    text = str(value).strip()
    if not text:
        raise FaqSourceError(file, f"{key!r} is empty", _line(node))
    return text


def _texts(values: dict[str, tuple[Node, Any]], key: str, file: str) -> tuple[str, ...]:
    if key not in values:
        return ()
    node, value = values[key]
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise FaqSourceError(
            file, f"{key!r} must be a string or a list of strings (got {_kind(value)})", _line(node)
        )
    for number, item in enumerate(items, start=1):
        if not isinstance(item, str):
            raise FaqSourceError(
                file, f"{key!r}: item {number} must be a string (got {_kind(item)})", _line(node)
            )
    return tuple(text for item in items if (text := item.strip()))


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
