"""``${VAR}`` interpolation in config values."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_helpers import MINIMAL, LoadError, LoadText
from hypothesis import given
from hypothesis import strategies as st

from cvibot.config._interpolate import _interpolate

SETTINGS = (
    MINIMAL
    + """\
plugins:
  - module: bots.shop
    settings:
      db: {value}
"""
)


def settings_value(load_text: LoadText, value: str, environ: dict[str, str]) -> object:
    loaded = load_text(SETTINGS.format(value=value), environ)
    return loaded.config.plugins[0].settings["db"]


@pytest.mark.parametrize(
    ("value", "environ", "expected"),
    [
        ("${DB}", {"DB": "shop.sqlite"}, "shop.sqlite"),
        ("sqlite:///${DIR}/${NAME}.db", {"DIR": "/var", "NAME": "shop"}, "sqlite:////var/shop.db"),
        ("${DB:-default.db}", {}, "default.db"),
        ("${DB:-default.db}", {"DB": "set.db"}, "set.db"),
        ("${DB:-default.db}", {"DB": ""}, "default.db"),  # `:-` also covers empty
        ('"${DB:-}"', {}, ""),
        ("${DB}", {"DB": ""}, ""),  # set but empty: no error
        ("'${DB:-a b: c}'", {}, "a b: c"),
        ("$${DB}", {"DB": "x"}, "${DB}"),
        ("cost $5 and $DB", {"DB": "x"}, "cost $5 and $DB"),
        ('"$$"', {}, "$$"),
        ("${DB}", {"DB": "${OTHER}"}, "${OTHER}"),  # substituted text is not read again
        ("${DB}", {"DB": "123"}, "123"),  # stays a string
    ],
)
def test_interpolation_in_plugin_settings(
    load_text: LoadText, value: str, environ: dict[str, str], expected: str
) -> None:
    assert settings_value(load_text, value, environ) == expected


def test_interpolation_at_any_depth(load_text: LoadText) -> None:
    loaded = load_text(
        MINIMAL
        + """\
plugins:
  - module: bots.shop
    settings:
      nested:
        list: [a, "${X}", {deep: "${X}-${Y:-y}"}]
