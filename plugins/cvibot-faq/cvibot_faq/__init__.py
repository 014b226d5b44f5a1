"""cvibot-faq: a knowledge-base tool over local Q&A files, indexed with SQLite FTS5.

Installed, it registers as the cvibot plugin ``cvibot-faq``; configured with
``settings: {sources: [...]}`` it brings the ``search_faq`` tool and, under
``pipeline_mode: echo``, answers the user's utterances. The index can also be used on
its own::

    from cvibot_faq import FaqIndex, load_entries

    index = FaqIndex(load_entries(["faq.md"], Path(".")))
    hits = index.search("do you ship abroad?", min_score=0.3)
"""

from __future__ import annotations

from cvibot_faq.entries import FaqEntry
from cvibot_faq.errors import FaqError, FaqSettingsError, FaqSourceError
from cvibot_faq.hooks import (
    cvibot_register_tools,
    cvibot_respond_to_utterance,
    cvibot_shutdown,
    cvibot_startup,
)
from cvibot_faq.index import FaqIndex, Hit, Weights
from cvibot_faq.settings import FaqSettings
from cvibot_faq.sources import load_entries
from cvibot_faq.synonyms import Synonyms

__version__ = "0.1.0"

__all__ = [
    "FaqEntry",
    "FaqError",
    "FaqIndex",
    "FaqSettings",
    "FaqSettingsError",
    "FaqSourceError",
    "Hit",
    "Synonyms",
    "Weights",
    "__version__",
    "cvibot_register_tools",
    "cvibot_respond_to_utterance",
    "cvibot_shutdown",
    "cvibot_startup",
    "load_entries",
]
