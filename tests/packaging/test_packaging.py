"""What the cvibot distribution declares and ships: its licence, its URLs, its
dependencies (a bot needs no test-only library)."""

from __future__ import annotations

import email
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def metadata(tmp_path_factory: pytest.TempPathFactory) -> tuple[email.message.Message, list[str]]:
    """The METADATA of a wheel built from the working tree (offline), and its file names."""
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "--quiet", "--disable-pip-version-check", "-w", str(out), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [wheel] = out.glob("cvibot-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [meta] = [n for n in names if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(archive.read(meta)), names


def test_the_licence_file_is_the_declared_licence(
    metadata: tuple[email.message.Message, list[str]],
) -> None:
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("BSD 2-Clause License\n")
    assert "Copyright (c) 2026, the cvibot authors" in text
    meta, names = metadata
    assert meta["License-Expression"] == "BSD-2-Clause"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_the_project_urls_are_declared(metadata: tuple[email.message.Message, list[str]]) -> None:
    meta, _ = metadata
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Documentation", "Source", "Issues"} <= set(urls)
    assert all(u.startswith("https://") for u in urls.values())


def test_jsonpatch_is_a_dependency_of_the_tests_only(
    metadata: tuple[email.message.Message, list[str]],
) -> None:
    """The fake Tavus API (the one user of jsonpatch) is a test double of tests/doubles."""
    meta, names = metadata
    assert not [n for n in names if "fake_daily" in n or "fake_tavus" in n]
    requires = meta.get_all("Requires-Dist") or []
    jsonpatch = [r for r in requires if r.startswith("jsonpatch")]
    assert jsonpatch and all("extra == 'dev'" in r or 'extra == "dev"' in r for r in jsonpatch)
    assert "testing" not in (meta.get_all("Provides-Extra") or [])
    assert any(r.startswith("watchfiles") and "extra" not in r for r in requires)


def test_a_bot_and_its_tests_run_without_jsonpatch_and_the_test_doubles() -> None:
    script = (
        "import sys\n"
        "sys.modules['jsonpatch'] = None  # as if it were not installed\n"
        "sys.modules['doubles'] = None  # the repository's tests/doubles\n"
        "import cvibot._cli.main, cvibot._cli.dev, cvibot._cli.console, cvibot._runtime\n"
        "import cvibot._sync, cvibot.testing._conversation, cvibot.testing._pytest_plugin\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n"


def test_redis_is_a_serve_extra_and_the_fleet_backend_says_what_to_install(
    metadata: tuple[email.message.Message, list[str]],
) -> None:
    meta, _ = metadata
    requires = meta.get_all("Requires-Dist") or []
    found = [r for r in requires if r.startswith("redis")]
    assert found and all("extra ==" in r for r in found), found
    assert any("extra == 'serve'" in r or 'extra == "serve"' in r for r in found), found
    script = (
        "import sys\n"
        "sys.modules['redis'] = None  # as if it were not installed\n"
        "import cvibot._cli.main, cvibot._runtime\n"
        "from cvibot._fleet import FleetOptions, make_backend\n"
        "try:\n"
        "    make_backend(FleetOptions(backend='redis'), local=lambda: None)\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'cvibot[serve]'" in done.stdout
