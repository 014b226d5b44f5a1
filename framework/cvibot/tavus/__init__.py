"""Client of the Tavus REST API (protocol reference §8): conversations, personas, and the
tools registry with a PAL's attached tools (§7.2).

::

    from cvibot.tavus import TavusClient, NotFound

    async with TavusClient.from_env() as api:
        conv = await api.create_conversation(persona_id="p123", test_mode=True)

Errors are in :mod:`cvibot.tavus._api_errors`, the retry rule in :mod:`cvibot.tavus._retry`,
the bodies in :mod:`cvibot.tavus._models` and :mod:`cvibot.tavus._tool_models`; a local
fake of the API for tests is :mod:`doubles.fake_tavus`.
"""

from __future__ import annotations

from cvibot.tavus._api_errors import (
    BadRequest,
    Conflict,
    MissingAPIKey,
    NotFound,
    RateLimited,
    ServerError,
    TavusAPIError,
    TavusUnreachable,
    Unauthorized,
    UnexpectedResponse,
)
from cvibot.tavus._client import API_KEY_ENV, DEFAULT_BASE_URL, TavusClient
from cvibot.tavus._models import (
    Conversation,
    ConversationProperties,
    CreateConversationRequest,
    CreatePersonaRequest,
    PatchOperation,
    Persona,
)
from cvibot.tavus._retry import RetryPolicy
from cvibot.tavus._tool_models import CreateToolRequest, RegistryTool, UpdateToolRequest
from cvibot.tavus._tools_api import MAX_ATTACH

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_BASE_URL",
    "MAX_ATTACH",
    "BadRequest",
    "Conflict",
    "Conversation",
    "ConversationProperties",
    "CreateConversationRequest",
    "CreatePersonaRequest",
    "CreateToolRequest",
    "MissingAPIKey",
    "NotFound",
    "PatchOperation",
    "Persona",
    "RateLimited",
    "RegistryTool",
    "RetryPolicy",
    "ServerError",
    "TavusAPIError",
    "TavusClient",
    "TavusUnreachable",
    "Unauthorized",
    "UnexpectedResponse",
    "UpdateToolRequest",
]
