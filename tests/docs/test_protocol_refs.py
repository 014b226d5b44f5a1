"""Every section reference in the code and docs resolves inside the repository.

Docstrings cite ``docs/protocol.md`` as "protocol reference §4.4", "§6 rule 9" or "D6",
and the Daily transport cites ``docs/daily-python.md`` as "daily-python.md §0.7" (or a
bare "§0.7" inside its packages). This test reads both documents and fails on any
reference that names a section, rule or disagreement they lack.

What counts as a target (parsed line by line, nothing cleverer):

- a heading ``## §4 Title`` or ``### §4.2 Title`` defines section ``4`` or ``4.2``;
- a numbered list item ``9. …`` defines rule 9 of the section whose heading came last;
- a list item ``- **D6 …`` defines disagreement D6 (protocol.md only).

What counts as a reference, in ``framework/``, ``plugins/*/cvibot_*/``, the tests,
``README.md`` and ``docs/``:

- ``§4``, ``§4.2``, ranges ``§2-§6`` / ``§8.1–8.3`` (both ends checked) and rules
  ``§6 rule 9`` / ``§6 rules 6-7`` (every rule in the range checked);
- ``D6`` and ``D1-D4`` (every number checked), not preceded by a word character or ``+``
  (so ``U+D800`` is no reference);
- a ``§`` right after ``RFC <number>`` cites that RFC and is skipped.

Which document a ``§`` reference means: the nearer of "protocol" and "daily-python" in
the 60 characters before it on its line; failing both, the Daily notes for files with
"daily" in their path (``transports/daily``, ``testing/fake_daily``, ``tests/daily``,
``docs/daily-python.md``) and the protocol reference everywhere else. ``D`` references
always mean the protocol reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = ROOT / "docs" / "protocol.md"
DAILY = ROOT / "docs" / "daily-python.md"

_HEADING = re.compile(r"^#{2,4} §(\d+(?:\.\d+)?)\s")
_RULE = re.compile(r"^(\d+)\. ")
_DISAGREEMENT = re.compile(r"^- \*\*D(\d+) ")

_NUM = r"\d+(?:\.\d+)?"
_SECTION_REF = re.compile(
    rf"§({_NUM})(?:\s*[-–]\s*§?({_NUM}))?(?:\s+rules?\s+(\d+)(?:\s*[-–]\s*(\d+))?)?"
)
_D_REF = re.compile(r"(?<![\w+])D(\d+)(?:\s*[-–]\s*D(\d+))?(?!\w)")
_RFC_BEFORE = re.compile(r"RFC \d+\s*$")
_LOOKBACK = 60


@dataclass
class Targets:
    """What one document defines: sections, ``(section, rule)`` pairs, disagreements."""

    sections: dict[str, str] = field(default_factory=dict)  # number -> heading title
    rules: set[tuple[str, int]] = field(default_factory=set)
    disagreements: set[int] = field(default_factory=set)


def parse_targets(text: str) -> Targets:
    targets = Targets()
    section = ""
    for line in text.splitlines():
        if heading := _HEADING.match(line):
            section = heading.group(1)
            targets.sections[section] = line.split(maxsplit=2)[-1]
        elif rule := _RULE.match(line):
            targets.rules.add((section.split(".")[0], int(rule.group(1))))
        elif disagreement := _DISAGREEMENT.match(line):
            targets.disagreements.add(int(disagreement.group(1)))
    return targets


def _which_doc(before: str, daily_default: bool) -> str:
    window = before[-_LOOKBACK:]
    protocol_at, daily_at = window.rfind("protocol"), window.rfind("daily-python")
    if protocol_at == daily_at == -1:
        return "daily" if daily_default else "protocol"
    return "daily" if daily_at > protocol_at else "protocol"


def find_broken(text: str, daily_default: bool, docs: dict[str, Targets]) -> list[str]:
    """The references in ``text`` that ``docs`` ("protocol", "daily") do not define."""
    broken: list[str] = []
    for line in text.splitlines():
        for ref in _SECTION_REF.finditer(line):
            before = line[: ref.start()]
            if _RFC_BEFORE.search(before):
                continue
            doc = _which_doc(before, daily_default)
            targets = docs[doc]
            first, last, rule_from, rule_to = ref.groups()
            for number in (first, last):
                if number is not None and number not in targets.sections:
                    broken.append(f"{ref.group(0)!r}: no §{number} in {doc}")
            if rule_from is not None:
                top = first.split(".")[0]
                for rule in range(int(rule_from), int(rule_to or rule_from) + 1):
                    if (top, rule) not in targets.rules:
                        broken.append(f"{ref.group(0)!r}: no rule {rule} in §{top} of {doc}")
        for ref in _D_REF.finditer(line):
            low, high = int(ref.group(1)), int(ref.group(2) or ref.group(1))
            for number in range(low, high + 1):
                if number not in docs["protocol"].disagreements:
                    broken.append(f"{ref.group(0)!r}: no D{number} in protocol")
    return broken


def _citing_files() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    files += sorted((ROOT / "framework").rglob("*.py"))
    files += sorted(ROOT.glob("plugins/*/cvibot_*/**/*.py"))
    files += sorted((ROOT / "tests").rglob("*.py"))
    files += sorted(ROOT.glob("plugins/*/tests/**/*.py"))
    return [path for path in files if path.resolve() != Path(__file__).resolve()]


@pytest.fixture(scope="module")
def docs() -> dict[str, Targets]:
    return {
        "protocol": parse_targets(PROTOCOL.read_text(encoding="utf-8")),
        "daily": parse_targets(DAILY.read_text(encoding="utf-8")),
    }


def test_every_reference_resolves(docs: dict[str, Targets]) -> None:
    broken: list[str] = []
    count = 0
    for path in _citing_files():
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(ROOT)
        count += len(_SECTION_REF.findall(text)) + len(_D_REF.findall(text))
        daily_default = any("daily" in part for part in rel.parts)
        broken += [f"{rel}: {problem}" for problem in find_broken(text, daily_default, docs)]
    assert not broken, "\n".join(broken)
    assert count > 250  # the scan really reads the citing files


def test_documents_define_what_the_code_cites(docs: dict[str, Targets]) -> None:
    protocol, daily = docs["protocol"], docs["daily"]
    assert {str(n) for n in range(12)} <= protocol.sections.keys()
    assert {(("6", n)) for n in range(1, 10)} <= protocol.rules
    assert set(range(1, 20)) <= protocol.disagreements
    assert {f"0.{n}" for n in range(1, 11)} | {str(n) for n in range(10)} <= daily.sections.keys()


# Each often-cited section still means what its citers think: a word of its title.
_MEANING = {
    "1": "Daily app-messages",
    "2": "envelope",
    "3": "Interactions",
    "3.2": "conversation.echo",
    "3.5": "append_llm_context",
    "3.7": "conversation.tool_result",
    "4": "Events",
    "4.2": "conversation.utterance",
    "4.4": "conversation.tool_call",
    "4.5": "conversation.perception_tool_call",
    "4.7": "Speaking",
    "4.8": "System",
    "5": "disagree",
    "6": "robust client",
    "7.1": "Inline tools",
    "7.2": "tools registry",
    "7.3": "Perception tools",
    "7.4": "Pipeline modes",
    "8": "REST",
    "8.2": "request",
    "8.3": "response",
    "9": "Webhooks",
    "11": "Open questions",
}


@pytest.mark.parametrize(("number", "word"), sorted(_MEANING.items()))
def test_section_titles_keep_their_meaning(
    docs: dict[str, Targets], number: str, word: str
) -> None:
    assert word in docs["protocol"].sections[number]


def test_a_missing_target_is_reported() -> None:
    docs = {
        "protocol": parse_targets("## §4 Events\n### §4.4 x\n## §6 Rules\n1. a\n2. b\n- **D1 x\n"),
        "daily": parse_targets("## §0 Facts\n### §0.7 x\n"),
    }
    good = "protocol reference §4.4, §6 rules 1-2, D1; daily-python.md §0.7; RFC 6902 §4.6; U+D800"
    assert find_broken(good, False, docs) == []
    assert find_broken("§0.7 in a daily file", True, docs) == []
    bad = "protocol reference §4.5, §6 rule 3, §2-§4, D1-D2; daily-python.md §0.8"
    assert find_broken(bad, False, docs) == [
        "'§4.5': no §4.5 in protocol",
        "'§6 rule 3': no rule 3 in §6 of protocol",
        "'§2-§4': no §2 in protocol",
        "'§0.8': no §0.8 in daily",
        "'D1-D2': no D2 in protocol",
    ]


def test_readme_says_where_the_references_live() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/protocol.md" in readme
    assert "docs/daily-python.md" in readme
