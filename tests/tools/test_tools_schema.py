"""JSON Schema and argument model built from a handler's signature and docstring."""

from __future__ import annotations

import dataclasses
import functools
import sys
from enum import Enum
from typing import Annotated, Any, Literal, Optional

import pytest
from pydantic import BaseModel, Field
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from cvibot._context import ToolContext
from cvibot._errors import ToolDefinitionError
from cvibot.tools import ToolSpec, build_tool_spec, tool
from cvibot.tools._schema import llm_json_schema, reserved_properties


def spec_of(fn: Any, **options: Any) -> ToolSpec:
    # The test's locals resolve annotations naming its local classes.
    return build_tool_spec(fn, localns=sys._getframe(1).f_locals, **options)


def props(fn: Any) -> dict[str, Any]:
    return spec_of(fn).parameters["properties"]  # type: ignore[no-any-return]


def walk_keys(node: Any) -> set[str]:
    """Every dict key in a JSON value, at any depth."""
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in walk_keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in walk_keys(v)}
    return set()


class Color(Enum):
    """A colour."""

    RED = "red"
    GREEN = "green"


class Line(BaseModel):
    """One line of an order."""

    sku: str
    qty: int = 1


class Address(BaseModel):
    """Where to deliver."""

    street: str
    line: Line | None = None


# -- plain types, defaults, required --------------------------------------------------------


def test_primitives_map_to_json_types_and_are_required() -> None:
    def f(s: str, i: int, x: float, b: bool) -> None: ...

    assert spec_of(f).parameters == {
        "type": "object",
        "properties": {
            "s": {"type": "string"},
            "i": {"type": "integer"},
            "x": {"type": "number"},
            "b": {"type": "boolean"},
        },
        "required": ["s", "i", "x", "b"],
    }


def test_defaults_are_kept_and_not_required() -> None:
    def f(a: int, b: str = "x", c: bool = False) -> None: ...

    schema = spec_of(f).parameters
    assert schema["required"] == ["a"]
    assert schema["properties"]["b"] == {"default": "x", "type": "string"}
    assert schema["properties"]["c"] == {"default": False, "type": "boolean"}


def test_top_level_is_exactly_type_properties_required_even_without_parameters() -> None:
    def f() -> None: ...

    assert spec_of(f).parameters == {"type": "object", "properties": {}, "required": []}


def test_optional_of_a_plain_type_becomes_a_type_list() -> None:
    def f(a: int | None = None, b: Optional[str] = None, c: str | None = "x") -> None:  # noqa: UP045
        ...

    p = props(f)
    assert p["a"] == {"type": ["integer", "null"], "default": None}
    assert p["b"] == {"type": ["string", "null"], "default": None}
    assert p["c"] == {"type": ["string", "null"], "default": "x"}


def test_optional_without_default_is_required_and_nullable() -> None:
    def f(a: int | None) -> None: ...

    schema = spec_of(f).parameters
    assert schema["properties"]["a"] == {"type": ["integer", "null"]}
    assert schema["required"] == ["a"]


def test_optional_of_a_constrained_or_structured_type_keeps_any_of() -> None:
    def f(
        a: Literal["x", "y"] | None = None,
        b: list[str] | None = None,
        c: Line | None = None,
    ) -> None: ...

    p = props(f)
    assert p["a"] == {
        "anyOf": [{"enum": ["x", "y"], "type": "string"}, {"type": "null"}],
        "default": None,
    }
    assert p["b"] == {
        "anyOf": [{"items": {"type": "string"}, "type": "array"}, {"type": "null"}],
        "default": None,
    }
    assert p["c"]["anyOf"][1] == {"type": "null"}
    assert p["c"]["anyOf"][0]["properties"]["sku"] == {"type": "string"}


def test_literal_becomes_enum() -> None:
    def f(size: Literal["s", "m", "l"] = "m", n: Literal[1, 2] = 1) -> None: ...

    p = props(f)
    assert p["size"] == {"default": "m", "enum": ["s", "m", "l"], "type": "string"}
    assert p["n"] == {"default": 1, "enum": [1, 2], "type": "integer"}


def test_enum_is_inlined_with_its_values() -> None:
    def f(color: Color, other: Color = Color.GREEN) -> None: ...

    p = props(f)
    assert p["color"] == {"description": "A colour.", "enum": ["red", "green"], "type": "string"}
    assert p["other"]["default"] == "green"


