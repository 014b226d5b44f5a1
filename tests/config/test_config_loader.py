"""Loading config files: the data, key lines, paths, and every kind of error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from config_helpers import MINIMAL, LoadError, LoadText, WriteConfig

from cvibot._errors import ConfigError
from cvibot.config import (
    BotConfig,
    ConversationConfig,
    Defaults,
    DispatchConfig,
    LoadedConfig,
    LoggingConfig,
    PluginEntry,
    ReplayTransportConfig,
    ToolOverride,
    load_config,
    parse_config,
)
from cvibot.tools._options import ReplyMode

FULL = """\
pipeline_mode: full
conversation:
  id: c123
transport:
  type: replay
  path: recordings/order.jsonl
  pace: recorded
  speed: 2.5
  out: out/sent.jsonl
plugins:
  - shop_tools
  - module: bots.shop.tools
    settings:
      db: shop.sqlite
      limits: {orders: 5}
  - name: cvibot-faq
  - {ref: bots.misc, kind: module, settings: {}}
tools:
  lookup_order:
    reply: tool_result
    timeout: 5
    cancel_on_interrupt: true
  wave: {reply: none}
defaults:
  reply: echo
  perception_reply: append_context
  timeout: 20.5
  cancel_on_interrupt: true
dispatch:
  max_concurrent_calls: 4
  sync_workers: 2
  message_limit: 1024
  on_oversize: error
logging:
  level: debug
  format: json
  transcript: false
