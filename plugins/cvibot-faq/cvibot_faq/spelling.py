"""Typo correction against the knowledge base's own words (the ``typo_tolerance`` setting).

A query word the entries never use is compared with the words they do use
(:func:`difflib.get_close_matches`, similarity ≥ ``cutoff``); the closest one is asked
for as well. Only words of four letters or more are corrected, and only to words of a
similar length, so ``refnud`` finds ``refund`` while short words stay as they are.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable

__all__ = ["Speller"]

_MIN_LENGTH = 4
_CACHE_SIZE = 4096


class Speller:
    """Corrects words to the closest word of ``vocabulary`` (folded words).

    Thread-safe: the cache is a dict whose updates are atomic under the GIL; a race only
    computes a correction twice.
    """

    def __init__(self, vocabulary: Iterable[str], cutoff: float = 0.8) -> None:
        self.cutoff = cutoff
        self._known = frozenset(vocabulary)
        self._by_length: dict[int, list[str]] = {}
        for word in sorted(self._known):
            self._by_length.setdefault(len(word), []).append(word)
        self._cache: dict[str, str | None] = {}

    def correct(self, word: str) -> str | None:
        """The known word ``word`` is most likely a typo of, or ``None``.

        ``None`` for a known word, a short one, a number, or one with no close match.
        """
        if word in self._known or len(word) < _MIN_LENGTH or word.isdigit():
            return None
        if word in self._cache:
            return self._cache[word]
        # A similarity of at least `cutoff` needs lengths within these bounds (difflib's
        # ratio is 2*matches/(len(a)+len(b)) and matches <= the shorter length).
        shortest = math.ceil(len(word) * self.cutoff / (2 - self.cutoff))
        longest = math.floor(len(word) * (2 - self.cutoff) / self.cutoff)
        candidates = [
            known
            for length in range(shortest, longest + 1)
            for known in self._by_length.get(length, ())
        ]
        found = difflib.get_close_matches(word, candidates, n=1, cutoff=self.cutoff)
        fix = found[0] if found else None
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[word] = fix
        return fix
