"""``cvibot serve``: one host process for many conversations, and the fleet contract.

Public for who writes a backend (a queue the host takes its jobs from): implement
:class:`Backend` and :class:`Ownership` for the :class:`Job` and
:class:`ConversationRecord` shapes, and raise :class:`HostFull`, :class:`AlreadyEnded`
or another :class:`BackendError`. Also public: the ``serve:`` option sets
(:class:`ServeOptions`, :class:`WebhookOptions`, :class:`DeliveryApiOptions`) and
:class:`TavusCallback`, what a ``cvibot_webhook`` hook implementation receives. None of
these needs the ``serve`` extra; the host itself runs from ``cvibot serve``.
"""

from __future__ import annotations

from cvibot.serve._backend import (
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
from cvibot.serve._ingress_options import DeliveryApiOptions, TavusCallback, WebhookOptions
from cvibot.serve._options import ServeOptions

__all__ = [
    "AlreadyEnded",
    "Backend",
    "BackendError",
    "ConversationRecord",
    "ConversationState",
    "DeliveryApiOptions",
    "HostFull",
    "Job",
    "JobSource",
    "Ownership",
    "ServeOptions",
    "Slots",
    "TavusCallback",
    "WebhookOptions",
]
