"""The plugin template: its names, its files, and a generated project that installs and
passes its own tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from install_helpers import install_into

from cvibot._cli.new_cmd import new
from cvibot._scaffold import (
    PluginNameError,
    PluginNames,
    ProjectExists,
    create_plugin,
    name_problem,
    plugin_files,
)

QUIET = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:respx", "-p", "no:anyio"]


@pytest.mark.parametrize("name", ["demo", "order-lookup", "faq_2", "a", "x" * 40])
def test_good_names(name: str) -> None:
    assert name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "must not be empty"),
        ("x" * 41, "at most 40 characters"),
        ("Demo", "lowercase (try 'demo')"),
        ("cvibot-faq", "without the cvibot prefix"),
        ("cvibot", "for example 'faq'"),
        ("9lives", "start with a lowercase ASCII letter"),
        ("_demo", "start with a lowercase ASCII letter"),
        ("order--lookup", "single '-' or '_'"),
        ("demo-", "single '-' or '_'"),
        ("dé", "only lowercase ASCII letters"),
        ("a b", "only lowercase ASCII letters"),
    ],
)
def test_bad_names_say_why(name: str, fragment: str) -> None:
    problem = name_problem(name)
    assert problem is not None and fragment in problem
    with pytest.raises(PluginNameError, match="invalid plugin name"):
        PluginNames.of(name)


def test_every_name_comes_from_the_plugin_name() -> None:
    assert PluginNames.of("order-lookup") == PluginNames(
        name="order-lookup",
        distribution="cvibot-order-lookup",
        package="cvibot_order_lookup",
        tool="order_lookup_greet",
        test_file="test_order_lookup.py",
    )


@pytest.mark.parametrize("name", ["demo", "order-lookup"])
def test_the_files_render_to_valid_python_and_toml(name: str) -> None:
    names = PluginNames.of(name)
    files = plugin_files(names)

    assert list(files) == [
        "pyproject.toml",
        "README.md",
        ".gitignore",
        f"{names.package}/__init__.py",
        f"tests/{names.test_file}",
    ]
    for path, text in files.items():
        assert "${" not in text, path
        if path.endswith(".py"):
            compile(text, path, "exec")
    project = tomllib.loads(files["pyproject.toml"])
    assert project["build-system"]["build-backend"] == "hatchling.build"
    assert project["project"]["name"] == names.distribution
    assert project["project"]["dependencies"] == ["cvibot"]
    assert project["project"]["entry-points"]["cvibot"] == {names.distribution: names.package}
    dev = project["project"]["optional-dependencies"]["dev"]
    assert any(d.startswith("pytest>") for d in dev)
    assert any(d.startswith("pytest-asyncio") for d in dev)
    assert f"def {names.tool}(name: str," in files[f"{names.package}/__init__.py"]
    assert "cvibot_conversation" in files[f"tests/{names.test_file}"]
    assert f"  - name: {names.distribution}\n" in files["README.md"]


def test_an_existing_folder_is_left_alone(tmp_path: Path) -> None:
    names = PluginNames.of("demo")
    (tmp_path / "cvibot-demo").mkdir()
    (tmp_path / "cvibot-demo" / "mine.txt").write_text("keep")

    with pytest.raises(ProjectExists) as caught:
        create_plugin(names, tmp_path)

    assert caught.value.path == tmp_path / "cvibot-demo"
    assert [p.name for p in (tmp_path / "cvibot-demo").iterdir()] == ["mine.txt"]


def test_the_command_writes_the_project_and_says_what_next(tmp_path: Path) -> None:
    result = CliRunner().invoke(new, ["plugin", "demo", "--dir", str(tmp_path / "new")])

    assert result.exit_code == 0, result.output
    root = tmp_path / "new" / "cvibot-demo"
    written = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert written == [
        ".gitignore",
        "README.md",
        "cvibot_demo/__init__.py",
        "pyproject.toml",
        "tests/test_demo.py",
    ]
    for relative in written:
        assert f"  {relative}\n" in result.output
    assert f"cd {root}" in result.output
    assert "pip install -e '.[dev]'" in result.output
    assert "plugins: [cvibot-demo]" in result.output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["plugin", "Demo"], "Invalid value for 'NAME': invalid plugin name 'Demo'"),
        (["plugin", "cvibot-faq"], "without the cvibot prefix"),
        (["plugin"], "Missing argument 'NAME'"),
    ],
)
def test_a_bad_name_is_a_usage_error(tmp_path: Path, args: list[str], fragment: str) -> None:
    result = CliRunner().invoke(new, [*args, "--dir", str(tmp_path)])

    assert result.exit_code == 2
    assert fragment in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_existing_project_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cvibot-demo").mkdir()

    result = CliRunner().invoke(new, ["plugin", "demo", "--dir", str(tmp_path)])

    assert result.exit_code == 2
    assert result.output.startswith("Error: ") and "exists already" in result.output
    assert list((tmp_path / "cvibot-demo").iterdir()) == []


@pytest.fixture(scope="module")
def installed_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The project of ``cvibot new plugin demo`` and the folder it is installed into."""
    parent = tmp_path_factory.mktemp("scaffold")
    result = CliRunner().invoke(new, ["plugin", "demo", "--dir", str(parent)])
    assert result.exit_code == 0, result.output
    project = parent / "cvibot-demo"
    return project, install_into(parent / "site", project)


def test_the_generated_tests_pass_on_the_installed_plugin(
    installed_demo: tuple[Path, Path],
) -> None:
    project, target = installed_demo
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    env["PYTHONPATH"] = str(target)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *QUIET],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout
    assert "warning" not in done.stdout.lower()


def test_the_installed_plugin_is_an_entry_point(installed_demo: tuple[Path, Path]) -> None:
    _, target = installed_demo
    script = textwrap.dedent(
        """
        from importlib.metadata import entry_points
        [ep] = entry_points(group="cvibot", name="cvibot-demo")
        print(ep.value, ep.dist.name, ep.dist.version)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(target)},
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["cvibot_demo", "cvibot-demo", "0.1.0"]
