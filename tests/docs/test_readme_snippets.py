"""Every fenced ``python``, ``yaml``, ``toml`` and ``sh`` block of README.md runs.

How a block runs depends on its language: Python as a script (in an empty folder), YAML
as a bot config (:func:`cvibot.config.parse_config`), TOML parsed, shell with ``bash -e
-o pipefail`` in an empty folder with this environment's ``cvibot`` first on ``PATH``.
A comment on the line before the fence changes that:

- ``<!-- snippet: skip: REASON -->``: not run (it needs the network, installs into the
  environment, or runs until stopped); the reason is required.
- ``<!-- snippet: test of cvibot new plugin NAME -->``: pytest tests, run in the project
  that ``cvibot new plugin NAME`` generates, with that plugin installed (offline).

Blocks without a language (output, diagrams) are not run. A block in another language,
or a comment of another form, fails the test: the README says how to mark one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from install_helpers import install_into

from cvibot.config import parse_config

README = Path(__file__).resolve().parents[2] / "README.md"
BIN = Path(sys.executable).parent

_MARK = re.compile(r"^<!-- snippet: (.*?) -->$")
_SKIP = re.compile(r"skip: (\S.*)")
_PLUGIN_TEST = re.compile(r"test of cvibot new plugin ([a-z][a-z0-9-]*)")
_RUN = frozenset({"python", "yaml", "toml", "sh"})


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    mark: str | None

    @property
    def id(self) -> str:
        return f"line{self.line}-{self.language or 'text'}"


def blocks(text: str) -> list[Block]:
    """The fenced blocks of ``text``, with the snippet comment just before each."""
    found: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("```"):
            language = line[3:].strip()
            end = index + 1
            while end < len(lines) and lines[end] != "```":
                end += 1
            assert end < len(lines), f"README.md:{index + 1}: the block is never closed"
            before = _MARK.match(lines[index - 1]) if index else None
            code = "\n".join(lines[index + 1 : end]) + "\n"
            found.append(Block(index + 1, language, code, before.group(1) if before else None))
            index = end + 1
        else:
            index += 1
    return found


BLOCKS = blocks(README.read_text(encoding="utf-8"))
RUN = [b for b in BLOCKS if b.language in _RUN and not (b.mark and _SKIP.fullmatch(b.mark))]


def test_every_mark_is_known_and_every_block_is_run_or_marked() -> None:
    text = README.read_text(encoding="utf-8")
    marks = [m.group(1) for m in map(_MARK.match, text.splitlines()) if m]
    marked = [b.mark for b in BLOCKS if b.mark]
    assert sorted(marks) == sorted(marked), "a snippet comment that is not before a fence"
    for block in BLOCKS:
        if block.mark is not None:
            assert _SKIP.fullmatch(block.mark) or _PLUGIN_TEST.fullmatch(block.mark), block
        assert block.language in _RUN or not block.language, (
            f"README.md:{block.line}: a ```{block.language} block is never run; "
            "use one of python, yaml, toml, sh, or no language for output"
        )
    assert len(RUN) >= 6  # this test must not pass by running nothing


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.mark.parametrize("block", RUN, ids=[b.id for b in RUN])
def test_the_snippet_runs(block: Block, tmp_path: Path) -> None:
    where = f"README.md:{block.line}"
    plugin = _PLUGIN_TEST.fullmatch(block.mark or "")
    if plugin is not None:
        _run_plugin_tests(block, plugin.group(1), tmp_path)
    elif block.language == "python":
        script = tmp_path / "snippet.py"
        script.write_text(block.code, encoding="utf-8")
        done = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path, capture_output=True, text=True, timeout=120, env=_env(),
        )  # fmt: skip
        assert done.returncode == 0, f"{where}\n{done.stdout}{done.stderr}"
    elif block.language == "yaml":
        parse_config(block.code, path=tmp_path / "bot.yaml")
    elif block.language == "toml":
        tomllib.loads(block.code)
    else:
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", block.code],
            cwd=tmp_path, capture_output=True, text=True, timeout=300, env=_env(),
        )  # fmt: skip
        assert done.returncode == 0, f"{where}\n{done.stdout}{done.stderr}"


def _run_plugin_tests(block: Block, name: str, tmp_path: Path) -> None:
    made = subprocess.run(
        [str(BIN / "cvibot"), "new", "plugin", name],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    project = tmp_path / f"cvibot-{name}"
    target = install_into(tmp_path / "site", project)
    (project / "tests" / "test_readme.py").write_text(block.code, encoding="utf-8")
    env = {**_env(), "PYTHONPATH": str(target)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_readme.py"],
        cwd=project, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert done.returncode == 0, f"README.md:{block.line}\n{done.stdout}{done.stderr}"
    assert "1 passed" in done.stdout
