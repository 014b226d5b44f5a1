"""``cvibot serve``: one host process for many conversations, and the fleet contract.

Public for who writes a backend (a queue the host takes its jobs from): implement
:class:`Backend` and :class:`Ownership` for the :class:`Job` and
:class:`ConversationRecord` shapes, and raise :class:`HostFull`, :class:`AlreadyEnded`
or another :class:`BackendError`.
"""

from __future__ import annotations

from cvibot.serve.backend import (
    AlreadyEnded,
    Backend,
    BackendError,
    ConversationRecord,
    ConversationState,
    HostFull,
    Job,
    JobSource,
    Ownership,
    Slots,
)

__all__ = [
    "AlreadyEnded",
    "Backend",
    "BackendError",
    "ConversationRecord",
    "ConversationState",
    "HostFull",
    "Job",
    "JobSource",
    "Ownership",
    "Slots",
]
