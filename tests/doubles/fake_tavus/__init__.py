"""A stateful local fake of the documented Tavus REST endpoints (protocol reference §8.1–8.3).

Two ways to reach it, sharing one state::

    fake = FakeTavusAPI(api_key="k")
    async with TavusClient("k", transport=fake.transport()) as api:   # in process
        ...
    with fake.serve() as base_url:           # real HTTP on 127.0.0.1, e.g. for a CLI test
        subprocess.run([..., "--tavus-base-url", base_url])

What it does, endpoint by endpoint (paths under ``/v2``):

- ``POST /conversations``: checks the body's fields and types (§8.2; ``pal_id``/``face_id``
  accepted as aliases, D15; an unknown field is a 400), a known ``persona_id``, a replica
  (``replica_id`` or the persona's ``default_replica_id``) and the optional
  concurrent-conversation limit (a 400 whose message says "maximum concurrent
  conversations"). Answers §8.3: ``conversation_id`` (``c`` + 11 hex digits),
  ``conversation_url`` ``https://tavus.daily.co/<id>``, ``status`` ``active`` (``ended``
  with ``test_mode``), ``meeting_token`` with ``require_auth``.
- ``GET /conversations/{id}[?verbose=true]``: the conversation; verbose adds ``events``
  (``system.replica_joined``, ``system.shutdown``) and ``shutdown_reason``.
- ``POST /conversations/{id}/end``: status ``ended``; 200 with a JSON body, or 204 when
  built with ``end_status=204``. Ending an ended conversation succeeds again.
- ``POST /personas``, ``GET /personas/{id}``: a persona; ``pipeline_mode`` ``full`` (the
  default) needs a ``system_prompt``; any other mode string is accepted (D14).
- ``PATCH /personas/{id}``: an RFC 6902 JSON Patch (the :mod:`jsonpatch` library) applied
  all-or-nothing; a failed ``test``, a path that does not exist, a malformed operation
  or a change of ``persona_id`` is a 400. 200 with the new document; 304 when nothing
  changed. ``/pals/{id}`` is the same persona (GET, PATCH).
- The tools registry and a PAL's tools (§7.2): ``GET``/``POST /tools``,
  ``GET``/``PATCH``/``DELETE /tools/{id}``, ``GET``/``POST /pals/{id}/tools``,
  ``DELETE /pals/{id}/tools/{tool_id}``, with Tavus's checks (name rule and unique
  names, a 409 for a name taken; the size limit; the reserved ``tavus_`` prefix; the
  perception rules; exactly one delivery; at most 50 tools per PAL) and pagination; see
  :mod:`~.tools`. The account starts with the system tool ``end_call``.

Every call needs the configured ``x-api-key`` (else 401 with a JSON ``message``); an
unknown id is a 404, a bad body a 400, always as ``{"message": "..."}``; an unknown path a
404 and a known path with another method a 405.

Faults (:meth:`FakeTavusAPI.fail_next`, :meth:`~FakeTavusAPI.drop_next`,
:meth:`~FakeTavusAPI.refuse_next`) replace the next matching answers, and
:attr:`FakeTavusAPI.requests` records every request received (the key header removed).
The server binds 127.0.0.1 only.

Modules: :mod:`~.api` (the front: key, recording, faults), :mod:`~.endpoints` (state and
handlers), :mod:`~.bodies` (body checks), :mod:`~.tools` and :mod:`~.tool_bodies` (the
tools registry and its checks), :mod:`~.patch` (JSON Patch), :mod:`~.records`
(requests, replies, faults), :mod:`~.ids` (ids, timestamps), :mod:`~.serving` (the httpx
transport and the HTTP server).
"""

from __future__ import annotations

from doubles.fake_tavus.api import FakeTavusAPI
from doubles.fake_tavus.patch import apply_json_patch
from doubles.fake_tavus.records import API_PREFIX, RecordedRequest, Reply

__all__ = ["API_PREFIX", "FakeTavusAPI", "RecordedRequest", "Reply", "apply_json_patch"]
