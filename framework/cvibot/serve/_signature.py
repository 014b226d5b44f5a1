"""The ``X-Tavus-Signature`` of a ``delivery.api`` request (protocol reference §7.2; what
is inferred: ``serve.delivery_api`` in docs/configuration.md).

Tavus signs a tool call sent to a customer callback (``auth: {type: hmac, secret}``) with
the shared secret. What is signed is inferred, not documented: every receiver found in the
wild computes ``hex(HMAC-SHA256(secret, raw body))``, one of them after removing an
optional ``sha256=`` prefix, and that is what is checked here, in constant time, over the
exact bytes received (never a re-serialised body). No timestamp is signed, so a captured
request can be replayed: the receiver's redelivery cache answers a replayed
``tool_call_id`` without running its handler again.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

__all__ = ["SIGNATURE_HEADER", "sign", "signature_matches"]

#: The request header that carries the signature.
SIGNATURE_HEADER: Final = "x-tavus-signature"
_PREFIX: Final = "sha256="
# A hex SHA-256 digest is 64 characters; anything much longer is not worth comparing.
_MAX_HEADER: Final = 256


def sign(secret: bytes, body: bytes) -> str:
    """``hex(HMAC-SHA256(secret, body))``: the signature Tavus is inferred to send."""
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def signature_matches(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` under ``secret``.

    Accepts the hex digest alone or with a ``sha256=`` prefix, in either case of hex
    digits. ``None``, an empty or an overlong header is ``False``. The comparison takes
    the same time wherever the first differing character is (``hmac.compare_digest``).
    """
    if not header or len(header) > _MAX_HEADER:
        return False
    given = header.strip()
    if given[: len(_PREFIX)].lower() == _PREFIX:
        given = given[len(_PREFIX) :]
    expected = sign(secret, body)
    # compare_digest wants ASCII on both sides for str; bytes of any content are fine.
    return hmac.compare_digest(given.lower().encode("utf-8", "surrogatepass"), expected.encode())
