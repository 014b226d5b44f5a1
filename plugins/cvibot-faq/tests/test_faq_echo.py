"""Under pipeline_mode: echo the bot answers the user's utterances from the index."""

from __future__ import annotations

from typing import Any

from faq_helpers import DATA, EXAMPLES, shop_settings

from cvibot.testing import FakeConversation


def conversation(pipeline_mode: str = "echo", **settings: Any) -> FakeConversation:
    return FakeConversation(
        config={"pipeline_mode": pipeline_mode},
        plugins=[{"name": "cvibot-faq", "settings": shop_settings(**settings)}],
        base_dir=DATA,
    )


async def test_the_replica_says_the_best_answer_verbatim() -> None:
    async with conversation() as conv:
        reply = await conv.say("Could I collect my purchase from your shop instead?")

    assert reply is not None
    assert reply.event_type == "conversation.echo"
    assert reply.text == (
        "Yes, choose Click & Collect at checkout. Your order is ready in the Leeds store "
        "within 24 hours, and we text you when it is."
    )


async def test_nothing_matching_gets_the_fallback_or_silence() -> None:
    async with conversation(fallback="Sorry, I can only answer questions about the shop.") as conv:
        fallback = await conv.say("What's the weather like in Paris tomorrow?")
    async with conversation() as conv:
        silent = await conv.say("What's the weather like in Paris tomorrow?")

    assert fallback is not None
    assert fallback.text == "Sorry, I can only answer questions about the shop."
    assert silent is None


async def test_utterances_use_their_own_stricter_threshold() -> None:
    question = "Can you fix a broken zip on my backpack?"  # scores 0.28
    async with conversation() as conv:
        strict = await conv.say(question)  # utterance_min_score 0.35
        tool = await conv.tool_call("search_faq", {"question": question})  # min_score 0.25
    async with conversation(utterance_min_score=0.25) as conv:
        lenient = await conv.say(question)

    assert strict is None
    assert (tool.text or "").startswith("Yes, our workshop repairs zips")
    assert lenient is not None
    assert (lenient.text or "").startswith("Yes, our workshop repairs zips")


async def test_respond_to_utterances_false_stays_silent() -> None:
    async with conversation(respond_to_utterances=False) as conv:
        reply = await conv.say("Do you ship internationally?")

    assert reply is None


async def test_full_mode_leaves_utterances_to_tavus() -> None:
    async with conversation("full") as conv:
        reply = await conv.say("Do you ship internationally?")

    assert reply is None


async def test_the_example_configs_work() -> None:
    async with FakeConversation(config=EXAMPLES / "echo.yaml") as conv:
        spoken = await conv.say("What time do you open on Saturdays?")
        unknown = await conv.say("Who won the football match last night?")
    async with FakeConversation(config=EXAMPLES / "full.yaml") as conv:
        reply = await conv.tool_call("search_faq", {"question": "How soon do I get my money back?"})

    assert spoken is not None
    assert spoken.text == (
        "The Leeds store is open Monday to Saturday from 9 am to 6 pm and on Sunday "
        "from 10 am to 4 pm."
    )
    assert unknown is not None
    assert unknown.text == "Sorry, I can only help with questions about Northwind Outfitters."
    assert (reply.text or "").startswith("1. Q: When will I get my refund?\nA: We refund")
