"""Log output: capped fields, surrogate-safe writing, tracebacks without locals."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from cvibot._logging import FIELD_CAP, ITEMS_CAP, LogFormat, cap_fields, configure_logging

SECRET = "sk-live-0123456789abcdef"


class _Stream(io.TextIOWrapper):
    """A strict UTF-8 text stream over bytes, like a pipe's, that is not a terminal."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)

    def isatty(self) -> bool:
        return False

    def text(self) -> str:
        buffer = self.buffer
        assert isinstance(buffer, io.BytesIO)
        return buffer.getvalue().decode("utf-8")


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def _logged(fmt: LogFormat, event: str = "event", **fields: object) -> str:
    stream = _Stream()
    configure_logging("info", fmt, stream)
    structlog.get_logger().info(event, **fields)
    return stream.text()


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_a_megabyte_field_is_logged_capped_with_its_length(fmt: LogFormat) -> None:
    out = _logged(fmt, arguments="x" * 1_048_576, short="kept")
    assert len(out) < 2 * FIELD_CAP
    capped = "x" * FIELD_CAP + "…[truncated, 1048576 chars]"
    if fmt == "json":
        assert json.loads(out)["arguments"] == capped
    else:
        assert capped in out
    assert "kept" in out


def test_json_fields_stay_json_and_nested_strings_are_capped() -> None:
    out = _logged("json", args={"q": "y" * 5000, "n": 3}, items=list(range(1000)))
    record = json.loads(out)
    assert record["args"] == {"q": "y" * FIELD_CAP + "…[truncated, 5000 chars]", "n": 3}
    assert record["items"] == [*range(ITEMS_CAP), f"…[{1000 - ITEMS_CAP} more items]"]


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_a_lone_surrogate_in_a_field_logs_on_a_strict_utf8_stream(fmt: LogFormat) -> None:
    out = _logged(fmt, "said \ud83d", text="hi \ud83d there", nested={"k\udcff": ["\ud800"]})
    if fmt == "json":  # the escape as text, so that strict JSON parsers read the line
        record = json.loads(out)
        assert record["event"] == "said \\ud83d"
        assert record["text"] == "hi \\ud83d there"
        assert record["nested"] == {"k\\udcff": ["\\ud800"]}
    else:  # the event is written unquoted: the character itself used to fail
        assert "said \\ud83d" in out
        assert "ud83d there" in out


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_a_lone_surrogate_in_an_exception_logs_on_a_strict_utf8_stream(fmt: LogFormat) -> None:
    stream = _Stream()
    configure_logging("info", fmt, stream)
    try:
        raise ValueError("bad \ud83d input")
    except ValueError:
        structlog.get_logger().exception("failed")
    out = stream.text()
    if fmt == "json":
        assert json.loads(out)["exception"][0]["exc_value"] == "bad \\ud83d input"
    else:
        assert "ValueError: bad \\ud83d input" in out


def _fail_holding_a_key() -> None:
    api_key = SECRET  # a local of the failing frame
    raise RuntimeError(f"request failed ({len(api_key)} chars of key)")


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_tracebacks_never_show_local_variables(fmt: LogFormat) -> None:
    stream = _Stream()
    configure_logging("info", fmt, stream)
    try:
        _fail_holding_a_key()
    except RuntimeError:
        structlog.get_logger().exception("call failed")
    out = stream.text()
    assert "_fail_holding_a_key" in out  # the traceback is there
    assert SECRET not in out


def test_the_rich_default_would_show_locals() -> None:
    # Why the console renderer's formatter is set explicitly: with rich installed the
    # default traceback shows every frame's locals, the key among them.
    pytest.importorskip("rich")
    renderer = structlog.dev.ConsoleRenderer(colors=False)
    try:
        _fail_holding_a_key()
    except RuntimeError as exc:
        event = {"event": "x", "exc_info": (type(exc), exc, exc.__traceback__)}
        assert SECRET in str(renderer(None, "error", event))


def test_short_fields_are_left_as_they_are() -> None:
    args = {"order": "A1001", "items": [1, 2]}
    event = {"event": "call", "arguments": args, "n": 5, "name": "lookup"}
    result = cap_fields(None, "info", dict(event))
    assert result == event
    assert result["arguments"] is args


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=3000),
        lambda inner: st.lists(inner, max_size=300) | st.dictionaries(st.text(), inner),
        max_leaves=400,
    )
)
def test_any_field_renders_in_both_formats_within_bounds(value: object) -> None:
    assert _logged("console", field=value).endswith("\n")
    record = json.loads(_logged("json", field=value))

    def check(item: object) -> None:
        if isinstance(item, str):
            assert len(item) <= FIELD_CAP + len("…[truncated, 1000000 chars]")
        elif isinstance(item, list):
            assert len(item) <= ITEMS_CAP + 1
            for inner in item:
                check(inner)
        elif isinstance(item, dict):
            assert len(item) <= ITEMS_CAP + 1
            for key, inner in item.items():
                check(key)
                check(inner)

    check(record["field"])


def test_deep_nesting_is_cut() -> None:
    nested: object = "end"
    for _ in range(5000):
        nested = [nested]
    record = json.loads(_logged("json", nested=nested))
    depth = 0
    value = record["nested"]
    while isinstance(value, list):
        value, depth = value[0], depth + 1
    assert value == "…[nested deeper than 16 levels]"
    assert depth == 16
