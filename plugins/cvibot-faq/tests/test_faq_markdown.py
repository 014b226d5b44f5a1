"""Markdown sources: headings are questions, the text below them the spoken answer."""

from __future__ import annotations

import textwrap

import pytest
from cvibot_faq.errors import FaqSourceError
from cvibot_faq.markdown_file import parse_markdown


def md(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_question_headings_are_entries_and_sections_are_tags() -> None:
    entries = parse_markdown(
        md(
            """
            # Shop FAQ

            Intro that belongs to no question.

            ## Shipping

            ### Do you ship abroad?

            Yes, to **40 countries**. See [our page](https://example.com/ship).
            Customs are extra.

            ### How long does delivery take?
            Two days.

            ## Can I pay by card?
            Yes.
            """
        ),
        "faq.md",
    )

    assert [(e.question, e.tags, e.line) for e in entries] == [
        ("Do you ship abroad?", ("Shipping",), 7),
        ("How long does delivery take?", ("Shipping",), 12),
        ("Can I pay by card?", (), 15),
    ]
    assert entries[0].answer == "Yes, to 40 countries. See our page. Customs are extra."
    assert entries[0].file == "faq.md"
    assert entries[0].location == "faq.md:7"


def test_answer_keeps_lists_paragraphs_and_code_as_plain_text() -> None:
    [entry] = parse_markdown(
        md(
            """
            ## How do I return an item?

            Two ways:

            1. print the *label*;
            2. drop the parcel at a `post office`:
               - in the UK,
               - or abroad.

            ```
            ## not a heading
            ```
            """
        ),
        "faq.md",
    )

    assert entry.answer == (
        "Two ways:\n\n"
        "1. print the label;\n"
        "2. drop the parcel at a post office:\n"
        "  - in the UK,\n"
        "  - or abroad.\n\n"
        "## not a heading"
    )


def test_setext_headings_count_and_deeper_headings_belong_to_the_answer() -> None:
    entries = parse_markdown(
        md(
            """
            Do you repair tents?
            --------------------

            Yes.

            #### Poles

            Also poles.
            """
        ),
        "faq.md",
    )

    assert [(e.question, e.answer) for e in entries] == [
        ("Do you repair tents?", "Yes.\n\nPoles\n\nAlso poles.")
    ]


def test_headings_all_makes_every_heading_an_entry_except_section_titles() -> None:
    text = md(
        """
        ## Opening hours

        ### Weekdays
        9 to 6.

        ### Sunday
        Closed.

        ## Parking
        Behind the shop.
        """
    )

    entries = parse_markdown(text, "faq.md", headings="all")

    assert [(e.question, e.answer, e.tags) for e in entries] == [
        ("Weekdays", "9 to 6.", ("Opening hours",)),
        ("Sunday", "Closed.", ("Opening hours",)),
        ("Parking", "Behind the shop.", ()),
    ]
    with pytest.raises(FaqSourceError, match="no entries"):
        parse_markdown(text, "faq.md")  # no heading ends in "?"


def test_a_question_without_an_answer_is_an_error_at_its_line() -> None:
    text = md(
        """
        ## Do you ship abroad?
        Yes.

        ## Do you sell gift cards?

        ## Can I pay by card?
        Yes.
        """
    )

    with pytest.raises(FaqSourceError) as raised:
        parse_markdown(text, "shop/faq.md")

    assert str(raised.value) == (
        "shop/faq.md:4: question 'Do you sell gift cards?' has no answer (no text below it)"
    )
    assert (raised.value.file, raised.value.line) == ("shop/faq.md", 4)


def test_a_file_without_questions_is_an_error() -> None:
    with pytest.raises(FaqSourceError) as raised:
        parse_markdown("# Title\n\nJust text.\n", "faq.md")

    assert str(raised.value) == (
        "faq.md: no entries: no '##' or '###' heading ending in '?' with text below it"
    )
