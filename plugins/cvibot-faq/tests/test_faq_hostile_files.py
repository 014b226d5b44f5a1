"""Knowledge-base files that are hostile or not files at all: located errors, no hang."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cvibot_faq.errors import FaqSourceError
from cvibot_faq.sources import read_file
from cvibot_faq.yaml_file import parse_yaml

from cvibot.config import MAX_FILE_BYTES


def test_an_alias_bomb_is_an_error_at_the_alias() -> None:
    lines = ["- question: Q", "  answer: A", '  x: &a ["lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"  {name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    lines.append("  tags: *i")
    with pytest.raises(FaqSourceError) as caught:
        parse_yaml("\n".join(lines) + "\n", "bomb.yaml")
    assert caught.value.line == 8  # the second *e of f's list crosses 100,000 nodes
    assert caught.value.problem.startswith("invalid YAML: aliases expand to more than 100,000")


def test_deep_nesting_is_an_error_at_its_line_not_a_recursion_error() -> None:
    text = "- question: Q\n  answer: A\n  tags: " + "[" * 10_000 + "]" * 10_000 + "\n"
    with pytest.raises(FaqSourceError) as caught:
        parse_yaml(text, "deep.yaml")
    assert (caught.value.line, caught.value.problem) == (
        3,
        "invalid YAML: nested deeper than 100 levels",
    )


def test_a_fifo_source_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "faq.yaml"
    os.mkfifo(fifo)
    # In a child, so that a regression (an open that waits forever) fails by timeout.
    code = f"""
        from pathlib import Path
        from cvibot_faq.errors import FaqSourceError
        from cvibot_faq.sources import read_file
        try:
            read_file(Path({str(fifo)!r}))
        except FaqSourceError as exc:
            print(exc)
        """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout == f"{fifo}: is a named pipe (FIFO), not a knowledge-base file\n", (
        done.stderr
    )


def test_a_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "faq.md"
    with big.open("wb") as handle:  # sparse: refused on its size, before any reading
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(FaqSourceError, match=r"faq\.md: the file is too large: over 8,388,608"):
        read_file(big)
