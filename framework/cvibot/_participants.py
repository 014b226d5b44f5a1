"""Who is in the room, and which participant is the replica.

In a Tavus room every participant can broadcast app-messages, so a human's browser can
forge a ``conversation.tool_call``. The session acts only on messages whose sender the
:class:`Roster` identifies as the replica (protocol reference §1, "Who is the replica").

The rule (:class:`ReplicaRule`): a participant matches when

1. its Daily ``user_id`` contains one of ``user_id_contains`` (default ``tavus-replica``,
   the rule of Tavus's own ``useReplicaIDs`` hook in ``@tavus/cvi-ui``; Daily sets
   ``user_id`` from the meeting token, so a browser cannot pick it), or its id is one of
   ``participant_ids`` (tests, fixed setups); **and**
2. when ``user_names`` is configured, its user name is also one of them.

A user name alone never identifies the replica: any participant can call itself by the
persona's name (pipecat's rule), so ``user_names`` only narrows the rule above.

One replica per conversation, and it is sticky (:meth:`Roster.update`):

- the first participant that matches *when it joins* (or is first reported) becomes the
  replica, if the conversation has none;
- a participant that matches while another one is the replica, or that comes to match
  only after it joined (a rename, a ``user_id`` that changes to take the marker), is an
  *impostor*: refused (:attr:`Standing.IMPOSTOR`, the session logs it at warning with
  who it is) and never trusted while it stays in the room;
- a replica that stops matching (its ``user_id``, or its name under ``user_names``,
  changes) is *demoted* (:attr:`Standing.DEMOTED`): no longer trusted, for good;
- only once the replica has left (or was demoted) may a participant that joins later
  become the replica, by the same rule, never by name alone: that is what a Tavus
  replica that reconnects looks like (a new participant id with the same marker). A
  participant already in the room, refused before, is not promoted. The session itself
  ends the conversation when its replica leaves (:class:`cvibot._session.Session`), so in
  a live room a reconnected replica is met by a new conversation.

Fields an update leaves out keep their values (an update may carry only what changed).

The latency guide's shortcut ("any non-local participant of a 1:1 call is the replica")
is not used: it is exactly the participant a forged message would come from.

Participants arrive as daily-python's dicts (``{"id": ..., "info": {"userId": ...,
"userName": ..., "isLocal": ...}}``); daily-js's flat spelling (``user_id``,
``user_name``, ``local``) is accepted too, so recordings from either client replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Participant",
    "ParticipantChange",
    "ReplicaRule",
    "Roster",
    "Standing",
    "TrustPolicy",
]

ParticipantChange = Literal["joined", "updated", "left"]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class Participant:
    """One Daily participant: its session ``id``, ``user_id``, ``user_name``, ``local``."""

    id: str
    user_id: str | None = None
    user_name: str | None = None
    local: bool = False

    @classmethod
    def from_daily(cls, data: Any) -> Participant | None:
        """Read a participant dict of daily-python (or daily-js); ``None`` without an id."""
        if not isinstance(data, Mapping):
            return None
        pid = _text(data.get("id")) or _text(data.get("session_id"))
        if pid is None:
            return None
        info = data.get("info")
        info = info if isinstance(info, Mapping) else {}
        return cls(
            id=pid,
            user_id=_text(info.get("userId")) or _text(data.get("user_id")),
            user_name=_text(info.get("userName")) or _text(data.get("user_name")),
            local=bool(info.get("isLocal") or data.get("local")),
        )

    def describe(self) -> str:
        """``id (user_name, user_id)`` for log lines and the transcript."""
        extra = ", ".join(p for p in (self.user_name, self.user_id) if p)
        return f"{self.id} ({extra})" if extra else self.id


# A marker, id or name of the rule: an empty one would match everything or nothing.
_Text = Annotated[str, Field(min_length=1)]


class ReplicaRule(BaseModel):
    """How to recognise the replica's participant (see the module docstring); the
    config's ``trust.replica`` section.

    - ``user_id_contains``: markers of its Daily ``user_id`` (Tavus's rule:
      ``tavus-replica``); identifies it.
    - ``participant_ids``: fixed participant ids, optional; identifies it too.
    - ``user_names``: optional; when set, the replica's participant name must also be
      one of these (the persona's name). A further condition only: any participant
      can take a name, so a name never identifies the replica alone.

    Every entry is a non-empty string (pydantic's ``ValidationError`` otherwise).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_id_contains: list[_Text] = ["tavus-replica"]
    user_names: list[_Text] = []
    participant_ids: list[_Text] = []

    def matches(self, participant: Participant) -> bool:
        """True if ``participant`` (never the local one) fits the rule."""
        if participant.local:
            return False
        identified = participant.id in self.participant_ids or (
            participant.user_id is not None
            and any(marker in participant.user_id for marker in self.user_id_contains)
        )
        if not identified:
            return False
        return not self.user_names or participant.user_name in self.user_names


class Standing(StrEnum):
    """What a participant change did to who the replica is (:meth:`Roster.update`)."""

    REPLICA = "replica"
    """It joined matching the rule, with no replica in the room: it is the replica now."""
    IMPOSTOR = "impostor"
    """It matches the rule, but another participant is the replica or it came to match
    only after it joined: refused, never trusted while it stays."""
    DEMOTED = "demoted"
    """The replica stopped matching the rule: no longer trusted."""
    LEFT = "left"
    """The replica left the room."""


class Roster:
    """The participants of one room, kept from the transport's participant events, and
    the one participant among them that is the replica (see the module docstring).

    Never asks the SDK (``participants()`` can freeze the process during a join: see
    the Daily transport); it only learns from what the transport reports.
    """

    __slots__ = ("_participants", "_refused", "_replica", "rule")

    def __init__(self, rule: ReplicaRule | None = None) -> None:
        self.rule = rule or ReplicaRule()
        self._participants: dict[str, Participant] = {}
        self._replica: str | None = None
        # Impostors and demoted replicas: never the replica while they stay in the room.
        self._refused: set[str] = set()

    def update(self, change: ParticipantChange, participant: Participant) -> Standing | None:
        """Apply one change; what it did to the replica, or ``None`` when nothing.

        A ``joined`` for a participant already known (a rejoin's join data names it
        again) is an update of it, not an arrival.
        """
        pid = participant.id
        if change == "left":
            self._participants.pop(pid, None)
            self._refused.discard(pid)
            if pid == self._replica:
                self._replica = None
                return Standing.LEFT
            return None
        known = self._participants.get(pid)
        if known is not None:
            # An update may carry only what changed: keep what it leaves out, so a
            # partial update never demotes the replica.
            participant = Participant(
                pid,
                participant.user_id or known.user_id,
                participant.user_name or known.user_name,
                participant.local or known.local,
            )
        self._participants[pid] = participant
        matches = self.rule.matches(participant)
        if pid == self._replica:
            if matches:
                return None
            self._replica = None
            self._refused.add(pid)
            return Standing.DEMOTED
        if not matches or pid in self._refused:
            return None
        if known is None and self._replica is None:
            self._replica = pid
            return Standing.REPLICA
        self._refused.add(pid)
        return Standing.IMPOSTOR

    def is_replica(self, participant_id: str) -> bool:
        """True if ``participant_id`` is the replica (the only trusted participant)."""
        return participant_id == self._replica

    def get(self, participant_id: str) -> Participant | None:
        return self._participants.get(participant_id)

    @property
    def replica(self) -> Participant | None:
        """The replica's participant, ``None`` when the room has none (yet, or any more)."""
        return None if self._replica is None else self._participants.get(self._replica)

    @property
    def replica_id(self) -> str | None:
        """The replica's participant id, ``None`` when the room has none."""
        return self._replica

    def __len__(self) -> int:
        return len(self._participants)


class TrustPolicy(BaseModel):
    """Whose messages the session acts on, and where answers go; the config's ``trust``
    section.

    - ``senders``: ``replica`` (default) acts only on messages from the participant that
      ``replica`` identifies as the replica: other participants (a human's browser) can
      broadcast app-messages too, and a forged tool call must not run a handler. A
      message without a sender is trusted only on a transport that does not identify
      senders (:attr:`cvibot.transports._base.Transport.identifies_senders`: a memory
      transport, a replay). ``any`` acts on every participant's messages (a room you
      control, tests).
    - ``answer_to``: ``broadcast`` sends every interaction to the whole room, as Tavus
      documents (``sendAppMessage(obj, '*')``, protocol reference §1) and as its own
      client does; ``replica`` addresses it to the replica's participant only, so other
      participants' browsers never see tool results. Tavus does not document that the
      replica reads addressed messages, so ``broadcast`` is the default; verify
      ``replica`` against a live room before relying on it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    senders: Literal["replica", "any"] = "replica"
    replica: ReplicaRule = ReplicaRule()
    answer_to: Literal["broadcast", "replica"] = "broadcast"
