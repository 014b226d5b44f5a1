"""Reading the plugin settings: defaults, and errors that name the key."""

from __future__ import annotations

from typing import Any

import pytest
from cvibot_faq.errors import FaqSettingsError
from cvibot_faq.index import Weights
from cvibot_faq.settings import DEFAULT_NO_ANSWER, FaqSettings


def test_empty_settings_turn_the_plugin_off() -> None:
    assert FaqSettings.parse({}) is None


def test_defaults() -> None:
    settings = FaqSettings.parse({"sources": "faq.md"})

    assert settings == FaqSettings(sources=("faq.md",))
    assert settings is not None
    assert (settings.tool_name, settings.top_k, settings.min_score) == ("search_faq", 1, 0.25)
    assert (settings.utterance_min_score, settings.fallback) == (0.35, None)
    assert settings.respond_to_utterances is True
    assert settings.no_answer == DEFAULT_NO_ANSWER
    assert settings.weights == Weights(question=10, alternatives=6, answer=1, tags=2)


def test_every_setting_is_read() -> None:
    settings = FaqSettings.parse(
        {
            "sources": ["faq.md", "policies/*.yaml"],
            "tool_name": None,
            "description": "Shop questions.",
            "top_k": 3,
            "min_score": 0,
            "utterance_min_score": 0.5,
            "no_answer": "No idea.",
            "respond_to_utterances": False,
            "fallback": "Sorry?",
            "synonyms": {"refund": ["money back", "reimburse"], "shop": "store"},
            "stopwords": ["Shop", "Café"],
            "headings": "all",
            "typo_tolerance": True,
            "weights": {"answer": 2},
        }
    )

    assert settings == FaqSettings(
        sources=("faq.md", "policies/*.yaml"),
        tool_name=None,
        description="Shop questions.",
        top_k=3,
        min_score=0.0,
        utterance_min_score=0.5,
        no_answer="No idea.",
        respond_to_utterances=False,
        fallback="Sorry?",
        synonyms={"refund": ("money back", "reimburse"), "shop": ("store",)},
        stopwords=("shop", "cafe"),
        headings="all",
        typo_tolerance=True,
        weights=Weights(answer=2.0),
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"tool_name": "faq"}, "sources: required: the knowledge-base files"),
        ({"sources": [], "x": 1}, "x: unknown setting (known: sources, tool_name,"),
        ({"sources": []}, "sources: expected a path or a non-empty list of paths"),
        ({"sources": ["a.md", 3]}, "sources[1]: expected a path or glob (got 3)"),
        (
            {"sources": "a.md", "top_k": 0},
            "top_k: expected an integer from 1 to 10 (got 0)",
        ),
        ({"sources": "a.md", "top_k": True}, "top_k: expected an integer from 1 to 10"),
        (
            {"sources": "a.md", "min_score": 1.5},
            "min_score: expected a number from 0 to 1",
        ),
        ({"sources": "a.md", "min_score": "high"}, "min_score: expected a number from 0"),
        ({"sources": "a.md", "fallback": ""}, "fallback: expected a non-empty string"),
        (
            {"sources": "a.md", "respond_to_utterances": "yes"},
            "respond_to_utterances: expected true or false",
        ),
        ({"sources": "a.md", "synonyms": ["refund"]}, "synonyms: expected a mapping"),
        (
            {"sources": "a.md", "synonyms": {"refund": [1]}},
            "synonyms.refund[0]: expected a word (got 1)",
        ),
        (
            {"sources": "a.md", "headings": "some"},
            "headings: expected 'questions' or 'all' (got 'some')",
        ),
        (
            {"sources": "a.md", "weights": {"title": 1}},
            "weights.title: unknown column (known: question,",
        ),
        (
            {"sources": "a.md", "weights": {"answer": 0}},
            "weights.answer: expected a number > 0 (got 0)",
        ),
    ],
)
def test_bad_settings_name_the_key(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(FaqSettingsError) as raised:
        FaqSettings.parse(settings)

    assert str(raised.value).startswith(message), str(raised.value)
    assert raised.value.key == message.split(":")[0]


def test_faq_errors_sit_in_cvibots_error_tree() -> None:
    from cvibot_faq.errors import FaqError, FaqSettingsError, FaqSourceError

    from cvibot import CvibotError, PluginSettingsError

    assert issubclass(FaqError, CvibotError)
    assert issubclass(FaqSourceError, ValueError)
    assert issubclass(FaqSettingsError, PluginSettingsError)
