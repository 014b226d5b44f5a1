"""The room as one fake client sees it: whether it is in, who is there, whether it ended."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["Room", "participant"]


def participant(
    user_name: str | None = None,
    user_id: str | None = None,
    *,
    participant_id: str | None = None,
    local: bool = False,
) -> dict[str, Any]:
    """A participant dict shaped as daily-python gives it (``id``, ``info``, ``media``)."""
    info: dict[str, Any] = {"isLocal": local, "isOwner": False}
    if user_name is not None:
        info["userName"] = user_name
    if user_id is not None:
        info["userId"] = user_id
    return {"id": participant_id or str(uuid.uuid4()), "info": info, "media": {}}


class Room:
    """The call state the client's requests and the scripted events both change."""

    def __init__(self, remote_participants: Iterable[Mapping[str, Any]]) -> None:
        self.joined = False
        self.ended: str | None = None
        """Once the room ended: the error every later join fails with."""
        self.remote: list[dict[str, Any]] = [dict(p) for p in remote_participants]
        self.local_id = str(uuid.uuid4())
        self.user_name: str | None = None

    def local(self) -> dict[str, Any]:
        """The local participant (with its user name once one is set)."""
        return participant(self.user_name or None, participant_id=self.local_id, local=True)

    def everyone(self) -> dict[str, Any]:
        """``participants`` of the join data: ``local`` and each remote by id."""
        return {"local": self.local(), **{str(p["id"]): p for p in self.remote}}

    def counts(self) -> dict[str, int]:
        """What ``participant_counts()`` returns."""
        present = (1 + len(self.remote)) if self.joined else 0
        return {"hidden": 0, "present": present}

    def add(self, p: Mapping[str, Any]) -> None:
        self.remote.append(dict(p))

    def remove(self, p: Mapping[str, Any]) -> None:
        self.remote = [r for r in self.remote if r["id"] != p["id"]]
