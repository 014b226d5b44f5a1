"""PluginHost.load: resolving config entries, autoload, and load errors."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from plugin_helpers import Entry, WriteModule
from structlog.testing import capture_logs

from cvibot._errors import ConfigError, PluginLoadError
from cvibot.plugins import ENTRY_POINT_GROUP, PROJECT_NAME, LoadedPlugin, PluginHost, hookimpl

HOOK_MODULE = """
from cvibot.plugins import hookimpl

@hookimpl
def cvibot_startup(bot, settings):
    return ("started", settings.get("tag"))
"""


def test_names() -> None:
    assert PROJECT_NAME == "cvibot"
    assert ENTRY_POINT_GROUP == "cvibot"


def test_module_resolved_from_base_dir(tmp_path: Path, write_module: WriteModule) -> None:
    write_module("shop_tools.py", HOOK_MODULE)

    host = PluginHost.load([Entry("shop_tools", settings={"tag": 1})], base_dir=tmp_path)

    [loaded] = host.plugins
    assert loaded.name == "shop_tools"
    assert loaded.kind == "module"
    assert loaded.module == "shop_tools"
    assert loaded.distribution is None
    assert loaded.plugin is sys.modules["shop_tools"]
    assert dict(loaded.settings) == {"tag": 1}
    assert host.pm.get_plugin("shop_tools").plugin is loaded.plugin
    assert sys.path[0] == str(tmp_path)


def test_base_dir_inserted_once(tmp_path: Path, write_module: WriteModule) -> None:
    write_module("shop_tools.py", HOOK_MODULE)

    PluginHost.load([Entry("shop_tools")], base_dir=tmp_path)
    PluginHost.load([Entry("shop_tools")], base_dir=tmp_path)

    assert sys.path.count(str(tmp_path)) == 1


def test_plugin_imports_sibling_from_base_dir(tmp_path: Path, write_module: WriteModule) -> None:
    write_module("shop_common.py", "PREFIX = 'shop'\n")
    write_module(
        "shop_tools.py",
        """
        from shop_common import PREFIX
        from cvibot.plugins import hookimpl

        @hookimpl
        def cvibot_startup(bot):
            return PREFIX
        """,
    )

    host = PluginHost.load([Entry("shop_tools")], base_dir=tmp_path)

    assert host.plugins[0].plugin.PREFIX == "shop"  # type: ignore[attr-defined]


def test_dotted_module_from_sys_path(
    tmp_path: Path, write_module: WriteModule, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "site"
    write_module("acme/__init__.py", "", directory=elsewhere)
    write_module("acme/crm.py", HOOK_MODULE + "__version__ = '2.1'\n", directory=elsewhere)
    monkeypatch.syspath_prepend(str(elsewhere))

    host = PluginHost.load([Entry("acme.crm")], base_dir=tmp_path / "config")

    [loaded] = host.plugins
    assert (loaded.name, loaded.module, loaded.version) == ("acme.crm", "acme.crm", "2.1")


def test_py_file_relative_to_base_dir(tmp_path: Path, write_module: WriteModule) -> None:
    write_module("plugins/greeter.py", HOOK_MODULE)
    write_module("plugins/greeting_text.py", "TEXT = 'hello'\n")
    write_module(
        "plugins/uses_sibling.py",
        """
        from greeting_text import TEXT
        """,
    )

    host = PluginHost.load(
        [Entry("plugins/greeter.py"), Entry("plugins/uses_sibling.py", kind="auto")],
        base_dir=tmp_path,
    )

    greeter, sibling = host.plugins
    assert greeter.name == "plugins/greeter.py"
    assert greeter.kind == "module"
    assert greeter.module == "greeter"
    assert greeter.plugin.__file__ == str(tmp_path / "plugins" / "greeter.py")  # type: ignore[attr-defined]
    assert sibling.plugin.TEXT == "hello"  # type: ignore[attr-defined]


def test_py_file_whose_stem_is_taken_gets_a_name_of_its_own(
    tmp_path: Path, write_module: WriteModule
) -> None:
    write_module("plugins/json.py", HOOK_MODULE)

    host = PluginHost.load([Entry("plugins/json.py")], base_dir=tmp_path)

    [loaded] = host.plugins
    assert loaded.module is not None and loaded.module.startswith("cvibot_plugin_json_")
    assert sys.modules["json"].__file__ != loaded.plugin.__file__  # type: ignore[attr-defined]


def test_missing_py_file(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError) as info:
        PluginHost.load([Entry("plugins/nope.py")], base_dir=tmp_path)

    assert info.value.key == "plugins[0]"
    assert isinstance(info.value.cause, FileNotFoundError)
    assert str(tmp_path / "plugins" / "nope.py") in info.value.message


def test_named_missing_module(tmp_path: Path, write_module: WriteModule) -> None:
    write_module("fine.py", HOOK_MODULE)

    with pytest.raises(PluginLoadError) as info:
        PluginHost.load([Entry("fine"), Entry("shop_tools_missing")], base_dir=tmp_path)

    err = info.value
    assert isinstance(err, ConfigError)
    assert err.key == "plugins[1]"
    assert err.plugin == "shop_tools_missing"
    assert err.distribution is None
    assert isinstance(err.cause, ModuleNotFoundError)
    assert err.message == (
        "plugin 'shop_tools_missing' could not be imported: ModuleNotFoundError: "
        f"No module named 'shop_tools_missing' (looked in {tmp_path} and sys.path)"
    )
    assert str(err).startswith("plugins[1]: plugin 'shop_tools_missing'")


def test_missing_dependency_of_a_plugin_is_not_blamed_on_the_path(
    tmp_path: Path, write_module: WriteModule
) -> None:
    write_module("needs_dep.py", "import not_installed_dependency_xyz\n")

    with pytest.raises(PluginLoadError) as info:
        PluginHost.load([Entry("needs_dep")], base_dir=tmp_path)

    assert "No module named 'not_installed_dependency_xyz'" in info.value.message
    assert "looked in" not in info.value.message


def test_named_module_whose_import_raises(tmp_path: Path, write_module: WriteModule) -> None:
    write_module("exploding.py", "raise RuntimeError('no API key')\n")

    with pytest.raises(PluginLoadError) as info:
        PluginHost.load([Entry("exploding")], base_dir=tmp_path)

    assert info.value.key == "plugins[0]"
    assert isinstance(info.value.cause, RuntimeError)
    assert info.value.__cause__ is info.value.cause
    assert info.value.message == (
        "plugin 'exploding' could not be imported: RuntimeError: no API key"
    )
    assert "exploding" not in sys.modules


def test_hookimpl_with_unknown_argument(tmp_path: Path, write_module: WriteModule) -> None:
    write_module(
        "bad_args.py",
        """
        from cvibot.plugins import hookimpl

        @hookimpl
        def cvibot_event(evt, session):
            pass
        """,
    )

    with pytest.raises(PluginLoadError) as info:
        PluginHost.load([Entry("bad_args")], base_dir=tmp_path)

    err = info.value
    assert err.key == "plugins[0]"
    assert err.plugin == "bad_args"
    assert err.message == (
        "plugin 'bad_args' could not be registered: cvibot_event() declares 'evt', which "
        "hook 'cvibot_event' does not have (its arguments: event, session, settings)"
    )
    assert err.cause is not None


def test_marked_function_that_is_no_hook(tmp_path: Path, write_module: WriteModule) -> None:
    write_module(
        "typo.py",
        """
        from cvibot.plugins import hookimpl

        @hookimpl
        def cvibot_sesion_started(session):
            pass
        """,
    )

    with pytest.raises(PluginLoadError, match=r"'cvibot_sesion_started' .* not a cvibot hook"):
        PluginHost.load([Entry("typo")], base_dir=tmp_path)


def test_optional_hook_of_another_version_is_accepted() -> None:
    class Plugin:
        @hookimpl(optionalhook=True)
        def cvibot_future_hook(self) -> None:
            pass

    host = PluginHost.load([], autoload=False, builtins=[("future", Plugin())])

    assert [p.name for p in host.plugins] == ["future"]


@pytest.mark.parametrize(
    "source",
    [
        "@hookimpl(wrapper=True)\ndef cvibot_event(event):\n    return (yield)\n",
        "@hookimpl\nasync def cvibot_register_tools(register):\n    pass\n",
    ],
    ids=["wrapper", "async-register-tools"],
)
def test_unsupported_impls(tmp_path: Path, write_module: WriteModule, source: str) -> None:
    write_module("unsupported.py", "from cvibot.plugins import hookimpl\n" + source)

    with pytest.raises(PluginLoadError) as info:
        PluginHost.load([Entry("unsupported")], base_dir=tmp_path)

    assert info.value.key == "plugins[0]"
    assert info.value.plugin == "unsupported"


def test_same_plugin_listed_twice(tmp_path: Path, write_module: WriteModule) -> None:
    write_module("shop_tools.py", HOOK_MODULE)

    twice = r"listed more than once \(first as plugins\[0\]\)"
    with pytest.raises(PluginLoadError, match=twice) as info:
        PluginHost.load([Entry("shop_tools"), Entry("shop_tools")], base_dir=tmp_path)
    assert info.value.key == "plugins[1]"

    with pytest.raises(PluginLoadError, match="same plugin as 'shop_tools'") as info:
        PluginHost.load([Entry("shop_tools"), Entry("shop_tools.py")], base_dir=tmp_path)
    assert info.value.key == "plugins[1]"


def test_unknown_kind(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError, match="kind 'package'"):
        PluginHost.load([Entry("x", kind="package")], base_dir=tmp_path)


def test_builtins_are_registered_first() -> None:
    class Printer:
        @hookimpl
        def cvibot_event(self, event: object) -> None:
            pass

    printer = Printer()
    host = PluginHost.load([], autoload=False, builtins=[("transcript", printer)])

    assert host.plugins == (
        LoadedPlugin(
            name="transcript",
            kind="builtin",
            module=None,
            distribution=None,
            version=None,
            settings={},
            plugin=printer,
        ),
    )
    assert dict(host.settings_for("transcript")) == {}


def test_config_plugin_may_not_take_a_builtin_name(
    tmp_path: Path, write_module: WriteModule
) -> None:
    write_module("transcript.py", HOOK_MODULE)

    with pytest.raises(PluginLoadError, match="has the name of a built-in plugin"):
        PluginHost.load(
            [Entry("transcript")], base_dir=tmp_path, builtins=[("transcript", object())]
        )


def test_settings_are_a_read_only_copy(tmp_path: Path, write_module: WriteModule) -> None:
    write_module("shop_tools.py", HOOK_MODULE)
    given = {"tag": "a"}

    host = PluginHost.load([Entry("shop_tools", settings=given)], base_dir=tmp_path)
    given["tag"] = "b"

    settings = host.settings_for("shop_tools")
    assert settings == {"tag": "a"}
    with pytest.raises(TypeError):
        settings["tag"] = "c"  # type: ignore[index]
    assert host.settings_for("never_loaded") == {}


# -- entry points (faked; the real thing is in test_plugins_distribution.py) --------------


def test_entry_point_by_name(
    tmp_path: Path, write_module: WriteModule, fake_entry_points: Callable[..., None]
) -> None:
    write_module("ep_module.py", HOOK_MODULE)
    sys.path.insert(0, str(tmp_path))
    fake_entry_points(example="ep_module")

    host = PluginHost.load(
        [Entry("example", kind="entry_point", settings={"tag": 7})], autoload=False
    )

    [loaded] = host.plugins
    assert (loaded.name, loaded.kind, loaded.module) == ("example", "entry_point", "ep_module")
    assert dict(loaded.settings) == {"tag": 7}


def test_missing_entry_point(fake_entry_points: Callable[..., None]) -> None:
    fake_entry_points(other="json")

    with pytest.raises(PluginLoadError, match=r"not an installed entry point .*installed: other"):
        PluginHost.load([Entry("example", kind="entry_point")], autoload=False)


def test_auto_prefers_entry_point_then_module(
    tmp_path: Path, write_module: WriteModule, fake_entry_points: Callable[..., None]
) -> None:
    write_module("ep_module.py", HOOK_MODULE)
    write_module("plain_module.py", HOOK_MODULE)
    fake_entry_points(example="ep_module")

    host = PluginHost.load(
        [Entry("example", kind="auto"), Entry("plain_module", kind="auto")],
        base_dir=tmp_path,
        autoload=False,
    )

    assert [(p.name, p.kind, p.module) for p in host.plugins] == [
        ("example", "entry_point", "ep_module"),
        ("plain_module", "module", "plain_module"),
    ]


def test_autoload_skips_broken_entry_points_with_a_warning(
    tmp_path: Path, write_module: WriteModule, fake_entry_points: Callable[..., None]
) -> None:
    write_module("good_ep.py", HOOK_MODULE)
    write_module("broken_ep.py", "raise ImportError('needs libfoo')\n")
    write_module(
        "invalid_ep.py",
        "from cvibot.plugins import hookimpl\n@hookimpl\ndef cvibot_event(nope):\n    pass\n",
    )
    write_module(
        "wrapper_ep.py",
        "from cvibot.plugins import hookimpl\n"
        "@hookimpl(wrapper=True)\ndef cvibot_event(event):\n    return (yield)\n",
    )
    fake_entry_points(
        a_broken="broken_ep", b_invalid="invalid_ep", c_good="good_ep", d_wrapper="wrapper_ep"
    )

    with capture_logs() as logs:
        host = PluginHost.load([], base_dir=tmp_path)

    assert [(p.name, p.kind) for p in host.plugins] == [("c_good", "entry_point")]
    warnings = [(log["plugin"], log["log_level"], log["event"]) for log in logs]
    assert warnings == [
        ("a_broken", "warning", "plugin skipped"),
        ("b_invalid", "warning", "plugin skipped"),
        ("d_wrapper", "warning", "plugin skipped"),
    ]
    assert "ImportError: needs libfoo" in logs[0]["error"]
    assert "wrappers are not supported" in logs[2]["error"]
    # Nothing of the skipped plugins stays registered.
    assert not host.pm.has_plugin("b_invalid")
    assert not host.pm.has_plugin("d_wrapper")
    assert host.calls("cvibot_event", event=None, session=None) == []


def test_named_broken_entry_point_is_an_error(
    tmp_path: Path, write_module: WriteModule, fake_entry_points: Callable[..., None]
) -> None:
    write_module("broken_ep.py", "raise ImportError('needs libfoo')\n")
    fake_entry_points(broken="broken_ep")

    with pytest.raises(PluginLoadError) as info:
        PluginHost.load([Entry("broken", kind="auto")], base_dir=tmp_path)

    assert info.value.key == "plugins[0]"
    assert isinstance(info.value.cause, ImportError)
    assert "entry point broken = broken_ep" in info.value.message


def test_autoload_off(
    tmp_path: Path, write_module: WriteModule, fake_entry_points: Callable[..., None]
) -> None:
    write_module("good_ep.py", HOOK_MODULE)
    fake_entry_points(good="good_ep")

    assert PluginHost.load([], base_dir=tmp_path, autoload=False).plugins == ()


def test_module_named_and_autoloaded_is_registered_once(
    tmp_path: Path, write_module: WriteModule, fake_entry_points: Callable[..., None]
) -> None:
    write_module("shop_tools.py", HOOK_MODULE)
    fake_entry_points(shop="shop_tools")

    host = PluginHost.load([Entry("shop_tools", settings={"tag": "x"})], base_dir=tmp_path)

    assert [(p.name, p.kind) for p in host.plugins] == [("shop_tools", "module")]
    assert len(host.calls("cvibot_startup", bot=None)) == 1


def test_entry_point_named_in_config_is_not_autoloaded_again(
    tmp_path: Path, write_module: WriteModule, fake_entry_points: Callable[..., None]
) -> None:
    write_module("ep_module.py", HOOK_MODULE)
    fake_entry_points(example="ep_module")

    host = PluginHost.load([Entry("example", kind="entry_point")], base_dir=tmp_path)

    assert [p.name for p in host.plugins] == ["example"]