"""


def test_full_config_round_trip(load_text: LoadText, tmp_path: Path) -> None:
    loaded = load_text(FULL)

    assert loaded.path == tmp_path / "bot.yaml"
    assert loaded.base_dir == tmp_path
    assert loaded.config == BotConfig(
        pipeline_mode="full",
        conversation=ConversationConfig(id="c123"),
        transport=ReplayTransportConfig(
            type="replay",
            path=tmp_path / "recordings/order.jsonl",
            pace="recorded",
            speed=2.5,
            out=tmp_path / "out/sent.jsonl",
        ),
        plugins=[
            PluginEntry(ref="shop_tools", kind="auto"),
            PluginEntry(
                ref="bots.shop.tools",
                kind="module",
                settings={"db": "shop.sqlite", "limits": {"orders": 5}},
            ),
            PluginEntry(ref="cvibot-faq", kind="entry_point"),
            PluginEntry(ref="bots.misc", kind="module"),
        ],
        tools={
            "lookup_order": ToolOverride(
                reply=ReplyMode.TOOL_RESULT, timeout=5.0, cancel_on_interrupt=True
            ),
            "wave": ToolOverride(reply=ReplyMode.NONE),
        },
        defaults=Defaults(
            reply=ReplyMode.ECHO,
            perception_reply=ReplyMode.APPEND_CONTEXT,
            timeout=20.5,
            cancel_on_interrupt=True,
        ),
        dispatch=DispatchConfig(
            max_concurrent_calls=4, sync_workers=2, message_limit=1024, on_oversize="error"
        ),
        logging=LoggingConfig(level="debug", format="json", transcript=False),
    )
    # Dumping and validating again gives the same config: nothing is lost.
    assert BotConfig.model_validate(loaded.config.model_dump()) == loaded.config


def test_minimal_config_gets_the_defaults(load_text: LoadText, tmp_path: Path) -> None:
    config = load_text(MINIMAL).config
    assert config.transport.path == tmp_path / "rec.jsonl"
    assert config.transport.out is None
    assert config == BotConfig(
        transport=ReplayTransportConfig(type="replay", path=tmp_path / "rec.jsonl")
    )


def test_lines_of_keys_and_list_items(load_text: LoadText) -> None:
    loaded = load_text(FULL)

    assert loaded.lines[()] == 1
    assert loaded.lines[("transport",)] == 4
    assert loaded.lines[("transport", "out")] == 9
    assert loaded.lines[("plugins", 0)] == 11
    assert loaded.lines[("plugins", 1)] == 12
    assert loaded.lines[("plugins", 1, "settings", "db")] == 14
    assert loaded.lines[("plugins", 1, "settings", "limits", "orders")] == 15
    assert loaded.lines[("plugins", 3, "kind")] == 17
    assert loaded.lines[("tools", "lookup_order", "timeout")] == 21
    assert loaded.line_of("tools", "wave", "reply") == 23
    # Keys not written: the nearest written ancestor.
    assert loaded.line_of("tools", "wave", "timeout") == 23
    assert loaded.line_of("plugins", 0, "settings", "x") == 11
    assert loaded.line_of("nowhere") == 1


def test_error_builds_a_located_config_error(load_text: LoadText, tmp_path: Path) -> None:
    loaded = load_text(FULL)

    err = loaded.error("cannot open the database", "plugins", 1, "settings", "db")
    assert isinstance(err, ConfigError)
    assert (err.file, err.line, err.key) == (
        str(tmp_path / "bot.yaml"),
        14,
        "plugins[1].settings.db",
    )
    assert str(err) == f"{tmp_path}/bot.yaml:14: plugins[1].settings.db: cannot open the database"

    err = loaded.error("no such tool", "tools", "lookup_order", "reply")
    assert str(err) == f"{tmp_path}/bot.yaml:20: tools.lookup_order.reply: no such tool"

    err = loaded.error("bad file")
    assert (err.line, err.key) == (1, None)


def test_error_quotes_keys_that_are_not_plain(load_text: LoadText) -> None:
    loaded = load_text(FULL)
    assert loaded.error("x", "tools", "my tool", "reply").key == 'tools["my tool"].reply'
    assert loaded.error("x", "plugins", 0).key == "plugins[0]"
    assert loaded.error("x", "tools", "a.b").key == 'tools["a.b"]'


# --- paths -----------------------------------------------------------------------------


def test_relative_paths_resolve_from_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "bots" / "shop"
    folder.mkdir(parents=True)
    (folder / "bot.yaml").write_text(
        "transport:\n  type: replay\n  path: ../recs/a.jsonl\n  out: sent.jsonl\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)

    loaded = load_config("bots/shop/bot.yaml", environ={})

    assert loaded.path == folder / "bot.yaml"
    assert loaded.path.is_absolute()
    assert loaded.base_dir == folder
    assert loaded.config.transport.path == folder / "../recs/a.jsonl"
    assert loaded.config.transport.out == folder / "sent.jsonl"


def test_absolute_and_home_paths(
    load_text: LoadText, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    loaded = load_text(
        f"""\
        transport:
          type: replay
          path: {tmp_path}/abs.jsonl
          out: ~/sent.jsonl
        """,
    )
    assert loaded.config.transport.path == tmp_path / "abs.jsonl"
    assert loaded.config.transport.out == tmp_path / "home" / "sent.jsonl"


def test_parse_config_resolves_from_the_given_path(tmp_path: Path) -> None:
    loaded = parse_config(MINIMAL, path=tmp_path / "x" / "bot.yaml", environ={})
    assert loaded.config.transport.path == tmp_path / "x" / "rec.jsonl"


def test_parse_config_without_path_uses_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    loaded = parse_config(MINIMAL, environ={})
    assert loaded.path == tmp_path / "<string>"
    assert loaded.config.transport.path == tmp_path / "rec.jsonl"


def test_empty_path_is_refused(load_error: LoadError) -> None:
    err = load_error('transport:\n  type: replay\n  path: ""\n')
    assert (err.line, err.key, err.message) == (3, "transport.path", "must not be empty")


# --- YAML features ---------------------------------------------------------------------


def test_scalars_are_typed_like_safe_load(load_text: LoadText) -> None:
    loaded = load_text(
        MINIMAL
        + """\
plugins:
  - module: m
    settings: {i: 3, f: 1.5, b: yes, n: ~, s: "3", d: 2024-01-02, l: [1, two]}