def test_list_of_models_is_inlined_without_refs_or_titles() -> None:
    def f(lines: list[Line]) -> None: ...

    schema = spec_of(f).parameters
    assert schema["properties"]["lines"] == {
        "items": {
            "description": "One line of an order.",
            "properties": {"sku": {"type": "string"}, "qty": {"default": 1, "type": "integer"}},
            "required": ["sku"],
            "type": "object",
        },
        "type": "array",
    }
    assert not walk_keys(schema) & {"$ref", "$defs", "title"}


def test_nested_models_are_inlined_at_every_depth() -> None:
    def f(address: Address) -> None: ...

    schema = spec_of(f).parameters
    address = schema["properties"]["address"]
    assert address["description"] == "Where to deliver."
    assert address["properties"]["line"]["anyOf"][0]["properties"]["sku"] == {"type": "string"}
    assert not walk_keys(schema) & {"$ref", "$defs", "title"}


def test_a_fields_own_description_wins_over_the_models_docstring() -> None:
    def f(line: Line) -> None:
        """Do it.

        Args:
            line: The line to change.
        """

    assert props(f)["line"]["description"] == "The line to change."


def test_typed_dict_and_dataclass_parameters() -> None:
    class Point(TypedDict):
        x: int
        y: int

    @dataclasses.dataclass
    class Size:
        w: float

    def f(p: Point, s: Size) -> None: ...

    spec = spec_of(f)
    assert spec.parameters["properties"]["p"]["properties"] == {
        "x": {"type": "integer"},
        "y": {"type": "integer"},
    }
    assert spec.parameters["properties"]["s"]["required"] == ["w"]
    assert spec.validate({"p": {"x": 1, "y": "2"}, "s": {"w": 3}}) == {
        "p": {"x": 1, "y": 2},
        "s": Size(w=3.0),
    }


def test_annotated_field_constraints_and_description() -> None:
    def f(
        qty: Annotated[int, Field(ge=1, le=10, description="How many.")],
        code: Annotated[str, Field(max_length=8)] = "A",
    ) -> None: ...

    p = props(f)
    assert p["qty"] == {"description": "How many.", "maximum": 10, "minimum": 1, "type": "integer"}
    assert p["code"] == {"default": "A", "maxLength": 8, "type": "string"}


def test_field_description_wins_over_the_docstring() -> None:
    def f(
        a: Annotated[int, Field(description="from Field")],
        b: int = Field(3, description="from default Field"),
    ) -> None:
        """Do it.

        Args:
            a: from docstring
            b: from docstring
        """

    p = props(f)
    assert p["a"]["description"] == "from Field"
    assert p["b"] == {"default": 3, "description": "from default Field", "type": "integer"}


def test_docstring_description_joins_field_constraints() -> None:
    def f(qty: Annotated[int, Field(ge=1)]) -> None:
        """Do it.

        Args:
            qty: How many.
        """

    assert props(f)["qty"] == {"description": "How many.", "minimum": 1, "type": "integer"}


def test_a_parameter_called_title_and_defaults_holding_schema_keywords_survive() -> None:
    def f(title: str, meta: dict[str, str] = {"title": "x", "anyOf": "y"}) -> None:  # noqa: B006
        ...

    p = props(f)
    assert p["title"] == {"type": "string"}
    assert p["meta"]["default"] == {"title": "x", "anyOf": "y"}


def test_alias_sets_the_name_the_llm_sees() -> None:
    def route(from_: Annotated[str, Field(alias="from")], to: str) -> None: ...

    spec = spec_of(route)
    assert list(spec.parameters["properties"]) == ["from", "to"]
    assert spec.parameters["required"] == ["from", "to"]
    assert spec.validate({"from": "A", "to": "B"}) == {"from_": "A", "to": "B"}


def test_parameters_named_like_basemodel_methods_work() -> None:
    def f(json: str, copy: int, schema: str = "s") -> None: ...

    spec = spec_of(f)
    assert list(spec.parameters["properties"]) == ["json", "copy", "schema"]
    assert spec.validate({"json": "j", "copy": "2"}) == {"json": "j", "copy": 2, "schema": "s"}


