"""A first-party plugin installed into a fresh virtual environment, then uninstalled.

The environment is new and empty but for cvibot and its dependencies, taken from the
test environment without the plugin distributions installed there (offline, and in a
few seconds rather than a download of every dependency). pip then installs the plugin
from its folder as a user would, and ``cvibot plugins`` and a config that names it see
it come and go.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "plugins"


def _is_cvibot_plugin(dist_info: Path) -> bool:
    points = dist_info / "entry_points.txt"
    if not points.is_file():
        return False
    parser = configparser.ConfigParser()
    parser.read(points, encoding="utf-8")
    return parser.has_section("cvibot")


class FreshVenv:
    """A virtual environment with cvibot but none of the installed plugin distributions."""

    def __init__(self, root: Path) -> None:
        venv.EnvBuilder(with_pip=False).create(root)
        self.python = root / "bin" / "python"
        site = Path(
            subprocess.check_output(
                [self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                text=True,
            ).strip()
        )
        ours = Path(sysconfig.get_paths()["purelib"])
        shared = root.parent / f"{root.name}-shared"
        shared.mkdir()
        plugin_dists = {
            p.name.split("-")[0] for p in ours.glob("*.dist-info") if _is_cvibot_plugin(p)
        }
        pth_lines = [str(shared)]
        for entry in ours.iterdir():
            if entry.suffix == ".pth":
                # Editable installs are .pth files; keep cvibot's, leave the plugins' out.
                if not any(dist in entry.name for dist in plugin_dists):
                    pth_lines += entry.read_text(encoding="utf-8").splitlines()
                continue
            if entry.name.split("-")[0] in plugin_dists and entry.suffix == ".dist-info":
                continue
            (shared / entry.name).symlink_to(entry)
        (site / "_cvibot_test_shared.pth").write_text("\n".join(pth_lines) + "\n", encoding="utf-8")

    def pip(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run(
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(self.python),
            "--disable-pip-version-check",
            *args,
        )

    def cvibot(self, *args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
        return self._run(self.python, "-m", "cvibot", *map(os.fspath, args))

    def _run(self, *command: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["CVIBOT_DISABLE_PLUGIN_AUTOLOAD"] = ""
        return subprocess.run(
            list(map(os.fspath, command)),
            capture_output=True,
            text=True,
            env=env,
            timeout=180,
            check=False,
        )


@pytest.fixture
def fresh(tmp_path: Path) -> FreshVenv:
    return FreshVenv(tmp_path / "venv")


def _listed(env: FreshVenv) -> dict[str, dict[str, object]]:
    done = env.cvibot("plugins", "--json")
    assert done.returncode == 0, done.stderr
    return {info["name"]: info for info in json.loads(done.stdout)}


CASES = {
    "cvibot-faq": (
        "{name: cvibot-faq, settings: {sources: [faq.md]}}",
        ["search_faq"],  # built from the settings; none with the empty ones of the listing
        [],
    ),
    "cvibot-clock": (
        "{name: cvibot-clock}",
        ["convert_time", "local_time"],
        ["convert_time", "local_time"],
    ),
}


@pytest.mark.parametrize("plugin", list(CASES))
def test_installing_and_uninstalling_a_plugin(
    fresh: FreshVenv, tmp_path: Path, plugin: str
) -> None:
    entry, tools, listed_tools = CASES[plugin]
    (tmp_path / "faq.md").write_text("## Do you ship abroad?\nYes, to the EU.\n", encoding="utf-8")
    config = tmp_path / "bot.yaml"
    config.write_text(
        f"transport: {{type: replay, path: rec.jsonl}}\nplugins:\n  - {entry}\n", encoding="utf-8"
    )
    assert _listed(fresh) == {}

    installed = fresh.pip(
        "install", "--no-deps", "--no-build-isolation", "--no-index", "-q", str(PLUGINS / plugin)
    )
    assert installed.returncode == 0, installed.stderr
    listed = _listed(fresh)
    checked = fresh.cvibot("check", config)
    removed = fresh.pip("uninstall", "-y", "-q", plugin)
    after = _listed(fresh)
    rechecked = fresh.cvibot("check", config)

    assert listed[plugin]["status"] == "ok"
    assert listed[plugin]["distribution"] == plugin
    assert listed[plugin]["tools"] == listed_tools
    assert checked.returncode == 0, checked.stderr
    lines = checked.stdout.splitlines()
    assert f"  plugin {plugin} (entry_point: {plugin} 0.1.0)" in lines
    header = next(n for n, line in enumerate(lines) if line.split()[:1] == ["tool"])
    assert sorted(line.split()[0] for line in lines[header + 1 :]) == tools
    assert removed.returncode == 0, removed.stderr
    assert after == {}
    assert rechecked.returncode == 2
    assert f"plugin {plugin!r}" in rechecked.stderr