""",
        {"X": "x"},
    )
    assert loaded.config.plugins[0].settings == {"nested": {"list": ["a", "x", {"deep": "x-y"}]}}


def test_typed_fields_are_coerced_from_strings(load_text: LoadText, tmp_path: Path) -> None:
    loaded = load_text(
        """\
        pipeline_mode: ${MODE:-full}
        conversation: {id: "${CONV}"}
        transport:
          type: replay
          path: ${RECORDINGS}/a.jsonl
          speed: ${SPEED:-2}
        plugins:
          - module: ${PLUGIN}
        tools:
          lookup_order: {timeout: "${T:-5}", cancel_on_interrupt: "${C:-true}"}
        dispatch: {max_concurrent_calls: "${N}"}
        """,
        {"CONV": "c42", "RECORDINGS": "recs", "PLUGIN": "bots.shop", "N": "3"},
    )
    config = loaded.config
    assert config.pipeline_mode == "full"
    assert config.conversation.id == "c42"
    assert config.transport.path == tmp_path / "recs" / "a.jsonl"
    assert config.transport.speed == 2.0
    assert config.plugins[0].ref == "bots.shop"
    assert config.tools["lookup_order"].timeout == 5.0
    assert config.tools["lookup_order"].cancel_on_interrupt is True
    assert config.dispatch.max_concurrent_calls == 3


def test_keys_are_not_interpolated(load_text: LoadText) -> None:
    loaded = load_text(MINIMAL + "tools:\n  ${X}: {}\n", {"X": "x"})
    assert list(loaded.config.tools) == ["${X}"]


def test_a_substituted_value_that_fails_validation(load_error: LoadError) -> None:
    # Quoted as written: the value may be a secret.
    err = load_error(MINIMAL + "defaults:\n  timeout: ${T}\n", {"T": "soon"})
    assert (err.line, err.key, err.message) == (
        5,
        "defaults.timeout",
        "must be a number (got '${T}')",
    )


def test_unset_variable(load_error: LoadError, tmp_path: Path) -> None:
    err = load_error(SETTINGS.format(value="sqlite:///${DB_PATH}"))
    assert str(err) == (
        f"{tmp_path}/bot.yaml:7: plugins[0].settings.db: environment variable DB_PATH "
        "is not set (write ${DB_PATH:-default} to give a default)"
    )


def test_unset_variable_in_a_list_item(load_error: LoadError) -> None:
    err = load_error(MINIMAL + "plugins:\n  - shop\n  - ${PLUGIN}\n")
    assert (err.line, err.key) == (6, "plugins[1]")
    assert "PLUGIN" in err.message


def test_unset_variable_in_a_multiline_value_is_at_the_value(load_error: LoadError) -> None:
    err = load_error(MINIMAL + "conversation:\n  id:\n    ${CONV}\n")
    assert (err.line, err.key) == (6, "conversation.id")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("'${DB'", "unterminated '${' (write '$${' for a literal '${')"),
        ("'a ${ b'", "unterminated '${' (write '$${' for a literal '${')"),
        ("'${}'", "bad variable reference '${}': expected ${NAME} or ${NAME:-default}"),
        ("'${1DB}'", "bad variable reference '${1DB}': expected ${NAME} or ${NAME:-default}"),
        (
            "'${DB NAME}'",
            "bad variable reference '${DB NAME}': expected ${NAME} or ${NAME:-default}",
        ),
        ("'${DB-x}'", "bad variable reference '${DB-x}': expected ${NAME} or ${NAME:-default}"),
        ("'${DB:?x}'", "bad variable reference '${DB:?x}': expected ${NAME} or ${NAME:-default}"),
        ("'${DB:-${X}}'", "'${' inside the default of ${DB} is not supported"),
    ],
)
def test_malformed_references(load_error: LoadError, value: str, message: str) -> None:
    err = load_error(SETTINGS.format(value=value), {"DB": "x"})
    assert (err.line, err.key, err.message) == (7, "plugins[0].settings.db", message)


def test_environ_defaults_to_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cvibot.config import load_config, parse_config

    monkeypatch.setenv("CVIBOT_TEST_RECORDING", "from-env.jsonl")
    text = "transport: {type: replay, path: '${CVIBOT_TEST_RECORDING}'}\n"
    assert parse_config(text, path=tmp_path / "b.yaml").config.transport.path.name == (
        "from-env.jsonl"
    )
    (tmp_path / "b.yaml").write_text(text, encoding="utf-8")
    assert load_config(tmp_path / "b.yaml").config.transport.path.name == "from-env.jsonl"


# --- properties ------------------------------------------------------------------------

_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_values = st.text(max_size=20)
# Text that holds no reference: no `$` at all; a default also ends at the first `}`.
_plain = st.text(alphabet=st.characters(exclude_characters="$"), max_size=20)
_defaults = st.text(alphabet=st.characters(exclude_characters="$}"), max_size=20)


@given(st.text())
def test_escaping_every_reference_gives_the_text_back(text: str) -> None:
    assert _interpolate(text.replace("${", "$${"), {}) == text


@given(st.text().filter(lambda text: "${" not in text))
def test_text_without_references_is_unchanged(text: str) -> None:
    assert _interpolate(text, {}) == text


@given(_names, _values, _plain, _defaults)
def test_variables_and_defaults(name: str, value: str, around: str, default: str) -> None:
    environ = {name: value}
    assert _interpolate(f"{around}${{{name}}}{around}", environ) == around + value + around
    assert _interpolate(f"${{{name}:-{default}}}", environ) == (value or default)
    assert _interpolate(f"${{{name}:-{default}}}", {}) == default
