"""The cvibot hooks: the ``search_faq`` tool, the index's lifecycle, the echo-mode answers.

With empty settings (an installed plugin the config does not name) every hook does
nothing: no tool, no index, no answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cvibot import Utterance, hookimpl
from cvibot_faq.knowledge import knowledge_bases

__all__ = [
    "cvibot_register_tools",
    "cvibot_respond_to_utterance",
    "cvibot_shutdown",
    "cvibot_startup",
]


@hookimpl
def cvibot_register_tools(
    register: Callable[..., None], settings: Mapping[str, Any], base_dir: Path
) -> None:
    """Read and index the files (relative to ``base_dir``, the config file's folder) and
    register the search tool (``tool_name``, default ``search_faq``; none if null).

    Reading here means ``cvibot check`` reports a bad file too. Raises
    :class:`~cvibot_faq.errors.FaqSettingsError` for bad settings and
    :class:`~cvibot_faq.errors.FaqSourceError` for a bad file, which the bot reports as
    a config error at this plugin's entry.
    """
    knowledge = knowledge_bases.get(settings)
    if knowledge is None:
        return
    knowledge.start(base_dir)
    if knowledge.settings.tool_name is not None:
        register(knowledge.tool_spec())


@hookimpl
async def cvibot_startup(settings: Mapping[str, Any]) -> None:
    """Build the index again if a shutdown dropped it (a bot that serves again), in a
    worker thread, from the folder the files were first read from."""
    knowledge = knowledge_bases.get(settings)
    if knowledge is not None:
        await asyncio.to_thread(knowledge.index)


@hookimpl
def cvibot_shutdown(settings: Mapping[str, Any]) -> None:
    """Drop the index."""
    knowledge = knowledge_bases.get(settings)
    if knowledge is not None:
        knowledge.stop()


@hookimpl
async def cvibot_respond_to_utterance(
    utterance: Utterance, settings: Mapping[str, Any]
) -> str | None:
    """Under ``pipeline_mode: echo``: the best answer to what the user said, else the
    ``fallback`` text, else ``None`` (silence, or another plugin's answer).

    Off with ``respond_to_utterances: false``. The search runs in a worker thread.
    """
    knowledge = knowledge_bases.get(settings)
    if knowledge is None or not knowledge.settings.respond_to_utterances:
        return None
    return await asyncio.to_thread(knowledge.answer_utterance, utterance.speech)
