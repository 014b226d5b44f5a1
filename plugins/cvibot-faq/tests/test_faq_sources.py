"""Finding the files of ``sources`` (paths and globs) and loading them together."""

from __future__ import annotations

from pathlib import Path

import pytest
from cvibot_faq.errors import FaqSourceError
from cvibot_faq.sources import find_files, load_entries, read_file
from faq_helpers import DATA, SOURCES, write

ONE_MD = "## Do you ship abroad?\nYes.\n"
ONE_YAML = "- {question: Opening hours, answer: 9 to 6}\n"


def test_paths_and_globs_resolve_from_the_base_folder_in_the_order_given(
    tmp_path: Path,
) -> None:
    write(tmp_path / "faq.md", ONE_MD)
    write(tmp_path / "policies/b.yaml", "- {question: Parking, answer: Behind the shop}\n")
    write(tmp_path / "policies/a.yml", ONE_YAML)

    files = find_files(["faq.md", "policies/*.y*ml", "faq.md"], tmp_path)

    assert files == [tmp_path / "faq.md", tmp_path / "policies/a.yml", tmp_path / "policies/b.yaml"]
    entries = load_entries(["faq.md", "policies/*.y*ml"], tmp_path)
    assert [e.question for e in entries] == ["Do you ship abroad?", "Opening hours", "Parking"]


def test_absolute_paths_and_recursive_globs(tmp_path: Path) -> None:
    write(tmp_path / "kb/deep/x.md", ONE_MD)

    assert find_files([str(tmp_path / "kb/**/*.md")], Path("/nonexistent")) == [
        tmp_path / "kb/deep/x.md"
    ]


def test_the_shop_knowledge_base_loads() -> None:
    entries = load_entries(SOURCES, DATA)

    assert len(entries) == 22
    assert entries[0].question == "How do I track my order?"
    assert entries[0].tags == ("Orders",)
    assert entries[-1].alternatives == ("Is my data safe with you?",)


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        (["missing.md"], "{base}/missing.md: no such file"),
        (["sub"], "{base}/sub: is not a file"),
        (
            ["policies/*.yaml"],
            "{base}/policies/*.yaml: the source 'policies/*.yaml' matches no file",
        ),
        (
            ["notes.txt"],
            "{base}/notes.txt: unknown format '.txt': expected .md, .markdown, .yaml or .yml",
        ),
    ],
)
def test_bad_sources_are_errors_naming_the_path(
    tmp_path: Path, sources: list[str], message: str
) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path / "notes.txt", "hello")

    with pytest.raises(FaqSourceError) as raised:
        find_files(sources, tmp_path)

    assert str(raised.value) == message.format(base=tmp_path)


def test_an_empty_file_is_an_error(tmp_path: Path) -> None:
    empty = write(tmp_path / "faq.md", "\n  \n")

    with pytest.raises(FaqSourceError, match=r"faq\.md: the file is empty$"):
        read_file(empty)


def test_a_file_that_is_not_utf8_is_an_error_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "faq.md"
    path.write_bytes(b"## Caf\xc3\xa9?\nYes.\n## Na\xefve?\n")

    with pytest.raises(FaqSourceError, match=r"faq\.md:3: not UTF-8 text \(byte 0x..\)$"):
        read_file(path)


def test_a_duplicate_question_across_files_names_both_places(tmp_path: Path) -> None:
    write(tmp_path / "faq.md", "## Intro?\nHi.\n\n## Do you ship abroad?\nYes.\n")
    write(
        tmp_path / "more.yaml",
        """
        - question: Parking?
          answer: Behind the shop.
        - question: Returns?
          answer: 60 days.
          alternatives:
            - do you   SHIP abroad
        """,
    )

    with pytest.raises(FaqSourceError) as raised:
        load_entries(["faq.md", "more.yaml"], tmp_path)

    assert str(raised.value) == (
        f"{tmp_path / 'more.yaml'}:3: duplicate question 'do you   SHIP abroad' "
        f"(first at {tmp_path / 'faq.md'}:4)"
    )


def test_an_entry_may_repeat_its_own_question_among_its_alternatives(tmp_path: Path) -> None:
    write(
        tmp_path / "kb.yaml",
        """
        - question: Parking?
          answer: Behind the shop.
          alternatives: [parking]
        """,
    )

    assert len(load_entries(["kb.yaml"], tmp_path)) == 1
