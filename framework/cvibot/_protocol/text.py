"""Text that UTF-8 can carry: lone UTF-16 surrogates replaced.

JSON may escape a lone surrogate (``"\\ud83d"``), and both ``json.loads`` and daily-python
hand it over as a Python ``str`` holding the code point U+D83D. Such a string cannot be
encoded as UTF-8 (``UnicodeEncodeError``), so it must never reach an outbound message, a
terminal or a file unchanged. :func:`valid_unicode` is the one place that mends it.
"""

from __future__ import annotations

import re

__all__ = ["REPLACEMENT", "has_surrogates", "valid_unicode"]

REPLACEMENT = "\ufffd"
"""What a lone surrogate becomes: U+FFFD REPLACEMENT CHARACTER."""

_SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogates(text: str) -> bool:
    """True when ``text`` holds a surrogate code point (U+D800-U+DFFF), paired or not."""
    # isascii() is O(1) on CPython's compact strings: the usual text skips the search.
    return not text.isascii() and _SURROGATE.search(text) is not None


def valid_unicode(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD; ``text`` itself when it has none.

    A high and a low surrogate that follow each other (a pair split into two code points,
    as some decoders leave them) are joined into the one character they stand for, so
    ``"\\ud83d\\ude00"`` becomes ``"😀"`` and ``"a\\ud83db"`` becomes ``"a\\ufffdb"``. The
    result always encodes as UTF-8.
    """
    if not has_surrogates(text):
        return text
    # UTF-16 with surrogatepass writes each code point as its 16-bit unit(s); decoding
    # that back joins adjacent pairs and replaces the lone units.
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
