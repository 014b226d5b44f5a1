"""YAML sources: a list of {question, answer, alternatives?, tags?}, errors at their line."""

from __future__ import annotations

import textwrap

import pytest
from cvibot_faq.errors import FaqSourceError
from cvibot_faq.yaml_file import parse_yaml


def yml(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_entries_with_alternatives_and_tags() -> None:
    entries = parse_yaml(
        yml(
            """
            - question: Do you ship abroad?
              answer: Yes, to 40 countries.
              alternatives:
                - International shipping?
                - Can you send my order to Canada?
              tags: shipping
            - question: Opening hours?
              answer: >-
                9 to 6,
                Monday to Saturday.
              alternatives: What time do you open?
            - {question: "2024 prices?", answer: 42}
            """
        ),
        "p.yaml",
    )

    assert [(e.question, e.answer, e.alternatives, e.tags, e.line) for e in entries] == [
        (
            "Do you ship abroad?",
            "Yes, to 40 countries.",
            ("International shipping?", "Can you send my order to Canada?"),
            ("shipping",),
            1,
        ),
        ("Opening hours?", "9 to 6, Monday to Saturday.", ("What time do you open?",), (), 7),
        ("2024 prices?", "42", (), (), 12),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            """
            - question: Do you ship abroad?
              answer: Yes.
            - question: Do you sell gift cards?
              tags: [cards]
            """,
            "p.yaml:3: the entry has no 'answer'",
        ),
        (
            """
            - question: Do you ship abroad?
              answer: "  "
            """,
            "p.yaml:2: 'answer' is empty",
        ),
        (
            """
            - question: Do you ship abroad?
              answer: Yes.
              anwser: typo
            """,
            "p.yaml:3: unknown key 'anwser' (allowed: question, answer, alternatives, tags)",
        ),
        (
            """
            - question: Do you ship abroad?
              answer: Yes.
              answer: No.
            """,
            "p.yaml:3: 'answer' is given twice",
        ),
        (
            """
            - question: [a, list]
              answer: Yes.
            """,
            "p.yaml:1: 'question' must be text (got a list)",
        ),
        (
            """
            - question: Do you ship abroad?
              answer: Yes.
              alternatives: [1, 2]
            """,
            "p.yaml:3: 'alternatives': item 1 must be a string (got int)",
        ),
        (
            """
            - question: Do you ship abroad?
              answer: Yes.
              tags: {a: b}
            """,
            "p.yaml:3: 'tags' must be a string or a list of strings (got a mapping)",
        ),
        ("- just a string\n", "p.yaml:1: expected a mapping with 'question' and 'answer' keys"),
        (
            "question: Do you ship abroad?\nanswer: Yes.\n",
            "p.yaml:1: expected a list of {question, answer} mappings at the top level",
        ),
        ("[]\n", "p.yaml:1: the list is empty: expected questions"),
        ("# only a comment\n", "p.yaml: the file is empty: expected a list of questions"),
        (
            """
            - question: Do you ship abroad?
              answer: [unclosed
            """,
            "p.yaml:3: invalid YAML:",
        ),
        (
            "- {question: Do you ship?, answer: Yes.}\n",
            "p.yaml:1: invalid YAML: while parsing a flow mapping, expected ',' or '}', "
            "but got '?' (PyYAML ends unquoted text at '?' inside [...] or {...}: "
            "quote the question, or write the list one '- item' per line)",
        ),
    ],
)
def test_errors_name_the_file_and_line(text: str, message: str) -> None:
    with pytest.raises(FaqSourceError) as raised:
        parse_yaml(yml(text), "p.yaml")

    assert str(raised.value).startswith(message), str(raised.value)