def test_partial_bound_keywords_are_not_parameters() -> None:
    def lookup(order_id: int, api_key: str) -> None: ...

    spec = spec_of(functools.partial(lookup, api_key="secret"))
    assert spec.name == "lookup"
    assert spec.parameters["properties"] == {"order_id": {"type": "integer"}}
    assert spec.validate({"order_id": 1}) == {"order_id": 1}


def test_context_parameter_is_excluded_and_reported() -> None:
    def f(order_id: int, ctx: ToolContext) -> None:
        """Do it.

        Args:
            order_id: The order.
            ctx: Injected by cvibot.
        """

    spec = spec_of(f)
    assert spec.context_param == "ctx"
    assert list(spec.parameters["properties"]) == ["order_id"]
    assert spec.parameters["required"] == ["order_id"]
    assert spec.validate({"order_id": 1}) == {"order_id": 1}


def test_optional_or_annotated_context_parameter_counts_as_context() -> None:
    def f(context: ToolContext | None = None) -> None: ...

    def g(context: Annotated[ToolContext, "injected"]) -> None: ...

    assert spec_of(f).context_param == "context"
    assert spec_of(g).context_param == "context"
    assert spec_of(f).parameters["properties"] == {}


def test_no_context_parameter() -> None:
    def f(a: int) -> None: ...

    assert spec_of(f).context_param is None


# -- docstrings -----------------------------------------------------------------------------


def google(order_id: int, reason: str = "") -> None:
    """Cancel an order.

    Only orders that have not shipped can be cancelled.

    Args:
        order_id: The order number.
        reason (str): Why the customer cancels.

    Returns:
        Nothing.
    """


def numpy(order_id: int, reason: str = "") -> None:
    """Cancel an order.

    Only orders that have not shipped can be cancelled.

    Parameters
    ----------
    order_id : int
        The order number.
    reason : str
        Why the customer cancels.
    """


def rest(order_id: int, reason: str = "") -> None:
    """Cancel an order.

    Only orders that have not shipped can be cancelled.

    :param order_id: The order number.
    :param reason: Why the customer cancels.
    :returns: Nothing.
    """


def epydoc(order_id: int, reason: str = "") -> None:
    """Cancel an order.

    Only orders that have not shipped can be cancelled.

    @param order_id: The order number.
    @param reason: Why the customer cancels.
    """


@pytest.mark.parametrize("fn", [google, numpy, rest, epydoc], ids=lambda fn: fn.__name__)
def test_docstring_styles_give_description_and_parameter_descriptions(fn: Any) -> None:
    spec = spec_of(fn)
    assert spec.description == (
        "Cancel an order.\n\nOnly orders that have not shipped can be cancelled."
    )
    assert spec.parameters["properties"] == {
        "order_id": {"description": "The order number.", "type": "integer"},
        "reason": {"default": "", "description": "Why the customer cancels.", "type": "string"},
    }


def test_summary_wrapped_over_two_lines_is_kept_together() -> None:
    def f() -> None:
        """Look up an order
        by its number.
        """

    assert spec_of(f).description == "Look up an order\nby its number."


def test_no_docstring_gives_an_empty_description() -> None:
    def f(a: int) -> None: ...

    spec = spec_of(f)
    assert spec.description == ""
    assert spec.parameters["properties"] == {"a": {"type": "integer"}}


def test_explicit_description_replaces_the_docstring_but_parameter_docs_stay() -> None:
    def f(a: int) -> None:
        """Docstring summary.

        Args:
            a: The a.
        """

    spec = spec_of(f, description="Explicit.")
    assert spec.description == "Explicit."
    assert spec.parameters["properties"]["a"]["description"] == "The a."


def test_documented_parameter_missing_from_the_signature_is_an_error() -> None:
    def f(order_id: int) -> None:
        """Do it.

        Args:
            order: The order (renamed since).
        """

    with pytest.raises(ToolDefinitionError, match=r"tool 'f': the docstring documents 'order'"):
        spec_of(f)


def test_docstring_attributes_are_not_parameters() -> None:
    def f(a: int) -> None:
        """Do it.

        Args:
            a: The a.

        Attributes:
            cache: Not a parameter.
        """

    assert spec_of(f).parameters["properties"]["a"]["description"] == "The a."


# -- errors ---------------------------------------------------------------------------------


