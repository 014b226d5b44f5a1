"""One configured knowledge base: its settings, its index, and the replies built from it.

A :class:`KnowledgeBase` exists per plugin entry of a config (per ``settings`` mapping);
:data:`knowledge_bases` finds it again from the mapping each hook receives. The index is
built by :meth:`KnowledgeBase.start` (when the bot collects its tools, which knows the
config's folder) and dropped by :meth:`KnowledgeBase.stop`; a search after ``stop``
builds it again from the same folder.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import structlog
from pydantic import Field

from cvibot.tools import ToolSpec, build_tool_spec
from cvibot_faq.index import FaqIndex, Hit
from cvibot_faq.settings import FaqSettings
from cvibot_faq.sources import load_entries
from cvibot_faq.synonyms import Synonyms
from cvibot_faq.text import STOPWORDS

__all__ = ["MAX_QUESTION_LENGTH", "KnowledgeBase", "knowledge_bases"]

MAX_QUESTION_LENGTH = 2000
"""Longest ``question`` argument the tool accepts, in characters."""

log = structlog.get_logger("cvibot_faq")


class KnowledgeBase:
    """The entries of ``settings.sources``, searchable once built. Thread-safe."""

    def __init__(self, settings: FaqSettings) -> None:
        self.settings = settings
        self.base_dir: Path | None = None
        self._index: FaqIndex | None = None
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, base_dir: Path | None) -> FaqIndex:
        """(Re)build the index from the files, resolved from ``base_dir`` (default: the
        folder of the last start, else the current directory); return it.

        Blocking (reads and indexes every file). Raises
        :class:`~cvibot_faq.errors.FaqSourceError` for a bad file, keeping the old index.
        """
        if base_dir is not None:
            self.base_dir = base_dir
        folder = self.base_dir if self.base_dir is not None else Path.cwd()
        began = time.perf_counter()
        s = self.settings
        entries = load_entries(s.sources, folder, s.headings)
        index = FaqIndex(
            entries,
            weights=s.weights,
            synonyms=Synonyms(s.synonyms),
            stopwords=STOPWORDS | set(s.stopwords),
            typo_tolerance=s.typo_tolerance,
        )
        with self._lock:
            old, self._index = self._index, index
        if old is not None:
            old.close()
        log.info(
            "faq index built",
            entries=len(entries),
            files=len({e.file for e in entries}),
            base_dir=str(folder),
            ms=round((time.perf_counter() - began) * 1000, 1),
        )
        return index

    def stop(self) -> None:
        """Drop the index (the next search or :meth:`start` builds a new one)."""
        with self._lock:
            old, self._index = self._index, None
        if old is not None:
            old.close()

    def index(self) -> FaqIndex:
        """The index, built (from the folder of the last start) if there is none."""
        with self._lock:
            index = self._index
        return index if index is not None else self.start(None)

    # -- searching -------------------------------------------------------------------------

    def search(self, question: str, limit: int, min_score: float) -> list[Hit]:
        """The hits for ``question``, best first: at most ``limit``, each scoring at least
        ``min_score`` (see :meth:`FaqIndex.search`)."""
        return self.index().search(question, limit=limit, min_score=min_score)

    def search_faq(
        self, question: Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_LENGTH)]
    ) -> str:
        """Search the knowledge base of frequently asked questions and return the answer.

        Use it for questions about the business (products, orders, opening hours,
        policies) before answering from memory; if it has no answer, say so.

        Args:
            question: The user's question as a full sentence, in their words.
        """
        s = self.settings
        hits = self.search(question, s.top_k, s.min_score)
        if not hits:
            return s.no_answer
        if s.top_k == 1:
            return hits[0].entry.answer
        return "\n\n".join(
            f"{n}. Q: {hit.entry.question}\nA: {hit.entry.answer}"
            for n, hit in enumerate(hits, start=1)
        )

    def tool_spec(self) -> ToolSpec:
        """The ``search_faq`` tool, named and described as the settings say."""
        spec = build_tool_spec(self.search_faq, name=self.settings.tool_name)
        if self.settings.description is not None:
            spec = spec.with_options(description=self.settings.description)
        return spec

    def answer_utterance(self, speech: str) -> str | None:
        """What the replica says to the user's ``speech`` in echo mode: the best answer
        scoring at least ``utterance_min_score``, else the ``fallback`` text (``None``,
        the default, stays silent)."""
        if not speech.strip():
            return None
        hits = self.search(speech, 1, self.settings.utterance_min_score)
        if not hits:
            log.info("faq has no answer", speech=speech, fallback=self.settings.fallback)
            return self.settings.fallback
        best = hits[0]
        log.info(
            "faq answered", speech=speech, question=best.entry.question, score=round(best.score, 3)
        )
        return best.entry.answer


class _KnowledgeBases:
    """The knowledge base of each ``settings`` mapping seen, made on first use.

    Keyed by the mapping's identity: the host hands each hook of a plugin the same
    read-only mapping, so the tool, the start-up and the responder of one plugin entry
    meet here. The mapping is kept referenced, so its id cannot be reused.
    """

    def __init__(self) -> None:
        self._items: dict[int, tuple[Mapping[str, Any], KnowledgeBase | None]] = {}
        self._lock = threading.Lock()

    def get(self, settings: Mapping[str, Any]) -> KnowledgeBase | None:
        """The knowledge base for ``settings``; ``None`` when they are empty (plugin off).

        Raises :class:`~cvibot_faq.errors.FaqSettingsError` for bad settings.
        """
        if not settings:
            return None
        with self._lock:
            item = self._items.get(id(settings))
            if item is not None and item[0] is settings:
                return item[1]
            parsed = FaqSettings.parse(settings)
            knowledge = KnowledgeBase(parsed) if parsed is not None else None
            self._items[id(settings)] = (settings, knowledge)
            return knowledge


knowledge_bases = _KnowledgeBases()
"""The process-wide registry the plugin hooks use."""