"""
    )
    settings = loaded.config.plugins[0].settings
    assert settings["i"] == 3
    assert settings["f"] == 1.5
    assert settings["b"] is True
    assert settings["n"] is None
    assert settings["s"] == "3"
    assert str(settings["d"]) == "2024-01-02"
    assert settings["l"] == [1, "two"]


def test_anchors_aliases_and_merge_keys(load_text: LoadText) -> None:
    loaded = load_text(
        MINIMAL
        + """\
tools:
  a: &slow {reply: echo, timeout: 60}
  b: *slow
  c:
    <<: *slow
    timeout: 5
"""
    )
    tools = loaded.config.tools
    assert tools["a"] == tools["b"] == ToolOverride(reply=ReplyMode.ECHO, timeout=60)
    assert tools["c"] == ToolOverride(reply=ReplyMode.ECHO, timeout=5)
    assert loaded.lines[("tools", "c", "timeout")] == 9


def test_overriding_a_merged_key_is_not_a_duplicate(load_text: LoadText) -> None:
    loaded = load_text(
        MINIMAL
        + """\
defaults: &d
  timeout: 3
logging:
  <<: {level: debug}
  level: error
"""
    )
    assert loaded.config.logging.level == "error"


# --- errors: files and YAML ------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert str(info.value) == f"{tmp_path}/nope.yaml: file not found"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory, not a config file"


def test_unreadable_file(write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(MINIMAL)

    def refuse(path: object, flags: int) -> int:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: cannot read the file: Permission denied"


def test_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_bytes(b"transport:\n  type: r\xe9play\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}:2: not UTF-8 text (byte 0xe9)"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_config(path, environ={}).config.transport.type == "replay"


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "---\n", "null\n"])
def test_empty_file(load_error: LoadError, tmp_path: Path, text: str) -> None:
    err = load_error(text)
    assert str(err) == (
        f"{tmp_path}/bot.yaml: the file is empty: expected a mapping of settings "
        "(such as 'plugins:')"
    )


@pytest.mark.parametrize(
    ("text", "got"), [("- a\n- b\n", "a list"), ("replay\n", "a single value")]
)
def test_top_level_must_be_a_mapping(load_error: LoadError, text: str, got: str) -> None:
    err = load_error("# config\n" + text)
    assert (err.line, err.key) == (2, None)
    assert err.message == f"the top level must be a mapping of settings (got {got})"


def test_yaml_syntax_error_line(load_error: LoadError, tmp_path: Path) -> None:
    err = load_error(
        """\
        transport:
          type: replay
          path: a: b
        """
    )
    assert str(err) == f"{tmp_path}/bot.yaml:3: invalid YAML: mapping values are not allowed here"


def test_yaml_syntax_error_with_context(load_error: LoadError) -> None:
    err = load_error("plugins: [a, b\nlogging: {}\n")
    assert err.line == 2
    assert err.message == (
        "invalid YAML: while parsing a flow sequence at line 1, expected ',' or ']', but got ':'"
    )


def test_bad_indentation(load_error: LoadError) -> None:
    err = load_error("transport:\n  type: replay\n path: x\n")
    assert err.line == 3
    assert err.message.startswith("invalid YAML: ")


def test_several_documents(load_error: LoadError) -> None:
    err = load_error(MINIMAL + "---\nlogging: {}\n")
    assert err.line == 4
    assert "expected a single document" in err.message


def test_control_character(load_error: LoadError) -> None:
    err = load_error(MINIMAL + "x: a\x07b\n")
    assert (err.line, err.message) == (4, "invalid YAML: control character U+0007 is not allowed")


def test_undefined_alias(load_error: LoadError) -> None:
    err = load_error(MINIMAL + "tools: *nope\n")
    assert (err.line, err.message) == (4, "invalid YAML: found undefined alias 'nope'")


def test_recursive_alias(load_error: LoadError) -> None:
    err = load_error(MINIMAL + "plugins: &p [*p]\n")
    assert err.line == 4
    assert err.message == (
        "invalid YAML: alias *p refers to a node that contains it (anchor at line 4)"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("!!int abc", "invalid YAML: 'abc' is not a valid !!int"),
        ("!!bool maybe", "invalid YAML: 'maybe' is not a valid !!bool"),
        ("!custom 1", "invalid YAML: could not determine a constructor for the tag '!custom'"),
        ("!!set {a, b}", "invalid YAML: tag 'tag:yaml.org,2002:set' is not supported here"),
        ("!!omap [a: 1]", "invalid YAML: tag 'tag:yaml.org,2002:omap' is not supported here"),
    ],
)
def test_bad_tags(load_error: LoadError, value: str, message: str) -> None:
    err = load_error(MINIMAL + f"plugins:\n  - module: m\n    settings: {{x: {value}}}\n")
    assert (err.line, err.key, err.message) == (6, "plugins[0].settings.x", message)


def test_key_must_be_a_scalar(load_error: LoadError) -> None:
    err = load_error(MINIMAL + "tools:\n  ? [a, b]\n  : {}\n")
    assert (err.line, err.key, err.message) == (
        5,
        "tools",
        "invalid YAML: a key must be a plain value",
    )


def test_duplicate_key(load_error: LoadError, tmp_path: Path) -> None:
    err = load_error(
        """\
        transport:
          type: replay
          path: a.jsonl
        tools:
          lookup_order: {timeout: 3}
          wave: {}
          lookup_order: {timeout: 4}
        """
    )
    assert str(err) == (
        f"{tmp_path}/bot.yaml:7: tools.lookup_order: duplicate key (first written at line 5)"
    )


def test_duplicate_top_level_key(load_error: LoadError) -> None:
    err = load_error(MINIMAL + "transport: {}\n")
    assert (err.line, err.key) == (4, "transport")


def test_duplicate_key_compares_values_not_spelling(load_error: LoadError) -> None:
    # 0x1 and 1 are the same integer key.
    err = load_error(MINIMAL + "plugins:\n  - module: m\n    settings: {1: a, 0x1: b}\n")
    assert (err.line, err.key) == (6, "plugins[0].settings[1]")


# --- errors: validation ----------------------------------------------------------------


def test_unknown_top_level_key(load_error: LoadError, tmp_path: Path) -> None:
    err = load_error(MINIMAL + "pluginz:\n  - shop\n")
    assert str(err) == (
        f"{tmp_path}/bot.yaml:4: pluginz: unknown key (allowed: conversation, defaults, "
        "dispatch, logging, pipeline_mode, plugins, plugins_autoload, serve, tavus, tools, "
        "transport, "
        "trust)"
    )


def test_unknown_nested_keys(load_error: LoadError) -> None:
    err = load_error(MINIMAL + "tools:\n  a:\n    reply: echo\n    timout: 5\n")
    assert (err.line, err.key) == (7, "tools.a.timout")
    assert err.message == (
        "unknown key (allowed: cancel_on_interrupt, delivery, max_concurrent, reply, timeout)"
    )

    err = load_error(MINIMAL + "  spead: 2\n")
    assert (err.line, err.key) == (4, "transport.spead")
    assert err.message == "unknown key (allowed: out, pace, path, speed, type)"

    err = load_error(MINIMAL + "plugins:\n  - module: m\n    setings: {}\n")
    assert (err.line, err.key) == (6, "plugins[0].setings")
    assert err.message == "unknown key (allowed: kind, module, name, ref, settings)"


def test_tool_timeout_out_of_range(load_error: LoadError, tmp_path: Path) -> None:
    err = load_error(
        """\
        pipeline_mode: full
        transport:
          type: replay
          path: a.jsonl
        tools:
          lookup_order:
            timeout: -1
        """
    )
    assert str(err) == (
        f"{tmp_path}/bot.yaml:7: tools.lookup_order.timeout: must be greater than 0 (got -1)"
    )
    err = load_error(MINIMAL + "defaults: {timeout: 7200}\n")
    assert str(err) == f"{tmp_path}/bot.yaml:4: defaults.timeout: must be at most 3600 (got 7200)"


@pytest.mark.parametrize(
    ("yaml_text", "line", "key", "message"),
    [
        ("defaults: {timeout: soon}", 4, "defaults.timeout", "must be a number (got 'soon')"),
        (
            "dispatch:\n  sync_workers: 1.5",
            5,
            "dispatch.sync_workers",
            "must be a whole number (got 1.5)",
        ),
        (
            "dispatch: {message_limit: 100}",
            4,
            "dispatch.message_limit",
            "must be at least 256 (got 100)",
        ),
        (
            "logging: {transcript: maybe}",
            4,
            "logging.transcript",
            "must be true or false (got 'maybe')",
        ),
        ("conversation: {id: 42}", 4, "conversation.id", "must be a string (got 42; quote it)"),
        ("conversation: c1", 4, "conversation", "must be a mapping (got 'c1')"),
        ("plugins: {a: 1}", 4, "plugins", "must be a list (got a mapping)"),
        ("tools: [a]", 4, "tools", "must be a mapping (got a list)"),
        ("tools:\n  a: 5", 5, "tools.a", "must be a mapping (got 5)"),
        ("tools:\n  7: {}", 5, "tools", "keys must be strings (got 7)"),
        ("plugins:\n  - ref: ''", 5, "plugins[0].ref", "must not be empty (got '')"),
        (
            "plugins:\n  - 12",
            5,
            "plugins[0]",
            "expected a plugin: a name, or a mapping with 'module' or 'name' (got 12)",
        ),
        ("plugins:\n  - {}", 5, "plugins[0]", "needs one of 'module', 'name' or 'ref'"),
        (
            "plugins:\n  - module: a\n    name: b",
            6,
            "plugins[0].name",
            "give only one of 'module', 'name' and 'ref' (also given: 'module')",
        ),
        (
            "plugins:\n  - {name: a, kind: module}",
            5,
            "plugins[0].kind",
            "contradicts 'name', which means kind: entry_point (got 'module')",
        ),
        ("plugins:\n  - name: null", 5, "plugins[0].name", "must be a non-empty string (got null)"),
    ],
)
def test_wrong_types_and_values(
    load_error: LoadError, yaml_text: str, line: int, key: str, message: str
) -> None:
    err = load_error(MINIMAL + yaml_text + "\n")
    assert (err.line, err.key, err.message) == (line, key, message)


def test_bad_enum_values_list_the_allowed_ones(load_error: LoadError, tmp_path: Path) -> None:
    err = load_error(MINIMAL + "tools:\n  lookup_order:\n    reply: speak\n")
    assert str(err) == (
        f"{tmp_path}/bot.yaml:6: tools.lookup_order.reply: must be one of: auto, tool_result, "
        "echo, respond, append_context, none (got 'speak')"
    )
    err = load_error(MINIMAL + "logging: {level: loud}\n")
    assert err.message == "must be one of: debug, info, warning, error (got 'loud')"
    err = load_error(MINIMAL + "  pace: slow\n")
    assert (err.key, err.message) == (
        "transport.pace",
        "must be one of: fast, recorded (got 'slow')",
    )
    err = load_error(MINIMAL + "pipeline_mode: off\n")  # YAML 1.1 reads `off` as false
    assert err.message == "must be one of: full, echo (got false)"


def test_a_config_without_transport_loads(tmp_path: Path) -> None:
    # The command supplies the transport (replay, console, run --conversation-url):
    # "transport: required" refused such a config before.
    file = tmp_path / "bot.yaml"
    file.write_text("# no transport\nlogging:\n  level: debug\n", encoding="utf-8")
    loaded = load_config(file)
    assert loaded.config.transport is None
    assert loaded.config.logging.level == "debug"


def test_missing_nested_key_is_located_at_its_parent(load_error: LoadError) -> None:
    err = load_error("logging: {}\ntransport:\n  type: replay\n")
    assert (err.line, err.key, err.message) == (2, "transport.path", "required")


def test_unknown_transport_type(load_error: LoadError, tmp_path: Path) -> None:
    err = load_error("transport:\n  type: daily2\n  path: a.jsonl\n")
    assert (
        str(err) == f"{tmp_path}/bot.yaml:2: transport.type: unknown transport 'daily2' "
        "(allowed: replay, daily)"
    )


def test_transport_without_type(load_error: LoadError) -> None:
    err = load_error("logging: {}\ntransport:\n  path: a.jsonl\n")
    assert (err.line, err.key, err.message) == (
        2,
        "transport.type",
        "required (allowed: replay, daily)",
    )


def test_transport_not_a_mapping(load_error: LoadError) -> None:
    err = load_error("transport: replay\n")
    assert (err.line, err.key, err.message) == (1, "transport", "must be a mapping (got 'replay')")


def test_further_problems_are_counted(load_error: LoadError, tmp_path: Path) -> None:
    err = load_error(
        MINIMAL
        + """\
