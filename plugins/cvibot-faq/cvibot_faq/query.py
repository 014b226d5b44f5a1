"""From a question in natural language to a safe FTS5 ``MATCH`` expression.

The question is split into folded words (:func:`~cvibot_faq.text.words`); synonym phrases
are found first (so ``money back`` is one concept even though ``back`` alone means
little), then every other word that is not a stopword is a concept of its own, with its
typo correction as an alternative when a speller is given. Each concept becomes
``"word"`` or ``("word" OR "other phrase")`` and the concepts are joined with ``OR``, so
an entry that matches only some of them still ranks.

Injection-proof: the only text taken from the question is runs of letters and digits,
and each one is written inside a double-quoted FTS5 string, where ``AND``, ``NEAR``,
``*``, ``^``, ``:`` and parentheses have no meaning.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from cvibot_faq.spelling import Speller
from cvibot_faq.synonyms import Phrase, Synonyms
from cvibot_faq.text import words

__all__ = ["MAX_CONCEPTS", "Concept", "build_concepts", "match_expression"]

MAX_CONCEPTS = 24
"""Concepts kept from one question (the first ones), to bound the work per query."""


@dataclass(frozen=True, slots=True)
class Concept:
    """One thing the question asks about: any of ``phrases`` (each its folded words)."""

    phrases: tuple[Phrase, ...]

    @property
    def expression(self) -> str:
        """This concept as an FTS5 expression: ``"a"`` or ``("a" OR "b c")``."""
        quoted = [_quote(phrase) for phrase in self.phrases]
        return quoted[0] if len(quoted) == 1 else "(" + " OR ".join(quoted) + ")"


def build_concepts(
    question: str,
    *,
    stopwords: Collection[str],
    synonyms: Synonyms | None = None,
    speller: Speller | None = None,
) -> tuple[Concept, ...]:
    """The concepts of ``question``, in order, without repeats, at most :data:`MAX_CONCEPTS`.

    Empty when the question has nothing but stopwords and single letters.
    ``"How do I get my money back?"`` with the group ``{refund: [money back]}`` gives one
    concept, ``("money back" OR "refund")``.
    """
    tokens = words(question)
    found = {start: (end, members) for start, end, members in (synonyms or Synonyms()).find(tokens)}
    concepts: list[Concept] = []
    seen: set[tuple[Phrase, ...]] = set()
    position = 0
    while position < len(tokens) and len(concepts) < MAX_CONCEPTS:
        match = found.get(position)
        if match is not None:
            position, members = match
            phrases = tuple(sorted(members))
        else:
            token = tokens[position]
            position += 1
            if token in stopwords or (len(token) == 1 and not token.isdigit()):
                continue
            fix = speller.correct(token) if speller is not None else None
            phrases = ((token,),) if fix is None else ((token,), (fix,))
        if phrases not in seen:
            seen.add(phrases)
            concepts.append(Concept(phrases))
    return tuple(concepts)


def match_expression(concepts: Iterable[Concept]) -> str:
    """The concepts joined with ``OR``: a match on any of them makes a candidate."""
    return " OR ".join(concept.expression for concept in concepts)


def _quote(phrase: Phrase) -> str:
    # Words hold only letters and digits; doubling quotes keeps this safe regardless.
    return '"' + " ".join(phrase).replace('"', '""') + '"'
