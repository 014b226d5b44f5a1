"""docs/configuration.md lists every key of the config models, and nothing else.

The reference's key tables have the header ``| key | type | default | allowed | meaning |``
and one row per key, the key written as a backticked dotted path (``transport.path``,
``plugins[].settings``, ``tools.<name>.reply``). The models are walked from
``BotConfig.model_fields`` through nested models, unions (the transport types), lists
(``[]``) and mappings of models (``.<name>``); each key must have its row, each row a key
the models accept, and the type, default, allowed values and ranges must be the models'.
The examples of the errors and of interpolation are run.
"""

from __future__ import annotations

import itertools
import os
import re
import types
import typing
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import annotated_types
import click
import pytest
import yaml
from click.testing import CliRunner
from pydantic import AnyHttpUrl, BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo

from cvibot._cli.main import cli
from cvibot._errors import ConfigError
from cvibot.config import BotConfig, parse_config
from cvibot.config._common import TimeoutSeconds, WaitSeconds

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
KEY_HEADER = ["key", "type", "default", "allowed", "meaning"]

_FENCE = re.compile(r"^```([\w-]*)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_CODE = re.compile(r"`([^`]+)`")
_SEPARATOR = re.compile(r"\|(\s*:?-+:?\s*\|)+\s*")


def reference_text() -> str:
    return REFERENCE.read_text(encoding="utf-8")


# -- the reference's tables ------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    key: str
    type: str
    default: str
    allowed: str
    meaning: str
    line: int


def tables(text: str) -> list[tuple[list[str], list[tuple[int, list[str]]]]]:
    """Every Markdown table outside fenced blocks: its header cells and its rows (line, cells)."""
    # Fenced blocks blanked line by line, so their lines are never read as a table.
    blanked = _FENCE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    lines = blanked.splitlines()
    found: list[tuple[list[str], list[tuple[int, list[str]]]]] = []
    index = 0
    while index + 1 < len(lines):
        if lines[index].startswith("|") and _SEPARATOR.fullmatch(lines[index + 1]):
            header = cells(lines[index])
            rows: list[tuple[int, list[str]]] = []
            index += 2
            while index < len(lines) and lines[index].startswith("|"):
                rows.append((index + 1, cells(lines[index])))
                index += 1
            found.append((header, rows))
        else:
            index += 1
    return found


def cells(line: str) -> list[str]:
    parts = _CELL_SPLIT.split(line.strip())
    return [part.strip().replace("\\|", "|") for part in parts[1:-1]]


def key_rows() -> list[Row]:
    rows: list[Row] = []
    for header, body in tables(reference_text()):
        if header != KEY_HEADER:
            continue
        for line, row in body:
            assert len(row) == len(KEY_HEADER), f"line {line}: {len(row)} cells"
            match = re.fullmatch(r"`([^`]+)`", row[0])
            assert match, f"line {line}: the key is not one backticked path: {row[0]!r}"
            rows.append(Row(match.group(1), *row[1:], line=line))
    return rows


def documented() -> dict[str, Row]:
    return {row.key: row for row in key_rows()}


def section(title: str) -> str:
    """The text of the ``## title`` section, to the next level-2 heading."""
    text = reference_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


# -- the models' keys ------------------------------------------------------------------------


def members(annotation: Any) -> list[Any]:
    """The alternatives of ``annotation``: Annotated unwrapped, unions split, None left out."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in members(arg)]
    return [] if annotation is type(None) else [annotation]


def is_optional(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return is_optional(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(arg is type(None) or is_optional(arg) for arg in typing.get_args(annotation))
    return False


def is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


@dataclass(frozen=True)
class Key:
    """A key path and the fields it is (several for a key of every transport type)."""

    path: str
    fields: tuple[FieldInfo, ...]


def model_keys() -> dict[str, Key]:
    """Every key path of the config, from ``BotConfig.model_fields`` down."""
    keys: dict[str, list[FieldInfo]] = {}

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            path = f"{prefix}{name}"
            keys.setdefault(path, []).append(field)
            for member in members(field.annotation):
                origin = typing.get_origin(member)
                if is_model(member):
                    walk(member, f"{path}.")
                elif origin is list:
                    for item in members(typing.get_args(member)[0]):
                        if is_model(item):
                            walk(item, f"{path}[].")
                elif origin is dict:
                    for value in members(typing.get_args(member)[1]):
                        if is_model(value):
                            keys.setdefault(f"{path}.<name>", [])
                            walk(value, f"{path}.<name>.")

    walk(BotConfig, "")
    return {path: Key(path, tuple(fields)) for path, fields in keys.items()}


def container_models(path: str) -> list[type[BaseModel]]:
    """The models whose keys sit directly below ``path`` ("" for the top level)."""
    if path == "":
        return [BotConfig]
    key = model_keys().get(path.removesuffix("[]").removesuffix(".<name>"))
    if key is None:
        return []
    found: list[type[BaseModel]] = []
    for field in key.fields:
        for member in members(field.annotation):
            origin = typing.get_origin(member)
            if path.endswith("[]") and origin is list:
                found += [m for m in members(typing.get_args(member)[0]) if is_model(m)]
            elif path.endswith(".<name>") and origin is dict:
                found += [m for m in members(typing.get_args(member)[1]) if is_model(m)]
            elif not path.endswith(("[]", ".<name>")) and is_model(member):
                found.append(member)
    return found


def accepts_key(path: str) -> bool:
    """True if a model accepts the key ``path`` though no field has its name (a shorthand,
    such as ``plugins[].module``): a mapping with just that key fails at most for the
    fields it leaves out."""
    parent, _, leaf = path.rpartition(".")
    for model in container_models(parent):
        try:
            model.model_validate({leaf: "x"})
        except ValidationError as exc:
            if all(error["type"] == "missing" for error in exc.errors()):
                return True
        else:
            return True
    return False


# -- what a row must say about a field -------------------------------------------------------


def type_word(annotation: Any) -> str | None:
    if typing.get_origin(annotation) is Literal or (
        isinstance(annotation, type) and issubclass(annotation, Enum)
    ):
        return "string"
    if typing.get_origin(annotation) is list:
        return "list"
    if typing.get_origin(annotation) is dict or is_model(annotation):
        return "mapping"
    words = {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        SecretStr: "secret string",
        Path: "path",
        AnyHttpUrl: "URL",
    }
    return words.get(annotation)


def choices(annotation: Any) -> set[str] | None:
    values: set[str] = set()
    for member in members(annotation):
        if typing.get_origin(member) is Literal:
            values |= {str(arg) for arg in typing.get_args(member)}
        elif isinstance(member, type) and issubclass(member, Enum):
            values |= {str(item.value) for item in member}
    return values or None


def constraints(field: FieldInfo) -> list[Any]:
    """The annotated-types constraints of ``field``, including those of an Optional[...]."""
    found = list(field.metadata)

    def dig(annotation: Any) -> None:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            for extra in typing.get_args(annotation)[1:]:
                found.extend(extra.metadata if isinstance(extra, FieldInfo) else [extra])
            dig(typing.get_args(annotation)[0])
        elif origin in (typing.Union, types.UnionType):
            for arg in typing.get_args(annotation):
                dig(arg)

    dig(field.annotation)
    return found


def number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def range_texts(item: Any) -> tuple[str, ...] | None:
    """How the allowed cell writes one constraint (any of the texts), or None to skip it."""
    if isinstance(item, annotated_types.Gt):
        return (f"x > {number(item.gt)}", f"{number(item.gt)} < x")
    if isinstance(item, annotated_types.Ge):
        return (f"x ≥ {number(item.ge)}", f"{number(item.ge)} ≤ x")
    if isinstance(item, annotated_types.Lt):
        return (f"x < {number(item.lt)}",)
    if isinstance(item, annotated_types.Le):
        return (f"x ≤ {number(item.le)}",)
    if isinstance(item, annotated_types.MinLen):
        return ("non-empty",) if item.min_length == 1 else (f"at least {item.min_length}",)
    if isinstance(item, annotated_types.MaxLen):
        return (f"at most {item.max_length} characters",)
    return None


def seconds_metadata() -> list[list[Any]]:
    """The constraints of the duration types: a key of one of them is in seconds."""
    return [typing.get_args(alias)[1].metadata for alias in (TimeoutSeconds, WaitSeconds)]


def plain(value: Any) -> Any:
    """A default as the YAML of the reference writes it."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, AnyHttpUrl | Path):
        return str(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def holds_a_model(field: FieldInfo) -> bool:
    return any(is_model(member) for member in members(field.annotation))


# -- the walk itself -------------------------------------------------------------------------


def test_the_walk_reaches_nested_models_unions_lists_and_mappings() -> None:
    keys = model_keys()
    for path in (
        "pipeline_mode",
        "transport.reconnect.max_attempts",  # a model inside one member of a union
        "transport.path",
        "tavus.sync.persona_id",
        "conversation.create.properties",
        "plugins[].settings",
        "tools.<name>.timeout",
    ):
        assert path in keys, path
    assert len(keys["transport.type"].fields) == 2  # one per transport type
    assert not any(key.startswith("plugins[].settings.") for key in keys)  # free-form


# -- every key, and only keys ----------------------------------------------------------------


def test_every_key_of_the_models_is_in_the_reference() -> None:
    missing = sorted(set(model_keys()) - set(documented()))
    assert not missing, f"not in {REFERENCE.name}: {missing}"


def test_every_key_of_the_reference_exists() -> None:
    keys = model_keys()
    stale = sorted(key for key in documented() if key not in keys and not accepts_key(key))
    assert not stale, f"{REFERENCE.name} lists keys the config does not have: {stale}"


def test_the_shorthand_keys_are_accepted_and_a_made_up_one_is_not() -> None:
    assert accepts_key("plugins[].module")
    assert accepts_key("plugins[].name")
    assert not accepts_key("plugins[].path")
    assert not accepts_key("dispatch.max_calls")


def test_each_key_has_one_row() -> None:
    keys = [row.key for row in key_rows()]
    assert len(keys) > 60
    assert sorted(k for k in set(keys) if keys.count(k) > 1) == []


# -- what each row says ----------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(model_keys()))
def test_the_row_gives_the_type_default_and_allowed_values(path: str) -> None:
    row = documented().get(path)
    if row is None:
        pytest.fail(f"{path} is not in {REFERENCE.name}")
    key = model_keys()[path]
    if not key.fields:  # a mapping key you choose, such as tools.<name>
        assert row.type == "mapping"
        return
    for field in key.fields:
        # type
        words = {type_word(member) for member in members(field.annotation)} - {None}
        for word in words:
            assert row.type.startswith(word) or f" {word}" in row.type, (path, row.type, word)
        assert ("or null" in row.type) == is_optional(field.annotation), (path, row.type)
        # default
        if field.is_required():
            assert row.default == "*required*", (path, row.default)
        elif holds_a_model(field) and field.default is not None:
            assert row.default == "*see below*", (path, row.default)
        else:
            written = _CODE.fullmatch(row.default)
            assert written, f"{path}: the default is not one backticked value: {row.default!r}"
            assert yaml.safe_load(written.group(1)) == plain(field.default), (path, row.default)
        # range and units
        for item in constraints(field):
            texts = range_texts(item)
            if texts is not None:
                assert any(text in row.allowed for text in texts), (path, row.allowed, texts)
        if constraints(field) in seconds_metadata():
            assert "seconds" in row.allowed, (path, row.allowed)
    # allowed values (of every transport type, for transport.type)
    values = [choices(field.annotation) for field in key.fields]
    if any(values):
        expected = set().union(*[v for v in values if v])
        assert set(_CODE.findall(row.allowed)) == expected, (path, row.allowed)
    assert row.meaning, f"{path}: no meaning"


# -- errors and interpolation ----------------------------------------------------------------


def error_examples() -> list[tuple[str, str]]:
    """The (YAML, error line) pairs of the Errors section: a yaml block, then a text block."""
    blocks = _FENCE.findall(section("Errors"))
    pairs = []
    for (lang, code), (next_lang, next_code) in itertools.pairwise(blocks):
        if lang == "yaml" and next_lang == "text":
            pairs.append((code, next_code.strip()))
    return pairs


def test_the_error_examples_are_what_the_loader_says() -> None:
    pairs = error_examples()
    assert len(pairs) >= 2
    for text, expected in pairs:
        with pytest.raises(ConfigError) as failed:
            parse_config(text, path="/srv/bot/bot.yaml", environ={})
        assert f"error: {failed.value}" == expected


def test_the_command_prints_the_error_line_and_exits_with_status_2(tmp_path: Path) -> None:
    text, expected = error_examples()[0]
    config = tmp_path / "bot.yaml"
    config.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(config)])
    assert result.exit_code == 2
    assert result.stderr.strip() == expected.replace("/srv/bot/bot.yaml", str(config))


def interpolation_rows() -> list[tuple[str, dict[str, str], str]]:
    rows = []
    for header, body in tables(section("Interpolation")):
        if header != ["written", "environment", "value"]:
            continue
        for _, (written, environment, value) in body:
            env: dict[str, str] = {}
            if environment != "unset":
                name, _, text = environment.strip("`").partition("=")
                env[name] = text
            rows.append((written.strip("`"), env, value))
    return rows


def test_the_interpolation_examples_give_what_the_table_says() -> None:
    rows = interpolation_rows()
    assert len(rows) >= 8
    for written, env, value in rows:
        text = f"transport: {{type: replay, path: x.jsonl}}\nconversation:\n  id: '{written}'\n"
        if value == "error":
            with pytest.raises(ConfigError) as failed:
                parse_config(text, environ=env)
            assert failed.value.key == "conversation.id", written
            assert failed.value.line == 3
            continue
        assert value.startswith("`") and value.endswith("`"), value
        got = parse_config(text, environ=env).config.conversation.id
        assert got == yaml.safe_load(value.strip("`")), (written, env)


def test_relative_paths_resolve_from_the_config_folder(tmp_path: Path) -> None:
    """The reference's rule for transport.path and transport.out, from another folder."""
    config = tmp_path / "bots" / "bot.yaml"
    text = "transport: {type: replay, path: talks/a.jsonl, out: out.jsonl}\n"
    loaded = parse_config(text, path=config)
    assert loaded.config.transport.path == tmp_path / "bots" / "talks" / "a.jsonl"
    assert loaded.config.transport.out == tmp_path / "bots" / "out.jsonl"
    assert Path.cwd() != config.parent
    assert os.path.isabs(loaded.config.transport.path)


# -- command-line overrides ------------------------------------------------------------------


def cli_commands() -> dict[str, click.Command]:
    """Every command of ``cvibot``, by its words (``tools sync``)."""
    found: dict[str, click.Command] = {}

    def walk(command: click.Command, words: list[str]) -> None:
        if words:
            found[" ".join(words)] = command
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, [*words, name])

    walk(cli, [])
    return found


def override_rows() -> list[tuple[list[str], set[str], str]]:
    """(option spellings, commands, overrides cell) of the overrides table."""
    rows = []
    for header, body in tables(section("Command-line overrides")):
        if header != ["option", "commands", "overrides"]:
            continue
        for _, (options, commands, overrides) in body:
            rows.append((_CODE.findall(options), set(_CODE.findall(commands)), overrides))
    return rows


def test_each_override_is_an_option_of_exactly_the_commands_listed() -> None:
    commands = cli_commands()
    rows = override_rows()
    assert len(rows) >= 8
    for spellings, listed, _ in rows:
        for spelling in spellings:
            flag, _, values = spelling.partition(" ")
            having = {
                name
                for name, command in commands.items()
                if any(flag in param.opts for param in command.params)
            }
            assert having == listed, (flag, having)
            if "|" in values:
                [param] = [p for p in commands[min(listed)].params if flag in p.opts]
                assert isinstance(param.type, click.Choice)
                assert values.split("|") == list(param.type.choices), flag


def test_the_overridden_keys_exist() -> None:
    keys = model_keys()
    for _, _, overrides in override_rows():
        for token in _CODE.findall(overrides):
            if re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", token):
                assert token in keys, token