def test_unannotated_parameter_is_an_error() -> None:
    def f(a, b: int) -> None: ...  # type: ignore[no-untyped-def]

    with pytest.raises(ToolDefinitionError, match=r"parameter 'a' has no type annotation"):
        spec_of(f)


def test_unannotated_self_suggests_the_bound_method() -> None:
    class Shop:
        def lookup(self, order_id: int) -> None: ...

    with pytest.raises(ToolDefinitionError, match=r"'self'.*build_tool_spec\(obj.method\)"):
        tool(Shop.lookup)
    spec = build_tool_spec(Shop().lookup)
    assert spec.name == "lookup"
    assert list(spec.parameters["properties"]) == ["order_id"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def f(*args: int) -> None: ...", r"\*args is not supported"),
        ("def f(**kwargs: int) -> None: ...", r"\*\*kwargs is not supported"),
        ("def f(a: int, /) -> None: ...", r"parameter 'a' is positional-only"),
        ("def f(_a: int) -> None: ...", r"parameter '_a' starts with an underscore"),
    ],
)
def test_unsupported_parameter_kinds(source: str, message: str) -> None:
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    with pytest.raises(ToolDefinitionError, match=message):
        spec_of(namespace["f"])


def test_two_context_parameters_are_an_error() -> None:
    def f(a: ToolContext, b: ToolContext) -> None: ...

    with pytest.raises(ToolDefinitionError, match=r"'a' and 'b' are both ToolContext"):
        spec_of(f)


def test_reserved_tavus_prefix_is_an_error_at_any_depth() -> None:
    class Inner(BaseModel):
        tavus_id: str

    def top(tavus_mode: str) -> None: ...

    def nested(items: list[Inner]) -> None: ...

    def aliased(mode: Annotated[str, Field(alias="tavus_mode")]) -> None: ...

    with pytest.raises(ToolDefinitionError, match=r"'tavus_mode' use the prefix 'tavus_'"):
        spec_of(top)
    with pytest.raises(ToolDefinitionError, match=r"'items\[\]\.tavus_id'"):
        spec_of(nested)
    with pytest.raises(ToolDefinitionError, match=r"'tavus_mode'"):
        spec_of(aliased)


def test_recursive_model_is_an_error() -> None:
    def f(node: Node) -> None: ...

    with pytest.raises(ToolDefinitionError, match=r"tool 'f': 'Node' refers to itself"):
        spec_of(f)


class Node(BaseModel):
    value: int
    children: list[Node] = []


def test_unresolvable_annotation_is_an_error() -> None:
    def f(a: Undefined) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(ToolDefinitionError, match=r"cannot resolve the type hints.*Undefined"):
        spec_of(f)


def test_type_pydantic_cannot_validate_is_an_error() -> None:
    class Opaque:
        pass

    def f(a: Opaque) -> None: ...

    with pytest.raises(ToolDefinitionError, match=r"tool 'f': cannot build the argument model"):
        spec_of(f)


def test_callable_without_a_name_needs_one() -> None:
    class Handler:
        def __call__(self, a: int) -> None: ...

    with pytest.raises(ToolDefinitionError, match=r"has no __name__; pass name="):
        spec_of(Handler())
    assert list(spec_of(Handler(), name="handle").parameters["properties"]) == ["a"]


# -- the schema helpers on their own --------------------------------------------------------


def test_llm_json_schema_of_a_model() -> None:
    assert llm_json_schema(Line) == {
        "type": "object",
        "properties": {"sku": {"type": "string"}, "qty": {"default": 1, "type": "integer"}},
        "required": ["sku"],
    }


def test_reserved_properties_paths() -> None:
    schema = {
        "type": "object",
        "properties": {
            "tavus_a": {"type": "string"},
            "ok": {
                "type": "object",
                "properties": {"tavus_b": {"type": "string"}},
            },
            "lst": {
                "anyOf": [
                    {"type": "array", "items": {"properties": {"tavus_c": {}}}},
                    {"type": "null"},
                ]
            },
        },
        "$defs": {"X": {"properties": {"tavus_d": {}}}},
    }
    assert reserved_properties(schema) == ["tavus_a", "ok.tavus_b", "lst[].tavus_c", "tavus_d"]
    assert reserved_properties({"type": "object", "properties": {"tavusx": {}}}) == []