defaults:
  timeout: 0
dispatch:
  sync_workers: 0
logging:
  level: loud
"""
    )
    # The problem written first in the file is the one described.
    assert str(err) == (
        f"{tmp_path}/bot.yaml:5: defaults.timeout: must be greater than 0 (got 0) "
        "(and 2 more problems)"
    )


def test_first_problem_in_file_order(load_error: LoadError) -> None:
    # pydantic checks `transport` before `tools`; the file has tools first.
    err = load_error("tools:\n  a: {timeout: x}\ntransport:\n  type: replay\n  path: 5\n")
    assert (err.line, err.key, err.message) == (
        2,
        "tools.a.timeout",
        "must be a number (got 'x') (and 1 more problem)",
    )


def test_respond_under_echo_at_defaults(load_error: LoadError, tmp_path: Path) -> None:
    err = load_error(
        MINIMAL
        + """\
pipeline_mode: echo
defaults:
  timeout: 5
  reply: respond
"""
    )
    assert str(err) == (
        f"{tmp_path}/bot.yaml:7: defaults.reply: "
        "respond needs Tavus's LLM, which pipeline_mode: echo turns off"
    )


def test_respond_under_echo_at_perception_reply(load_error: LoadError) -> None:
    err = load_error(MINIMAL + "pipeline_mode: echo\ndefaults: {perception_reply: respond}\n")
    assert (err.line, err.key) == (5, "defaults.perception_reply")


def test_respond_under_echo_at_a_tool_override(load_error: LoadError, tmp_path: Path) -> None:
    err = load_error(
        MINIMAL
        + """\
