"""Shared data for the cvibot-faq tests: the shop knowledge base and questions about it."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DATA = EXAMPLES / "kb"  # the example shop's knowledge base: 22 entries
SOURCES = ["faq.md", "*.yaml"]  # relative to DATA

SYNONYMS: dict[str, list[str]] = {
    # What a shop adds after reading its transcripts: the customers' words for its own.
    "return": ["send back", "bring back", "exchange"],
    "refund": ["money back", "reimburse", "reimbursement"],
    "internationally": ["abroad", "overseas", "another country", "other countries"],
    "cost": ["price", "fee", "charge", "how much"],
    "store": ["shop"],
    "pick up": ["collect"],
    "password": ["log in", "login", "sign in"],
    "gift card": ["voucher", "present"],
    "repair": ["fix", "mend"],
    "warranty": ["guarantee", "faulty", "defect"],
    "customer service": ["human", "someone", "support", "phone", "call"],
    "sustainable": ["eco friendly", "environment", "green", "ethical"],
    "track": ["where is my"],
    "delivery": ["arrive"],
}

# (what the user asks, the entry question that must win). Each shares few words with
# its entry's question: synonyms, other word order, other forms of the words.
PARAPHRASES: list[tuple[str, str]] = [
    ("Where is my parcel right now?", "How do I track my order?"),
    (
        "I ordered the wrong colour by mistake, can I still cancel?",
        "Can I change or cancel my order after placing it?",
    ),
    ("Can I pay with PayPal?", "What payment methods do you accept?"),
    ("Do you take Apple Pay?", "What payment methods do you accept?"),
    ("Do you have vouchers I could give as a present?", "Do you sell gift cards?"),
    ("Can you send parcels to Germany?", "Do you ship internationally?"),
    ("How many days until my stuff arrives?", "How long does delivery take?"),
    ("What are the delivery fees?", "How much does shipping cost?"),
    ("Is delivery free?", "How much does shipping cost?"),
    ("Could I collect my purchase from your shop instead?", "Can I pick up my order in the store?"),
    ("I forgot my login details", "How do I reset my password?"),
    (
        "Please close my profile and erase everything you have about me",
        "How do I delete my account?",
    ),
    ("I'd like to send back a jacket that doesn't fit", "Can I return an item?"),
    ("How soon do I get my money back?", "When will I get my refund?"),
    ("I saw it cheaper on another website, will you match that?", "Do you price match?"),
    (
        "My tent is faulty after two months, is that covered?",
        "Is there a warranty on your products?",
    ),
    ("What time do you open on Saturdays?", "What are your store opening hours?"),
    ("What's the address of your shop?", "Where is your store?"),
    ("Is there a reduction for university students?", "Do you offer a student discount?"),
    ("How can I talk to a human?", "How can I contact customer service?"),
    ("Is your clothing eco friendly?", "Are your products sustainable?"),
    ("Can you fix a broken zip on my backpack?", "Do you repair gear?"),
    ("Which size should I order for a jacket?", "How do I choose the right size?"),
    ("Do you sell my information to third parties?", "How do you use my personal data?"),
    ("Are returns free?", "Can I return an item?"),
    ("Can I pay in cash at the shop?", "What payment methods do you accept?"),
    ("Are you open on Sunday?", "What are your store opening hours?"),
    ("I can't sign in to my account anymore", "How do I reset my password?"),
    ("How do I unsubscribe from the newsletter?", "How do you use my personal data?"),
    ("Do you deliver to Canada?", "Do you ship internationally?"),
    ("What if my jacket falls apart after a year?", "Is there a warranty on your products?"),
]

# Questions the shop's knowledge base has no answer to.
UNRELATED: list[str] = [
    "What's the weather like in Paris tomorrow?",
    "Who won the football match last night?",
    "Can you recommend a good pizza place?",
    "What is the capital of Australia?",
    "Tell me a joke about penguins",
    "How do I bake sourdough bread?",
    "Is the stock market going up?",
    "What is your favourite film?",
]


def shop_settings(**overrides: Any) -> dict[str, Any]:
    """Plugin settings for the shop knowledge base in DATA."""
    settings: dict[str, Any] = {"sources": list(SOURCES), "synonyms": SYNONYMS}
    settings.update(overrides)
    return settings


def write(path: Path, text: str) -> Path:
    """Write dedented ``text`` to ``path`` (folders made) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path
