"""Synonym groups: words and phrases a query may use for the words of the entries.

The setting ``synonyms: {refund: [money back, reimburse]}`` makes one group of the key
and its values. When a query contains a member of a group (compared after
:func:`~cvibot_faq.text.light_stem`, so ``refunds`` finds ``refund``), the query asks for
any member of the group instead, as a phrase: ``("refund" OR "money back" OR
"reimburse")``. A member can be in several groups; their members are merged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from cvibot_faq.text import stems, words

__all__ = ["Phrase", "Synonyms"]

Phrase = tuple[str, ...]
"""A phrase as its folded words, e.g. ``("money", "back")``."""


class Synonyms:
    """Lookup of synonym groups in a query's words.

    ``groups`` maps a word or phrase to its synonyms (each a word or phrase). Members
    with no letters or digits are ignored.
    """

    def __init__(self, groups: Mapping[str, Sequence[str]] | None = None) -> None:
        self._members: dict[Phrase, set[Phrase]] = {}  # stemmed phrase -> members
        for key, values in (groups or {}).items():
            members = {tuple(words(text)) for text in (key, *values)}
            members.discard(())
            for member in members:
                self._members.setdefault(stems(member), set()).update(members)
        self._longest = max((len(stemmed) for stemmed in self._members), default=0)

    def __bool__(self) -> bool:
        return bool(self._members)

    def find(self, tokens: Sequence[str]) -> Iterable[tuple[int, int, frozenset[Phrase]]]:
        """The group members in ``tokens`` (folded words), longest first, left to right.

        Yields ``(start, end, members)``: ``tokens[start:end]`` is a member and
        ``members`` every phrase of its groups. Matches do not overlap.
        """
        if not self._members:
            return
        stemmed = stems(tokens)
        start = 0
        while start < len(tokens):
            for length in range(min(self._longest, len(tokens) - start), 0, -1):
                members = self._members.get(stemmed[start : start + length])
                if members is not None:
                    yield start, start + length, frozenset(members)
                    start += length
                    break
            else:
                start += 1
