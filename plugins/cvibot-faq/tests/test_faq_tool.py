"""The search tool end to end: a fake conversation calls it on a real bot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cvibot_faq.settings import DEFAULT_NO_ANSWER
from faq_helpers import DATA, shop_settings, write

from cvibot import ConfigError
from cvibot.testing import FakeConversation


def faq(settings: dict[str, Any]) -> list[object]:
    """The ``plugins`` argument that loads the installed plugin with ``settings``."""
    return [{"name": "cvibot-faq", "settings": settings}]


async def test_the_tool_answers_with_the_best_entry() -> None:
    async with FakeConversation(plugins=faq(shop_settings()), base_dir=DATA) as conv:
        reply = await conv.tool_call("search_faq", {"question": "How soon do I get my money back?"})

    assert reply.status == "success"
    assert reply.text == (
        "We refund to your original payment method within 5 working days of receiving "
        "your return. Your bank may take 2 or 3 more days to show it."
    )


async def test_a_markdown_answer_comes_as_plain_text() -> None:
    async with FakeConversation(plugins=faq(shop_settings()), base_dir=DATA) as conv:
        reply = await conv.tool_call("search_faq", {"question": "cancel an order"})

    assert reply.text == (
        "Yes, within one hour of placing it: go to Orders and choose Edit or Cancel. "
        "After that the order is already being packed, so please return it once it arrives."
    )


async def test_an_unrelated_question_gets_the_no_answer_text() -> None:
    async with FakeConversation(plugins=faq(shop_settings()), base_dir=DATA) as conv:
        default = await conv.tool_call(
            "search_faq", {"question": "Who won the football match last night?"}
        )
    async with FakeConversation(
        plugins=faq(shop_settings(no_answer="Not in the FAQ.")), base_dir=DATA
    ) as conv:
        custom = await conv.tool_call("search_faq", {"question": "What is the weather?"})

    assert (default.status, default.text) == ("success", DEFAULT_NO_ANSWER)
    assert custom.text == "Not in the FAQ."


async def test_top_k_lists_the_questions_with_their_answers() -> None:
    settings = shop_settings(top_k=2, min_score=0.1)
    async with FakeConversation(plugins=faq(settings), base_dir=DATA) as conv:
        reply = await conv.tool_call("search_faq", {"question": "refund for my return"})

    assert reply.text is not None
    first, second = reply.text.split("\n\n")
    assert first.startswith("1. Q: When will I get my refund?\nA: We refund to your")
    assert second.startswith("2. Q: Can I return an item?\nA: Yes. Unworn items")


async def test_name_description_and_schema_of_the_tool() -> None:
    settings = shop_settings(tool_name="ask_shop", description="Questions about Northwind.")
    conv = FakeConversation(plugins=faq(settings), base_dir=DATA)

    spec = conv.bot.tools["ask_shop"]

    assert spec.plugin == "cvibot-faq"
    assert spec.description == "Questions about Northwind."
    assert spec.parameters["required"] == ["question"]
    question = spec.parameters["properties"]["question"]
    assert question["type"] == "string"
    assert question["description"] == "The user's question as a full sentence, in their words."
    default = FakeConversation(plugins=faq(shop_settings()), base_dir=DATA).bot.tools["search_faq"]
    assert default.description.startswith("Search the knowledge base of frequently asked")


async def test_a_bad_question_argument_is_refused_before_the_search() -> None:
    async with FakeConversation(plugins=faq(shop_settings()), base_dir=DATA) as conv:
        empty = await conv.tool_call("search_faq", {"question": ""})
        missing = await conv.tool_call("search_faq", {})

    assert (empty.status, missing.status) == ("error", "error")
    assert "question" in (empty.text or "")


async def test_tool_name_null_registers_no_tool() -> None:
    conv = FakeConversation(plugins=faq(shop_settings(tool_name=None)), base_dir=DATA)

    assert "search_faq" not in conv.bot.tools


async def test_installed_but_not_configured_the_plugin_does_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CVIBOT_DISABLE_PLUGIN_AUTOLOAD", "")  # a test session may set it
    async with FakeConversation(pipeline_mode="echo", autoload=True) as conv:
        assert any(p.name == "cvibot-faq" for p in conv.bot.host.plugins)
        assert "search_faq" not in conv.bot.tools
        assert await conv.say("Do you ship internationally?") is None


async def test_sources_resolve_from_the_config_folder(tmp_path: Path) -> None:
    write(tmp_path / "kb/faq.md", "## Do you have parking?\nYes, behind the shop.\n")
    config = write(
        tmp_path / "bot.yaml",
        """
        plugins:
          - name: cvibot-faq
            settings: {sources: [kb/*.md]}
        """,
    )

    async with FakeConversation(config=config) as conv:
        reply = await conv.tool_call("search_faq", {"question": "where can I park?"})

    assert reply.text == "Yes, behind the shop."


def test_bad_settings_are_a_config_error_at_the_setting(tmp_path: Path) -> None:
    config = write(
        tmp_path / "bot.yaml",
        """
        pipeline_mode: full
        plugins:
          - name: cvibot-faq
            settings:
              sources: faq.md
              top_k: 0
        """,
    )

    with pytest.raises(ConfigError) as raised:
        FakeConversation(config=config)

    # The file, the line and the key of the bad setting.
    assert str(raised.value) == (
        f"{config}:6: plugins[0].settings.top_k: expected an integer from 1 to 10 (got 0) "
        "(plugin 'cvibot-faq')"
    )


def test_a_bad_source_file_is_a_config_error_naming_its_line(tmp_path: Path) -> None:
    write(tmp_path / "faq.yaml", "- question: Do you ship abroad?\n  tags: [x]\n")

    # Read while the bot collects its tools, so `cvibot check` reports it too.
    with pytest.raises(ConfigError) as raised:
        FakeConversation(plugins=faq({"sources": ["faq.yaml"]}), base_dir=tmp_path)

    assert raised.value.key == "plugins[0]"
    assert f"{tmp_path / 'faq.yaml'}:1: the entry has no 'answer'" in str(raised.value)


def test_a_bad_tool_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="search faq"):
        FakeConversation(plugins=faq(shop_settings(tool_name="search faq")), base_dir=DATA)
