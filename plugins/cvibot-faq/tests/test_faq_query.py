"""Turning a question into a safe FTS5 query: stopwords, synonyms, typos, quoting."""

from __future__ import annotations

import pytest
from cvibot_faq.entries import FaqEntry
from cvibot_faq.index import FaqIndex
from cvibot_faq.query import MAX_CONCEPTS, build_concepts, match_expression
from cvibot_faq.spelling import Speller
from cvibot_faq.synonyms import Synonyms
from cvibot_faq.text import STOPWORDS, light_stem


def expression(question: str, **kwargs: object) -> str:
    return match_expression(build_concepts(question, stopwords=STOPWORDS, **kwargs))  # type: ignore[arg-type]


def test_stopwords_and_single_letters_are_dropped_and_words_quoted() -> None:
    assert expression("How do I get a refund for my Café order? I'd like 2") == (
        '"refund" OR "cafe" OR "order" OR "2"'
    )
    assert expression("What is it?") == ""


def test_synonym_phrases_become_one_concept_in_any_form() -> None:
    synonyms = Synonyms({"refund": ["money back", "reimburse"], "ship": ["send"]})

    assert expression("Can I have my money back?", synonyms=synonyms) == (
        '("money back" OR "refund" OR "reimburse")'
    )
    # Plurals and tenses meet the synonym entry; repeats are asked for once.
    assert expression("refunds refunded, sending", synonyms=synonyms) == (
        '("money back" OR "refund" OR "reimburse") OR ("send" OR "ship")'
    )


def test_typo_corrections_are_asked_for_beside_the_word() -> None:
    speller = Speller(["refund", "delivery", "shipping"])

    assert expression("refnud delivry shiping box", speller=speller) == (
        '("refnud" OR "refund") OR ("delivry" OR "delivery") OR ("shiping" OR "shipping") OR "box"'
    )


def test_long_questions_keep_the_first_concepts() -> None:
    concepts = build_concepts(" ".join(f"word{n}" for n in range(100)), stopwords=STOPWORDS)

    assert len(concepts) == MAX_CONCEPTS


@pytest.mark.parametrize(
    "hostile",
    [
        '"',
        'ship" OR answer:*',
        "ship AND NOT returns",
        "NEAR(ship returns, 2)",
        "{question}: ship",
        "^ship*",
        "ship) OR (",
        "'; DROP TABLE faq; --",
        "\x00\u200b\U0001f600",
    ],
)
def test_fts5_syntax_in_a_question_is_only_words(hostile: str) -> None:
    index = FaqIndex([FaqEntry("Do you ship abroad?", "Yes."), FaqEntry("Returns?", "60 days.")])

    hits = index.search(hostile, limit=2)  # never an FTS5 syntax error

    assert {hit.entry.question for hit in hits} <= {"Do you ship abroad?", "Returns?"}
    assert len(index.search("ship abroad")) == 1  # the table is still there


@pytest.mark.parametrize(
    ("words", "stem"),
    [
        (["refund", "refunds", "refunded", "refunding"], "refund"),
        (["ship", "ships", "shipped", "shipping"], "ship"),
        (["charge", "charges", "charged"], "charg"),
        (["box", "boxes"], "box"),
        (["delivery", "deliveries"], "delivery"),
    ],
)
def test_light_stem_meets_the_forms_of_a_word(words: list[str], stem: str) -> None:
    assert {light_stem(word) for word in words} == {stem}
