"""Between Redis and the contract's types: the job's JSON in a stream entry, and a
conversation's hash as a :class:`~cvibot.serve._backend.ConversationRecord`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, cast, get_args

from cvibot.serve._backend import ConversationRecord, ConversationState, Job, JobSource

__all__ = ["MalformedJob", "check_conversation_id", "decode_job", "encode_job", "to_record"]

_STATES = frozenset(get_args(ConversationState))
_SOURCES = frozenset(get_args(JobSource))
# Tavus ids are short hex strings; anything outside this is refused before it names a key.
_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")


class MalformedJob(ValueError):
    """A stream entry that is not a job this module wrote (dropped, never retried)."""


def check_conversation_id(cid: str) -> str:
    """``cid`` when it is 1–128 characters of ``A-Z a-z 0-9 _ . -``; else :class:`ValueError`."""
    if not _ID.fullmatch(cid):
        raise ValueError(
            f"invalid conversation_id {cid[:40]!r}: expected 1-128 of A-Z a-z 0-9 _ . -"
        )
    return cid


def encode_job(job: Job) -> str:
    """The stream entry's ``job`` field. The meeting token is left out: it
    goes into the conversation's hash, which loses it when the job ends."""
    return json.dumps(
        {
            "v": 1,
            "conversation_id": job.conversation_id,
            "conversation_url": job.conversation_url,
            "source": job.source,
            "enqueued_at": job.enqueued_at,
            "metadata": dict(job.metadata),
            "create": dict(job.create) if job.create is not None else None,
        },
        separators=(",", ":"),
    )


def decode_job(text: str, *, meeting_token: str, attempts: int) -> Job:
    """The :class:`Job` of a stream entry; :class:`MalformedJob` when it is not one."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MalformedJob(f"job is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("v") != 1:
        raise MalformedJob("job is not a version 1 object")
    cid, url = data.get("conversation_id"), data.get("conversation_url")
    source, metadata, create = data.get("source"), data.get("metadata"), data.get("create")
    enqueued_at = data.get("enqueued_at")
    if not isinstance(cid, str) or not isinstance(url, str):
        raise MalformedJob("conversation_id and conversation_url must be strings")
    if source not in _SOURCES:
        raise MalformedJob(f"unknown source {source!r}")
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise MalformedJob("metadata must map strings to strings")
    if create is not None and not isinstance(create, dict):
        raise MalformedJob("create must be an object or null")
    if not isinstance(enqueued_at, int | float) or isinstance(enqueued_at, bool):
        raise MalformedJob("enqueued_at must be a number")
    return Job(
        conversation_id=cid,
        conversation_url=url,
        meeting_token=meeting_token or None,
        source=cast(JobSource, source),
        enqueued_at=float(enqueued_at),
        metadata=metadata,
        create=create,
        attempts=attempts,
    )


def _float(value: str | None) -> float | None:
    return float(value) if value else None


def _int(value: str | None, default: int | None) -> int | None:
    return int(value) if value else default


def to_record(cid: str, fields: Mapping[str, Any]) -> ConversationRecord | None:
    """The record of a conversation hash (``None`` when the hash is empty: unknown)."""
    if not fields:
        return None
    status = fields.get("status")
    state = cast(ConversationState, status if status in _STATES else "failed")
    source = fields.get("source")
    fence = _int(fields.get("fence"), None)
    return ConversationRecord(
        conversation_id=cid,
        state=state,
        owner=fields.get("owner") or None,
        fence=fence or None,
        attempts=_int(fields.get("attempts"), 0) or 0,
        source=cast(JobSource, source if source in _SOURCES else "api"),
        enqueued_at=_float(fields.get("enqueued_at")),
        joined_at=_float(fields.get("joined_at")),
        ended_at=_float(fields.get("ended_at")),
        reason=fields.get("reason")
        or (None if status in _STATES else f"unknown status {status!r}"),
        tool_calls=_int(fields.get("tool_calls"), 0) or 0,
    )