pipeline_mode: echo
tools:
  wave: {reply: echo}
  lookup_order:
    timeout: 5
    reply: respond
"""
    )
    assert str(err) == (
        f"{tmp_path}/bot.yaml:9: tools.lookup_order.reply: "
        "respond needs Tavus's LLM, which pipeline_mode: echo turns off"
    )


def test_errors_are_config_errors_only(load_text: LoadText) -> None:
    # A grab bag of broken inputs: each must be a ConfigError with a file, never another
    # exception type.
    broken = [
        "transport: [",
        "transport: {type: replay, path: 1}",
        "plugins: [{module: {a: 1}}]",
        "transport: {type: [1], path: a}",
        "tools: {null: {}}",
        "? !!binary aGk=\n: 1",
        "transport: &t {type: replay, path: a, out: *t}",
    ]
    for text in broken:
        with pytest.raises(ConfigError) as info:
            load_text(text)
        assert info.value.file is not None, text


def test_loaded_config_is_immutable(load_text: LoadText) -> None:
    loaded = load_text(MINIMAL)
    assert isinstance(loaded, LoadedConfig)
    with pytest.raises(AttributeError):
        loaded.path = Path("elsewhere")  # type: ignore[misc]
    with pytest.raises(TypeError):
        loaded.lines[("x",)] = 1  # type: ignore[index]
