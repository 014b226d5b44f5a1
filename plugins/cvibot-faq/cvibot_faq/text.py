"""Text normalisation shared by the index and the query builder.

The SQLite side tokenizes with ``porter unicode61 remove_diacritics 2``; the Python side
needs a close enough view of the same words to drop stopwords, match synonyms and
correct typos before the query reaches SQLite. :func:`words` splits like unicode61 (runs
of letters and digits), after :func:`fold` (case and diacritics removed).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

__all__ = ["STOPWORDS", "fold", "light_stem", "stems", "words"]

_WORD = re.compile(r"[^\W_]+")

#: English function words and conversational filler (``still``, ``actually``, ``stuff``),
#: dropped from queries (not from the index).
#: Contraction tails (``s``, ``t``, ``ll``...) are here because ``don't`` splits in two.
_STOPWORD_TEXT = """
    a about above after again against all am an and any are aren as at be because been
    before being below between both but by can cannot could couldn d did didn do does
    doesn doing don down during each few for from further get gets getting got had hadn
    has hasn have haven having he her here hers herself him himself his how i if in into
    is isn it its itself just ll let lets m me might more most must mustn my myself need
    needs no nor not now o of off on once only or other ought our ours ourselves out over
    own please re s same shall shan she should shouldn so some such t than that the their
    theirs them themselves then there these they this those through to too under until up
    us ve very want wants was wasn we were weren what whats when where which while who
    whom why will with won would wouldn y you your yours yourself yourselves hi hello hey
    thanks thank tell know like also okay ok really much many way one
    still now right instead anymore already yet ever even maybe actually sure able
    possible wondering wonder question ask asking stuff thing things something anything
    everything lot bit kind sort guys
"""
STOPWORDS: frozenset[str] = frozenset(_STOPWORD_TEXT.split())


def fold(text: str) -> str:
    """``text`` case-folded with diacritics removed (``"Café"`` → ``"cafe"``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    """The folded words of ``text``, in order: runs of letters and digits.

    ``"Don't ship to Zürich!"`` → ``["don", "t", "ship", "to", "zurich"]``.
    """
    return _WORD.findall(fold(text))


def light_stem(word: str) -> str:
    """A crude English stem, for matching synonym entries (not for ranking).

    Strips plural and common verb endings so that ``refunds``, ``refunded`` and
    ``refunding`` meet ``refund``, and ``shipped`` meets ``ship``; both sides of a
    comparison go through it. SQLite's porter stemmer does the real work in the index.
    """
    if len(word) >= 5 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif word.endswith("es") and word[:-2].endswith(_ES_PLURAL) and len(word) >= 5:
        word = word[:-2]
    elif word.endswith("s") and not word.endswith("ss") and len(word) >= 4:
        word = word[:-1]
    if word.endswith("ing") and len(word) >= 6:
        word = word[:-3]
    elif word.endswith("ed") and len(word) >= 5:
        word = word[:-2]
    if word.endswith("e") and len(word) >= 4:
        word = word[:-1]
    if len(word) >= 4 and word[-1] == word[-2] and word[-1] not in "aeiouys":
        word = word[:-1]
    return word


_ES_PLURAL = ("s", "x", "z", "ch", "sh")


def stems(phrase: Sequence[str]) -> tuple[str, ...]:
    """:func:`light_stem` of each word of an already split phrase."""
    return tuple(light_stem(w) for w in phrase)
