"""The plugin's settings: read from the config's ``settings`` mapping and checked once.

Every problem is a :class:`~cvibot_faq.errors.FaqSettingsError` whose ``key`` names the
setting (``min_score``, below the plugin's ``settings``); the README lists the keys with
their defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from cvibot_faq.errors import FaqSettingsError
from cvibot_faq.index import Weights
from cvibot_faq.markdown_file import HeadingMode
from cvibot_faq.text import fold

__all__ = ["DEFAULT_NO_ANSWER", "DEFAULT_TOOL_NAME", "FaqSettings"]

DEFAULT_TOOL_NAME = "search_faq"
DEFAULT_NO_ANSWER = (
    "There is no answer to this question in the knowledge base. Say that you do not know, "
    "or ask the user to rephrase."
)
MAX_TOP_K = 10


@dataclass(frozen=True)
class FaqSettings:
    """The checked settings; see the README for what each one does."""

    sources: tuple[str, ...]
    tool_name: str | None = DEFAULT_TOOL_NAME
    description: str | None = None
    top_k: int = 1
    min_score: float = 0.25
    utterance_min_score: float = 0.35
    no_answer: str = DEFAULT_NO_ANSWER
    respond_to_utterances: bool = True
    fallback: str | None = None
    synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    stopwords: tuple[str, ...] = ()
    headings: HeadingMode = "questions"
    typo_tolerance: bool = False
    weights: Weights = field(default_factory=Weights)

    @classmethod
    def parse(cls, settings: Mapping[str, Any]) -> FaqSettings | None:
        """The settings in ``settings``, or ``None`` for an empty mapping (plugin off).

        Raises :class:`FaqSettingsError` for an unknown key, a missing ``sources`` and a
        value of the wrong type or range, e.g. ``top_k: expected an integer
        from 1 to 10 (got 0)``.
        """
        if not settings:
            return None
        unknown = sorted(str(key) for key in settings if key not in _READERS)
        if unknown:
            raise FaqSettingsError(unknown[0], f"unknown setting (known: {', '.join(_READERS)})")
        if "sources" not in settings:
            raise FaqSettingsError("sources", "required: the knowledge-base files (paths or globs)")
        values = {key: _READERS[key](settings[key], key) for key in settings}
        return cls(**values)


def _sources(value: Any, key: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise FaqSettingsError(key, f"expected a path or a non-empty list of paths ({_got(value)})")
    for index, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            raise FaqSettingsError(f"{key}[{index}]", f"expected a path or glob ({_got(item)})")
    return tuple(cast(list[str], items))


def _optional_text(value: Any, key: str) -> str | None:
    if value is None:
        return None
    return _text(value, key)


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FaqSettingsError(key, f"expected a non-empty string ({_got(value)})")
    return value


def _tool_name(value: Any, key: str) -> str | None:
    # The tool name rule itself is the framework's: register() checks it.
    return _optional_text(value, key)


def _top_k(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOP_K:
        raise FaqSettingsError(key, f"expected an integer from 1 to {MAX_TOP_K} ({_got(value)})")
    return value


def _fraction(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise FaqSettingsError(key, f"expected a number from 0 to 1 ({_got(value)})")
    return float(value)


def _flag(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise FaqSettingsError(key, f"expected true or false ({_got(value)})")
    return value


def _synonyms(value: Any, key: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise FaqSettingsError(key, f"expected a mapping of a word to its synonyms ({_got(value)})")
    groups: dict[str, tuple[str, ...]] = {}
    for word, synonyms in value.items():
        if not isinstance(word, str) or not word.strip():
            raise FaqSettingsError(key, f"expected words as keys ({_got(word)})")
        groups[word] = _words(synonyms, f"{key}.{word}")
    return groups


def _words(value: Any, key: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise FaqSettingsError(key, f"expected a word or a list of words ({_got(value)})")
    for index, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            raise FaqSettingsError(f"{key}[{index}]", f"expected a word ({_got(item)})")
    return tuple(cast(list[str], items))


def _headings(value: Any, key: str) -> HeadingMode:
    if value not in ("questions", "all"):
        raise FaqSettingsError(key, f"expected 'questions' or 'all' ({_got(value)})")
    return cast(HeadingMode, value)


def _weights(value: Any, key: str) -> Weights:
    if not isinstance(value, Mapping):
        raise FaqSettingsError(key, f"expected a mapping of column to weight ({_got(value)})")
    columns = Weights.__dataclass_fields__
    weights: dict[str, float] = {}
    for column, weight in value.items():
        if column not in columns:
            raise FaqSettingsError(
                f"{key}.{column}", f"unknown column (known: {', '.join(columns)})"
            )
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
            raise FaqSettingsError(f"{key}.{column}", f"expected a number > 0 ({_got(weight)})")
        weights[column] = float(weight)
    return Weights(**weights)


def _got(value: Any) -> str:
    if value is None:
        return "got null"
    if isinstance(value, bool):
        return f"got {str(value).lower()}"
    if isinstance(value, Mapping):
        return "got a mapping"
    if isinstance(value, list):
        return "got a list" if value else "got an empty list"
    return f"got {value!r}"


def _stopwords(value: Any, key: str) -> tuple[str, ...]:
    return tuple(fold(word.strip()) for word in _words(value, key))


_READERS: dict[str, Callable[[Any, str], Any]] = {
    "sources": _sources,
    "tool_name": _tool_name,
    "description": _optional_text,
    "top_k": _top_k,
    "min_score": _fraction,
    "utterance_min_score": _fraction,
    "no_answer": _text,
    "respond_to_utterances": _flag,
    "fallback": _optional_text,
    "synonyms": _synonyms,
    "stopwords": _stopwords,
    "headings": _headings,
    "typo_tolerance": _flag,
    "weights": _weights,
}
