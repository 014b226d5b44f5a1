"""The small parts: templates, dotted paths and the redactor."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from cvibot_http.paths import MISSING, check_path, pick
from cvibot_http.secrets import REDACTED, RedactingFilter, Redactor
from cvibot_http.templates import Template, text_of


def test_a_template_renders_its_fields_and_literal_braces() -> None:
    template = Template.parse("{{id}} {order_id}: {order_id}/{n}")
    assert template.fields == ("order_id", "n")
    assert template.lone is None
    values = {"order_id": "A 1", "n": 3}
    assert template.render(values.__getitem__) == "{id} A 1: A 1/3"
    assert template.render(values.__getitem__, lambda text: text.replace(" ", "+")) == (
        "{id} A+1: A+1/3"
    )


def test_a_lone_placeholder_is_recognised() -> None:
    assert Template.parse("{x}").lone == "x"
    assert Template.parse(" {x}").lone is None
    assert Template.parse("plain").fields == ()


@pytest.mark.parametrize(
    ("source", "paths", "message"),
    [
        ("{", False, "Single '{' encountered"),
        ("}", False, "Single '}' encountered"),
        ("{}", False, "positional fields ({}) are not supported"),
        ("{x!r}", False, "format specs and conversions are not supported"),
        ("{x:>3}", False, "format specs and conversions are not supported"),
        ("{a.b}", False, "is a dotted path"),
        ("{a[0]}", True, "write a dotted path such as {items.0.sku}"),
        ("{a..b}", True, "has an empty path segment"),
        ("{1x}", False, "is not a valid name"),
    ],
)
def test_bad_templates(source: str, paths: bool, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        Template.parse(source, paths=paths)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("x", "x"),
        (None, ""),
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (2.5, "2.5"),
        ([1, "ü"], '[1,"ü"]'),
        ({"a": None}, '{"a":null}'),
    ],
)
def test_text_of(value: Any, text: str) -> None:
    assert text_of(value) == text


def test_pick_follows_keys_and_indexes() -> None:
    body = {"data": {"items": [{"sku": "K-1"}, {"sku": "K-2"}], "n": None}}
    assert pick(body, "data.items.1.sku") == "K-2"
    assert pick(body, "data.items.-1.sku") == "K-2"
    assert pick(body, "data.n") is None
    for path in (
        "data.items.2",
        "data.items.x",
        "data.missing",
        "data.n.deeper",
        "data.items.0.sku.x",
    ):
        assert pick(body, path) is MISSING
    assert check_path("a.0.b") is None
    assert check_path(" ") == "must not be empty"


def test_the_redactor_hides_values_and_their_long_words() -> None:
    redact = Redactor(["Bearer abcdef123456", "short", "xy"])
    assert redact("got Bearer abcdef123456 and abcdef123456") == (f"got {REDACTED} and {REDACTED}")
    assert redact("Bearer short xy") == "Bearer short xy"  # too short to hide
    assert "abcdef" not in repr(redact)


def test_the_logging_filter_redacts_formatted_records() -> None:
    record = logging.LogRecord(
        "httpx", logging.INFO, "f", 1, "GET %s", ("/?key=abcdef123456",), None
    )
    other = logging.LogRecord("httpx", logging.INFO, "f", 1, "GET %s", ("/?page=2",), None)
    redacting = RedactingFilter(Redactor(["abcdef123456"]))

    assert redacting.filter(record) and redacting.filter(other)
    assert record.getMessage() == f"GET /?key={REDACTED}"
    assert other.getMessage() == "GET /?page=2"
    assert other.args == ("/?page=2",)
