"""Who is in the room, and which participant is the replica.

In a Tavus room every participant can broadcast app-messages, so a human's browser can
forge a ``conversation.tool_call``. The session acts only on messages whose sender the
:class:`Roster` identifies as the replica (protocol reference §1, "Who is the replica").

The rule, in order:

1. a participant whose Daily ``user_id`` contains one of ``user_id_markers`` (default
   ``tavus-replica``, the rule of Tavus's own ``useReplicaIDs`` hook in ``@tavus/cvi-ui``);
2. a participant whose user name is one of ``user_names`` (pipecat's rule, matching the
   persona's name), when configured;
3. a participant whose id is one of ``participant_ids``, when configured (tests, fixed
   setups).

The latency guide's shortcut ("any non-local participant of a 1:1 call is the replica")
is not used: it is exactly the participant a forged message would come from.

Participants arrive as daily-python's dicts (``{"id": ..., "info": {"userId": ...,
"userName": ..., "isLocal": ...}}``); daily-js's flat spelling (``user_id``,
``user_name``, ``local``) is accepted too, so recordings from either client replay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Participant", "ParticipantChange", "ReplicaRule", "Roster", "TrustPolicy"]

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


@dataclass(frozen=True, slots=True)
class ReplicaRule:
    """How to recognise the replica's participant (see the module docstring)."""

    user_id_markers: tuple[str, ...] = ("tavus-replica",)
    user_names: tuple[str, ...] = ()
    participant_ids: tuple[str, ...] = ()

    def matches(self, participant: Participant) -> bool:
        if participant.local:
            return False
        if participant.id in self.participant_ids:
            return True
        if participant.user_id is not None and any(
            marker in participant.user_id for marker in self.user_id_markers
        ):
            return True
        return participant.user_name is not None and participant.user_name in self.user_names


class Roster:
    """The participants of one room, kept from the transport's participant events.

    Never asks the SDK (``participants()`` can freeze the process during a join: see
    the Daily transport); it only learns from what the transport reports.
    """

    __slots__ = ("_participants", "_replicas", "rule")

    def __init__(self, rule: ReplicaRule | None = None) -> None:
        self.rule = rule or ReplicaRule()
        self._participants: dict[str, Participant] = {}
        self._replicas: dict[str, Participant] = {}

    def update(self, change: ParticipantChange, participant: Participant) -> bool:
        """Apply one change; True if it changed who the replica is (joined or left)."""
        was_replica = participant.id in self._replicas
        if change == "left":
            self._participants.pop(participant.id, None)
            self._replicas.pop(participant.id, None)
            return was_replica
        known = self._participants.get(participant.id)
        if known is not None:
            # An update may carry only what changed: keep what it leaves out, so a
            # partial update never demotes the replica.
            participant = Participant(
                participant.id,
                participant.user_id or known.user_id,
                participant.user_name or known.user_name,
                participant.local or known.local,
            )
        self._participants[participant.id] = participant
        if self.rule.matches(participant):
            self._replicas[participant.id] = participant
            return not was_replica
        self._replicas.pop(participant.id, None)
        return was_replica

    def is_replica(self, participant_id: str) -> bool:
        return participant_id in self._replicas

    def get(self, participant_id: str) -> Participant | None:
        return self._participants.get(participant_id)

    @property
    def replicas(self) -> Iterable[Participant]:
        """The participants identified as the replica, in the order they were seen."""
        return self._replicas.values()

    @property
    def replica_id(self) -> str | None:
        """The replica's participant id (the first one, if several match)."""
        return next(iter(self._replicas), None)

    def __len__(self) -> int:
        return len(self._participants)


@dataclass(frozen=True, slots=True)
class TrustPolicy:
    """Whose messages the session acts on, and where answers go.

    - ``senders``: ``replica`` acts only on messages from a participant that ``replica``
      identifies as the replica (and on messages without a sender); ``any`` acts on every
      participant's messages (a room you control, tests).
    - ``answer_to``: ``broadcast`` sends every interaction to the whole room, as Tavus
      documents (``sendAppMessage(obj, '*')``, protocol reference §1) and as its own
      client does; ``replica`` addresses it to the replica's participant only, so other
      participants' browsers never see tool results. Tavus does not document that the
      replica reads addressed messages, so ``broadcast`` is the default; verify
      ``replica`` against a live room before relying on it.
    """

    senders: Literal["replica", "any"] = "replica"
    replica: ReplicaRule = field(default_factory=ReplicaRule)
    answer_to: Literal["broadcast", "replica"] = "broadcast"
