"""When and how long the Tavus client waits before trying a failed request again.

The rule (:func:`should_retry`), for a request that failed with one of the mapped errors:

    failure                                     safe requests     creating requests
                                                (GET, end)        (POST create, PATCH)
    429 Too Many Requests                       retry             retry
    "maximum concurrent conversations" refusal  no                no
    500, 502, 504                               retry             no
    503 Service Unavailable                     retry             retry
    connect error, connect or pool timeout      retry             retry
    read/write timeout, dropped connection      retry             no
    any other status                            no                no

Why: ``POST /conversations`` is not idempotent, and billing starts when a conversation is
created (protocol reference §8.3). A 500, a 502/504 from a gateway, or a connection that
broke after the body was sent may all come *after* Tavus created the conversation, so a
retry could create (and bill) a second one. A create is retried only when the failure
shows the request was not acted on: the server refused it (429, 503) or the connection
was never made. ``PATCH /personas`` follows the same rule, since a JSON Patch ``add`` to
an array is not idempotent either.

Waits: exponential, ``initial_backoff * 2**(n-1)`` plus a random jitter of up to
``initial_backoff``, capped at ``max_backoff``. A 429's ``Retry-After`` (seconds, or an
HTTP date) replaces the backoff when present; one longer than ``max_retry_after`` is not
waited for: the :class:`RateLimited` error is raised at once, with ``retry_after`` set.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from tenacity import RetryCallState
from tenacity.wait import wait_base

from cvibot.tavus._api_errors import RateLimited, ServerError, TavusUnreachable

__all__ = ["RetryPolicy", "parse_retry_after", "should_retry"]

_SAFE_RETRY_STATUSES = frozenset({500, 502, 503, 504})
_CREATE_RETRY_STATUSES = frozenset({503})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently the client retries (seconds throughout).

    ``attempts`` counts the first try: ``attempts=1`` never retries.
    """

    attempts: int = 3
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if self.initial_backoff < 0 or self.max_backoff < 0 or self.max_retry_after < 0:
            raise ValueError("RetryPolicy backoffs must not be negative")


def should_retry(exc: BaseException, *, idempotent: bool, policy: RetryPolicy) -> bool:
    """Whether a failed attempt may be tried again (the table of the module docstring)."""
    if isinstance(exc, RateLimited):
        if exc.concurrency_limit:
            return False
        return exc.retry_after is None or exc.retry_after <= policy.max_retry_after
    if isinstance(exc, ServerError):
        statuses = _SAFE_RETRY_STATUSES if idempotent else _CREATE_RETRY_STATUSES
        return exc.status in statuses
    if isinstance(exc, TavusUnreachable):
        return idempotent or not exc.sent
    return False


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent
    or unreadable. Negative values (a date in the past) become 0."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN, inf
        return None
    return max(0.0, seconds)


class BackoffWait(wait_base):
    """tenacity wait: the server's ``Retry-After`` if the failure was a 429 that sent
    one, else exponential backoff with jitter (see the module docstring)."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return min(exc.retry_after, self._policy.max_retry_after)
        policy = self._policy
        exponent = min(retry_state.attempt_number - 1, 32)
        backoff = policy.initial_backoff * 2.0**exponent
        jitter = random.uniform(0, policy.initial_backoff)
        return min(backoff + jitter, policy.max_backoff)
