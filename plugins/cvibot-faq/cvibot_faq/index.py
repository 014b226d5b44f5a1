"""The search index: the entries in an in-memory SQLite FTS5 table, ranked with bm25.

Table ``faq(question, alternatives, answer, tags)`` with the tokenizer ``porter
unicode61 remove_diacritics 2`` (English stemming, case and accents ignored). A search:

1. builds the concepts of the question (:mod:`.query`) and asks for any of them;
2. takes the best candidates by ``bm25(faq, <weights>)``, question above alternatives
   above tags above answer by default;
3. scores each: the share of the question's concepts the entry matches, each concept
   weighted by its inverse document frequency (rare words count more), a match in the
   answer or tags only counting half as much as one in the question or its
   alternatives. The score is in [0, 1]; 1 means every concept is in the question;
4. drops the hits under ``min_score``, so an unrelated question finds nothing, and
   orders the rest by score, bm25 (relative to the best candidate's) adding up to 0.1
   to break near-ties.

The connection is shared by threads (``check_same_thread=False``) behind a lock, so a
tool running in the bot's thread pool and the echo-mode responder can search at once.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from cvibot_faq.entries import FaqEntry
from cvibot_faq.query import Concept, build_concepts, match_expression
from cvibot_faq.spelling import Speller
from cvibot_faq.synonyms import Synonyms
from cvibot_faq.text import STOPWORDS, words

__all__ = ["FaqIndex", "Hit", "Weights"]

TOKENIZER = "porter unicode61 remove_diacritics 2"
_WEAK_MATCH = 0.5  # what a match in the answer or tags only is worth, against 1
_POOL = 10  # candidates scored per search, at least
_BM25_SHARE = 0.1  # how much bm25 adds to the score when ordering the hits
_CANDIDATE_BUDGET = 2500  # entries the ranking query may match (see FaqIndex._rank)


@dataclass(frozen=True, slots=True)
class Weights:
    """bm25 column weights (each > 0): how much a match in each column counts."""

    question: float = 10.0
    alternatives: float = 6.0
    answer: float = 1.0
    tags: float = 2.0


@dataclass(frozen=True, slots=True)
class Hit:
    """One entry found: its ``score`` in [0, 1] (see the module doc) and bm25 ``rank``
    (negative, lower is better, only comparable within one search)."""

    entry: FaqEntry
    score: float
    rank: float


class FaqIndex:
    """The entries, indexed; build it once, search it from any thread, :meth:`close` it.

    - ``weights``: bm25 column weights.
    - ``synonyms``: groups a query word or phrase may stand for (:class:`Synonyms`).
    - ``stopwords``: words dropped from queries (default :data:`~cvibot_faq.text.STOPWORDS`).
    - ``typo_tolerance``: also ask for the closest word of the entries when a query word
      is not one of them (:class:`~cvibot_faq.spelling.Speller`).

    Raises :class:`RuntimeError` when this Python's SQLite lacks FTS5.
    """

    def __init__(
        self,
        entries: Sequence[FaqEntry],
        *,
        weights: Weights = Weights(),  # frozen, so one shared default is safe
        synonyms: Synonyms | None = None,
        stopwords: Collection[str] = STOPWORDS,
        typo_tolerance: bool = False,
    ) -> None:
        self.entries: tuple[FaqEntry, ...] = tuple(entries)
        self._synonyms = synonyms
        self._stopwords = frozenset(stopwords)
        self._speller = Speller(self._vocabulary()) if typo_tolerance else None
        self._lock = threading.Lock()
        self._df: dict[str, int] = {}
        self._rank_sql = (
            "SELECT rowid, bm25(faq, "
            f"{weights.question!r}, {weights.alternatives!r}, {weights.answer!r}, {weights.tags!r})"
            " AS rank FROM faq WHERE faq MATCH ? ORDER BY rank LIMIT ?"
        )
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        try:
            self._db.execute(
                "CREATE VIRTUAL TABLE faq USING fts5("
                f"question, alternatives, answer, tags, tokenize = '{TOKENIZER}')"
            )
        except sqlite3.OperationalError as exc:
            self._db.close()
            raise RuntimeError(
                f"SQLite {sqlite3.sqlite_version} of this Python has no FTS5: {exc}"
            ) from exc
        with self._db:
            self._db.executemany(
                "INSERT INTO faq(rowid, question, alternatives, answer, tags) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    (
                        rowid,
                        e.question,
                        "\n".join(e.alternatives),
                        e.answer,
                        "\n".join(e.tags),
                    )
                    for rowid, e in enumerate(self.entries)
                ),
            )
            self._db.execute("INSERT INTO faq(faq) VALUES ('optimize')")

    def __len__(self) -> int:
        return len(self.entries)

    def search(self, question: str, *, limit: int = 1, min_score: float = 0.0) -> list[Hit]:
        """The best entries for ``question``, best first, at most ``limit`` (≥ 1).

        Only hits scoring at least ``min_score`` (0 to 1) are returned; ``[]`` when none
        does or the question has no words that are not stopwords. Raises
        :class:`sqlite3.ProgrammingError` after :meth:`close`.
        """
        concepts = build_concepts(
            question, stopwords=self._stopwords, synonyms=self._synonyms, speller=self._speller
        )
        if not concepts:
            return []
        with self._lock:
            frequencies = [self._document_frequency(c.expression) for c in concepts]
            ranked = self._rank(concepts, frequencies, max(limit, _POOL))
            if not ranked:
                return []
            scores = self._scores(concepts, frequencies, [rowid for rowid, _ in ranked])
        best = ranked[0][1]
        hits = sorted(
            (
                Hit(entry=self.entries[rowid], score=scores[rowid], rank=rank)
                for rowid, rank in ranked
                if scores[rowid] >= min_score
            ),
            # The score decides; bm25, relative to the best candidate's, breaks near-ties.
            key=lambda hit: -(hit.score + _BM25_SHARE * (hit.rank / best if best < 0 else 0.0)),
        )
        return hits[:limit]

    def close(self) -> None:
        """Release the database; searching afterwards raises. Idempotent."""
        with self._lock:
            self._db.close()

    # -- scoring -----------------------------------------------------------------------------

    def _rank(
        self, concepts: Sequence[Concept], frequencies: Sequence[int], pool: int
    ) -> list[tuple[int, float]]:
        """The ``pool`` best (rowid, bm25) candidates for any of the concepts.

        bm25 costs about 3 µs per matching entry, so the query asks for the rarest
        concepts only, as long as together they match at most :data:`_CANDIDATE_BUDGET`
        entries (always at least the rarest one). The common concepts left out still
        count in the scores. In a knowledge base of fewer entries than the budget, every
        concept is asked for.
        """
        asked: list[Concept] = []
        matches = 0
        present = [(df, c) for c, df in zip(concepts, frequencies, strict=True) if df > 0]
        for df, concept in sorted(present, key=lambda pair: pair[0]):
            if asked and matches + df > _CANDIDATE_BUDGET:
                break
            asked.append(concept)
            matches += df
        if not asked:
            return []
        rows = self._db.execute(self._rank_sql, (match_expression(asked), pool)).fetchall()
        return [(int(rowid), float(rank)) for rowid, rank in rows]

    def _scores(
        self, concepts: Sequence[Concept], frequencies: Sequence[int], rowids: Sequence[int]
    ) -> dict[int, float]:
        """Each candidate's IDF-weighted share of the concepts it matches (see module doc)."""
        total = len(self.entries)
        # bm25 with the answer and tags weighted 0 is < 0 only for a match in the
        # question or alternatives: one query per concept tells both kinds of match.
        in_candidates = (
            "SELECT rowid, bm25(faq, 1, 1, 0, 0) FROM faq WHERE faq MATCH ? "
            f"AND rowid IN ({','.join('?' * len(rowids))})"
        )
        gained = dict.fromkeys(rowids, 0.0)
        possible = 0.0
        for concept, df in zip(concepts, frequencies, strict=True):
            idf = math.log(1 + (total - df + 0.5) / (df + 0.5))
            possible += idf
            if df == 0:
                continue
            for rowid, strong in self._db.execute(in_candidates, (concept.expression, *rowids)):
                gained[rowid] += idf if strong < 0 else idf * _WEAK_MATCH
        return {rowid: value / possible for rowid, value in gained.items()}

    def _document_frequency(self, expression: str) -> int:
        """How many entries match ``expression``; cached, since the index never changes."""
        df = self._df.get(expression)
        if df is None:
            (df,) = self._db.execute(
                "SELECT count(*) FROM faq WHERE faq MATCH ?", (expression,)
            ).fetchone()
            if len(self._df) >= 65_536:
                self._df.clear()
            self._df[expression] = df
        return df

    def _vocabulary(self) -> set[str]:
        """The folded words of the entries, stopwords left out, for typo correction."""
        vocabulary: set[str] = set()
        for e in self.entries:
            for text in (e.question, *e.alternatives, e.answer, *e.tags):
                vocabulary.update(w for w in words(text) if w not in self._stopwords)
        return vocabulary
