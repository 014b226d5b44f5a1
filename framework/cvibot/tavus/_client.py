"""An async client of the Tavus REST API (protocol reference §8).

::

    async with TavusClient.from_env() as api:           # reads TAVUS_API_KEY
        conv = await api.create_conversation(persona_id="p123", test_mode=True)
        await api.end_conversation(conv.conversation_id)

This module holds the conversation and persona endpoints, one short method each; the
tools endpoints (§7.2) are in :mod:`cvibot.tavus._tools_api`. They all go through one private
path, ``_request`` (:mod:`cvibot.tavus._base_client`): JSON in and out, the ``x-api-key`` header,
a per-request timeout, the retry rule of :mod:`cvibot.tavus._retry`, a debug log line per
attempt and the mapping of a failure to one :mod:`cvibot.tavus._api_errors` class.

The API key is sent only as a header. It is not kept in a readable attribute, and never
appears in ``repr(client)``, a log line or an error message (server text that echoes it
is redacted).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Self

from cvibot.tavus._api_errors import MissingAPIKey
from cvibot.tavus._base_client import DEFAULT_BASE_URL
from cvibot.tavus._models import (
    Conversation,
    ConversationProperties,
    CreateConversationRequest,
    CreatePersonaRequest,
    PatchOperation,
    Persona,
    request_body,
)
from cvibot.tavus._paths import segment as _segment
from cvibot.tavus._tools_api import ToolsEndpoints

__all__ = ["API_KEY_ENV", "DEFAULT_BASE_URL", "TavusClient"]

API_KEY_ENV = "TAVUS_API_KEY"
"""The environment variable :meth:`TavusClient.from_env` reads the key from."""


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return value


def _given(**arguments: Any) -> dict[str, Any]:
    """The arguments that were given (not None), mappings as dicts and sequences (other
    than strings) as lists: the input of a request model."""
    return {name: _plain(value) for name, value in arguments.items() if value is not None}


class TavusClient(ToolsEndpoints):
    """Async client of the documented Tavus REST endpoints (protocol reference §8.1): the
    conversations and personas here, the tools registry and a PAL's tools from
    :class:`~cvibot.tavus._tools_api.ToolsEndpoints` (§7.2).

    Args:
        api_key: the Tavus API key, sent as the ``x-api-key`` header.
        base_url: the API root; ``https://`` only, except ``http://`` on a loopback host
            (the local fake, :mod:`doubles.fake_tavus`).
        timeout: seconds one attempt may take in all (connect, send, wait, read).
        retry: the retry policy (:class:`~cvibot.tavus._retry.RetryPolicy`: attempts,
            backoffs in seconds). Which failures are retried depends on whether the
            request creates something; see :mod:`cvibot.tavus._retry`.
        transport: an httpx transport, e.g. ``httpx.MockTransport(handler)`` in tests.

    Raises ``ValueError`` for an empty or non-ASCII key, a bad ``base_url`` or timeout.
    Use as ``async with TavusClient(key) as api: ...`` or call :meth:`aclose`.
    """

    @classmethod
    def from_env(cls, env_var: str = API_KEY_ENV, **kwargs: Any) -> Self:
        """A client whose key is the environment variable ``env_var`` (``TAVUS_API_KEY``).

        ``kwargs`` go to the constructor. Raises :class:`~cvibot.tavus._api_errors.MissingAPIKey`
        (a :class:`~cvibot._errors.ConfigError`) when the variable is unset or empty.
        """
        key = os.environ.get(env_var, "").strip()
        if not key:
            raise MissingAPIKey(
                f"the environment variable {env_var} is not set: "
                "set it to your Tavus API key to call the Tavus API"
            )
        return cls(key, **kwargs)

    # -- conversations (protocol reference §8.2, §8.3) ---------------------------------

    async def create_conversation(
        self,
        *,
        persona_id: str | None = None,
        replica_id: str | None = None,
        conversation_name: str | None = None,
        conversational_context: str | None = None,
        custom_greeting: str | None = None,
        callback_url: str | None = None,
        audio_only: bool | None = None,
        test_mode: bool | None = None,
        require_auth: bool | None = None,
        max_participants: int | None = None,
        memory_stores: Sequence[str] | None = None,
        document_ids: Sequence[str] | None = None,
        document_tags: Sequence[str] | None = None,
        document_retrieval_strategy: str | None = None,
        chat: bool | None = None,
        meeting_url: str | None = None,
        properties: ConversationProperties | Mapping[str, Any] | None = None,
    ) -> Conversation:
        """Start a conversation: ``POST /conversations`` (protocol reference §8.2).

        Only the arguments given (not None) are sent. ``properties`` holds the room
        settings (``max_call_duration`` in seconds, ``participant_left_timeout``,
        ``participant_absent_timeout``, ``enable_recording``, ``enable_closed_captions``,
        ``apply_greenscreen``, ``language``, …; unknown keys are sent as given).
        ``test_mode=True`` creates a conversation the replica never joins (status
        ``ended``, not billed).

        Returns the :class:`Conversation` (§8.3): ``conversation_id``,
        ``conversation_url`` (the Daily room), ``status``, ``meeting_token`` when
        ``require_auth``… Billing starts on creation, so a failed create is retried only
        when the failure shows Tavus did not act on it: a 429, a 503, or a connection
        that was never made (see :mod:`cvibot.tavus._retry`).

        Raises ``pydantic.ValidationError`` (a ``ValueError``) for a bad argument, and
        the :mod:`cvibot.tavus._api_errors` classes: ``BadRequest`` (also the "maximum
        concurrent conversations" refusal, ``err.concurrency_limit``), ``Unauthorized``,
        ``RateLimited``, ``ServerError``, ``TavusUnreachable``.
        """
        body = CreateConversationRequest.model_validate(
            _given(
                persona_id=persona_id,
                replica_id=replica_id,
                conversation_name=conversation_name,
                conversational_context=conversational_context,
                custom_greeting=custom_greeting,
                callback_url=callback_url,
                audio_only=audio_only,
                test_mode=test_mode,
                require_auth=require_auth,
                max_participants=max_participants,
                memory_stores=memory_stores,
                document_ids=document_ids,
                document_tags=document_tags,
                document_retrieval_strategy=document_retrieval_strategy,
                chat=chat,
                meeting_url=meeting_url,
                properties=properties,
            )
        )
        data = await self._request(
            "POST", "/conversations", json=request_body(body), idempotent=False
        )
        return self._parse(Conversation, data, "POST", "/conversations")

    async def get_conversation(
        self, conversation_id: str, *, verbose: bool = False
    ) -> Conversation:
        """One conversation: ``GET /conversations/{id}`` (protocol reference §8.3).

        ``verbose=True`` adds ``?verbose=true``: ``shutdown_reason`` and the ``events``
        (``system.replica_joined``, ``system.shutdown``, transcripts, …; §8.3, §9).
        Raises ``NotFound`` for an unknown id, and the other mapped errors.
        """
        path = f"/conversations/{_segment(conversation_id, 'conversation_id')}"
        data = await self._request(
            "GET",
            path,
            params={"verbose": "true"} if verbose else None,
            resource=f"conversation {conversation_id!r}",
        )
        return self._parse(Conversation, data, "GET", path)

    async def end_conversation(self, conversation_id: str) -> None:
        """End a conversation: ``POST /conversations/{id}/end`` (protocol reference §8.1).

        A 200 with a body and a 204 without one both succeed. Ending is safe to retry
        (it creates nothing). Raises ``NotFound`` for an unknown id.
        """
        path = f"/conversations/{_segment(conversation_id, 'conversation_id')}/end"
        await self._request(
            "POST", path, resource=f"conversation {conversation_id!r}", idempotent=True
        )

    # -- personas (protocol reference §8.1, §7) ----------------------------------------

    async def create_persona(
        self,
        *,
        persona_name: str | None = None,
        system_prompt: str | None = None,
        pipeline_mode: str | None = None,
        default_replica_id: str | None = None,
        context: str | None = None,
        layers: Mapping[str, Any] | None = None,
        document_ids: Sequence[str] | None = None,
        document_tags: Sequence[str] | None = None,
    ) -> Persona:
        """Create a persona: ``POST /personas`` (protocol reference §8.1, §7.4).

        ``pipeline_mode``: ``"full"`` (Tavus's default, needs ``system_prompt``) or
        ``"echo"``; other strings are sent as given (D14). ``layers``: the layer
        configuration, e.g. ``{"llm": {"tools": [...]}}`` (§7.1). Returns the
        :class:`Persona` (``persona_id``, ``persona_name``, ``created_at``). Not retried
        after a failure that may have created it (see :mod:`cvibot.tavus._retry`).
        """
        body = CreatePersonaRequest.model_validate(
            _given(
                persona_name=persona_name,
                system_prompt=system_prompt,
                pipeline_mode=pipeline_mode,
                default_replica_id=default_replica_id,
                context=context,
                layers=layers,
                document_ids=document_ids,
                document_tags=document_tags,
            )
        )
        data = await self._request("POST", "/personas", json=request_body(body), idempotent=False)
        return self._parse(Persona, data, "POST", "/personas")

    async def get_persona(self, persona_id: str) -> Persona:
        """The whole persona document: ``GET /personas/{id}`` (protocol reference §8.1).

        Raises ``NotFound`` for an unknown id.
        """
        path = f"/personas/{_segment(persona_id, 'persona_id')}"
        data = await self._request("GET", path, resource=f"persona {persona_id!r}")
        return self._parse(Persona, data, "GET", path)

    async def patch_persona(
        self, persona_id: str, operations: Sequence[PatchOperation | Mapping[str, Any]]
    ) -> None:
        """Apply a JSON Patch (RFC 6902) to a persona: ``PATCH /personas/{id}`` (§8.1).

        ``operations``: :class:`PatchOperation` or dicts like
        ``{"op": "replace", "path": "/layers/llm/tools", "value": [...]}``; paths must
        match the current document (read it with :meth:`get_persona`). Tavus documents
        the answer only as "OK" (a 304 when nothing changed is accepted too), so this
        returns nothing: read the result with :meth:`get_persona`.

        Raises ``ValueError`` for an empty or malformed patch, ``BadRequest`` when Tavus
        refuses it (a failed ``test``, a path that does not exist), ``NotFound``.
        """
        ops = [
            op if isinstance(op, PatchOperation) else PatchOperation.model_validate(op)
            for op in operations
        ]
        if not ops:
            raise ValueError("a JSON Patch needs at least one operation")
        path = f"/personas/{_segment(persona_id, 'persona_id')}"
        await self._request(
            "PATCH",
            path,
            json=[op.to_json() for op in ops],
            resource=f"persona {persona_id!r}",
            idempotent=False,
        )
