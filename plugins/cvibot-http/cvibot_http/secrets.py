"""Keeping configured credentials out of logs and answers.

Header values are never logged, and URLs are logged without their query. What a server
or an exception says can still quote a credential back (``invalid token abc123``), so
every such text goes through a :class:`Redactor` built from the configured header values
and literal query values before it is logged or given to the LLM. httpx itself logs each
request's URL, query included, at INFO on the standard logger ``httpx``: a
:class:`RedactingFilter` on that logger redacts those records while a client is open.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Final

__all__ = ["MIN_SECRET_LENGTH", "REDACTED", "RedactingFilter", "Redactor"]

#: Shorter strings are left alone: redacting ``1``, ``json`` or ``Bearer`` would garble texts.
MIN_SECRET_LENGTH: Final = 8
REDACTED: Final = "[redacted]"


class Redactor:
    """Replaces every configured secret in a text by :data:`REDACTED`.

    Each value counts as a whole and by its whitespace-separated words (so that
    ``Bearer abc123...`` also hides ``abc123...`` alone), keeping those of at least
    :data:`MIN_SECRET_LENGTH` characters. Longer secrets are replaced first.
    """

    __slots__ = ("_secrets",)

    def __init__(self, values: Iterable[str] = ()) -> None:
        found: set[str] = set()
        for value in values:
            found.add(value.strip())
            found.update(value.split())
        self._secrets = tuple(
            sorted((s for s in found if len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True)
        )

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def __repr__(self) -> str:
        return f"<Redactor of {len(self._secrets)} secret(s)>"


class RedactingFilter(logging.Filter):
    """A :mod:`logging` filter that redacts a record whose message holds a secret.

    Such a record's message is formatted, redacted and stored as its ``msg`` (with no
    ``args``); other records pass untouched. No record is dropped.
    """

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's own problem to report
            return True
        redacted = self._redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True
